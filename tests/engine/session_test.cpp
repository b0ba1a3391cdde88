// Session with sliding-window attention: the cache holds only the window (plus one batch) however
// long the sequence runs, a 32K-position sequence goes through on a tiny model with the same
// memory as a short one, and its logits equal a cache that keeps everything (the model masks to the
// window either way).
#include "engine/session.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "model/synth.h"

namespace sinan::engine {
namespace {

namespace fs = std::filesystem;

// Freed cells are reused, so the window's cells are not in position order and the small-batch
// attention's F16 running sum adds them in another order: F16 rounding (2^-11) apart, carried
// through two layers.
constexpr double kTol = 5e-3;

double rel_error(std::span<const float> a, const std::vector<float>& ref) {
    double d = 0, r = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        d += (a[i] - ref[i]) * static_cast<double>(a[i] - ref[i]);
        r += ref[i] * static_cast<double>(ref[i]);
    }
    return std::sqrt(d / r);
}

class SlidingWindowSession : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        path_ = (fs::temp_directory_path() / ("sinan-swa-" + std::to_string(::getpid()) + ".gguf")).string();
        model::SynthOptions o;
        o.shape = "tiny";
        ASSERT_TRUE(model::synth_model(o, path_).is_ok());
    }
    static void TearDownTestSuite() { fs::remove(path_); }

    static std::unique_ptr<model::Model> load(int64_t window) {
        model::LoadOptions o;
        o.swa_window = window;
        Result<std::unique_ptr<model::Model>> m = model::Model::load(path_, o);
        EXPECT_TRUE(m.ok()) << m.message();
        return m.ok() ? std::move(m).value() : nullptr;
    }
    static std::vector<int32_t> tokens(size_t n, int32_t n_vocab) {
        std::mt19937 rng(3);
        std::uniform_int_distribution<int32_t> id(0, n_vocab - 1);
        std::vector<int32_t> t(n);
        for (int32_t& x : t) x = id(rng);
        return t;
    }

    static std::string path_;
};
std::string SlidingWindowSession::path_;

TEST_F(SlidingWindowSession, MemoryStaysTheWindowFor32KPositions) {
    std::unique_ptr<model::Model> m = load(256);
    ASSERT_NE(m, nullptr);
    Session short_session(*m, 1024, 128), long_session(*m, 40000, 128);
    EXPECT_EQ(long_session.cache().bytes(), short_session.cache().bytes()) << "the cache is sized by the window";
    EXPECT_EQ(long_session.cache().n_cells(), 256 + 128);
    const std::vector<int32_t> t = tokens(32768, static_cast<int32_t>(m->hparams().n_vocab));
    ASSERT_TRUE(long_session.set_prompt(t).is_ok());
    EXPECT_LE(long_session.cache().n_used(), 256);
    EXPECT_EQ(long_session.cache().seq_pos_max(0), 32767);
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(long_session.append(t[static_cast<size_t>(i)]).is_ok());
    EXPECT_LE(long_session.cache().n_used(), 256);
    EXPECT_EQ(long_session.tokens().size(), 32768u + 8);
}

TEST_F(SlidingWindowSession, DroppingCellsOutsideTheWindowDoesNotChangeTheLogits) {
    std::unique_ptr<model::Model> m = load(16);
    ASSERT_NE(m, nullptr);
    const std::vector<int32_t> t = tokens(100, static_cast<int32_t>(m->hparams().n_vocab));
    Session windowed(*m, 128, 8);  // 24 cells: the older ones are freed as it goes
    ASSERT_EQ(windowed.cache().n_cells(), 24);
    ASSERT_TRUE(windowed.set_prompt(std::span(t).first(60)).is_ok());
    // The same steps over a cache that keeps every cell (a batch of one token per step).
    model::KvCache all = m->make_cache(128);
    std::vector<float> logits;
    for (size_t i = 0; i < 60; ++i) {
        model::Batch b;
        b.add(t[i], static_cast<int32_t>(i), 0, i == 59);
        ASSERT_TRUE(m->forward(b, all, &logits).is_ok());
    }
    ASSERT_EQ(windowed.logits().size(), logits.size());
    EXPECT_LT(rel_error(windowed.logits(), logits), kTol);
    for (size_t i = 60; i < 100; ++i) {
        ASSERT_TRUE(windowed.append(t[i]).is_ok());
        model::Batch b;
        b.add(t[i], static_cast<int32_t>(i), 0, true);
        ASSERT_TRUE(m->forward(b, all, &logits).is_ok());
        EXPECT_LT(rel_error(windowed.logits(), logits), kTol) << "position " << i;
    }
    EXPECT_LE(windowed.cache().n_used(), 16);
    // A new prompt that shares only an old prefix starts over (its window is gone), and is right.
    std::vector<int32_t> other(t.begin(), t.begin() + 40);
    other.push_back(7);
    ASSERT_TRUE(windowed.set_prompt(other).is_ok());
    EXPECT_EQ(windowed.n_reused(), 0);
}

}  // namespace
}  // namespace sinan::engine

namespace sinan::engine {
namespace {

TEST_F(SlidingWindowSession, ContextShiftKeepsTheStartAndGoesOnPastTheContext) {
    std::unique_ptr<model::Model> m = load(0);
    ASSERT_TRUE(m);
    const std::vector<int32_t> t = tokens(100, static_cast<int32_t>(m->hparams().n_vocab));
    Session full(*m, 32);
    ASSERT_TRUE(full.set_prompt(std::span(t).first(32)).is_ok());
    EXPECT_FALSE(full.append(t[32]).is_ok()) << "without context shift a full context is an error";

    Session s(*m, 32);
    s.set_context_shift(4);
    ASSERT_TRUE(s.set_prompt(std::span(t).first(10)).is_ok());
    for (size_t i = 10; i < t.size(); ++i) ASSERT_TRUE(s.append(t[i]).is_ok()) << "token " << i;
    EXPECT_GT(s.n_shifted(), 0);
    EXPECT_LE(s.tokens().size(), 32u);
    EXPECT_EQ(s.n_shifted() + static_cast<int64_t>(s.tokens().size()), 100);
    // The kept start, then the newest tokens, positions 0..n-1 with no gap.
    EXPECT_TRUE(std::equal(t.begin(), t.begin() + 4, s.tokens().begin()));
    EXPECT_TRUE(std::equal(s.tokens().begin() + 4, s.tokens().end(), t.end() - (s.tokens().size() - 4)));
    EXPECT_EQ(s.cache().seq_pos_max(0), static_cast<int32_t>(s.tokens().size()) - 1);
    EXPECT_EQ(s.cache().n_used(), static_cast<int64_t>(s.tokens().size()));
    for (float x : s.logits()) ASSERT_TRUE(std::isfinite(x));
}

// A prompt longer than one batch on a quantised model: the batches before the last want no
// logits, so the output head runs on no tokens (the Q8_0 GEMM once crashed there). The logits equal
// those of the same prompt in one batch: the matrix kernels give every token the single-row result.
TEST(Session, APromptOfSeveralBatchesOnAQuantisedModelEqualsOneBatch) {
    for (gguf::TensorType type : {gguf::TensorType::Q8_0, gguf::TensorType::Q4_K, gguf::TensorType::F16}) {
        const std::string path = (fs::temp_directory_path() / ("sinan-batches-" + std::to_string(::getpid()) + "-" +
                                                               gguf::type_name(type) + ".gguf"))
                                     .string();
        model::SynthOptions o;
        o.shape = "tiny";
        o.type = type;
        ASSERT_TRUE(model::synth_model(o, path).is_ok());
        Result<std::unique_ptr<model::Model>> m = model::Model::load(path);
        ASSERT_TRUE(m.ok()) << m.message();
        std::mt19937 rng(5);
        std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>((*m)->hparams().n_vocab - 1));
        std::vector<int32_t> prompt(40);
        for (int32_t& t : prompt) t = id(rng);
        Session whole(**m, 64, 512), batched(**m, 64, 16);
        ASSERT_TRUE(whole.set_prompt(prompt).is_ok());
        ASSERT_TRUE(batched.set_prompt(prompt).is_ok()) << gguf::type_name(type);
        const std::vector<float> ref(whole.logits().begin(), whole.logits().end());
        EXPECT_LT(rel_error(batched.logits(), ref), 1e-5) << gguf::type_name(type);
        fs::remove(path);
    }
}

}  // namespace
}  // namespace sinan::engine
