// `sinan quantize` against llama.cpp's own quantize: the shared qwen2/llama small models were
// quantized by llama.cpp from their F32 files with --pure; ours must be byte-identical.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

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
