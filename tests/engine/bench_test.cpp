// engine/bench.h: the statistics of the repetitions, the weight bytes one decoded token reads,
// the multiply-adds of a prompt, the bandwidth probe and the resident-memory peak. Speeds
// themselves are never asserted.
#include "engine/bench.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "model/synth.h"

namespace sinan::engine {
namespace {

namespace fs = std::filesystem;

TEST(Summarize, MeanSampleStddevAndMedian) {
    // mean 5, squared deviations 9+1+1+9 = 20 over n-1 = 3; median of an even count: middle pair.
    const Summary s = summarize({2, 4, 8, 6});
    EXPECT_DOUBLE_EQ(s.mean, 5.0);
    EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(20.0 / 3.0));
    EXPECT_DOUBLE_EQ(s.median, 5.0);
    EXPECT_DOUBLE_EQ(summarize({3, 1, 100}).median, 3.0);
    const Summary one = summarize({7});
    EXPECT_DOUBLE_EQ(one.mean, 7.0);
    EXPECT_DOUBLE_EQ(one.stddev, 0.0);
    EXPECT_DOUBLE_EQ(one.median, 7.0);
}

// The bytes of every tensor, with only one row of the token embedding.
uint64_t expected_bytes(const gguf::File& f) {
    uint64_t all = 0;
    for (const gguf::TensorInfo& t : f.tensors()) all += t.n_bytes;
    const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
    return all - embd->n_bytes + embd->n_bytes / embd->shape[1];
}

TEST(WeightBytesPerToken, AllTensorsButOneRowOfTheEmbedding) {
    const fs::path path = fs::temp_directory_path() / "sinan_engine_bench_test.gguf";
    model::SynthOptions o;
    o.shape = "tiny";
    o.type = gguf::TensorType::Q8_0;
    ASSERT_TRUE(model::synth_model(o, path.string()).is_ok());
    Result<gguf::File> f = gguf::File::open(path.string());
    ASSERT_TRUE(f.ok()) << f.message();
    ASSERT_NE(f->find_tensor("output.weight"), nullptr) << "the tiny shape has its own output matrix";
    EXPECT_EQ(weight_bytes_per_token(*f), expected_bytes(*f));
    EXPECT_LT(weight_bytes_per_token(*f), f->tensor_bytes());
    fs::remove(path);
}

TEST(WeightBytesPerToken, OnlyTheUsedRoutedExperts) {
    const fs::path path = fs::temp_directory_path() / "sinan_engine_bench_moe_test.gguf";
    model::SynthOptions o;
    o.shape = "deepseek2-tiny";  // 8 routed experts, 2 used per token, in layers 1 and 2
    o.type = gguf::TensorType::Q8_0;
    ASSERT_TRUE(model::synth_model(o, path.string()).is_ok());
    Result<gguf::File> f = gguf::File::open(path.string());
    ASSERT_TRUE(f.ok()) << f.message();
    uint64_t unused = 0;
    for (const char* name : {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"})
        for (int l = 1; l <= 2; ++l)
            unused += f->find_tensor("blk." + std::to_string(l) + "." + name + ".weight")->n_bytes / 8 * 6;
    EXPECT_EQ(weight_bytes_per_token(*f), expected_bytes(*f) - unused);
    fs::remove(path);
}

TEST(PromptMacs, EveryMatrixPerTokenButOnlyTheUsedRoutedExperts) {
    const fs::path path = fs::temp_directory_path() / "sinan_engine_bench_moe_macs_test.gguf";
    model::SynthOptions o;
    o.shape = "deepseek2-tiny";  // layer 0 dense; layers 1 and 2: 8 routed experts, 2 used, and shared experts
    o.type = gguf::TensorType::Q8_0;
    ASSERT_TRUE(model::synth_model(o, path.string()).is_ok());
    Result<gguf::File> f = gguf::File::open(path.string());
    ASSERT_TRUE(f.ok()) << f.message();
    ASSERT_NE(f->find_tensor("output.weight"), nullptr);
    constexpr int64_t kPrompt = 5;
    double matrices = 0;  // per token: every 2-D weight but the embedding and the output matrix
    for (const gguf::TensorInfo& t : f->tensors())
        if (t.shape.size() == 2 && t.name != "token_embd.weight" && t.name != "output.weight")
            matrices += static_cast<double>(t.n_elements);
    double experts = 0;  // per token: 2 of the 8 routed experts of layers 1 and 2
    for (const char* name : {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"})
        for (int l = 1; l <= 2; ++l) {
            const gguf::TensorInfo* t = f->find_tensor("blk." + std::to_string(l) + "." + name + ".weight");
            experts += static_cast<double>(t->n_elements) / 4;
        }
    const double output = static_cast<double>(f->find_tensor("output.weight")->n_elements);  // the last token only
    EXPECT_DOUBLE_EQ(prompt_macs(*f, kPrompt), (matrices + experts) * kPrompt + output);
    fs::remove(path);
}

// The context a test at depth D runs after: D prompt tokens in the Session, one start token at 0;
// with a window, only the window's cells.
TEST(SessionAtDepth, HoldsTheDepthTokensBeforeTheTest) {
    const fs::path path = fs::temp_directory_path() / "sinan_engine_bench_depth_test.gguf";
    model::SynthOptions o;
    o.shape = "tiny";
    ASSERT_TRUE(model::synth_model(o, path.string()).is_ok());
    for (int64_t window : {int64_t{0}, int64_t{16}}) {
        Result<std::unique_ptr<model::Model>> m = model::Model::load(path.string(), {.n_threads = 2, .swa_window = window});
        ASSERT_TRUE(m.ok()) << m.message();
        Result<std::unique_ptr<Session>> s = session_at_depth(**m, 80, {.n_batch = 16, .n_depth = 70});
        ASSERT_TRUE(s.ok()) << s.message();
        EXPECT_EQ((*s)->tokens().size(), 70u);
        EXPECT_EQ((*s)->cache().n_used(), window > 0 ? window : 70) << "window " << window;
        Result<std::unique_ptr<Session>> empty = session_at_depth(**m, 8, {});
        ASSERT_TRUE(empty.ok()) << empty.message();
        EXPECT_EQ((*empty)->tokens().size(), 1u);
        // The pp test runs after the depth (a context of depth + P tokens).
        Result<double> t = time_prompt(**m, 10, {.n_batch = 16, .n_depth = 70});
        ASSERT_TRUE(t.ok()) << t.message();
    }
    fs::remove(path);
}

// After memory is freed, the reset peak is what is resident now, not the old high-water mark.
TEST(ResidentMemory, APeakResetForgetsMemoryFreedBefore) {
    const size_t bytes = size_t{256} << 20;
    {
        std::vector<char> big(bytes, 1);  // touched: resident
        EXPECT_GE(resident_memory().now_bytes, bytes);
    }
    const uint64_t old_peak = resident_memory().peak_bytes;
    ASSERT_GE(old_peak, bytes);
    if (!reset_peak_memory()) GTEST_SKIP() << "/proc/self/clear_refs is not writable here";
    const ResidentMemory now = resident_memory();
    EXPECT_LT(now.peak_bytes, old_peak - bytes / 2) << "the freed 256 MiB are no longer in the peak";
}

TEST(ReadBandwidth, MeasuresAPositiveFinitePaceAsOftenAsAsked) {
    ThreadPool pool(2);
    Result<ReadProbe> probe = ReadProbe::create(pool, 8u << 20);  // small: this checks it runs, not the figure
    ASSERT_TRUE(probe.ok()) << probe.message();
    EXPECT_GE(probe->bytes(), 8u << 20);
    for (int i = 0; i < 3; ++i) {
        const double bw = probe->measure(1);
        EXPECT_GT(bw, 0.0);
        EXPECT_TRUE(std::isfinite(bw));
    }
}

}  // namespace
}  // namespace sinan::engine
