// SpmModel against llama.cpp's tokenizer test vectors (ids from Hugging Face's Llama tokenizer);
// stories260K round trips; byte fallback; merge order; vocabulary errors.
#include "text/spm.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "gguf/gguf.h"
#include "nlohmann/json.hpp"

namespace sinan::text {
namespace {

const std::string kVocabTests = SINAN_SHARED_DIR "/data/llamacpp-vocab-tests/";
const std::string kModels = SINAN_SHARED_DIR "/models/";

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The model and the metadata the facade would read, loaded from a GGUF.
struct LoadedSpm {
    SpmModel model;
    bool add_space_prefix;
    std::vector<int32_t> types;
};

std::optional<LoadedSpm> load_spm(const std::string& path) {
    auto file = gguf::File::open(path);
    EXPECT_TRUE(file.ok()) << file.message();
    if (!file.ok()) return std::nullopt;
    EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "llama");
    const gguf::Array* tokens = file->get_array("tokenizer.ggml.tokens");
    const gguf::Array* scores = file->get_array("tokenizer.ggml.scores");
    const gguf::Array* types = file->get_array("tokenizer.ggml.token_type");
    EXPECT_TRUE(tokens && scores && types);
    if (!tokens || !scores || !types) return std::nullopt;
    std::vector<float> score_values;
    std::vector<int32_t> type_values;
    for (uint64_t i = 0; i < scores->size(); ++i) score_values.push_back(scores->get_f32(i));
    for (uint64_t i = 0; i < types->size(); ++i) type_values.push_back(types->get_i32(i));
    const auto unk = static_cast<int32_t>(file->get_int("tokenizer.ggml.unknown_token_id").value_or(-1));
    auto model = SpmModel::create(tokens->strings, score_values, type_values, unk);
    EXPECT_TRUE(model.ok()) << model.message();
    if (!model.ok()) return std::nullopt;
    // llama.cpp's default for SPM vocabularies when the key is absent.
    const bool prefix = file->get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    return LoadedSpm{std::move(model).value(), prefix, std::move(type_values)};
}

std::vector<int32_t> encode(const LoadedSpm& spm, std::string_view text) {
    std::vector<int32_t> ids;
    spm.model.encode(text, spm.add_space_prefix, &ids);
    return ids;
}

std::string decode(const SpmModel& model, const std::vector<int32_t>& ids) {
    std::string text;
    for (int32_t id : ids) text += model.decode_token(id);
    return text;
}

std::vector<int32_t> parse_ids(const std::string& line) {
    std::vector<int32_t> ids;
    std::istringstream in(line);
    for (int32_t id; in >> id;) ids.push_back(id);
    return ids;
}

// llama.cpp's .inp format: every test string is followed by "\n__ggml_vocab_test__\n"; the .out
// has one line of ids per string.
void read_vocab_tests(const std::string& name, std::vector<std::string>* texts,
                      std::vector<std::vector<int32_t>>* expected) {
    const std::string inp = read_file(kVocabTests + name + ".inp");
    const std::string sep = "\n__ggml_vocab_test__\n";
    for (size_t pos = 0; pos < inp.size();) {
        const size_t end = inp.find(sep, pos);
        ASSERT_NE(end, std::string::npos) << "unterminated test string in " << name << ".inp";
        texts->push_back(inp.substr(pos, end - pos));
        pos = end + sep.size();
    }
    std::istringstream out(read_file(kVocabTests + name + ".out"));
    for (std::string line; std::getline(out, line);) expected->push_back(parse_ids(line));
    ASSERT_EQ(texts->size(), expected->size()) << name;
}

TEST(SpmModel, MatchesLlamaTokenizerOnEveryLlamaCppTestString) {
    const std::string name = "ggml-vocab-llama-spm.gguf";
    if (!std::filesystem::exists(kVocabTests + name)) GTEST_SKIP() << "shared data absent: " << kVocabTests << name;
    auto spm = load_spm(kVocabTests + name);
    ASSERT_TRUE(spm);
    std::vector<std::string> texts;
    std::vector<std::vector<int32_t>> expected;
    read_vocab_tests(name, &texts, &expected);
    ASSERT_EQ(texts.size(), 46u);
    for (size_t i = 0; i < texts.size(); ++i) {
        EXPECT_EQ(encode(*spm, texts[i]), expected[i]) << "test string " << i << ": \"" << texts[i] << "\"";
    }
}

TEST(SpmModel, DecodingTheTestStringsGivesThemBackAfterTheSpacePrefix) {
    const std::string name = "ggml-vocab-llama-spm.gguf";
    if (!std::filesystem::exists(kVocabTests + name)) GTEST_SKIP() << "shared data absent: " << kVocabTests << name;
    auto spm = load_spm(kVocabTests + name);
    ASSERT_TRUE(spm);
    std::vector<std::string> texts;
    std::vector<std::vector<int32_t>> expected;
    read_vocab_tests(name, &texts, &expected);
    for (const std::string& text : texts) {
        EXPECT_EQ(decode(spm->model, encode(*spm, text)), text.empty() ? "" : " " + text) << text;
    }
}

TEST(SpmModel, CharactersOutsideTheVocabularyFallBackToTheirBytes) {
    const std::string name = "ggml-vocab-llama-spm.gguf";
    if (!std::filesystem::exists(kVocabTests + name)) GTEST_SKIP() << "shared data absent: " << kVocabTests << name;
    auto spm = load_spm(kVocabTests + name);
    ASSERT_TRUE(spm);
    // U+1F999 (llama emoji) and U+2A6D6 (a rare CJK ideograph) are not Llama tokens: 4 byte tokens each.
    for (std::string text : {"\xF0\x9F\xA6\x99", "\xF0\xAA\x9B\x96"}) {
        std::vector<int32_t> ids;
        spm->model.encode(text, /*add_space_prefix=*/false, &ids);
        ASSERT_EQ(ids.size(), 4u) << text;
        for (size_t i = 0; i < ids.size(); ++i) {
            EXPECT_EQ(spm->types[ids[i]], 6) << "byte token expected at " << i;
            EXPECT_EQ(spm->model.decode_token(ids[i]), text.substr(i, 1));
        }
        EXPECT_EQ(decode(spm->model, ids), text);
    }
    // Invalid UTF-8 is no error: each stray byte becomes its byte token and decodes back.
    const std::string invalid = "a\x80\xFF";
    std::vector<int32_t> ids;
    spm->model.encode(invalid, false, &ids);
    EXPECT_EQ(decode(spm->model, ids), invalid);
}

TEST(SpmModel, EmptyTextGivesNoTokensEvenWithTheSpacePrefix) {
    const std::string name = "ggml-vocab-llama-spm.gguf";
    if (!std::filesystem::exists(kVocabTests + name)) GTEST_SKIP() << "shared data absent: " << kVocabTests << name;
    auto spm = load_spm(kVocabTests + name);
    ASSERT_TRUE(spm);
    std::vector<int32_t> ids = {7};
    spm->model.encode("", true, &ids);
    EXPECT_EQ(ids, std::vector<int32_t>{7});  // appends, never clears
}

// The stories260K golden files hold no (text, ids) pairs (the logits sequences are random ids),
// so the 512-token vocabulary is checked by round trips of the golden prompts and completions.
TEST(SpmModel, Stories260KRoundTripsTheGreedyPromptsAndCompletions) {
    const std::string model_path = kModels + "stories260K.gguf";
    const std::string golden_path = kModels + "golden/stories260K.greedy.json";
    if (!std::filesystem::exists(model_path) || !std::filesystem::exists(golden_path)) {
        GTEST_SKIP() << "shared models absent: " << model_path;
    }
    auto spm = load_spm(model_path);
    ASSERT_TRUE(spm);
    const auto golden = nlohmann::json::parse(read_file(golden_path));
    ASSERT_FALSE(golden["items"].empty());
    for (const auto& item : golden["items"]) {
        const std::string text = item["prompt"].get<std::string>() + item["completion"].get<std::string>();
        const std::vector<int32_t> ids = encode(*spm, text);
        EXPECT_LT(ids.size(), text.size()) << "merges expected on story text";
        for (int32_t id : ids) {  // the vocabulary has every character of the stories but the newline
            if (spm->types[id] != 1) {
                EXPECT_EQ(spm->model.decode_token(id), "\n") << id;
            }
        }
        EXPECT_EQ(decode(spm->model, ids), " " + text);
    }
}

// A tiny hand-made vocabulary pins the merge order: highest score first, ties to the leftmost pair.
TEST(SpmModel, MergesTheHighestScoringPairFirstAndTiesGoLeft) {
    std::vector<std::string_view> tokens = {"<unk>", "a", "b", "c", "ab", "bc", "abc"};
    std::vector<float> scores = {0, -1, -1, -1, -5, -2, -3};
    std::vector<int32_t> types = {2, 1, 1, 1, 1, 1, 1};
    auto model = SpmModel::create(tokens, scores, types, 0);
    ASSERT_TRUE(model.ok()) << model.message();
    std::vector<int32_t> ids;
    model->encode("abc", false, &ids);  // "bc" (-2) beats "ab" (-5); "a"+"bc" then forms "abc"
    EXPECT_EQ(ids, (std::vector<int32_t>{6}));
    ids.clear();
    model->encode("abab", false, &ids);  // no "abab": both "ab" pairs merge, left first
    EXPECT_EQ(ids, (std::vector<int32_t>{4, 4}));
    ids.clear();
    model->encode("bcd", false, &ids);  // "d" is unknown and there are no byte tokens
    EXPECT_EQ(ids, (std::vector<int32_t>{5, 0}));
    EXPECT_EQ(model->decode_token(0), "\xE2\x96\x85");
}

TEST(SpmModel, RejectsInconsistentVocabularies) {
    std::vector<std::string_view> tokens = {"a", "b"};
    std::vector<float> scores = {0, 0};
    std::vector<int32_t> types = {1, 1};
    EXPECT_FALSE(SpmModel::create(tokens, std::span<const float>(scores).first(1), types, -1).ok());
    auto no_fallback = SpmModel::create(tokens, scores, types, -1);
    ASSERT_FALSE(no_fallback.ok());
    EXPECT_NE(no_fallback.message().find("byte token"), std::string::npos) << no_fallback.message();
    EXPECT_FALSE(SpmModel::create(tokens, scores, types, 2).ok());
    std::vector<int32_t> bad_byte_types = {6, 1};
    EXPECT_FALSE(SpmModel::create(tokens, scores, bad_byte_types, 0).ok());
}

}  // namespace
}  // namespace sinan::text
