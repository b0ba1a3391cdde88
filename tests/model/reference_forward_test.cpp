// The forward pass against a straightforward float64 reference written here from the math
// (independent of the kernels: plain loops over the GGUF's F32 tensors), on tiny synthetic
// models of every dense architecture; and the KV cache: token-by-token decoding, several
// sequences in one batch, removing and sharing sequences all give the logits of one full pass.
// The bound, 2e-3, is what the F16 KV cache costs against exact math (keys and values rounded to
// 11 bits, and the small-batch attention sums values in F16 as the reference engine does).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "model/model.h"
#include "model/synth.h"
#include "f64_reference.h"

namespace sinan::model {
namespace {

namespace fs = std::filesystem;

// The synthetic models this process wrote, removed when its tests end: ctest runs every test in a
// process of its own, so each would otherwise leave its files in the temporary directory.
class SynthModels : public ::testing::Environment {
  public:
    void TearDown() override {
        for (const std::string& p : written()) fs::remove(p);
    }
    static std::vector<std::string>& written() {
        static std::vector<std::string> paths;
        return paths;
    }
};
[[maybe_unused]] ::testing::Environment* const kSynthModels = ::testing::AddGlobalTestEnvironment(new SynthModels);

std::string synth_path(const std::string& shape) {
    const std::string p = (fs::temp_directory_path() / ("sinan-ref-" + std::to_string(::getpid()) + "-" + shape + ".gguf")).string();
    if (!fs::exists(p)) {
        SynthOptions o;
        o.shape = shape;
        o.weight_std = 0.08f;  // large enough that attention is far from uniform
        EXPECT_TRUE(synth_model(o, p).is_ok());
        SynthModels::written().push_back(p);
    }
    return p;
}

// Float64 forward of one sequence: logits at every position. Reads tensors as F32 directly.
struct Reference {
    const gguf::File& f;
    const Hparams& h;

    std::vector<double> tensor(const std::string& name) const { return f64::tensor(f, name); }
    // y[r] = sum_c W[r][c] x[c] with W stored as rows of n_cols.
    static std::vector<double> matvec(const std::vector<double>& w, const std::vector<double>& x) {
        const size_t n_cols = x.size(), n_rows = w.size() / n_cols;
        std::vector<double> y(n_rows, 0.0);
        for (size_t r = 0; r < n_rows; ++r)
            for (size_t c = 0; c < n_cols; ++c) y[r] += w[r * n_cols + c] * x[c];
        return y;
    }
    std::vector<double> norm(const std::vector<double>& x, const std::vector<double>& w) const {
        return f64::rms_norm(x, w, h.rms_eps);
    }
    void rope(std::vector<double>& x, int64_t n_heads, int pos) const {
        for (int64_t hd = 0; hd < n_heads; ++hd) {
            double* v = x.data() + hd * h.head_dim;
            for (int64_t i = 0; i < h.n_rot / 2; ++i) {
                const double theta = pos * std::pow(static_cast<double>(h.rope_freq_base), -2.0 * static_cast<double>(i) / static_cast<double>(h.n_rot));
                const bool neox = h.arch == "qwen2";
                const int64_t a = neox ? i : 2 * i, b = neox ? i + h.n_rot / 2 : 2 * i + 1;
                const double x0 = v[a], x1 = v[b];
                v[a] = x0 * std::cos(theta) - x1 * std::sin(theta);
                v[b] = x0 * std::sin(theta) + x1 * std::cos(theta);
            }
        }
    }

    std::vector<std::vector<double>> run(const std::vector<int32_t>& tokens) const {
        const int64_t E = h.n_embd, D = h.head_dim, KV = h.n_embd_kv();
        const std::vector<double> embd = tensor("token_embd.weight");
        std::vector<std::vector<double>> x(tokens.size());
        for (size_t t = 0; t < tokens.size(); ++t)
            x[t].assign(embd.begin() + tokens[t] * E, embd.begin() + (tokens[t] + 1) * E);
        for (int64_t l = 0; l < h.n_layer; ++l) {
            const std::string p = "blk." + std::to_string(l) + ".";
            const auto wq = tensor(p + "attn_q.weight"), wk = tensor(p + "attn_k.weight"), wv = tensor(p + "attn_v.weight"),
                       wo = tensor(p + "attn_output.weight"), an = tensor(p + "attn_norm.weight"),
                       fn = tensor(p + "ffn_norm.weight"), wg = tensor(p + "ffn_gate.weight"),
                       wu = tensor(p + "ffn_up.weight"), wd = tensor(p + "ffn_down.weight");
            const bool bias = h.arch == "qwen2";
            std::vector<std::vector<double>> q(tokens.size()), k(tokens.size()), v(tokens.size());
            for (size_t t = 0; t < tokens.size(); ++t) {
                const auto xn = norm(x[t], an);
                q[t] = matvec(wq, xn);
                k[t] = matvec(wk, xn);
                v[t] = matvec(wv, xn);
                if (bias) {
                    const auto bq = tensor(p + "attn_q.bias"), bk = tensor(p + "attn_k.bias"), bv = tensor(p + "attn_v.bias");
                    for (size_t i = 0; i < q[t].size(); ++i) q[t][i] += bq[i];
                    for (size_t i = 0; i < k[t].size(); ++i) k[t][i] += bk[i], v[t][i] += bv[i];
                }
                rope(q[t], h.n_head, static_cast<int>(t));
                rope(k[t], h.n_head_kv, static_cast<int>(t));
            }
            for (size_t t = 0; t < tokens.size(); ++t) {
                std::vector<double> att(static_cast<size_t>(h.n_head * D), 0.0);
                for (int64_t hd = 0; hd < h.n_head; ++hd) {
                    const int64_t kvh = hd / (h.n_head / h.n_head_kv);
                    // Sliding window: positions t - n_swa + 1 .. t only (the rest weigh exp(-inf) = 0).
                    const size_t j0 = h.n_swa > 0 && t + 1 > static_cast<size_t>(h.n_swa) ? t + 1 - static_cast<size_t>(h.n_swa) : 0;
                    std::vector<double> s(t + 1, -INFINITY);
                    double mx = -1e300, sum = 0;
                    for (size_t j = j0; j <= t; ++j) {
                        double dot = 0;
                        for (int64_t d = 0; d < D; ++d) dot += q[t][hd * D + d] * k[j][kvh * D + d];
                        s[j] = dot / std::sqrt(static_cast<double>(D));
                        mx = std::max(mx, s[j]);
                    }
                    for (double& e : s) sum += (e = std::exp(e - mx));
                    for (size_t j = 0; j <= t; ++j)
                        for (int64_t d = 0; d < D; ++d) att[hd * D + d] += s[j] / sum * v[j][kvh * D + d];
                }
                (void)KV;
                const auto o = matvec(wo, att);
                for (int64_t i = 0; i < E; ++i) x[t][i] += o[i];
            }
            for (size_t t = 0; t < tokens.size(); ++t) {
                const auto xn = norm(x[t], fn);
                auto g = matvec(wg, xn);
                const auto u = matvec(wu, xn);
                for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
                const auto d = matvec(wd, g);
                for (int64_t i = 0; i < E; ++i) x[t][i] += d[i];
            }
        }
        const auto on = tensor("output_norm.weight");
        const auto out = f.find_tensor("output.weight") ? tensor("output.weight") : embd;
        std::vector<std::vector<double>> logits;
        for (size_t t = 0; t < tokens.size(); ++t) logits.push_back(matvec(out, norm(x[t], on)));
        return logits;
    }
};

using f64::rel_error;

constexpr double kTol = 2e-3;

const std::vector<int32_t> kTokens = {1, 17, 300, 42, 42, 5, 260, 99, 3, 77, 128, 511};

class DenseArchitectures : public ::testing::TestWithParam<const char*> {};

TEST_P(DenseArchitectures, FullPassMatchesTheFloat64Reference) {
    Result<std::unique_ptr<Model>> m = Model::load(synth_path(GetParam()));
    ASSERT_TRUE(m.ok()) << m.message();
    Reference ref{(*m)->file(), (*m)->hparams()};
    const auto expected = ref.run(kTokens);
    KvCache cache = (*m)->make_cache(64);
    Batch b;
    for (size_t i = 0; i < kTokens.size(); ++i) b.add(kTokens[i], static_cast<int32_t>(i), 0, true);
    std::vector<float> logits;
    ASSERT_TRUE((*m)->forward(b, cache, &logits).is_ok());
    const size_t V = static_cast<size_t>((*m)->hparams().n_vocab);
    for (size_t i = 0; i < kTokens.size(); ++i) EXPECT_LT(rel_error(logits.data() + i * V, expected[i]), kTol) << i;
}

TEST_P(DenseArchitectures, TokenByTokenDecodingEqualsTheFullPass) {
    Result<std::unique_ptr<Model>> m = Model::load(synth_path(GetParam()));
    ASSERT_TRUE(m.ok()) << m.message();
    Reference ref{(*m)->file(), (*m)->hparams()};
    const auto expected = ref.run(kTokens);
    KvCache cache = (*m)->make_cache(64);
    std::vector<float> logits;
    for (size_t i = 0; i < kTokens.size(); ++i) {
        Batch b;
        b.add(kTokens[i], static_cast<int32_t>(i), 0, true);
        ASSERT_TRUE((*m)->forward(b, cache, &logits).is_ok());
        EXPECT_LT(rel_error(logits.data(), expected[i]), kTol) << i;
    }
    EXPECT_EQ(cache.seq_pos_max(0), static_cast<int32_t>(kTokens.size() - 1));
}

TEST_P(DenseArchitectures, SlidingWindowMatchesTheFloat64ReferenceMaskedToTheWindow) {
    LoadOptions o;
    o.swa_window = 4;
    Result<std::unique_ptr<Model>> m = Model::load(synth_path(GetParam()), o);
    ASSERT_TRUE(m.ok()) << m.message();
    ASSERT_EQ((*m)->hparams().n_swa, 4);
    Reference ref{(*m)->file(), (*m)->hparams()};
    const auto expected = ref.run(kTokens);
    const size_t V = static_cast<size_t>((*m)->hparams().n_vocab);
    KvCache full = (*m)->make_cache(64), step = (*m)->make_cache(64);
    Batch b;
    for (size_t i = 0; i < kTokens.size(); ++i) b.add(kTokens[i], static_cast<int32_t>(i), 0, true);
    std::vector<float> logits;
    ASSERT_TRUE((*m)->forward(b, full, &logits).is_ok());
    for (size_t i = 0; i < kTokens.size(); ++i) EXPECT_LT(rel_error(logits.data() + i * V, expected[i]), kTol) << i;
    // Decoding with only the window in the cache: older cells freed before each step.
    for (size_t i = 0; i < kTokens.size(); ++i) {
        if (i >= 4) step.seq_rm(0, 0, static_cast<int32_t>(i - 3));
        Batch one;
        one.add(kTokens[i], static_cast<int32_t>(i), 0, true);
        ASSERT_TRUE((*m)->forward(one, step, &logits).is_ok());
        EXPECT_LT(rel_error(logits.data(), expected[i]), kTol) << "decoding, position " << i;
        EXPECT_LE(step.n_used(), 4);
    }
    // The window matters: full attention differs from it past the first 4 positions.
    Hparams no_window = (*m)->hparams();
    no_window.n_swa = 0;
    const auto unmasked = Reference{(*m)->file(), no_window}.run(kTokens);
    EXPECT_GT(rel_error(logits.data(), unmasked.back()), 10 * kTol);
}

TEST_P(DenseArchitectures, SequencesInOneBatchDoNotSeeEachOther) {
    Result<std::unique_ptr<Model>> m = Model::load(synth_path(GetParam()));
    ASSERT_TRUE(m.ok()) << m.message();
    Reference ref{(*m)->file(), (*m)->hparams()};
    const std::vector<int32_t> a(kTokens.begin(), kTokens.begin() + 5), b(kTokens.begin() + 4, kTokens.end());
    const auto ea = ref.run(a), eb = ref.run(b);
    KvCache cache = (*m)->make_cache(64);
    Batch batch;  // interleaved: a0 b0 a1 b1 ...
    for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        if (i < a.size()) batch.add(a[i], static_cast<int32_t>(i), 3, i + 1 == a.size());
        if (i < b.size()) batch.add(b[i], static_cast<int32_t>(i), 7, i + 1 == b.size());
    }
    std::vector<float> logits;
    ASSERT_TRUE((*m)->forward(batch, cache, &logits).is_ok());
    const size_t V = static_cast<size_t>((*m)->hparams().n_vocab);
    ASSERT_EQ(logits.size(), 2 * V);
    EXPECT_LT(rel_error(logits.data(), ea.back()), kTol);
    EXPECT_LT(rel_error(logits.data() + V, eb.back()), kTol);
}

TEST_P(DenseArchitectures, SharedPrefixAndRemovalGiveTheSameLogits) {
    Result<std::unique_ptr<Model>> m = Model::load(synth_path(GetParam()));
    ASSERT_TRUE(m.ok()) << m.message();
    Reference ref{(*m)->file(), (*m)->hparams()};
    KvCache cache = (*m)->make_cache(64);
    std::vector<float> logits;
    Batch prefix;
    for (int i = 0; i < 6; ++i) prefix.add(kTokens[static_cast<size_t>(i)], i, 0, false);
    ASSERT_TRUE((*m)->forward(prefix, cache, &logits).is_ok());
    EXPECT_TRUE(logits.empty());
    cache.seq_cp(0, 1, 0, -1);  // sequence 1 shares the prefix
    cache.seq_rm(0, 4, -1);     // sequence 0 drops its last two tokens
    EXPECT_EQ(cache.seq_pos_max(0), 3);
    EXPECT_EQ(cache.seq_pos_max(1), 5);
    Batch next;
    next.add(200, 4, 0, true);  // seq 0 continues from position 4 with another token
    next.add(201, 6, 1, true);  // seq 1 continues after the shared 6
    ASSERT_TRUE((*m)->forward(next, cache, &logits).is_ok());
    std::vector<int32_t> s0(kTokens.begin(), kTokens.begin() + 4), s1(kTokens.begin(), kTokens.begin() + 6);
    s0.push_back(200);
    s1.push_back(201);
    const size_t V = static_cast<size_t>((*m)->hparams().n_vocab);
    EXPECT_LT(rel_error(logits.data(), ref.run(s0).back()), kTol);
    EXPECT_LT(rel_error(logits.data() + V, ref.run(s1).back()), kTol);
    EXPECT_EQ(cache.n_used(), 8) << "6 shared + 2 new; the 2 removed cells were freed";
}

INSTANTIATE_TEST_SUITE_P(Synthetic, DenseArchitectures, ::testing::Values("tiny", "tiny-llama"),
                         [](const auto& info) { return std::string(info.param) == "tiny" ? "qwen2" : "llama"; });

TEST(ModelLoad, ErrorsNameTheFileAndTheProblem) {
    Result<std::unique_ptr<Model>> missing = Model::load("/no/such/model.gguf");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.message().find("/no/such/model.gguf"), std::string::npos);
    Result<std::unique_ptr<Model>> m = Model::load(synth_path("tiny"));
    ASSERT_TRUE(m.ok());
    KvCache cache = (*m)->make_cache(4);
    Batch b;
    b.add(100000, 0, 0, true);
    std::vector<float> logits;
    Status s = (*m)->forward(b, cache, &logits);
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("outside the vocabulary"), std::string::npos);
    Batch big;
    for (int i = 0; i < 5; ++i) big.add(1, i, 0, false);
    s = (*m)->forward(big, cache, &logits);
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("KV cache is full"), std::string::npos);
    EXPECT_EQ(cache.n_used(), 0) << "a refused batch changes nothing";
}

}  // namespace
}  // namespace sinan::model
