// The nomic-bert encoder (nomic-embed-text: RoPE, fused QKV, SwiGLU) against an independent numpy
// implementation (tests/golden-gen/nomic_reference.py, run here on the fixture of nomic_fixture.h),
// and the loader refusing a file without its fused attention weights.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>

#include "model/embedding_model.h"
#include "nomic_fixture.h"
#include "reranker_fixture.h"

namespace sinan::model {
namespace {

namespace fs = std::filesystem;

const fs::path kReference = fs::path(SINAN_TEST_DATA_DIR) / ".." / "golden-gen" / "nomic_reference.py";

class NomicBert : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        dir_ = fs::temp_directory_path() / ("sinan-nomic-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    static void TearDownTestSuite() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    void SetUp() override {
        if (!fs::exists(test::bert_tiny_path()))
            GTEST_SKIP() << "reference model not found: " << test::bert_tiny_path();
    }
    static fs::path dir_;
};
fs::path NomicBert::dir_;

// Runs the numpy reference: one mean-pooled vector per sequence, or a skip reason in *skip.
std::vector<std::vector<double>> reference_embeddings(const std::string& model,
                                                      const std::vector<std::vector<int32_t>>& seqs,
                                                      std::string* skip) {
    std::string error;
    const std::optional<nlohmann::json> out =
        test::run_python_reference(kReference.string(), model, nlohmann::json({{"sequences", seqs}}), skip, &error);
    EXPECT_TRUE(error.empty()) << error;
    return out ? (*out)["embeddings"].get<std::vector<std::vector<double>>>() : std::vector<std::vector<double>>{};
}

// max_i |a[i] - b[i]| over b's size.
template <typename T>
double max_abs_diff(const T* a, const std::vector<double>& b) {
    double m = 0.0;
    for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
    return m;
}

TEST_F(NomicBert, MeanPooledEmbeddingsMatchTheNumpyReference) {
    const std::string path = (dir_ / "nomic-bert-tiny.gguf").string();
    ASSERT_EQ(test::write_nomic_fixture(path), "");
    Result<std::unique_ptr<EmbeddingModel>> m = EmbeddingModel::load(path);
    ASSERT_TRUE(m.ok()) << m.message();
    EmbeddingModel& model = **m;
    const EmbeddingHparams& h = model.hparams();
    EXPECT_EQ(h.arch, "nomic-bert");
    EXPECT_EQ(h.pooling, Pooling::kMean);
    EXPECT_EQ(h.rope_freq_base, 1000.0f);
    const size_t d = static_cast<size_t>(h.n_embd);

    // bge-vocab ids ("[CLS] what is a cat [SEP]", ...). Sequence 1 is sequence 0 with its words
    // reversed: the same bag of tokens, so only the rotary positions tell their means apart.
    const std::vector<std::vector<int32_t>> seqs = {
        {101, 2054, 2003, 1037, 4937, 102},
        {101, 4937, 1037, 2003, 2054, 102},
        {101, 2129, 2000, 5587, 1037, 3793, 2017, 2064, 5587, 1037, 3793, 2007, 1037, 5896, 1010, 2059, 3288, 102},
        {101},
    };
    std::string skip;
    const std::vector<std::vector<double>> ref = reference_embeddings(path, seqs, &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
    ASSERT_EQ(ref.size(), seqs.size());

    std::vector<float> batched;
    ASSERT_TRUE(model.embed(seqs, Pooling::kMean, &batched).is_ok());
    ASSERT_EQ(batched.size(), seqs.size() * d);
    // The reference keeps attention's weighted sum of V in float64 where GGML (and sinan) keep it in
    // F16 (about 5e-4 relative per value); the states are LayerNorm outputs of size ~1, so 2e-3 on
    // each mean value is that rounding carried through two layers, with margin. The reversed
    // sequence's mean differs from the original's by far more (checked below), and a wrong RoPE
    // layout or base moves values by more than the tolerance.
    constexpr double kTolerance = 2e-3;
    for (size_t s = 0; s < seqs.size(); ++s) {
        const double diff = max_abs_diff(batched.data() + s * d, ref[s]);
        std::printf("sequence %zu: max |sinan - numpy| = %.2e\n", s, diff);
        EXPECT_LT(diff, kTolerance) << "sequence " << s;
        std::vector<float> alone;
        ASSERT_TRUE(model.embed(std::span(seqs).subspan(s, 1), Pooling::kMean, &alone).is_ok());
        EXPECT_TRUE(std::equal(alone.begin(), alone.end(), batched.begin() + static_cast<ptrdiff_t>(s * d)))
            << "sequence " << s << " alone differs from it in a batch";
    }
    const double reversed = max_abs_diff(ref[0].data(), ref[1]);
    std::printf("sequence 0 vs its reversal (numpy): max difference %.2e\n", reversed);
    EXPECT_GT(reversed, 10 * kTolerance) << "positions must matter for this test to mean anything";
}

TEST_F(NomicBert, LoadRefusesAFileWithoutAttnQkv) {
    const std::string path = (dir_ / "no-qkv.gguf").string();
    ASSERT_EQ(test::write_nomic_fixture(path, "blk.1.attn_qkv.weight"), "");
    Result<std::unique_ptr<EmbeddingModel>> m = EmbeddingModel::load(path);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.message().find("tensor 'blk.1.attn_qkv.weight' is missing"), std::string::npos) << m.message();
}

}  // namespace
}  // namespace sinan::model
