// The dense decoder-only transformer of llama and qwen2 (DeepSeek-R1-Distill-Llama/-Qwen):
//   x = embd[token]
//   per layer: x += Wo · attention(rope(Wq·n(x) + bq), rope(Wk·n(x) + bk), Wv·n(x) + bv)
//              x += Wdown · (silu(Wgate·n(x)) * Wup·n(x))
//   logits = Wout · n(x)            n = RMSNorm with its own weight at each place
// Attention: grouped-query (n_head / n_head_kv query heads share a KV head), causal within
// each sequence, scale 1/sqrt(head_dim). qwen2 adds q/k/v biases and rotates NeoX-style.
#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "model/attention.h"
#include "model/model.h"
#include "model/weights.h"

namespace sinan::model {

namespace {

using kernels::Matrix;

struct LayerWeights {
    std::vector<float> attn_norm, ffn_norm;
    std::vector<float> bq, bk, bv;  // empty for llama
    Matrix wq, wk, wv, wo, w_gate, w_up, w_down;
};

class DenseModel final : public Model {
  public:
    DenseModel(gguf::File file, Hparams h, int n_threads) : Model(std::move(file), std::move(h), n_threads) {}

    Status bind();
    // The layers' matrices and the output head repacked for the CPU's kernel (Model::pack_matrices).
    void pack(const LoadOptions& options);
    Status forward(const Batch& batch, KvCache& cache, std::vector<float>* logits) override;

  protected:
    // Every KV head's first n_rot values rotate.
    std::optional<KeyRope> key_rope() const override {
        const Hparams& h = hparams_;
        return KeyRope{0, h.n_head_kv, h.head_dim,
                       h.rope_params(rope_factors_.empty() ? nullptr : rope_factors_.data())};
    }

  private:
    Status matrix(const std::string& name, int64_t n_cols, int64_t n_rows, Matrix* out) const {
        return bind_matrix(file_, name, n_cols, n_rows, out);
    }
    Status vector(const std::string& name, int64_t n, std::vector<float>* out, bool optional = false) const {
        return bind_vector(file_, name, n, out, optional);
    }
    void attention(int64_t layer, const Batch& batch, const KvCache& cache);

    InputOutput io_;
    std::vector<float> rope_factors_;
    std::vector<LayerWeights> layers_;

    // Scratch, reused across calls. [n_tokens, ...]
    std::vector<float> x_, xn_, q_, k_, v_, attn_, gate_, up_, out_rows_;
    std::vector<int32_t> cells_;
    std::vector<std::vector<int32_t>> seq_cells_;  // per sequence id in the batch: its visible cells
};

Status DenseModel::bind() {
    Hparams& h = hparams_;
    SINAN_RETURN_IF_ERROR(bind_input_output(file_, h.n_embd, &h.n_vocab, &io_));
    SINAN_RETURN_IF_ERROR(vector("rope_freqs.weight", h.n_rot / 2, &rope_factors_, /*optional=*/true));
    const int64_t n_q = h.n_head * h.head_dim, n_kv = h.n_embd_kv();
    layers_.resize(static_cast<size_t>(h.n_layer));
    for (int64_t l = 0; l < h.n_layer; ++l) {
        LayerWeights& w = layers_[static_cast<size_t>(l)];
        const std::string p = "blk." + std::to_string(l) + ".";
        SINAN_RETURN_IF_ERROR(vector(p + "attn_norm.weight", h.n_embd, &w.attn_norm));
        SINAN_RETURN_IF_ERROR(vector(p + "ffn_norm.weight", h.n_embd, &w.ffn_norm));
        SINAN_RETURN_IF_ERROR(matrix(p + "attn_q.weight", h.n_embd, n_q, &w.wq));
        SINAN_RETURN_IF_ERROR(matrix(p + "attn_k.weight", h.n_embd, n_kv, &w.wk));
        SINAN_RETURN_IF_ERROR(matrix(p + "attn_v.weight", h.n_embd, n_kv, &w.wv));
        SINAN_RETURN_IF_ERROR(matrix(p + "attn_output.weight", n_q, h.n_embd, &w.wo));
        SINAN_RETURN_IF_ERROR(matrix(p + "ffn_gate.weight", h.n_embd, h.n_ff, &w.w_gate));
        SINAN_RETURN_IF_ERROR(matrix(p + "ffn_up.weight", h.n_embd, h.n_ff, &w.w_up));
        SINAN_RETURN_IF_ERROR(matrix(p + "ffn_down.weight", h.n_ff, h.n_embd, &w.w_down));
        const bool biases = h.arch == "qwen2";
        SINAN_RETURN_IF_ERROR(vector(p + "attn_q.bias", n_q, &w.bq, !biases));
        SINAN_RETURN_IF_ERROR(vector(p + "attn_k.bias", n_kv, &w.bk, !biases));
        SINAN_RETURN_IF_ERROR(vector(p + "attn_v.bias", n_kv, &w.bv, !biases));
    }
    return Status::ok();
}

void DenseModel::pack(const LoadOptions& options) {
    std::vector<Matrix*> matrices{&io_.output};
    for (LayerWeights& w : layers_)
        for (Matrix* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) matrices.push_back(m);
    pack_matrices(matrices, options);
}

void add_bias(float* y, const std::vector<float>& b, int64_t n_tokens) {
    if (b.empty()) return;
    const int64_t n = static_cast<int64_t>(b.size());
    for (int64_t t = 0; t < n_tokens; ++t) kernels::add_inplace(y + t * n, b.data(), n);
}

// attn_[t, h, :] = attention of query head h of token t over its sequence's cells up to its
// position (attention.h), with GQA: n_head / n_head_kv query heads share a KV head. A prompt's
// later tokens see more cells, so the (token, head) items are handed out in chunks to whichever
// thread is free: in two fixed halves the second did about three times the first's work.
void DenseModel::attention(int64_t layer, const Batch& batch, const KvCache& cache) {
    const Hparams& h = hparams_;
    const int64_t n_tokens = static_cast<int64_t>(batch.size());
    const int64_t group = h.n_head / h.n_head_kv;
    const int64_t d = h.head_dim;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    const int64_t n_q = h.n_head * d;
    const AttentionNumerics numerics = attention_numerics(n_tokens, d);
    auto visible_cells = [&](int64_t t, std::vector<int32_t>* visible) {
        const int32_t pos = batch.positions[static_cast<size_t>(t)];
        visible->clear();
        for (int32_t c : seq_cells_[static_cast<size_t>(batch.seq_ids[static_cast<size_t>(t)])])
            if (attends(pos, cache.cell_pos(c))) visible->push_back(c);
    };
    auto kv_head_of = [&](int64_t kv_head) { return KvHead{kv_head * d, d, kv_head * d, d, false}; };
    // An item is a token and some of the query heads that share a KV head, which read its cells
    // together (attend_heads); in a prompt (tiled numerics, whole groups), two consecutive tokens
    // and all the heads of a KV head, whose tiles are then read once for both (attend_token_pair)
    // when the first token's cells are a prefix of the second's, as a prompt's are.
    const int64_t per_item = heads_per_item(n_tokens, h.n_head_kv, group, pool_.n_threads());
    const int64_t items_per_kv_head = (group + per_item - 1) / per_item;
    const int64_t tokens_per_item = numerics == AttentionNumerics::kTiled && per_item == group ? 2 : 1;
    const int64_t n_items = (n_tokens + tokens_per_item - 1) / tokens_per_item * h.n_head_kv * items_per_kv_head;
    const int64_t grain = std::max<int64_t>(1, n_items / (8 * pool_.n_threads()));
    pool_.parallel_chunks(n_items, grain, [&](int64_t i0, int64_t i1, int) {
        thread_local std::vector<int32_t> visible, visible2;
        for (int64_t i = i0; i < i1; ++i) {
            const int64_t t = i / (h.n_head_kv * items_per_kv_head) * tokens_per_item;
            const int64_t kv_head = i / items_per_kv_head % h.n_head_kv;
            const int64_t first_head = kv_head * group + i % items_per_kv_head * per_item;
            const int64_t n_heads = std::min(per_item, (kv_head + 1) * group - first_head);
            const int64_t first = t * n_q + first_head * d;
            visible_cells(t, &visible);
            if (tokens_per_item == 2 && t + 1 < n_tokens) {
                visible_cells(t + 1, &visible2);
                if (visible.size() <= visible2.size() && std::equal(visible.begin(), visible.end(), visible2.begin())) {
                    attend_token_pair(q_.data() + first, q_.data() + first + n_q, d, n_heads, visible2, visible.size(),
                                      cache, layer, kv_head_of(kv_head), scale, attn_.data() + first,
                                      attn_.data() + first + n_q, d);
                    continue;
                }
                attend_heads(q_.data() + first + n_q, d, n_heads, visible2, cache, layer, kv_head_of(kv_head), scale,
                             numerics, attn_.data() + first + n_q, d);
            }
            attend_heads(q_.data() + first, d, n_heads, visible, cache, layer, kv_head_of(kv_head), scale, numerics,
                         attn_.data() + first, d);
        }
    });
}

Status DenseModel::forward(const Batch& batch, KvCache& cache, std::vector<float>* logits) {
    const Hparams& h = hparams_;
    SINAN_RETURN_IF_ERROR(place_batch(batch, cache, &cells_));
    const int64_t n = static_cast<int64_t>(batch.size());
    const int64_t n_q = h.n_head * h.head_dim, n_kv = h.n_embd_kv();
    x_.resize(static_cast<size_t>(n * h.n_embd));
    xn_.resize(x_.size());
    q_.resize(static_cast<size_t>(n * n_q));
    k_.resize(static_cast<size_t>(n * n_kv));
    v_.resize(k_.size());
    attn_.resize(q_.size());
    gate_.resize(static_cast<size_t>(n * h.n_ff));
    up_.resize(gate_.size());

    collect_seq_cells(batch, cache, &seq_cells_);

    for (int64_t t = 0; t < n; ++t)
        kernels::get_row(io_.tok_embd, batch.tokens[static_cast<size_t>(t)], x_.data() + t * h.n_embd);
    const kernels::RopeParams rope = h.rope_params(rope_factors_.empty() ? nullptr : rope_factors_.data());

    for (int64_t l = 0; l < h.n_layer; ++l) {
        const LayerWeights& w = layers_[static_cast<size_t>(l)];
        for (int64_t t = 0; t < n; ++t)
            kernels::rmsnorm(x_.data() + t * h.n_embd, w.attn_norm.data(), xn_.data() + t * h.n_embd, h.n_embd,
                             h.rms_eps);
        const kernels::Matrix* qkv[] = {&w.wq, &w.wk, &w.wv};
        float* qkv_out[] = {q_.data(), k_.data(), v_.data()};
        kernels::matmul_shared_input(qkv, xn_.data(), n, qkv_out, pool_);
        add_bias(q_.data(), w.bq, n);
        add_bias(k_.data(), w.bk, n);
        add_bias(v_.data(), w.bv, n);
        for (int64_t t = 0; t < n; ++t) {
            const int32_t pos = batch.positions[static_cast<size_t>(t)];
            kernels::rope(q_.data() + t * n_q, h.n_head, h.head_dim, pos, rope);
            kernels::rope(k_.data() + t * n_kv, h.n_head_kv, h.head_dim, pos, rope);
            const int32_t c = cells_[static_cast<size_t>(t)];
            kernels::quantize_row(cache.type(), k_.data() + t * n_kv, cache.k(l, c), n_kv);
            kernels::quantize_row(cache.type(), v_.data() + t * n_kv, cache.v(l, c), n_kv);
        }
        attention(l, batch, cache);
        kernels::matmul(w.wo, attn_.data(), n, xn_.data(), pool_);
        kernels::add_inplace(x_.data(), xn_.data(), n * h.n_embd);

        for (int64_t t = 0; t < n; ++t)
            kernels::rmsnorm(x_.data() + t * h.n_embd, w.ffn_norm.data(), xn_.data() + t * h.n_embd, h.n_embd,
                             h.rms_eps);
        const kernels::Matrix* gate_up[] = {&w.w_gate, &w.w_up};
        float* gate_up_out[] = {gate_.data(), up_.data()};
        kernels::matmul_shared_input(gate_up, xn_.data(), n, gate_up_out, pool_);
        kernels::silu_mul(gate_.data(), up_.data(), gate_.data(), n * h.n_ff, pool_);
        kernels::matmul(w.w_down, gate_.data(), n, xn_.data(), pool_);
        kernels::add_inplace(x_.data(), xn_.data(), n * h.n_embd);
    }

    compute_logits(io_, batch, x_.data(), h.n_embd, h.rms_eps, &out_rows_, logits, pool_);
    return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Model>> load_dense(gguf::File file, Hparams hparams, const LoadOptions& options) {
    auto m = std::make_unique<DenseModel>(std::move(file), std::move(hparams), options.n_threads);
    SINAN_RETURN_IF_ERROR(m->bind());
    m->pack(options);
    return std::unique_ptr<Model>(std::move(m));
}

}  // namespace sinan::model
