// WordPieceModel against the token ids llama.cpp gave for bert-tiny (bge vocabulary), and BERT's
// normalisation rules checked through the vocabulary's own pieces.
#include "text/wordpiece.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "gguf/gguf.h"
#include "nlohmann/json.hpp"

namespace sinan::text {
namespace {

const std::string kModel = SINAN_SHARED_DIR "/models/bert-tiny-f32.gguf";
const std::string kGolden = SINAN_SHARED_DIR "/models/golden/bert-tiny-f32.embeddings.json";

struct LoadedBert {
    gguf::File file;
    WordPieceModel model;
    int32_t unk, cls, sep;

    std::vector<int32_t> encode(std::string_view text) const {
        std::vector<int32_t> ids;
        model.encode(text, &ids);
        return ids;
    }
    // The id of a vocabulary text, or -1.
    int32_t id_of(std::string_view text) const {
        const gguf::Array* tokens = file.get_array("tokenizer.ggml.tokens");
        for (size_t i = 0; i < tokens->strings.size(); ++i) {
            if (tokens->strings[i] == text) return static_cast<int32_t>(i);
        }
        return -1;
    }
};

std::optional<LoadedBert> load_bert() {
    auto file = gguf::File::open(kModel);
    EXPECT_TRUE(file.ok()) << file.message();
    if (!file.ok()) return std::nullopt;
    EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "bert");
    const gguf::Array* tokens = file->get_array("tokenizer.ggml.tokens");
    const auto unk = file->get_int("tokenizer.ggml.unknown_token_id");
    const auto cls = file->get_int("tokenizer.ggml.cls_token_id");
    const auto sep = file->get_int("tokenizer.ggml.seperator_token_id");  // llama.cpp's spelling
    EXPECT_TRUE(tokens && unk && cls && sep);
    if (!tokens || !unk || !cls || !sep) return std::nullopt;
    auto model = WordPieceModel::create(tokens->strings, static_cast<int32_t>(*unk));
    EXPECT_TRUE(model.ok()) << model.message();
    if (!model.ok()) return std::nullopt;
    return LoadedBert{std::move(file).value(), std::move(model).value(), static_cast<int32_t>(*unk),
                      static_cast<int32_t>(*cls), static_cast<int32_t>(*sep)};
}

#define SKIP_WITHOUT_BERT()                                                                  \
    if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "shared model absent: " << kModel; \
    auto bert = load_bert();                                                                 \
    ASSERT_TRUE(bert)

TEST(WordPieceModel, MatchesLlamaCppTokenIdsForEveryGoldenText) {
    if (!std::filesystem::exists(kGolden)) GTEST_SKIP() << "shared golden file absent: " << kGolden;
    SKIP_WITHOUT_BERT();
    std::ifstream in(kGolden);
    const auto golden = nlohmann::json::parse(in);
    ASSERT_FALSE(golden["items"].empty());
    for (const auto& item : golden["items"]) {
        const std::string text = item["text"].get<std::string>();
        std::vector<int32_t> ids = {bert->cls};
        bert->model.encode(text, &ids);
        ids.push_back(bert->sep);
        EXPECT_EQ(ids, item["tokens"].get<std::vector<int32_t>>()) << text;
    }
}

TEST(WordPieceModel, WordStartsCarryTheMarkAndContinuationsDoNot) {
    SKIP_WITHOUT_BERT();
    const int32_t hello = bert->id_of("\xE2\x96\x81hello");
    ASSERT_GE(hello, 0);
    EXPECT_EQ(bert->encode("hello"), std::vector<int32_t>{hello});
    EXPECT_EQ(bert->model.decode_token(hello), " hello");
    // "helloworld" is no word; greedy longest match takes "▁hello", then continuation "world".
    const int32_t world_cont = bert->id_of("world");
    ASSERT_GE(world_cont, 0);
    EXPECT_EQ(bert->encode("helloworld"), (std::vector<int32_t>{hello, world_cont}));
    EXPECT_EQ(bert->model.decode_token(world_cont), "world");
}

TEST(WordPieceModel, LowercasesAndDropsAccentsOfPrecomposedLetters) {
    SKIP_WITHOUT_BERT();
    EXPECT_EQ(bert->encode("HELLO World"), bert->encode("hello world"));
    EXPECT_EQ(bert->encode("Café naïve résumé"), bert->encode("cafe naive resume"));
    EXPECT_EQ(bert->encode("ÀÉÎÕÜ"), bert->encode("aeiou"));
    EXPECT_NE(bert->encode("cafe")[0], bert->unk);
}

TEST(WordPieceModel, SplitsPunctuationAndAsciiSymbolsIntoWordsOfTheirOwn) {
    SKIP_WITHOUT_BERT();
    const int32_t comma = bert->id_of("\xE2\x96\x81,");
    const int32_t bang = bert->id_of("\xE2\x96\x81!");
    ASSERT_GE(comma, 0);
    ASSERT_GE(bang, 0);
    const std::vector<int32_t> ids = bert->encode("hello,world!");
    EXPECT_EQ(ids, bert->encode("hello , world !"));
    ASSERT_EQ(ids.size(), 4u);
    EXPECT_EQ(ids[1], comma);
    EXPECT_EQ(ids[3], bang);
    EXPECT_EQ(bert->encode("a+b=c$"), bert->encode("a + b = c $"));
    EXPECT_EQ(bert->encode("don't"), bert->encode("don ' t"));
}

TEST(WordPieceModel, EachCjkIdeographIsAWordOfItsOwn) {
    SKIP_WITHOUT_BERT();
    const int32_t zhong = bert->id_of("\xE2\x96\x81\xE4\xB8\xAD");  // "▁中"
    const int32_t guo = bert->id_of("\xE2\x96\x81\xE5\x9B\xBD");    // "▁国"
    ASSERT_GE(zhong, 0);
    ASSERT_GE(guo, 0);
    EXPECT_EQ(bert->encode("中国"), (std::vector<int32_t>{zhong, guo}));
    EXPECT_EQ(bert->encode("ab中cd"), bert->encode("ab 中 cd"));
}

TEST(WordPieceModel, WordsThatCannotBeSplitBecomeOneUnknownToken) {
    SKIP_WITHOUT_BERT();
    // U+2603 (snowman) is a symbol outside ASCII: it stays inside the word, which then cannot be
    // split into vocabulary pieces; the whole word, not just the snowman, becomes unknown.
    ASSERT_LT(bert->id_of("\xE2\x98\x83"), 0);
    const std::vector<int32_t> ids = bert->encode(
        "hello abc\xE2\x98\x83"
        "def world");
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(ids[1], bert->unk);
    EXPECT_EQ(ids[0], bert->encode("hello")[0]);
    EXPECT_EQ(ids[2], bert->encode("world")[0]);
}

TEST(WordPieceModel, DropsControlCharactersAndSplitsOnAnyWhiteSpace) {
    SKIP_WITHOUT_BERT();
    EXPECT_EQ(bert->encode("hel\x01lo\xE2\x80\x8Bworld"), bert->encode("helloworld"));  // U+0001, U+200B (Cf)
    EXPECT_EQ(bert->encode("a\tb\nc\xC2\xA0"
                           "d\xE3\x80\x80"
                           "e"),
              bert->encode("a b c d e"));  // NBSP, U+3000
    EXPECT_TRUE(bert->encode("  \t\n ").empty());
    EXPECT_EQ(bert->encode("ok\xFF\xFE"), bert->encode("ok"));  // invalid UTF-8 is dropped
}

TEST(WordPieceModel, RejectsAVocabularyWithoutUnknownToken) {
    std::vector<std::string_view> tokens = {"[UNK]",
                                            "\xE2\x96\x81"
                                            "a"};
    EXPECT_FALSE(WordPieceModel::create(tokens, -1).ok());
    EXPECT_FALSE(WordPieceModel::create(tokens, 2).ok());
    EXPECT_FALSE(WordPieceModel::create({}, 0).ok());
    auto model = WordPieceModel::create(tokens, 0);
    ASSERT_TRUE(model.ok()) << model.message();
    std::vector<int32_t> ids;
    model->encode("A b", &ids);
    EXPECT_EQ(ids, (std::vector<int32_t>{1, 0}));
}

}  // namespace
}  // namespace sinan::text
