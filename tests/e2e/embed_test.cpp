// `sinan embed` as a user runs it: texts from arguments or stdin lines, JSON on stdout with
// llama.cpp's vectors (raw or normalised), and `sinan: error:` with exit code 2 for what it cannot do.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_binary.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";
const fs::path kBert = kModels / "bert-tiny-f32.gguf";
const fs::path kGolden = kModels / "golden" / "bert-tiny-f32.embeddings.json";

class EmbedCommand : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!fs::exists(kBert) || !fs::exists(kGolden)) GTEST_SKIP() << "reference files not found: " << kGolden;
        std::ifstream in(kGolden);
        golden_ = json::parse(in);
    }
    json golden_;
};

TEST_F(EmbedCommand, RawVectorsFromArgumentsAreLlamaCpps) {
    const json& item = golden_["items"][0];
    const RunResult r = run_sinan({"embed", "-m", kBert.string(), "--raw", item["text"]});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json out = json::parse(r.out);
    EXPECT_EQ(out["n_embd"], 64);
    EXPECT_EQ(out["pooling"], "cls");
    EXPECT_EQ(out["normalized"], false);
    EXPECT_EQ(out["n_tokens"][0], item["tokens"].size());
    const std::vector<float> got = out["embeddings"][0], ref = item["embedding"];
    ASSERT_EQ(got.size(), ref.size());
    double diff = 0, norm = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        diff += std::pow(got[i] - ref[i], 2);
        norm += std::pow(ref[i], 2);
    }
    EXPECT_LE(std::sqrt(diff / norm), 1e-5);
}

TEST_F(EmbedCommand, StdinLinesGiveUnitVectorsInOrder) {
    const std::string in =
        golden_["items"][0]["text"].get<std::string>() + "\n\n" + golden_["items"][1]["text"].get<std::string>() + "\n";
    const RunResult r = run_sinan({"embed", "-m", kBert.string()}, in);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json out = json::parse(r.out);
    ASSERT_EQ(out["embeddings"].size(), 2u);  // the empty line is skipped
    for (size_t s = 0; s < 2; ++s) {
        const std::vector<float> v = out["embeddings"][s], ref = golden_["items"][s]["embedding"];
        double len = 0, ref_len = 0, dot = 0;
        for (size_t i = 0; i < v.size(); ++i) {
            len += v[i] * static_cast<double>(v[i]);
            ref_len += ref[i] * static_cast<double>(ref[i]);
            dot += v[i] * static_cast<double>(ref[i]);
        }
        EXPECT_NEAR(len, 1.0, 1e-5);
        EXPECT_NEAR(dot / std::sqrt(ref_len), 1.0, 1e-5) << s;  // the same direction as the reference
    }
}

TEST_F(EmbedCommand, ErrorsSayWhatToDo) {
    RunResult r = run_sinan({"embed", "-m", (kModels / "llama-small-f32.gguf").string(), "hi"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("sinan: error:"), std::string::npos);
    EXPECT_NE(r.err.find("not an embedding model"), std::string::npos) << r.err;
    std::string words;
    for (int i = 0; i < 600; ++i) words += "hello ";
    r = run_sinan({"embed", "-m", kBert.string(), words});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--truncate"), std::string::npos) << r.err;
    r = run_sinan({"embed", "-m", kBert.string(), "--truncate", words});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["n_tokens"][0], 512);
    r = run_sinan({"embed", "-m", kBert.string(), "--pooling", "max", "hi"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--pooling"), std::string::npos) << r.err;
    r = run_sinan({"run", "-m", kBert.string(), "-p", "hi"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("is an embedding model"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sinan::test
