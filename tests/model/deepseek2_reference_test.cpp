// The deepseek2 forward pass against a float64 reference written here from the published model
// (DeepSeek-V2/V3 papers and configs), not from the reference engine: attention in its
// decompressed form (keys and values rebuilt per head from the latent: no weight absorption),
// YaRN angles from the formula, routing by sorting all experts in double. On tiny synthetic
// models of both layouts: V3 (q LoRA, sigmoid scores + bias, expert groups, normalised and scaled
// weights) and V2 (one q matrix, softmax routing, two shared experts), which has no golden logits.
// Bound 2e-3 as for the dense architectures (the F16 cache against exact math).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "model/model.h"
#include "model/synth.h"
#include "f64_reference.h"

namespace sinan::model {
namespace {

namespace fs = std::filesystem;
using Vec = std::vector<double>;

struct Reference {
    const gguf::File& f;
    const Hparams& h;

    Vec tensor(const std::string& name) const { return f64::tensor(f, name); }
    // y[r] = sum_c W[r][c] x[c], W rows of x.size() values starting at `offset`.
    static Vec matvec(const Vec& w, const Vec& x, size_t n_rows, size_t offset = 0) {
        Vec y(n_rows, 0.0);
        for (size_t r = 0; r < n_rows; ++r)
            for (size_t c = 0; c < x.size(); ++c) y[r] += w[offset + r * x.size() + c] * x[c];
        return y;
    }
    Vec norm(const Vec& x, const Vec& w) const { return f64::rms_norm(x, w, h.rms_eps); }
    Vec swiglu(const std::string& p, const std::string& suffix, const Vec& x, size_t n_ff, size_t expert = 0) const {
        const Vec g = tensor(p + "ffn_gate" + suffix), u = tensor(p + "ffn_up" + suffix), d = tensor(p + "ffn_down" + suffix);
        Vec a = matvec(g, x, n_ff, expert * n_ff * x.size());
        const Vec b = matvec(u, x, n_ff, expert * n_ff * x.size());
        for (size_t i = 0; i < a.size(); ++i) a[i] = a[i] / (1 + std::exp(-a[i])) * b[i];
        return matvec(d, a, x.size(), expert * n_ff * x.size());
    }
    // YaRN (interleaved pairs, DeepSeek's rope layout) with the magnitude DeepSeek cancels.
    void rope(double* v, int pos) const {
        const double factor = 1.0 / h.rope_freq_scale, base = h.rope_freq_base, n = static_cast<double>(h.n_rot);
        const auto dim = [&](double rotations) {
            return n * std::log(static_cast<double>(h.n_ctx_orig_yarn) / (rotations * 2 * M_PI)) / (2 * std::log(base));
        };
        const double low = std::max(0.0, std::floor(dim(32))), high = std::min(n - 1, std::ceil(dim(1)));
        for (int64_t i = 0; i < h.n_rot / 2; ++i) {
            const double original = pos * std::pow(base, -2.0 * static_cast<double>(i) / n);
            const double keep = 1.0 - std::clamp((static_cast<double>(i) - low) / std::max(0.001, high - low), 0.0, 1.0);
            const double theta = original / factor * (1 - keep) + original * keep;
            const double x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * std::cos(theta) - x1 * std::sin(theta);
            v[2 * i + 1] = x0 * std::sin(theta) + x1 * std::cos(theta);
        }
    }
    Vec moe(const std::string& p, const Vec& xn) const {
        const size_t n_exp = static_cast<size_t>(h.n_expert), per_group = n_exp / static_cast<size_t>(h.n_expert_groups);
        Vec score = matvec(tensor(p + "ffn_gate_inp.weight"), xn, n_exp);
        if (h.expert_gating == ExpertGating::kSigmoid) {
            for (double& s : score) s = 1 / (1 + std::exp(-s));
        } else {
            const double mx = *std::max_element(score.begin(), score.end());
            double sum = 0;
            for (double& s : score) sum += (s = std::exp(s - mx));
            for (double& s : score) s /= sum;
        }
        Vec select = score;
        if (f.find_tensor(p + "exp_probs_b.bias")) {
            const Vec b = tensor(p + "exp_probs_b.bias");
            for (size_t e = 0; e < n_exp; ++e) select[e] += b[e];
        }
        // Group-limited: keep the groups whose two best selection scores sum highest.
        std::vector<std::pair<double, size_t>> groups;
        for (size_t g = 0; g < static_cast<size_t>(h.n_expert_groups); ++g) {
            Vec in(select.begin() + g * per_group, select.begin() + (g + 1) * per_group);
            std::sort(in.rbegin(), in.rend());
            groups.emplace_back(in[0] + (in.size() > 1 ? in[1] : 0.0), g);
        }
        std::sort(groups.rbegin(), groups.rend());
        std::vector<size_t> candidates;
        for (size_t r = 0; r < static_cast<size_t>(h.n_group_used); ++r)
            for (size_t e = 0; e < per_group; ++e) candidates.push_back(groups[r].second * per_group + e);
        std::sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) { return select[a] > select[b]; });
        candidates.resize(static_cast<size_t>(h.n_expert_used));
        double total = 0;
        for (size_t e : candidates) total += score[e];
        Vec out(xn.size(), 0.0);
        for (size_t e : candidates) {
            const double w = (h.expert_weights_norm ? score[e] / total : score[e]) * h.expert_weights_scale;
            const Vec y = swiglu(p, "_exps.weight", xn, static_cast<size_t>(h.n_ff_exp), e);
            for (size_t i = 0; i < out.size(); ++i) out[i] += w * y[i];
        }
        const Vec shared = swiglu(p, "_shexp.weight", xn, static_cast<size_t>(h.n_ff_exp * h.n_expert_shared));
        for (size_t i = 0; i < out.size(); ++i) out[i] += shared[i];
        return out;
    }

    std::vector<Vec> run(const std::vector<int32_t>& tokens) const {
        const size_t E = static_cast<size_t>(h.n_embd), H = static_cast<size_t>(h.n_head), R = static_cast<size_t>(h.n_lora_kv);
        const size_t DQ = static_cast<size_t>(h.head_dim), NOPE = DQ - static_cast<size_t>(h.n_rot);
        const size_t ROT = static_cast<size_t>(h.n_rot), DV = static_cast<size_t>(h.n_embd_head_v);
        const double mscale = 1 + h.yarn_log_mul * std::log(1.0 / h.rope_freq_scale);
        const double scale = mscale * mscale / std::sqrt(static_cast<double>(DQ));
        const Vec embd = tensor("token_embd.weight");
        std::vector<Vec> x(tokens.size());
        for (size_t t = 0; t < tokens.size(); ++t) x[t].assign(embd.begin() + tokens[t] * E, embd.begin() + (tokens[t] + 1) * E);
        for (int64_t l = 0; l < h.n_layer; ++l) {
            const std::string p = "blk." + std::to_string(l) + ".";
            const Vec wkv = tensor(p + "attn_kv_a_mqa.weight"), kb = tensor(p + "attn_k_b.weight"),
                      vb = tensor(p + "attn_v_b.weight"), wo = tensor(p + "attn_output.weight");
            std::vector<Vec> q(tokens.size()), k(tokens.size()), v(tokens.size());  // decompressed, [H, DQ] / [H, DV]
            for (size_t t = 0; t < tokens.size(); ++t) {
                const Vec xn = norm(x[t], tensor(p + "attn_norm.weight"));
                q[t] = h.n_lora_q > 0 ? matvec(tensor(p + "attn_q_b.weight"),
                                               norm(matvec(tensor(p + "attn_q_a.weight"), xn, static_cast<size_t>(h.n_lora_q)),
                                                    tensor(p + "attn_q_a_norm.weight")),
                                               H * DQ)
                                      : matvec(tensor(p + "attn_q.weight"), xn, H * DQ);
                Vec kv = matvec(wkv, xn, R + ROT);
                const Vec c = norm(Vec(kv.begin(), kv.begin() + R), tensor(p + "attn_kv_a_norm.weight"));
                rope(kv.data() + R, static_cast<int>(t));
                k[t].assign(H * DQ, 0.0);
                v[t].assign(H * DV, 0.0);
                for (size_t hd = 0; hd < H; ++hd) {
                    rope(q[t].data() + hd * DQ + NOPE, static_cast<int>(t));
                    for (size_t j = 0; j < NOPE; ++j)
                        for (size_t i = 0; i < R; ++i) k[t][hd * DQ + j] += kb[(hd * R + i) * NOPE + j] * c[i];
                    for (size_t j = 0; j < ROT; ++j) k[t][hd * DQ + NOPE + j] = kv[R + j];
                    for (size_t j = 0; j < DV; ++j)
                        for (size_t i = 0; i < R; ++i) v[t][hd * DV + j] += vb[(hd * DV + j) * R + i] * c[i];
                }
            }
            for (size_t t = 0; t < tokens.size(); ++t) {
                Vec att(H * DV, 0.0);
                for (size_t hd = 0; hd < H; ++hd) {
                    Vec s(t + 1);
                    for (size_t j = 0; j <= t; ++j) {
                        s[j] = 0;
                        for (size_t d = 0; d < DQ; ++d) s[j] += q[t][hd * DQ + d] * k[j][hd * DQ + d];
                        s[j] *= scale;
                    }
                    const double mx = *std::max_element(s.begin(), s.end());
                    double sum = 0;
                    for (double& e : s) sum += (e = std::exp(e - mx));
                    for (size_t j = 0; j <= t; ++j)
                        for (size_t d = 0; d < DV; ++d) att[hd * DV + d] += s[j] / sum * v[j][hd * DV + d];
                }
                const Vec o = matvec(wo, att, E);
                for (size_t i = 0; i < E; ++i) x[t][i] += o[i];
            }
            for (size_t t = 0; t < tokens.size(); ++t) {
                const Vec xn = norm(x[t], tensor(p + "ffn_norm.weight"));
                const Vec y = l < h.n_layer_dense_lead ? swiglu(p, ".weight", xn, static_cast<size_t>(h.n_ff)) : moe(p, xn);
                for (size_t i = 0; i < E; ++i) x[t][i] += y[i];
            }
        }
        std::vector<Vec> logits;
        for (size_t t = 0; t < tokens.size(); ++t)
            logits.push_back(matvec(tensor("output.weight"), norm(x[t], tensor("output_norm.weight")), static_cast<size_t>(h.n_vocab)));
        return logits;
    }
};

using f64::rel_error;

class Deepseek2Layouts : public ::testing::TestWithParam<const char*> {};

TEST_P(Deepseek2Layouts, FullPassAndDecodingMatchTheFloat64Reference) {
    const std::string path =
        (fs::temp_directory_path() / ("sinan-ds2ref-" + std::to_string(::getpid()) + "-" + GetParam() + ".gguf")).string();
    SynthOptions o;
    o.shape = GetParam();
    o.weight_std = 0.08f;  // attention far from uniform, experts' scores well apart
    ASSERT_TRUE(synth_model(o, path).is_ok());
    Result<std::unique_ptr<Model>> m = Model::load(path);
    ASSERT_TRUE(m.ok()) << m.message();
    const std::vector<int32_t> tokens = {1, 17, 300, 42, 42, 5, 260, 99, 3, 77, 128, 511};
    const std::vector<Vec> expected = Reference{(*m)->file(), (*m)->hparams()}.run(tokens);
    const size_t V = static_cast<size_t>((*m)->hparams().n_vocab);
    KvCache full = (*m)->make_cache(16), step = (*m)->make_cache(16);
    Batch b;
    for (size_t i = 0; i < tokens.size(); ++i) b.add(tokens[i], static_cast<int32_t>(i), 0, true);
    std::vector<float> logits;
    ASSERT_TRUE((*m)->forward(b, full, &logits).is_ok());
    for (size_t i = 0; i < tokens.size(); ++i) EXPECT_LT(rel_error(logits.data() + i * V, expected[i]), 2e-3) << i;
    for (size_t i = 0; i < tokens.size(); ++i) {
        Batch one;
        one.add(tokens[i], static_cast<int32_t>(i), 0, true);
        ASSERT_TRUE((*m)->forward(one, step, &logits).is_ok());
        EXPECT_LT(rel_error(logits.data(), expected[i]), 2e-3) << "decoding, position " << i;
    }
    fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Synthetic, Deepseek2Layouts, ::testing::Values("deepseek2-tiny", "deepseek2-v2-tiny"),
                         [](const auto& info) { return std::string(info.param) == "deepseek2-tiny" ? "v3" : "v2"; });

}  // namespace
}  // namespace sinan::model
