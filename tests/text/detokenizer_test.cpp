// StreamingDetokenizer: token-by-token output is always complete UTF-8 and adds up to decode().
#include "text/detokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "text/utf8.h"
#include "tokenizer_test_util.h"

namespace sinan::text {
namespace {

using test::cached_tokenizer;
using test::vocab_gguf_path;

// The single-byte token of a byte in a byte-level BPE vocab.
int32_t byte_token(const Tokenizer& tok, uint8_t b) {
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
        if (tok.token_type(id) == kTokenNormal && tok.token_to_piece(id) == std::string(1, static_cast<char>(b))) {
            return id;
        }
    }
    return -1;
}

TEST(StreamingDetokenizer, BytesOfMultiByteCharactersAreHeldUntilComplete) {
    const Tokenizer* tok = cached_tokenizer(vocab_gguf_path("deepseek-r1-qwen"));
    if (tok == nullptr) GTEST_SKIP() << "no deepseek-r1-qwen vocab";
    const std::string text = "a🦙é世";
    StreamingDetokenizer detok(*tok);
    std::string out;
    for (unsigned char c : text) {
        const std::string chunk = detok.push(byte_token(*tok, c));
        EXPECT_EQ(find_invalid_utf8(chunk), chunk.size()) << "partial UTF-8 emitted";
        out += chunk;
    }
    out += detok.flush();
    EXPECT_EQ(out, text);
}

TEST(StreamingDetokenizer, ChunksAddUpToDecodeOnRealText) {
    const Tokenizer* tok = cached_tokenizer(vocab_gguf_path("deepseek-r1-qwen"));
    if (tok == nullptr) GTEST_SKIP() << "no deepseek-r1-qwen vocab";
    const std::string text = "Emoji 😶‍🌫️ and 中文 and ภาษาไทย, done.";
    const std::vector<int32_t> ids = tok->encode(text, true, true);
    StreamingDetokenizer detok(*tok);
    std::string out;
    for (int32_t id : ids) {
        const std::string chunk = detok.push(id);
        EXPECT_EQ(find_invalid_utf8(chunk), chunk.size());
        out += chunk;
    }
    out += detok.flush();
    EXPECT_EQ(out, text);  // BOS skipped (skip_special by default)
    EXPECT_EQ(out, tok->decode(ids, true));
}

TEST(StreamingDetokenizer, SequencesThatCannotCompleteAreReplacedNotStalled) {
    const Tokenizer* tok = cached_tokenizer(vocab_gguf_path("deepseek-r1-qwen"));
    if (tok == nullptr) GTEST_SKIP() << "no deepseek-r1-qwen vocab";
    StreamingDetokenizer detok(*tok);
    EXPECT_EQ(detok.push(byte_token(*tok, 0xF0)), "");
    EXPECT_EQ(detok.push(byte_token(*tok, 0x9F)), "");
    // 'A' cannot continue the 4-byte sequence: the two bytes become one U+FFFD, then 'A'.
    EXPECT_EQ(detok.push(byte_token(*tok, 'A')),
              "\xEF\xBF\xBD"
              "A");
    EXPECT_EQ(detok.push(byte_token(*tok, 0x80)), "\xEF\xBF\xBD");  // a lone continuation byte
    EXPECT_EQ(detok.push(byte_token(*tok, 0xE4)), "");
    EXPECT_EQ(detok.flush(), "\xEF\xBF\xBD");   // unfinished at the end
    EXPECT_EQ(detok.push(-1), "\xEF\xBF\xBD");  // an invalid id does not crash
}

TEST(StreamingDetokenizer, SpmDropsTheLeadingSpaceOnlyAtTheStart) {
    const Tokenizer* tok = cached_tokenizer(SINAN_SHARED_DIR "/models/stories260K.gguf");
    if (tok == nullptr) GTEST_SKIP() << "no stories260K model";
    const std::string text = "Once upon a time, there was a cat.";
    const std::vector<int32_t> ids = tok->encode(text, true, true);
    StreamingDetokenizer detok(*tok);
    std::string out;
    for (int32_t id : ids) out += detok.push(id);
    out += detok.flush();
    EXPECT_EQ(out, text);
}

TEST(StreamingDetokenizer, GenerationAfterAPromptKeepsItsLeadingSpace) {
    const Tokenizer* tok = cached_tokenizer(SINAN_SHARED_DIR "/models/stories260K.gguf");
    if (tok == nullptr) GTEST_SKIP() << "no stories260K model";
    // " named Max" continues "One day, a little dog": its first piece's space is part of the text.
    const std::vector<int32_t> ids = tok->encode(" named Max", false, false);
    StreamingDetokenizer detok(*tok, /*skip_special=*/true, /*continues_text=*/true);
    std::string out;
    for (int32_t id : ids) out += detok.push(id);
    out += detok.flush();
    EXPECT_EQ(out, tok->decode(ids).insert(0, " ")) << "decode() strips it at the start of a text; here it stays";
    EXPECT_EQ(out[0], ' ');
}

TEST(Utf8, DecodeFollowsUnicodeTable3_7) {
    EXPECT_EQ(decode_utf8("\xC0\x80").kind, Utf8Step::kInvalid);          // overlong
    EXPECT_EQ(decode_utf8("\xE0\x80\x80").kind, Utf8Step::kInvalid);      // overlong
    EXPECT_EQ(decode_utf8("\xED\xA0\x80").kind, Utf8Step::kInvalid);      // surrogate
    EXPECT_EQ(decode_utf8("\xF4\x90\x80\x80").kind, Utf8Step::kInvalid);  // above U+10FFFF
    EXPECT_EQ(decode_utf8("\xF0\x9F\xA6").kind, Utf8Step::kIncomplete);
    const Utf8Step ok = decode_utf8("\xF0\x9F\xA6\x99");
    EXPECT_EQ(ok.kind, Utf8Step::kOk);
    EXPECT_EQ(ok.cp, 0x1F999u);
    // Maximal subparts: E1 80 is one replacement, then 41 stays.
    EXPECT_EQ(sanitize_utf8("\xE1\x80"
                            "A\x80\x80"),
              "\xEF\xBF\xBD"
              "A\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace sinan::text
