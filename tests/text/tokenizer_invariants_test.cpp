// What must hold for text the reference vectors do not cover (no HF tokenizer runs here): many
// scripts, emoji, code and odd white space. For every byte-level BPE vocab in ../shared:
// decoding gives the text back, every id is a real token, and the merges applied equal those of
// a plain O(n^2) BPE written here from the definition (lowest merge rank first, leftmost among
// equals) over the vocab's own strings. Plus special-token handling, NFC, and the SPM/WordPiece
// paths through the facade.
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "text/pre_tokenizer.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
#include "tokenizer_test_util.h"

namespace sinan::text {
namespace {

using test::cached_tokenizer;
using test::vocab_gguf_path;

const std::vector<std::string>& corpus() {
    static const std::vector<std::string> texts = {
        "深度求索（DeepSeek）成立于2023年，专注于研究世界领先的通用人工智能底层模型与技术。",
        "我想在apple工作1314151天～，你呢？「引用」《书名》",
        "東京は日本の首都です。カタカナとひらがな、ー！",
        "안녕하세요, 세계! 한국어 문장입니다.",
        "Привет, мир! Съешь же ещё этих мягких французских булок.",
        "مرحبا بالعالم! هذه جملة عربية ١٢٣٤٥.",
        "नमस्ते दुनिया! यह हिन्दी वाक्य है। क्षत्रिय",
        "สวัสดีชาวโลก นี่คือประโยคภาษาไทย",
        "Emoji: 🦙🚀😶‍🌫️👨‍👩‍👧‍👦🏳️‍🌈 ✅ ❤️ 🇨🇳 1️⃣",
        "int main(int argc, char** argv) {\n\tfor (int i = 0; i < 10; ++i) printf(\"%d\\n\", i);\n\treturn 0;\n}\n",
        "def f(x):\r\n    return x ** 2  # square\r\n",
        "tabs\t\tand\t \tspaces    between     words     ",
        "trailing spaces   ",
        "   leading spaces",
        "\n\n\nnewlines\n\n \n",
        "NBSP\u00a0here\u00a0\u00a0and\u3000ideographic\u3000space",
        "zero\u200bwidth\u200cjoiners\u200d and\ufeffBOM",
        "U+180E\u180eMongolian and U+2028\u2028line U+0085\u0085NEL",
        "Numbers: 3.14159, 1,000,000, 42nd, ²³, Ⅻ, ½, ١٢٣",
        "Contractions: I'm, you're, he's, we've, they'll, I'd, DON'T, ſ's 'S",
        "Ελληνικά: Καλημέρα κόσμε! ΐ ΰ ώ",
        "Mixed: Café naïve résumé Zürich Ærøskøbing",
        "URL https://example.com/path?q=1&r=2#frag and e-mail a.b@c.de",
        "Pneumonoultramicroscopicsilicovolcanoconiosis"
        "Pneumonoultramicroscopicsilicovolcanoconiosis"
        "Pneumonoultramicroscopicsilicovolcanoconiosis",
        "a",
        " ",
        "",
    };
    return texts;
}

// The names of the byte-level BPE vocabs present, with their GGUF paths.
std::vector<std::pair<std::string, std::string>> bpe_vocabs() {
    std::vector<std::pair<std::string, std::string>> out;
    for (const char* name : {"deepseek-r1-qwen", "deepseek-v3", "deepseek-llm", "deepseek-coder", "gpt-2"}) {
        const std::string path = vocab_gguf_path(name);
        if (!path.empty()) out.emplace_back(name, path);
    }
    return out;
}

// GPT-2's byte alphabet, from its definition (printable Latin-1 maps to itself, the rest to
// U+0100.. in byte order), to turn bytes into the vocab's strings.
std::string to_alphabet(std::string_view bytes) {
    static const std::vector<std::string> table = [] {
        std::vector<std::string> t(256);
        uint32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            append_utf8(printable ? static_cast<uint32_t>(b) : next++, &t[b]);
        }
        return t;
    }();
    std::string out;
    for (unsigned char c : bytes) out += table[c];
    return out;
}

// Plain BPE from the definition, over strings: returns the final symbols.
std::vector<std::string> naive_bpe(const std::vector<std::string>& start,
                                   const std::map<std::pair<std::string, std::string>, size_t>& ranks) {
    std::vector<std::string> sym = start;
    while (sym.size() > 1) {
        size_t best = SIZE_MAX, at = 0;
        for (size_t i = 0; i + 1 < sym.size(); ++i) {
            const auto it = ranks.find({sym[i], sym[i + 1]});
            if (it != ranks.end() && it->second < best) best = it->second, at = i;
        }
        if (best == SIZE_MAX) break;
        sym[at] += sym[at + 1];
        sym.erase(sym.begin() + static_cast<long>(at) + 1);
    }
    return sym;
}

TEST(TokenizerInvariants, ByteLevelBpeRoundTripsAndEqualsPlainBpe) {
    const auto vocabs = bpe_vocabs();
    if (vocabs.empty()) GTEST_SKIP() << "no byte-level BPE vocab GGUF in " SINAN_SHARED_DIR;
    for (const auto& [name, path] : vocabs) {
        const Tokenizer* tok = cached_tokenizer(path);
        ASSERT_NE(tok, nullptr);
        const Vocab& v = tok->vocab();
        std::map<std::pair<std::string, std::string>, size_t> ranks;
        for (size_t r = 0; r < v.merges.size(); ++r) {
            const size_t sp = v.merges[r].find(' ');
            ranks.emplace(std::make_pair(v.merges[r].substr(0, sp), v.merges[r].substr(sp + 1)), r);
        }
        Result<PreTokenizer> pre = PreTokenizer::create(v.pre);
        ASSERT_TRUE(pre.ok());
        for (const std::string& text : corpus()) {
            const std::vector<int32_t> ids = tok->encode(text, false, false);
            std::string bytes;
            for (int32_t id : ids) {
                ASSERT_TRUE(tok->is_valid_id(id)) << name;
                const TokenType t = tok->token_type(id);
                EXPECT_TRUE(t == kTokenNormal || t == kTokenUserDefined) << name << ": id " << id << " in " << text;
                bytes += tok->token_to_piece(id);
            }
            EXPECT_EQ(bytes, text) << name;
            EXPECT_EQ(tok->decode(ids), text) << name;
            // User-defined tokens (DeepSeek's "õ"-style added characters) are matched before BPE;
            // compare with plain BPE only where there are none.
            bool has_added = false;
            for (int32_t id : ids) has_added |= tok->token_type(id) == kTokenUserDefined;
            if (has_added) continue;
            std::vector<std::string_view> pieces;
            pre->split(text, &pieces);
            std::vector<int32_t> expected;
            for (std::string_view piece : pieces) {
                std::vector<std::string> start;
                for (unsigned char c : piece) start.push_back(to_alphabet(std::string(1, static_cast<char>(c))));
                for (const std::string& s : naive_bpe(start, ranks)) {
                    const std::optional<int32_t> id = tok->find_token(s);
                    ASSERT_TRUE(id.has_value()) << name << ": merged symbol '" << s << "' is not a token";
                    expected.push_back(*id);
                }
            }
            EXPECT_EQ(ids, expected) << name << ": " << text;
        }
    }
}

TEST(TokenizerInvariants, InvalidUtf8BecomesReplacementCharacter) {
    const Tokenizer* tok = cached_tokenizer(vocab_gguf_path("deepseek-r1-qwen"));
    if (tok == nullptr) GTEST_SKIP() << "no deepseek-r1-qwen vocab";
    const std::vector<int32_t> bad = tok->encode(
        "a\xFF"
        "b\xE4\xB8",
        false, false);
    EXPECT_EQ(tok->decode(bad),
              "a\xEF\xBF\xBD"
              "b\xEF\xBF\xBD");
}

TEST(TokenizerInvariants, QwenNormalisesToNfcAndDeepseekV3DoesNot) {
    const std::string composed = "Caf\xC3\xA9";     // é as one code point
    const std::string decomposed = "Cafe\xCC\x81";  // e + combining acute
    if (const Tokenizer* qwen = cached_tokenizer(vocab_gguf_path("deepseek-r1-qwen"))) {
        EXPECT_EQ(qwen->encode(decomposed, false, false), qwen->encode(composed, false, false));
        EXPECT_EQ(qwen->decode(qwen->encode(decomposed, false, false)), composed);
    }
    if (const Tokenizer* v3 = cached_tokenizer(vocab_gguf_path("deepseek-v3"))) {
        EXPECT_NE(v3->encode(decomposed, false, false), v3->encode(composed, false, false));
        EXPECT_EQ(v3->decode(v3->encode(decomposed, false, false)), decomposed);
    }
}

std::string utf8proc_whole(std::string_view s, bool compose) {
    utf8proc_uint8_t* out = nullptr;
    const auto opts =
        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | (compose ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE));
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                            static_cast<utf8proc_ssize_t>(s.size()), &out, opts);
    std::string r(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
    std::free(out);
    return r;
}

TEST(TokenizerInvariants, QwenNfcOfDecomposedTextEqualsWholeStringNfc) {
    const Tokenizer* qwen = cached_tokenizer(vocab_gguf_path("deepseek-r1-qwen"));
    if (qwen == nullptr) GTEST_SKIP() << "no deepseek-r1-qwen vocab";
    std::vector<std::string> texts = corpus();
    texts.push_back(
        "中文e\xCC\x81中 A\xCC\x8A\xCC\x81 \xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8 \xE3\x81\x8B\xE3\x82\x99 "
        "q\xCC\xA3\xCC\x87");
    for (const std::string& text : texts) {
        const std::string nfd = utf8proc_whole(text, false);
        const std::string nfc = utf8proc_whole(nfd, true);
        EXPECT_EQ(qwen->encode(nfd, false, false), qwen->encode(nfc, false, false)) << text;
        EXPECT_EQ(qwen->decode(qwen->encode(nfd, false, false)), nfc) << text;
    }
}

TEST(TokenizerSpecial, R1QwenSpecialTokensBosAndEndOfGeneration) {
    const Tokenizer* tok = cached_tokenizer(vocab_gguf_path("deepseek-r1-qwen"));
    if (tok == nullptr) GTEST_SKIP() << "no deepseek-r1-qwen vocab";
    const int32_t bos = *tok->find_token("<｜begin▁of▁sentence｜>");
    const int32_t eos = *tok->find_token("<｜end▁of▁sentence｜>");
    const int32_t think = *tok->find_token("<think>");
    const int32_t user = *tok->find_token("<｜User｜>");
    EXPECT_EQ(tok->bos_id(), bos);
    EXPECT_EQ(tok->eos_id(), eos);
    EXPECT_TRUE(tok->is_eog(eos));
    EXPECT_TRUE(tok->is_eog(*tok->find_token("<|EOT|>")));
    EXPECT_FALSE(tok->is_eog(think));
    EXPECT_NE(tok->kind().find("deepseek-r1-qwen"), std::string_view::npos);

    // add_special: BOS first (tokenizer.ggml.add_bos_token), no EOS.
    const std::vector<int32_t> with_bos = tok->encode("Hi", true, true);
    ASSERT_FALSE(with_bos.empty());
    EXPECT_EQ(with_bos.front(), bos);
    EXPECT_NE(with_bos.back(), eos);

    // Control tokens only with parse_special; user-defined ones (<think>) always.
    const std::string text = "<｜User｜>1+1?<｜Assistant｜><think>\nok</think>";
    const std::vector<int32_t> parsed = tok->encode(text, false, true);
    EXPECT_EQ(parsed.front(), user);
    EXPECT_EQ(std::count(parsed.begin(), parsed.end(), think), 1);
    const std::vector<int32_t> plain = tok->encode(text, false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), user), 0);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), think), 1);
    EXPECT_EQ(tok->decode(parsed), text);
    EXPECT_EQ(tok->decode(plain), text);

    // Longest match at a position: "<think>" inside "</think>" must not be found.
    const std::vector<int32_t> close = tok->encode("</think>", false, false);
    EXPECT_EQ(close, (std::vector<int32_t>{*tok->find_token("</think>")}));

    // Decoding: skip_special drops control tokens; bad ids become U+FFFD, no crash.
    const std::vector<int32_t> ids = {bos, 9707, eos};
    EXPECT_EQ(tok->decode(ids, true), "Hello");
    EXPECT_EQ(tok->decode(ids, false), "<｜begin▁of▁sentence｜>Hello<｜end▁of▁sentence｜>");
    const std::vector<int32_t> bad = {-1, 9707, tok->n_vocab(), 1 << 30};
    EXPECT_EQ(tok->decode(bad), "\xEF\xBF\xBDHello\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(tok->token_to_piece(-5), "\xEF\xBF\xBD");
}

TEST(TokenizerSpecial, DeepseekV3BosIsIdZero) {
    const Tokenizer* tok = cached_tokenizer(vocab_gguf_path("deepseek-v3"));
    if (tok == nullptr) GTEST_SKIP() << "no deepseek-v3 vocab";
    EXPECT_EQ(tok->bos_id(), 0);
    EXPECT_EQ(tok->encode("Hello", true, true).front(), 0);
    EXPECT_EQ(tok->encode("<｜end▁of▁sentence｜>", false, true), (std::vector<int32_t>{1}));
    EXPECT_TRUE(tok->is_eog(1));
}

TEST(TokenizerFacade, BertAddsClsAndSepLikeTheReference) {
    const std::string golden = SINAN_SHARED_DIR "/models/golden/bert-tiny-f32.embeddings.json";
    const Tokenizer* tok = cached_tokenizer(SINAN_SHARED_DIR "/models/bert-tiny-f32.gguf");
    std::ifstream f(golden);
    if (tok == nullptr || !f) GTEST_SKIP() << "no bert-tiny model or golden embeddings in " SINAN_SHARED_DIR;
    const nlohmann::json j = nlohmann::json::parse(f);
    ASSERT_FALSE(j["items"].empty());
    for (const auto& item : j["items"]) {
        const std::string text = item["text"];
        EXPECT_EQ(tok->encode(text, true, true), item["tokens"].get<std::vector<int32_t>>()) << text;
    }
    EXPECT_EQ(tok->kind(), "WordPiece (bert)");
}

TEST(TokenizerFacade, SpmRoundTripsStoriesText) {
    const std::string golden = SINAN_SHARED_DIR "/models/golden/stories260K.greedy.json";
    const Tokenizer* tok = cached_tokenizer(SINAN_SHARED_DIR "/models/stories260K.gguf");
    std::ifstream f(golden);
    if (tok == nullptr || !f) GTEST_SKIP() << "no stories260K model or golden file in " SINAN_SHARED_DIR;
    const nlohmann::json j = nlohmann::json::parse(f);
    for (const auto& item : j["items"]) {
        const std::string text = item["prompt"].get<std::string>() + item["completion"].get<std::string>();
        const std::vector<int32_t> ids = tok->encode(text, true, true);
        ASSERT_FALSE(ids.empty());
        EXPECT_EQ(ids.front(), tok->bos_id());
        EXPECT_EQ(tok->decode(ids, true), text);
        // The leading "▁" goes only at the start: "Once" is one word-initial token.
        const std::vector<int32_t> once = tok->encode("Once", false, false);
        EXPECT_EQ(tok->token_text(once.front()).rfind("\xE2\x96\x81", 0), 0u);
    }
}

}  // namespace
}  // namespace sinan::text
