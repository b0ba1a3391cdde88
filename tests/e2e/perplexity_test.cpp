// `sinan perplexity` through the real binary: the NLL against one computed here from llama.cpp's
// logits, the trained model against random weights on text it wrote, quantized against F32, and
// errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "run_binary.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";
const std::string kStories = (kModels / "stories260K.gguf").string();

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

nlohmann::json read_json(const fs::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

nlohmann::json run_json(const std::vector<std::string>& args) {
    RunResult r = run_sinan(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.exit_code != 0) return nullptr;
    return nlohmann::json::parse(r.out);
}

// The prompts and completions of the reference's greedy runs of stories260K: text that model wrote.
std::string greedy_text() {
    const nlohmann::json g = read_json(kModels / "golden" / "stories260K.greedy.json");
    std::string text;
    for (const auto& item : g["items"])
        text += item["prompt"].get<std::string>() + item["completion"].get<std::string>() + "\n";
    return text;
}

class PerplexityCommand : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!fs::exists(kStories)) GTEST_SKIP() << "reference files not found: " << kStories;
        dir_ = make_temp_dir();
    }
    void TearDown() override {
        if (!dir_.empty()) fs::remove_all(dir_);
    }
    std::string dir_;
};

// Mean NLL, in double, of tokens[i+1] under softmax(logits[i]) for i in [n/2, n-2]: the scored
// positions of one chunk of n tokens.
double reference_mean_nll(const nlohmann::json& seq) {
    const auto& tokens = seq["tokens"];
    const auto& logits = seq["logits"];
    const size_t n = tokens.size();
    double sum = 0;
    int count = 0;
    for (size_t i = n / 2; i + 1 < n; ++i) {
        const std::vector<double> l = logits[i].get<std::vector<double>>();
        double max = l[0];
        for (double v : l) max = std::max(max, v);
        double z = 0;
        for (double v : l) z += std::exp(v - max);
        sum += max + std::log(z) - l[tokens[i + 1].get<size_t>()];
        ++count;
    }
    return sum / count;
}

TEST_F(PerplexityCommand, MeanNllMatchesTheOneFromReferenceLogits) {
    const fs::path golden = kModels / "golden" / "stories260K.logits.json";
    if (!fs::exists(golden)) GTEST_SKIP() << "not found: " << golden;
    const nlohmann::json g = read_json(golden);
    int checked = 0;
    for (const auto& seq : g["sequences"]) {
        const size_t n = seq["tokens"].size();
        if (n < 16) continue;  // too few scored positions to say much
        std::ostringstream ids;
        for (const auto& t : seq["tokens"]) ids << t.get<int>() << '\n';
        const std::string file = dir_ + "/ids.txt";
        write_file(file, ids.str());
        const double expected = reference_mean_nll(seq);
        // The whole sequence is one chunk; also in small batches, which must not change the figure.
        for (const std::string batch : {"512", "7"}) {
            const nlohmann::json j = run_json(
                {"perplexity", "-m", kStories, "--tokens-file", file, "-c", std::to_string(n), "-b", batch, "--json"});
            ASSERT_FALSE(j.is_null());
            EXPECT_EQ(j["n_chunks"], 1);
            EXPECT_EQ(j["n_scored"], n - 1 - n / 2);
            EXPECT_NEAR(j["mean_nll"].get<double>(), expected, 1e-3 * std::abs(expected))
                << "n=" << n << " -b " << batch;
            EXPECT_NEAR(j["perplexity"].get<double>(), std::exp(j["mean_nll"].get<double>()),
                        1e-9 * j["perplexity"].get<double>());
        }
        ++checked;
    }
    EXPECT_GE(checked, 2);
}

TEST_F(PerplexityCommand, SplitsIntoChunksAndDropsTheRemainder) {
    const nlohmann::json g = read_json(kModels / "golden" / "stories260K.logits.json");
    std::ostringstream ids;
    for (const auto& t : g["sequences"][2]["tokens"]) ids << t.get<int>() << ' ';
    const size_t n = g["sequences"][2]["tokens"].size();
    const std::string file = dir_ + "/ids.txt";
    write_file(file, ids.str());
    RunResult r = run_sinan({"perplexity", "-m", kStories, "--tokens-file", file, "-c", "32", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["n_chunks"], n / 32);
    EXPECT_EQ(j["n_scored"], (n / 32) * (32 - 1 - 16));
    // One progress line per chunk on stderr.
    for (size_t c = 1; c <= n / 32; ++c) {
        char tag[64];
        std::snprintf(tag, sizeof tag, "[%zu/%zu]", c, n / 32);
        EXPECT_NE(r.err.find(tag), std::string::npos) << r.err;
    }
}

TEST_F(PerplexityCommand, LowOnTextTheModelWroteAndHighForRandomWeights) {
    const std::string text = dir_ + "/greedy.txt";
    write_file(text, greedy_text());
    const std::string random = dir_ + "/random.gguf";
    // Same tokenizer, random weights: it cannot predict the text.
    ASSERT_EQ(run_sinan({"model", "synth", "--shape", "tiny-llama", "--vocab", kStories, "-o", random}).exit_code, 0);
    const nlohmann::json trained = run_json({"perplexity", "-m", kStories, "-f", text, "-c", "64", "--json"});
    const nlohmann::json guesser = run_json({"perplexity", "-m", random, "-f", text, "-c", "64", "--json"});
    ASSERT_FALSE(trained.is_null());
    ASSERT_FALSE(guesser.is_null());
    EXPECT_GE(trained["n_chunks"], 2);
    EXPECT_LT(trained["perplexity"].get<double>(), 4.0);    // greedy text: the model's own top choices
    EXPECT_GT(guesser["perplexity"].get<double>(), 100.0);  // near-uniform over 512 tokens
    EXPECT_GT(trained["perplexity_stderr"].get<double>(), 0.0);
    EXPECT_GT(trained["tokens_per_second"].get<double>(), 0.0);
}

TEST_F(PerplexityCommand, PlainOutputIsOneLineOnStdout) {
    const std::string text = dir_ + "/greedy.txt";
    write_file(text, greedy_text());
    RunResult r = run_sinan({"perplexity", "-m", kStories, "-f", text, "-c", "64"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("perplexity: ", 0), 0u) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

TEST_F(PerplexityCommand, QuantizedAndF32FilesAgreeWithinAFewPercent) {
    const fs::path f32 = kModels / "qwen2-small-f32.gguf", q8 = kModels / "qwen2-small-q8_0.gguf";
    if (!fs::exists(f32) || !fs::exists(q8)) GTEST_SKIP() << "qwen2-small models not found";
    const std::string text = dir_ + "/greedy.txt";
    write_file(text, greedy_text());
    const nlohmann::json a = run_json({"perplexity", "-m", f32.string(), "-f", text, "-c", "64", "--json"});
    const nlohmann::json b = run_json({"perplexity", "-m", q8.string(), "-f", text, "-c", "64", "--json"});
    ASSERT_FALSE(a.is_null());
    ASSERT_FALSE(b.is_null());
    const double pa = a["perplexity"], pb = b["perplexity"];
    EXPECT_NEAR(pb / pa, 1.0, 0.03) << "f32 " << pa << ", q8_0 " << pb;
}

TEST_F(PerplexityCommand, ErrorsAreOneLineWithExitCode2) {
    const std::string text = dir_ + "/greedy.txt";
    write_file(text, greedy_text());
    const std::string empty = dir_ + "/empty.txt";
    write_file(empty, "");
    const std::string short_text = dir_ + "/short.txt";
    write_file(short_text, "Once upon a time");
    const std::string bad_ids = dir_ + "/bad.txt";
    write_file(bad_ids, "1 2 three");
    struct Case {
        std::vector<std::string> args;
        std::string says;
    };
    const std::vector<Case> cases = {
        {{"perplexity", "-m", dir_ + "/missing.gguf", "-f", text}, "missing.gguf"},
        {{"perplexity", "-m", kStories, "-f", dir_ + "/missing.txt"}, "missing.txt"},
        {{"perplexity", "-m", kStories, "-f", empty}, "empty"},
        {{"perplexity", "-m", kStories, "-f", text, "-c", "0"}, "-c"},
        {{"perplexity", "-m", kStories, "-f", text, "-c", "2"}, "-c"},
        {{"perplexity", "-m", kStories, "-f", text, "-c", "abc"}, "ctx-size"},
        {{"perplexity", "-m", kStories, "-f", short_text, "-c", "512"}, "-c"},
        {{"perplexity", "-m", kStories, "--tokens-file", bad_ids, "-c", "3"}, "three"},
        {{"perplexity", "-m", kStories}, "-f"},
    };
    for (const Case& c : cases) {
        RunResult r = run_sinan(c.args);
        EXPECT_EQ(r.exit_code, 2) << c.args.back() << ": " << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_NE(r.err.find("sinan: error: "), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    }
}

}  // namespace
}  // namespace sinan::test
