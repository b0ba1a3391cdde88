// DeepSeek-V2/V3/R1 ("deepseek2" in GGUF): multi-head latent attention (MLA) and a mixture of
// experts with shared experts. Reads both GGUF layouts: split attn_k_b / attn_v_b (current
// converters) and the combined attn_kv_b of older files.
//   x = embd[token]
//   per layer:
//     xn = n(x)
//     q = Wq_b · n(Wq_a · xn)   (or Wq · xn)        [n_head, nope + rope] per token
//     [c, k_pe] = Wkv_a · xn;  c = n(c)               latent [kv_lora], shared key part [rope]
//     rope(q_pe), rope(k_pe) at the token's position (YaRN)
//     cache row = [c, k_pe]                           (one row per token: no per-head K or V)
//     per head h: q_abs = Wk_b[h] · q_nope            (the key up-projection absorbed into q)
//                 o = attention([q_abs, q_pe], keys [c, k_pe], values c) * scale
//                 out_h = Wv_b[h] · o                 (the value up-projection after attention)
//     x += Wo · [out_h]
//     x += FFN(n(x)): dense SwiGLU in the leading layers, else
//          sum_e w_e · expert_e(xn) + shared(xn)      over the routed top-k experts e
//   logits = Wout · n(x)                              n = RMSNorm with its own weight each place
// Routing (V3): scores s = sigmoid(Wg · xn) (V2: softmax); experts are chosen by s + bias
// (exp_probs_b) within the n_group_used groups whose two best (s + bias) sum highest; the weights
// are the chosen s, normalised to sum 1 (expert_weights_norm) and scaled by expert_weights_scale.
// The attention scale is mscale^2 / sqrt(nope + rope) with YaRN's mscale (docs/model.md).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "model/attention.h"
#include "model/model.h"
#include "model/weights.h"

namespace sinan::model {

namespace {

using kernels::Matrix;

struct Deepseek2Layer {
    std::vector<float> attn_norm, q_a_norm, kv_a_norm, ffn_norm;
    Matrix wq, wq_a, wq_b;                  // wq without q LoRA, else wq_a and wq_b
    Matrix wkv_a;                           // [n_embd] -> [kv_lora + rope]
    std::vector<Matrix> wk_b, wv_b;         // per head: [nope] -> [kv_lora], [kv_lora] -> [v_head]
    std::vector<float> kb_owned, vb_owned;  // wk_b / wv_b data when split from an attn_kv_b tensor
    Matrix wo;
    // Dense layers.
    Matrix w_gate, w_up, w_down;
    // MoE layers.
    Matrix w_router;
    std::vector<float> expert_bias;  // exp_probs_b, empty when absent
    std::vector<Matrix> gate_exps, up_exps, down_exps;
    Matrix gate_shexp, up_shexp, down_shexp;
};

class Deepseek2Model final : public Model {
  public:
    Deepseek2Model(gguf::File file, Hparams h, int n_threads) : Model(std::move(file), std::move(h), n_threads) {}

    Status bind();
    Status forward(const Batch& batch, KvCache& cache, std::vector<float>* logits) override;

  protected:
    // The cached row is [latent (n_lora_kv), shared rotary key (n_rot)]: only the latter turns.
    std::optional<KeyRope> key_rope() const override { return KeyRope{hparams_.n_lora_kv, 1, hparams_.n_rot, rope_}; }

  private:
    Status bind_layer(int64_t l, Deepseek2Layer* w) const;
    Status split_kv_b(const std::string& name, Deepseek2Layer* w) const;
    void attention_block(int64_t l, const Batch& batch, KvCache& cache);
    void dense_ffn(const Deepseek2Layer& w, int64_t n);
    void moe_ffn(const Deepseek2Layer& w, int64_t n);
    void route(const Deepseek2Layer& w, int64_t n);
    // gate_ = gate · in, up_ = up · in for n rows of in ([n, n_embd]), in one parallel loop.
    void gate_up(const Matrix& gate, const Matrix& up, const float* in, int64_t n);
    // y[n, rows] = m · x[n, cols] for x rows taken with a stride (per-head slices of a buffer).
    void matmul_strided(const Matrix& m, const float* x, int64_t x_stride, int64_t n, float* y, int64_t y_stride);

    int64_t nope() const { return hparams_.head_dim - hparams_.n_rot; }

    InputOutput io_;
    std::vector<Deepseek2Layer> layers_;
    kernels::RopeParams rope_;
    float kq_scale_ = 1.0f;

    // Scratch, reused across calls. [n_tokens, ...]
    std::vector<float> x_, xn_, qa_, q_, kv_, q_full_, lat_, heads_, tmp_in_, tmp_out_;
    std::vector<float> gate_, up_, router_, moe_out_, rows_;
    std::vector<int32_t> cells_;
    std::vector<std::vector<int32_t>> seq_cells_;
    std::vector<int32_t> chosen_;                     // [n_tokens, n_expert_used]
    std::vector<float> chosen_w_;                     // [n_tokens, n_expert_used]
    std::vector<std::vector<int32_t>> expert_slots_;  // per expert: the (token * n_used + slot) it serves
    std::vector<float> select_, group_score_, slot_out_, expert_in_, expert_out_;
    std::vector<int32_t> order_;
};

// The attention scale and the rope magnitude of YaRN as DeepSeek uses it: the rope's cos/sin stay
// at magnitude 1 (attn_factor cancels YaRN's 1 + 0.1 ln(factor)), and the softmax scale carries
// mscale^2 with mscale = 1 + yarn_log_multiplier * ln(factor).
void deepseek_yarn(const Hparams& h, kernels::RopeParams* rope, float* kq_scale) {
    float mscale = 1.0f;
    if (h.rope_yarn) {
        const float log_factor = std::log(1.0f / h.rope_freq_scale);
        rope->attn_factor = 1.0f / (1.0f + 0.1f * log_factor);
        mscale = 1.0f + h.yarn_log_mul * log_factor;
    }
    *kq_scale = mscale * mscale / std::sqrt(static_cast<float>(h.head_dim));
}

Status Deepseek2Model::bind_layer(int64_t l, Deepseek2Layer* w) const {
    const Hparams& h = hparams_;
    const gguf::File& f = file_;
    const std::string p = "blk." + std::to_string(l) + ".";
    const int64_t n_q = h.n_head * h.head_dim;
    SINAN_RETURN_IF_ERROR(bind_vector(f, p + "attn_norm.weight", h.n_embd, &w->attn_norm));
    SINAN_RETURN_IF_ERROR(bind_vector(f, p + "ffn_norm.weight", h.n_embd, &w->ffn_norm));
    if (h.n_lora_q > 0) {
        SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "attn_q_a.weight", h.n_embd, h.n_lora_q, &w->wq_a));
        SINAN_RETURN_IF_ERROR(bind_vector(f, p + "attn_q_a_norm.weight", h.n_lora_q, &w->q_a_norm));
        SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "attn_q_b.weight", h.n_lora_q, n_q, &w->wq_b));
    } else {
        SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "attn_q.weight", h.n_embd, n_q, &w->wq));
    }
    SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "attn_kv_a_mqa.weight", h.n_embd, h.n_lora_kv + h.n_rot, &w->wkv_a));
    SINAN_RETURN_IF_ERROR(bind_vector(f, p + "attn_kv_a_norm.weight", h.n_lora_kv, &w->kv_a_norm));
    if (f.find_tensor(p + "attn_k_b.weight") == nullptr && f.find_tensor(p + "attn_kv_b.weight") != nullptr) {
        SINAN_RETURN_IF_ERROR(split_kv_b(p + "attn_kv_b.weight", w));
    } else {
        SINAN_RETURN_IF_ERROR(bind_matrices(f, p + "attn_k_b.weight", nope(), h.n_lora_kv, h.n_head, &w->wk_b));
        SINAN_RETURN_IF_ERROR(
            bind_matrices(f, p + "attn_v_b.weight", h.n_lora_kv, h.n_embd_head_v, h.n_head, &w->wv_b));
    }
    SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "attn_output.weight", h.n_head * h.n_embd_head_v, h.n_embd, &w->wo));
    if (l < h.n_layer_dense_lead) {
        SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "ffn_gate.weight", h.n_embd, h.n_ff, &w->w_gate));
        SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "ffn_up.weight", h.n_embd, h.n_ff, &w->w_up));
        SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "ffn_down.weight", h.n_ff, h.n_embd, &w->w_down));
        return Status::ok();
    }
    SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "ffn_gate_inp.weight", h.n_embd, h.n_expert, &w->w_router));
    SINAN_RETURN_IF_ERROR(bind_vector(f, p + "exp_probs_b.bias", h.n_expert, &w->expert_bias, /*optional=*/true));
    SINAN_RETURN_IF_ERROR(
        bind_matrices(f, p + "ffn_gate_exps.weight", h.n_embd, h.n_ff_exp, h.n_expert, &w->gate_exps));
    SINAN_RETURN_IF_ERROR(bind_matrices(f, p + "ffn_up_exps.weight", h.n_embd, h.n_ff_exp, h.n_expert, &w->up_exps));
    SINAN_RETURN_IF_ERROR(
        bind_matrices(f, p + "ffn_down_exps.weight", h.n_ff_exp, h.n_embd, h.n_expert, &w->down_exps));
    if (h.n_expert_shared > 0) {
        const int64_t n_ff_sh = h.n_ff_exp * h.n_expert_shared;
        SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "ffn_gate_shexp.weight", h.n_embd, n_ff_sh, &w->gate_shexp));
        SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "ffn_up_shexp.weight", h.n_embd, n_ff_sh, &w->up_shexp));
        SINAN_RETURN_IF_ERROR(bind_matrix(f, p + "ffn_down_shexp.weight", n_ff_sh, h.n_embd, &w->down_shexp));
    }
    return Status::ok();
}

// Files converted before the absorbed form store the key and value up-projections as one matrix,
// attn_kv_b: per head, nope rows of the key part then v_head rows of the value part, each of
// kv_lora values. The absorbed form needs the key part transposed (attn_k_b: per head kv_lora rows
// of nope) and the value part as it is (attn_v_b); both are built once, in F32 (exact for any
// stored type; DeepSeek-V3: 4 GB, about 1% of its weights).
Status Deepseek2Model::split_kv_b(const std::string& name, Deepseek2Layer* w) const {
    const Hparams& h = hparams_;
    const int64_t rank = h.n_lora_kv, dv = h.n_embd_head_v, per_head = nope() + dv;
    Matrix kv_b;
    SINAN_RETURN_IF_ERROR(bind_matrix(file_, name, rank, h.n_head * per_head, &kv_b));
    w->kb_owned.resize(static_cast<size_t>(h.n_head * rank * nope()));
    w->vb_owned.resize(static_cast<size_t>(h.n_head * dv * rank));
    std::vector<float> row(static_cast<size_t>(rank));
    for (int64_t hd = 0; hd < h.n_head; ++hd) {
        for (int64_t j = 0; j < per_head; ++j) {
            kernels::get_row(kv_b, hd * per_head + j, row.data());
            if (j < nope()) {
                for (int64_t i = 0; i < rank; ++i)
                    w->kb_owned[static_cast<size_t>((hd * rank + i) * nope() + j)] = row[static_cast<size_t>(i)];
            } else {
                std::copy(row.begin(), row.end(), w->vb_owned.begin() + (hd * dv + j - nope()) * rank);
            }
        }
        w->wk_b.push_back({gguf::TensorType::F32, w->kb_owned.data() + hd * rank * nope(), nope(), rank});
        w->wv_b.push_back({gguf::TensorType::F32, w->vb_owned.data() + hd * dv * rank, rank, dv});
    }
    return Status::ok();
}

Status Deepseek2Model::bind() {
    Hparams& h = hparams_;
    SINAN_RETURN_IF_ERROR(bind_input_output(file_, h.n_embd, &h.n_vocab, &io_));
    layers_.resize(static_cast<size_t>(h.n_layer));
    for (int64_t l = 0; l < h.n_layer; ++l) SINAN_RETURN_IF_ERROR(bind_layer(l, &layers_[static_cast<size_t>(l)]));
    rope_ = h.rope_params();
    deepseek_yarn(h, &rope_, &kq_scale_);
    return Status::ok();
}

void Deepseek2Model::matmul_strided(const Matrix& m, const float* x, int64_t x_stride, int64_t n, float* y,
                                    int64_t y_stride) {
    tmp_in_.resize(static_cast<size_t>(n * m.n_cols));
    tmp_out_.resize(static_cast<size_t>(n * m.n_rows));
    for (int64_t t = 0; t < n; ++t) std::copy_n(x + t * x_stride, m.n_cols, tmp_in_.data() + t * m.n_cols);
    kernels::matmul(m, tmp_in_.data(), n, tmp_out_.data(), pool_);
    for (int64_t t = 0; t < n; ++t) std::copy_n(tmp_out_.data() + t * m.n_rows, m.n_rows, y + t * y_stride);
}

void Deepseek2Model::attention_block(int64_t l, const Batch& batch, KvCache& cache) {
    const Hparams& h = hparams_;
    const Deepseek2Layer& w = layers_[static_cast<size_t>(l)];
    const int64_t n = static_cast<int64_t>(batch.size());
    const int64_t dq = h.head_dim, n_q = h.n_head * dq, rank = h.n_lora_kv, dk = rank + h.n_rot;
    const int64_t dv = h.n_embd_head_v;
    for (int64_t t = 0; t < n; ++t)
        kernels::rmsnorm(x_.data() + t * h.n_embd, w.attn_norm.data(), xn_.data() + t * h.n_embd, h.n_embd, h.rms_eps);
    q_.resize(static_cast<size_t>(n * n_q));
    if (h.n_lora_q > 0) {
        qa_.resize(static_cast<size_t>(n * h.n_lora_q));
        kernels::matmul(w.wq_a, xn_.data(), n, qa_.data(), pool_);
        for (int64_t t = 0; t < n; ++t) {
            float* r = qa_.data() + t * h.n_lora_q;
            kernels::rmsnorm(r, w.q_a_norm.data(), r, h.n_lora_q, h.rms_eps);
        }
        kernels::matmul(w.wq_b, qa_.data(), n, q_.data(), pool_);
    } else {
        kernels::matmul(w.wq, xn_.data(), n, q_.data(), pool_);
    }
    kv_.resize(static_cast<size_t>(n * dk));
    kernels::matmul(w.wkv_a, xn_.data(), n, kv_.data(), pool_);
    for (int64_t t = 0; t < n; ++t) {
        const int32_t pos = batch.positions[static_cast<size_t>(t)];
        kernels::rope(q_.data() + t * n_q + nope(), h.n_head, dq, pos, rope_);
        float* row = kv_.data() + t * dk;
        kernels::rope(row + rank, 1, dk, pos, rope_);
        kernels::rmsnorm(row, w.kv_a_norm.data(), row, rank, h.rms_eps);
        kernels::quantize_row(cache.type(), row, cache.k(l, cells_[static_cast<size_t>(t)]), dk);
    }
    // Queries in latent space: [n, n_head, rank + rope].
    q_full_.resize(static_cast<size_t>(n * h.n_head * dk));
    for (int64_t hd = 0; hd < h.n_head; ++hd) {
        matmul_strided(w.wk_b[static_cast<size_t>(hd)], q_.data() + hd * dq, n_q, n, q_full_.data() + hd * dk,
                       h.n_head * dk);
        for (int64_t t = 0; t < n; ++t)
            std::copy_n(q_.data() + t * n_q + hd * dq + nope(), h.n_rot,
                        q_full_.data() + (t * h.n_head + hd) * dk + rank);
    }
    lat_.resize(static_cast<size_t>(n * h.n_head * rank));
    const KvHead kv_head{0, dk, 0, rank, /*v_in_k=*/true};
    const AttentionNumerics numerics = attention_numerics(n, rank);
    // Every head reads the one latent: an item is a token and some of its heads, which
    // attend_heads takes together. A prompt's later tokens see more cells: chunks to whichever
    // thread is free (dense.cpp).
    const int64_t per_item = heads_per_item(n, 1, h.n_head, pool_.n_threads());
    const int64_t items_per_token = (h.n_head + per_item - 1) / per_item;
    const int64_t n_items = n * items_per_token;
    const int64_t grain = std::max<int64_t>(1, n_items / (8 * pool_.n_threads()));
    pool_.parallel_chunks(n_items, grain, [&](int64_t i0, int64_t i1, int) {
        thread_local std::vector<int32_t> visible;
        for (int64_t i = i0; i < i1; ++i) {
            const int64_t t = i / items_per_token, first = i % items_per_token * per_item;
            const int32_t pos = batch.positions[static_cast<size_t>(t)];
            visible.clear();
            for (int32_t c : seq_cells_[static_cast<size_t>(batch.seq_ids[static_cast<size_t>(t)])])
                if (attends(pos, cache.cell_pos(c))) visible.push_back(c);
            const int64_t head = t * h.n_head + first;  // [n, n_head] rows of q_full_ and lat_
            attend_heads(q_full_.data() + head * dk, dk, std::min(per_item, h.n_head - first), visible, cache, l,
                         kv_head, kq_scale_, numerics, lat_.data() + head * rank, rank);
        }
    });
    heads_.resize(static_cast<size_t>(n * h.n_head * dv));
    for (int64_t hd = 0; hd < h.n_head; ++hd)
        matmul_strided(w.wv_b[static_cast<size_t>(hd)], lat_.data() + hd * rank, h.n_head * rank, n,
                       heads_.data() + hd * dv, h.n_head * dv);
    kernels::matmul(w.wo, heads_.data(), n, xn_.data(), pool_);
    kernels::add_inplace(x_.data(), xn_.data(), n * h.n_embd);
}

void Deepseek2Model::dense_ffn(const Deepseek2Layer& w, int64_t n) {
    const Hparams& h = hparams_;
    gate_up(w.w_gate, w.w_up, xn_.data(), n);
    kernels::silu_mul(gate_.data(), up_.data(), gate_.data(), n * h.n_ff, pool_);
    kernels::matmul(w.w_down, gate_.data(), n, moe_out_.data(), pool_);
}

void Deepseek2Model::gate_up(const Matrix& gate, const Matrix& up, const float* in, int64_t n) {
    gate_.resize(static_cast<size_t>(n * gate.n_rows));
    up_.resize(static_cast<size_t>(n * up.n_rows));
    const Matrix* w[] = {&gate, &up};
    float* y[] = {gate_.data(), up_.data()};
    kernels::matmul_shared_input(w, in, n, y, pool_);
}

// chosen_ / chosen_w_: each token's experts (best first) and their weights.
void Deepseek2Model::route(const Deepseek2Layer& w, int64_t n) {
    const Hparams& h = hparams_;
    const int64_t n_exp = h.n_expert, n_used = h.n_expert_used;
    const int64_t per_group = n_exp / h.n_expert_groups;
    router_.resize(static_cast<size_t>(n * n_exp));
    kernels::matmul(w.w_router, xn_.data(), n, router_.data(), pool_);
    chosen_.resize(static_cast<size_t>(n * n_used));
    chosen_w_.resize(chosen_.size());
    std::vector<float>& select = select_;
    std::vector<float>& group_score = group_score_;
    std::vector<int32_t>& order = order_;
    select.resize(static_cast<size_t>(n_exp));
    group_score.resize(static_cast<size_t>(h.n_expert_groups));
    order.resize(static_cast<size_t>(std::max(n_exp, h.n_expert_groups)));
    for (int64_t t = 0; t < n; ++t) {
        float* s = router_.data() + t * n_exp;
        if (h.expert_gating == ExpertGating::kSigmoid) {
            for (int64_t e = 0; e < n_exp; ++e) s[e] = 1.0f / (1.0f + std::exp(-s[e]));
        } else {
            kernels::softmax(s, n_exp);
        }
        for (int64_t e = 0; e < n_exp; ++e)
            select[static_cast<size_t>(e)] =
                s[e] + (w.expert_bias.empty() ? 0.0f : w.expert_bias[static_cast<size_t>(e)]);
        if (h.n_expert_groups > 1) {
            // A group scores the sum of its two best selection scores; only the best groups stay.
            for (int64_t g = 0; g < h.n_expert_groups; ++g) {
                float* gs = select.data() + g * per_group;
                float best = -INFINITY, second = -INFINITY;
                for (int64_t e = 0; e < per_group; ++e) {
                    if (gs[e] > best) {
                        second = best;
                        best = gs[e];
                    } else if (gs[e] > second) {
                        second = gs[e];
                    }
                }
                group_score[static_cast<size_t>(g)] = per_group > 1 ? best + second : best;
            }
            std::iota(order.begin(), order.begin() + h.n_expert_groups, 0);
            std::partial_sort(order.begin(), order.begin() + h.n_group_used, order.begin() + h.n_expert_groups,
                              [&](int32_t a, int32_t b) {
                                  return group_score[static_cast<size_t>(a)] > group_score[static_cast<size_t>(b)];
                              });
            for (int64_t r = h.n_group_used; r < h.n_expert_groups; ++r)
                std::fill_n(select.data() + order[static_cast<size_t>(r)] * per_group, per_group, -INFINITY);
        }
        std::iota(order.begin(), order.begin() + n_exp, 0);
        std::partial_sort(order.begin(), order.begin() + n_used, order.begin() + n_exp, [&](int32_t a, int32_t b) {
            return select[static_cast<size_t>(a)] > select[static_cast<size_t>(b)];
        });
        int32_t* ids = chosen_.data() + t * n_used;
        float* wt = chosen_w_.data() + t * n_used;
        double sum = 0;
        for (int64_t k = 0; k < n_used; ++k) {
            ids[k] = order[static_cast<size_t>(k)];
            wt[k] = s[ids[k]];
            sum += wt[k];
        }
        if (h.expert_weights_norm) {
            const float total = std::max(static_cast<float>(sum), 6.103515625e-5f);  // the reference's clamp
            for (int64_t k = 0; k < n_used; ++k) wt[k] /= total;
        }
        for (int64_t k = 0; k < n_used; ++k) wt[k] *= h.expert_weights_scale;
    }
}

// moe_out_ = sum over each token's experts of weight * expert(xn), plus the shared experts.
// Tokens are grouped by expert, so each chosen expert's weights are read once per batch and the
// others not at all.
void Deepseek2Model::moe_ffn(const Deepseek2Layer& w, int64_t n) {
    const Hparams& h = hparams_;
    const int64_t n_used = h.n_expert_used, d = h.n_embd, f = h.n_ff_exp;
    route(w, n);
    expert_slots_.resize(static_cast<size_t>(h.n_expert));
    for (std::vector<int32_t>& s : expert_slots_) s.clear();
    for (int64_t i = 0; i < n * n_used; ++i)
        expert_slots_[static_cast<size_t>(chosen_[static_cast<size_t>(i)])].push_back(static_cast<int32_t>(i));
    std::vector<float>& slot_out = slot_out_;
    std::vector<float>& in = expert_in_;
    std::vector<float>& out = expert_out_;
    slot_out.resize(static_cast<size_t>(n * n_used * d));  // [n, n_used, n_embd]
    for (int64_t e = 0; e < h.n_expert; ++e) {
        const std::vector<int32_t>& slots = expert_slots_[static_cast<size_t>(e)];
        if (slots.empty()) continue;
        const int64_t m = static_cast<int64_t>(slots.size());
        in.resize(static_cast<size_t>(m * d));
        for (int64_t j = 0; j < m; ++j)
            std::copy_n(xn_.data() + (slots[static_cast<size_t>(j)] / n_used) * d, d, in.data() + j * d);
        gate_up(w.gate_exps[static_cast<size_t>(e)], w.up_exps[static_cast<size_t>(e)], in.data(), m);
        kernels::silu_mul(gate_.data(), up_.data(), gate_.data(), m * f, pool_);
        out.resize(static_cast<size_t>(m * d));
        kernels::matmul(w.down_exps[static_cast<size_t>(e)], gate_.data(), m, out.data(), pool_);
        for (int64_t j = 0; j < m; ++j) {
            const int32_t slot = slots[static_cast<size_t>(j)];
            const float wt = chosen_w_[static_cast<size_t>(slot)];
            float* dst = slot_out.data() + static_cast<int64_t>(slot) * d;
            for (int64_t c = 0; c < d; ++c) dst[c] = out[static_cast<size_t>(j * d + c)] * wt;
        }
    }
    // Summed in slot order (best expert first), as the reference adds its expert views.
    for (int64_t t = 0; t < n; ++t) {
        float* o = moe_out_.data() + t * d;
        std::copy_n(slot_out.data() + t * n_used * d, d, o);
        for (int64_t k = 1; k < n_used; ++k) kernels::add_inplace(o, slot_out.data() + (t * n_used + k) * d, d);
    }
    if (h.n_expert_shared == 0) return;
    const int64_t f_sh = h.n_ff_exp * h.n_expert_shared;
    gate_up(w.gate_shexp, w.up_shexp, xn_.data(), n);
    kernels::silu_mul(gate_.data(), up_.data(), gate_.data(), n * f_sh, pool_);
    out.resize(static_cast<size_t>(n * d));
    kernels::matmul(w.down_shexp, gate_.data(), n, out.data(), pool_);
    kernels::add_inplace(moe_out_.data(), out.data(), n * d);
}

Status Deepseek2Model::forward(const Batch& batch, KvCache& cache, std::vector<float>* logits) {
    const Hparams& h = hparams_;
    SINAN_RETURN_IF_ERROR(place_batch(batch, cache, &cells_));
    const int64_t n = static_cast<int64_t>(batch.size());
    x_.resize(static_cast<size_t>(n * h.n_embd));
    xn_.resize(x_.size());
    moe_out_.resize(x_.size());
    collect_seq_cells(batch, cache, &seq_cells_);
    for (int64_t t = 0; t < n; ++t)
        kernels::get_row(io_.tok_embd, batch.tokens[static_cast<size_t>(t)], x_.data() + t * h.n_embd);
    for (int64_t l = 0; l < h.n_layer; ++l) {
        const Deepseek2Layer& w = layers_[static_cast<size_t>(l)];
        attention_block(l, batch, cache);
        for (int64_t t = 0; t < n; ++t)
            kernels::rmsnorm(x_.data() + t * h.n_embd, w.ffn_norm.data(), xn_.data() + t * h.n_embd, h.n_embd,
                             h.rms_eps);
        if (l < h.n_layer_dense_lead)
            dense_ffn(w, n);
        else
            moe_ffn(w, n);
        kernels::add_inplace(x_.data(), moe_out_.data(), n * h.n_embd);
    }
    compute_logits(io_, batch, x_.data(), h.n_embd, h.rms_eps, &rows_, logits, pool_);
    return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Model>> load_deepseek2(gguf::File file, Hparams hparams, const LoadOptions& options) {
    auto m = std::make_unique<Deepseek2Model>(std::move(file), std::move(hparams), options.n_threads);
    SINAN_RETURN_IF_ERROR(m->bind());
    return std::unique_ptr<Model>(std::move(m));
}

}  // namespace sinan::model
