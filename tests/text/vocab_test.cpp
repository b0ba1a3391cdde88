// Vocab loading from GGUF metadata: every missing or inconsistent key is an error naming it; a
// tiny hand-made byte-level BPE vocab encodes as its merges say.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "gguf/writer.h"
#include "text/bpe.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace sinan::text {
namespace {

// 256 byte tokens in GPT-2's alphabet (token id = byte), then "ab", "abc" and a control token.
gguf::Writer tiny_bpe_writer() {
    gguf::Writer w;
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) {
        std::string s;
        append_utf8(byte_to_unicode(static_cast<uint8_t>(b)), &s);
        tokens.push_back(s);
    }
    tokens.push_back("ab");
    tokens.push_back("abc");
    tokens.push_back("<|end|>");
    std::vector<int32_t> types(tokens.size(), kTokenNormal);
    types.back() = kTokenControl;
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", "qwen2");
    w.set_strings("tokenizer.ggml.tokens", tokens);
    w.set_i32s("tokenizer.ggml.token_type", types);
    w.set_strings("tokenizer.ggml.merges", {"a b", "ab c"});
    w.set_u32("tokenizer.ggml.eos_token_id", 258);
    w.set_u32("tokenizer.ggml.padding_token_id", 0xFFFFFFFFu);
    return w;
}

Result<Tokenizer> load(const gguf::Writer& w, std::vector<uint8_t>* storage) {
    *storage = w.to_bytes();
    Result<gguf::File> f = gguf::File::parse(storage->data(), storage->size(), "tiny.gguf");
    if (!f.ok()) return f.status();
    return Tokenizer::from_gguf(*f);
}

TEST(Vocab, TinyBpeVocabEncodesByItsMerges) {
    std::vector<uint8_t> bytes;
    Result<Tokenizer> tok = load(tiny_bpe_writer(), &bytes);
    ASSERT_TRUE(tok.ok()) << tok.message();
    EXPECT_EQ(tok->encode("abc", false, false), (std::vector<int32_t>{257}));
    EXPECT_EQ(tok->encode("abab", false, false), (std::vector<int32_t>{256, 256}));
    EXPECT_EQ(tok->encode("cab", false, false), (std::vector<int32_t>{'c', 256}));
    EXPECT_EQ(tok->encode("x<|end|>", false, true), (std::vector<int32_t>{'x', 258}));
    EXPECT_EQ(tok->pad_id(), -1);
    EXPECT_EQ(tok->eos_id(), 258);
    EXPECT_TRUE(tok->is_eog(258));
    EXPECT_FALSE(tok->add_bos());
}

TEST(Vocab, Llama3IgnoresMergesForWholeVocabWords) {
    gguf::Writer w = tiny_bpe_writer();
    w.set_strings("tokenizer.ggml.merges", {"a b"});  // "abc" is a token no merge reaches
    std::vector<uint8_t> bytes;
    Result<Tokenizer> qwen = load(w, &bytes);
    ASSERT_TRUE(qwen.ok()) << qwen.message();
    EXPECT_EQ(qwen->encode("abc", false, false), (std::vector<int32_t>{256, 'c'}));
    w.set_string("tokenizer.ggml.pre", "llama-bpe");
    std::vector<uint8_t> bytes2;
    Result<Tokenizer> llama3 = load(w, &bytes2);
    ASSERT_TRUE(llama3.ok()) << llama3.message();
    EXPECT_EQ(llama3->encode("abc", false, false), (std::vector<int32_t>{257}));
    // A word that is not a token still goes through the merges.
    EXPECT_EQ(llama3->encode("abcabc", false, false), (std::vector<int32_t>{256, 'c', 256, 'c'}));
}

TEST(Vocab, EncodeFromManyThreadsGivesTheSameIds) {
    std::vector<uint8_t> bytes;
    Result<Tokenizer> tok = load(tiny_bpe_writer(), &bytes);
    ASSERT_TRUE(tok.ok());
    const std::string text = "abcab cabca abc ab a b c abcabcabc";
    const std::vector<int32_t> expected = tok->encode(text, false, false);
    std::vector<std::vector<int32_t>> got(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < got.size(); ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) got[t] = tok->encode(text, false, false);
        });
    }
    for (auto& th : threads) th.join();
    for (const auto& g : got) EXPECT_EQ(g, expected);
}

void expect_error_naming(gguf::Writer w, const std::string& key) {
    std::vector<uint8_t> bytes;
    Result<Tokenizer> tok = load(w, &bytes);
    ASSERT_FALSE(tok.ok()) << "expected an error naming " << key;
    EXPECT_NE(tok.message().find(key), std::string::npos) << tok.message();
}

TEST(Vocab, MissingOrInconsistentKeysAreErrorsNamingTheKey) {
    {
        gguf::Writer w = tiny_bpe_writer();
        w.remove("tokenizer.ggml.model");
        expect_error_naming(std::move(w), "tokenizer.ggml.model");
    }
    {
        gguf::Writer w = tiny_bpe_writer();
        w.set_string("tokenizer.ggml.model", "rwkv");
        expect_error_naming(std::move(w), "tokenizer.ggml.model");
    }
    {
        gguf::Writer w = tiny_bpe_writer();
        w.remove("tokenizer.ggml.tokens");
        expect_error_naming(std::move(w), "tokenizer.ggml.tokens");
    }
    {
        gguf::Writer w = tiny_bpe_writer();
        w.set_i32s("tokenizer.ggml.token_type", {1, 1, 1});
        expect_error_naming(std::move(w), "tokenizer.ggml.token_type");
    }
    {
        gguf::Writer w = tiny_bpe_writer();
        w.remove("tokenizer.ggml.merges");
        expect_error_naming(std::move(w), "tokenizer.ggml.merges");
    }
    {
        gguf::Writer w = tiny_bpe_writer();
        w.set_strings("tokenizer.ggml.merges", {"ab"});
        expect_error_naming(std::move(w), "tokenizer.ggml.merges[0]");
    }
    {
        gguf::Writer w = tiny_bpe_writer();
        w.set_u32("tokenizer.ggml.bos_token_id", 100000);
        expect_error_naming(std::move(w), "tokenizer.ggml.bos_token_id");
    }
    {
        gguf::Writer w = tiny_bpe_writer();
        w.set_bool("tokenizer.ggml.add_bos_token", true);
        expect_error_naming(std::move(w), "tokenizer.ggml.bos_token_id");
    }
    {
        gguf::Writer w = tiny_bpe_writer();
        w.set_string("tokenizer.ggml.pre", "mystery");
        expect_error_naming(std::move(w), "tokenizer.ggml.pre");
    }
    {
        gguf::Writer w = tiny_bpe_writer();
        w.set_string("tokenizer.ggml.model", "llama");
        expect_error_naming(std::move(w), "tokenizer.ggml.scores");
    }
}

}  // namespace
}  // namespace sinan::text
