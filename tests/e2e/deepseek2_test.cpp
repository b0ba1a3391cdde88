// DeepSeek-V3/R1 (`deepseek2`) through the real binary: synthetic models with the layout of the
// reference engine's files, their KV bytes per token in `model info`, and generation with the
// real DeepSeek-V3 tokenizer and chat template.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "run_binary.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";

class Deepseek2Command : public ::testing::Test {
protected:
    void SetUp() override { dir_ = make_temp_dir(); }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& name) const { return dir_ + "/" + name; }
    static nlohmann::json info(const std::string& file) {
        RunResult r = run_sinan({"model", "info", file, "--json", "--tensors"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return nlohmann::json::parse(r.out);
    }
    std::string dir_;
};

TEST_F(Deepseek2Command, SynthHasTheReferenceLayout) {
    const fs::path ref = kModels / "deepseek2-small-f32.gguf";
    if (!fs::exists(ref)) GTEST_SKIP() << "reference model not found: " << ref;
    const std::string m = path("ds.gguf");
    RunResult r = run_sinan({"model", "synth", "--arch", "deepseek2", "--shape", "deepseek2-tiny", "-o", m});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Same layer structure as the file llama.cpp wrote (3 blocks, one dense, q LoRA, expert bias,
    // shared expert): the same tensor names with the same ranks, and every hyperparameter key.
    const nlohmann::json ours = info(m), theirs = info(ref.string());
    std::map<std::string, size_t> our_ranks, their_ranks;
    for (const auto& t : ours["tensors"]) our_ranks[t["name"]] = t["shape"].size();
    for (const auto& t : theirs["tensors"]) their_ranks[t["name"]] = t["shape"].size();
    EXPECT_EQ(our_ranks, their_ranks);
    for (const auto& [key, value] : theirs["hyperparameters"].items())
        EXPECT_TRUE(ours["hyperparameters"].contains(key)) << "missing deepseek2." << key;
    // MLA caches kv_lora_rank + rope values per layer and token: 3 * (64 + 16) F16 values.
    EXPECT_EQ(ours["kv_bytes_per_token"]["F16"], 3 * (64 + 16) * 2);
    EXPECT_EQ(theirs["kv_bytes_per_token"]["F16"], 3 * (32 + 8) * 2);
}

TEST_F(Deepseek2Command, GeneratesWithTheDeepSeekV3Tokenizer) {
    const fs::path vocab = kModels / "ggml-vocab-deepseek-v3.gguf";
    if (!fs::exists(vocab)) GTEST_SKIP() << "vocabulary not found: " << vocab;
    const std::string m = path("ds-v3.gguf");
    RunResult r = run_sinan(
        {"model", "synth", "--shape", "deepseek2-tiny", "--type", "q8_0", "--vocab", vocab.string(), "-o", m});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::vector<std::string> args = {"run", "-m", m, "--chat", "-p", "Hello", "-n", "6", "--temp", "0"};
    RunResult a = run_sinan(args), b = run_sinan(args);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_NE(a.err.find("generation: 6 tokens"), std::string::npos) << a.err;
    EXPECT_EQ(a.out, b.out) << "greedy decoding is deterministic";
}

TEST_F(Deepseek2Command, V2LiteShapeIsKnownAndChecked) {
    // The full file is 16.7 GB in Q8_0 (bench/NOTES.md runs it); here only its checks.
    RunResult r = run_sinan({"model", "synth", "--arch", "qwen2", "--shape", "v2-lite", "-o", path("x.gguf")});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("deepseek2"), std::string::npos) << r.err;
    r = run_sinan({"model", "synth", "--shape", "v2-lite", "--type", "q4_k", "-o", path("x.gguf")});
    EXPECT_NE(r.exit_code, 0) << "rows of 128 (and experts' 1408) do not split into Q4_K blocks";
    EXPECT_NE(r.err.find("Q4_K block"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(path("x.gguf")));
}

}  // namespace
}  // namespace sinan::test
