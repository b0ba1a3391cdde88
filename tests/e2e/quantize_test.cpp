// `sinan quantize` against llama.cpp's own quantize: the shared qwen2/llama small models were
// quantized by llama.cpp from their F32 files with --pure; ours must be byte-identical.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "gguf/gguf.h"
#include "run_binary.h"

namespace sinan::test {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(SINAN_SHARED_DIR) / "models";

class QuantizeGolden : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

TEST_P(QuantizeGolden, TensorsAreByteIdenticalToTheReferenceQuantizer) {
    const auto [model, type] = GetParam();
    const fs::path f32 = kModels / (std::string(model) + "-f32.gguf");
    const fs::path ref = kModels / (std::string(model) + "-" + type + ".gguf");
    if (!fs::exists(f32) || !fs::exists(ref)) GTEST_SKIP() << "reference models not found in " << kModels;
    const std::string dir = make_temp_dir();
    const std::string out = dir + "/out.gguf";
    RunResult r = run_sinan({"quantize", f32.string(), out, type});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Result<gguf::File> ours = gguf::File::open(out);
    Result<gguf::File> theirs = gguf::File::open(ref.string());
    ASSERT_TRUE(ours.ok()) << ours.message();
    ASSERT_TRUE(theirs.ok()) << theirs.message();
    ASSERT_EQ(ours->tensors().size(), theirs->tensors().size());
    for (const gguf::TensorInfo& t : theirs->tensors()) {
        const gguf::TensorInfo* o = ours->find_tensor(t.name);
        ASSERT_NE(o, nullptr) << t.name;
        EXPECT_EQ(o->type, t.type) << t.name;
        EXPECT_EQ(o->shape, t.shape) << t.name;
        ASSERT_EQ(o->n_bytes, t.n_bytes) << t.name;
        EXPECT_EQ(std::memcmp(o->data, t.data, t.n_bytes), 0) << t.name << " differs from llama.cpp's bytes";
    }
    EXPECT_EQ(ours->get_uint("general.file_type"), theirs->get_uint("general.file_type"));
    EXPECT_EQ(ours->get_array("tokenizer.ggml.tokens")->size(), theirs->get_array("tokenizer.ggml.tokens")->size());
    fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(SharedModels, QuantizeGolden,
                         ::testing::Combine(::testing::Values("qwen2-small", "llama-small"),
                                            ::testing::Values("q8_0", "q4_0", "q4_k", "q6_k", "f16", "bf16")),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param)).replace(5, 1, "_") + "_" + std::get<1>(info.param);
                         });

// A mix uses the same quantizers per tensor, so each tensor must equal the one of llama.cpp's pure
// file of its type; which tensor gets which type is llama.cpp's rule (model/type_mix.h): with 2
// layers, layer 1 is a more-bits layer, and the output matrix (qwen2-small ties it to token_embd)
// is Q6_K.
TEST(QuantizeCommand, Q4KMixHasLlamaCppsBytesForEachTensor) {
    for (const char* model : {"qwen2-small", "llama-small"}) {
        SCOPED_TRACE(model);
        const auto ref = [&](const char* type) { return kModels / (std::string(model) + "-" + type + ".gguf"); };
        if (!fs::exists(ref("f32")) || !fs::exists(ref("q4_k")) || !fs::exists(ref("q6_k")))
            GTEST_SKIP() << "reference models not found in " << kModels;
        const std::string dir = make_temp_dir();
        const std::string out = dir + "/out.gguf";
        RunResult r = run_sinan({"quantize", ref("f32").string(), out, "q4_k_m"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_NE(r.err.find("Q4_K_M"), std::string::npos) << r.err;
        Result<gguf::File> ours = gguf::File::open(out);
        ASSERT_TRUE(ours.ok()) << ours.message();
        Result<gguf::File> f32 = gguf::File::open(ref("f32").string()), q4 = gguf::File::open(ref("q4_k").string()),
                           q6 = gguf::File::open(ref("q6_k").string());
        ASSERT_TRUE(f32.ok() && q4.ok() && q6.ok());
        EXPECT_EQ(ours->get_uint("general.file_type"), 15u);
        std::set<std::string> q6_names;
        for (const gguf::TensorInfo& o : ours->tensors()) {
            const gguf::File& theirs = o.type == gguf::TensorType::Q6_K   ? *q6
                                       : o.type == gguf::TensorType::Q4_K ? *q4
                                                                          : *f32;
            if (o.type == gguf::TensorType::Q6_K) q6_names.insert(std::string(o.name));
            const gguf::TensorInfo* t = theirs.find_tensor(o.name);
            ASSERT_NE(t, nullptr) << o.name;
            ASSERT_EQ(o.type, t->type) << o.name << " is neither F32, Q4_K nor Q6_K";
            ASSERT_EQ(o.n_bytes, t->n_bytes) << o.name;
            EXPECT_EQ(std::memcmp(o.data, t->data, t->n_bytes), 0) << o.name << " differs from llama.cpp's bytes";
        }
        const std::string output =
            ours->find_tensor("output.weight") != nullptr ? "output.weight" : "token_embd.weight";
        EXPECT_EQ(q6_names, (std::set<std::string>{"blk.1.attn_v.weight", "blk.1.ffn_down.weight", output}));
        fs::remove_all(dir);
    }
}

// The tensors llama.cpp quantizes: DeepSeek's 3-D expert tensors too, not the MoE router, and a
// matrix whose rows are not whole blocks (MLA's attn_k_b: 16 values) stays as it is, named. The
// file then runs: logits at every position, finite.
TEST(QuantizeCommand, ExpertsAreQuantizedAndTheRouterIsNot) {
    const fs::path f32 = kModels / "deepseek2-small-f32.gguf";
    if (!fs::exists(f32)) GTEST_SKIP() << "not found: " << f32;
    const std::string dir = make_temp_dir();
    const std::string out = dir + "/out.gguf";
    RunResult r = run_sinan({"quantize", f32.string(), out, "q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("kept 'blk.0.attn_k_b.weight'"), std::string::npos) << r.err;
    Result<gguf::File> ours = gguf::File::open(out);
    ASSERT_TRUE(ours.ok()) << ours.message();
    EXPECT_EQ(ours->find_tensor("blk.1.ffn_down_exps.weight")->type, gguf::TensorType::Q8_0);
    EXPECT_EQ(ours->find_tensor("blk.1.ffn_gate_inp.weight")->type, gguf::TensorType::F32);
    EXPECT_EQ(ours->find_tensor("blk.1.attn_k_b.weight")->type, gguf::TensorType::F32);
    EXPECT_EQ(ours->find_tensor("blk.1.attn_kv_a_norm.weight")->type, gguf::TensorType::F32);
    RunResult logits = run_sinan({"logits", "-m", out, "--tokens", "1,2,3,4,5"});
    ASSERT_EQ(logits.exit_code, 0) << logits.err;
    const nlohmann::json j = nlohmann::json::parse(logits.out);
    ASSERT_EQ(j["sequences"][0]["logits"].size(), 5u);
    for (const auto& row : j["sequences"][0]["logits"])
        for (const auto& v : row) ASSERT_TRUE(v.is_number()) << "a logit that is not a finite number";
    fs::remove_all(dir);
}

TEST(QuantizeCommand, BadInputGivesOneLineAndExitCode2) {
    const fs::path q8 = kModels / "qwen2-small-q8_0.gguf";
    if (!fs::exists(q8)) GTEST_SKIP() << "not found: " << q8;
    const std::string dir = make_temp_dir();
    const std::vector<std::vector<std::string>> cases = {
        {"quantize", "/no/such.gguf", dir + "/o.gguf", "q8_0"},
        {"quantize", q8.string(), dir + "/o.gguf", "q4_k"},  // already quantized
        {"quantize", q8.string(), dir + "/o.gguf", "q9_9"},
        {"quantize", q8.string(), q8.string(), "q8_0"},
        {"quantize", q8.string(), dir + "/o.gguf"},
    };
    for (const auto& args : cases) {
        RunResult r = run_sinan(args);
        EXPECT_EQ(r.exit_code, 2) << args[2] << " " << r.err;
        EXPECT_EQ(r.err.rfind("sinan: error: ", 0), 0u) << r.err;
    }
    EXPECT_FALSE(fs::exists(dir + "/o.gguf")) << "nothing is left behind on failure";
    fs::remove_all(dir);
}

}  // namespace
}  // namespace sinan::test
