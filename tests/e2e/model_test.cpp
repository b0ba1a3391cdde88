// `sinan model info` and `sinan model synth`, through the real binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_binary.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";

class ModelCommand : public ::testing::Test {
protected:
    void SetUp() override { dir_ = make_temp_dir(); }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& name) const { return dir_ + "/" + name; }
    nlohmann::json info_json(const std::string& file, bool tensors = true) {
        std::vector<std::string> args = {"model", "info", file, "--json"};
        if (tensors) args.push_back("--tensors");
        RunResult r = run_sinan(args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return nlohmann::json::parse(r.out);
    }
    std::string dir_;
};

// Our tiny shapes claim the hyperparameters of the reference small models written by llama.cpp
// (hidden 256, 2 layers, 4 heads / 2 KV heads, FFN 512): same tensor names and shapes.
void expect_same_layout(const nlohmann::json& ours, const nlohmann::json& ref) {
    std::map<std::string, nlohmann::json> ref_shapes, our_shapes;
    for (const auto& t : ref["tensors"]) ref_shapes[t["name"]] = t["shape"];
    for (const auto& t : ours["tensors"]) our_shapes[t["name"]] = t["shape"];
    EXPECT_EQ(our_shapes.size(), ref_shapes.size());
    for (const auto& [name, shape] : ref_shapes) {
        ASSERT_TRUE(our_shapes.count(name)) << "missing tensor " << name;
        EXPECT_EQ(our_shapes[name], shape) << name;
    }
    for (const char* k : {"embedding_length", "block_count", "feed_forward_length", "attention.head_count",
                          "attention.head_count_kv"})
        EXPECT_EQ(ours["hyperparameters"][k], ref["hyperparameters"][k]) << k;
}

TEST_F(ModelCommand, SynthTinyHasTheLayoutOfTheReferenceQwen2Model) {
    const fs::path ref = kModels / "qwen2-small-f32.gguf";
    if (!fs::exists(ref)) GTEST_SKIP() << "reference model not found: " << ref;
    RunResult r = run_sinan({"model", "synth", "--arch", "qwen2", "--shape", "tiny", "-o", path("tiny.gguf")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.out.empty()) << "stdout is for command output only";
    nlohmann::json ours = info_json(path("tiny.gguf"));
    expect_same_layout(ours, info_json(ref.string()));
    EXPECT_EQ(ours["architecture"], "qwen2");
    EXPECT_EQ(ours["tokenizer"]["model"], "gpt2");
    EXPECT_EQ(ours["tokenizer"]["tokens"], 512);
}

TEST_F(ModelCommand, SynthTinyLlamaHasTheLayoutOfTheReferenceLlamaModel) {
    const fs::path ref = kModels / "llama-small-f32.gguf";
    if (!fs::exists(ref)) GTEST_SKIP() << "reference model not found: " << ref;
    RunResult r = run_sinan({"model", "synth", "--shape", "tiny-llama", "--type", "q8_0", "-o", path("l.gguf")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json ours = info_json(path("l.gguf"));
    expect_same_layout(ours, info_json(ref.string()));
    EXPECT_EQ(ours["hyperparameters"]["rope.freq_base"], 500000.0);
    EXPECT_EQ(ours["tensor_types"]["Q8_0"]["tensors"], 16);  // 7 matrices x 2 layers, token_embd, output
}

TEST_F(ModelCommand, SynthCopiesTheVocabularyFromAnotherFile) {
    const fs::path vocab = kModels / "ggml-vocab-deepseek-r1-qwen.gguf";
    if (!fs::exists(vocab)) GTEST_SKIP() << "vocab not found: " << vocab;
    RunResult r = run_sinan({"model", "synth", "--shape", "tiny", "--type", "q8_0", "--vocab", vocab.string(), "-o", path("v.gguf")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json ours = info_json(path("v.gguf"), false);
    nlohmann::json src = info_json(vocab.string(), false);
    EXPECT_EQ(ours["tokenizer"], src["tokenizer"]);
    for (const auto& [k, v] : src["metadata"].items()) {
        if (k.rfind("tokenizer.", 0) == 0) {
            EXPECT_EQ(ours["metadata"][k], v) << k;
        }
    }
    // The embedding follows the vocabulary's size.
    nlohmann::json t = info_json(path("v.gguf"));
    for (const auto& e : t["tensors"]) {
        if (e["name"] == "token_embd.weight") {
            EXPECT_EQ(e["shape"][1], src["tokenizer"]["tokens"]);
        }
    }
}

TEST_F(ModelCommand, SynthIsDeterministicPerSeed) {
    auto bytes = [](const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), {});
    };
    ASSERT_EQ(run_sinan({"model", "synth", "--type", "q4_0", "--seed", "7", "-o", path("a.gguf")}).exit_code, 0);
    ASSERT_EQ(run_sinan({"model", "synth", "--type", "q4_0", "--seed", "7", "-t", "1", "-o", path("b.gguf")}).exit_code, 0);
    ASSERT_EQ(run_sinan({"model", "synth", "--type", "q4_0", "--seed", "8", "-o", path("c.gguf")}).exit_code, 0);
    EXPECT_EQ(bytes(path("a.gguf")), bytes(path("b.gguf"))) << "same seed, any thread count: same file";
    EXPECT_NE(bytes(path("a.gguf")), bytes(path("c.gguf")));
}

TEST_F(ModelCommand, InfoHumanOutputNamesWhatMatters) {
    ASSERT_EQ(run_sinan({"model", "synth", "--type", "q8_0", "-o", path("t.gguf")}).exit_code, 0);
    RunResult r = run_sinan({"model", "info", path("t.gguf"), "--tensors"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* s : {"architecture    qwen2", "file type       Q8_0", "embedding_length", "byte-level BPE",
                          "deepseek-r1-qwen", "blk.1.ffn_down.weight", "chat template   yes"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

// A mix is written and named as llama.cpp names it; a llama.cpp file's own id reads the same way.
TEST_F(ModelCommand, SynthWritesAMixThatInfoNames) {
    RunResult r = run_sinan({"model", "synth", "--type", "q4_k_m", "-o", path("m.gguf")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("Q4_K_M"), std::string::npos) << r.err;
    const nlohmann::json j = info_json(path("m.gguf"), false);
    EXPECT_EQ(j["file_type"], "Q4_K_M");
    EXPECT_EQ(j["tensor_types"]["Q6_K"]["tensors"], 3) << "output, blk.1.attn_v, blk.1.ffn_down";
    const fs::path ref = kModels / "qwen2-small-q8_0.gguf";
    if (fs::exists(ref)) {
        EXPECT_EQ(info_json(ref.string(), false)["file_type"], "Q8_0");
    }
}

TEST_F(ModelCommand, BadInputGivesOneLineAndExitCode2) {
    std::ofstream(path("junk.gguf")) << "this is not a model";
    std::ofstream trunc(path("trunc.gguf"), std::ios::binary);
    trunc.write("GGUF\x03\0\0\0\x05\0\0\0\0\0\0\0", 16);
    trunc.close();
    const std::vector<std::vector<std::string>> cases = {
        {"model", "info", path("missing.gguf")},
        {"model", "info", path("junk.gguf")},
        {"model", "info", path("trunc.gguf")},
        {"model", "info", dir_},
        {"model", "synth", "--shape", "no-such-shape", "-o", path("x.gguf")},
        {"model", "synth", "--arch", "llama", "--shape", "tiny", "-o", path("x.gguf")},
        {"model", "synth", "--type", "q9_9", "-o", path("x.gguf")},
        {"model", "synth", "-o", "/nonexistent-dir/x.gguf"},
        {"model", "synth", "--vocab", path("junk.gguf"), "-o", path("x.gguf")},
        {"model", "info"},
        {"model", "frobnicate"},
    };
    for (const auto& args : cases) {
        RunResult r = run_sinan(args);
        std::string cmd;
        for (const auto& a : args) cmd += a + " ";
        EXPECT_EQ(r.exit_code, 2) << cmd << r.err;
        EXPECT_EQ(r.err.rfind("sinan: error: ", 0), 0u) << cmd << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << cmd << r.err;
        EXPECT_TRUE(r.out.empty()) << cmd;
    }
    EXPECT_FALSE(fs::exists(path("x.gguf")));
}

}  // namespace
}  // namespace sinan::test
