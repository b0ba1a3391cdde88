// BERT encoders (bge, e5, all-MiniLM and other BertModel checkpoints, GGUF architecture "bert"):
//   x = LN(embd[token] + token_types[type] + position_embd[pos])
//   per layer: x = LN(x + Wo · attention(Wq·x + bq, Wk·x + bk, Wv·x + bv) + bo)      post-norm
//              x = LN(x + Wdown · gelu(Wup·x + bup) + bdown)
//   pooled = pool(x over the sequence)
//   rank:    pooled = cls.output · tanh(cls · x[CLS] + cls.bias) + cls.output.bias    (rerankers)
// LN = LayerNorm with its own weight and bias at each place; gelu is GGML's F16 table (ops.h), as
// the reference computes it. Attention: multi-head, every token
// of a sequence sees every token of that sequence (no mask within it, none across), scale
// 1/sqrt(head_dim), no KV cache. Token type 0 everywhere (single-segment input, as llama.cpp),
// except a pair's second segment when the caller marks it (embedding_model.h).
//
// nomic-bert (nomic-embed-text) is the same encoder with three changes (llama.cpp's build_bert):
//   x = LN(embd[token] + token_types[type])                           no learned positions
//   q, k, v = split(Wqkv·x [+ bqkv]);  q, k = rope(q), rope(k)       NeoX RoPE at the position in its sequence
//   FFN: Wdown · (silu(Wgate·x) * Wup·x)                              SwiGLU, no biases
#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "model/attention.h"
#include "model/embedding_model.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace sinan::model {

namespace {

using kernels::Matrix;

struct Linear {
    Matrix w;
    std::vector<float> b;  // [w.n_rows]
};

struct LayerWeights {
    Linear q, k, v, o, up, down;
    Linear qkv, gate;  // nomic-bert: fused Q, K, V rows [3 n_embd, n_embd]; the SwiGLU gate
    std::vector<float> attn_norm_w, attn_norm_b, out_norm_w, out_norm_b;
};

class BertModel final : public EmbeddingModel {
  public:
    BertModel(gguf::File file, EmbeddingHparams h, int n_threads)
        : EmbeddingModel(std::move(file), std::move(h), n_threads) {}

    Status bind();
    Status embed(std::span<const std::vector<int32_t>> sequences, Pooling pooling, std::vector<float>* out,
                 std::span<const int64_t> segment_b) override;

  private:
    // Binds `name`.weight [n_out, n_in] and `name`.bias: required (bert), bound when the file has
    // it (kIfAny) or not read (kNone).
    enum class Bias { kRequired, kIfAny, kNone };
    Status linear(const std::string& name, int64_t n_in, int64_t n_out, Linear* out, Bias bias = Bias::kRequired) const;
    // Q, K, V for n tokens into q_, k_, v_ (RoPE applied for nomic-bert).
    void project_qkv(const LayerWeights& w, int64_t n);
    // tmp_ = the FFN of x_ for n tokens (ff_, gate_: scratch).
    void feed_forward(const LayerWeights& w, int64_t n);
    // y = W·x + b for n tokens. x: [n, n_in]; y: [n, n_out].
    void apply(const Linear& l, const float* x, int64_t n, float* y);
    // x[t] = LN(x[t]) for every token, in place. x: [n, n_embd].
    void norm(float* x, int64_t n, const std::vector<float>& w, const std::vector<float>& b) const;
    void attention(int64_t n);
    void pool(std::span<const std::vector<int32_t>> sequences, Pooling pooling, std::vector<float>* out) const;
    // The classifier head on each sequence's first ([CLS]) state. out: [n_seq, n_cls_out].
    void classify(std::span<const std::vector<int32_t>> sequences, std::vector<float>* out);
    Status bind_classifier();

    Matrix tok_embd_, type_embd_, pos_embd_;
    std::vector<float> embd_norm_w_, embd_norm_b_;
    std::vector<LayerWeights> layers_;
    Linear cls_, cls_out_;  // the reranker head; cls_out_ may be absent (w.n_rows == 0)

    // Scratch, reused across calls. [n_tokens, ...]
    std::vector<float> x_, q_, k_, v_, attn_, tmp_, ff_, cls_in_, cls_hidden_;
    std::vector<float> qkv_, gate_;   // nomic-bert: [n_tokens, 3 n_embd], [n_tokens, n_ff]
    bool nomic_ = false;              // hparams_.arch == "nomic-bert"
    kernels::RopeParams rope_;        // nomic-bert's rotary embedding
    std::vector<int32_t> pos_;        // per token: its position in its sequence
    std::unique_ptr<KvCache> kv_;     // one layer's K and V in F16, a cell per token of the batch
    std::vector<int32_t> cells_;      // 0, 1, ... n_tokens - 1
    std::vector<int64_t> seq_start_;  // per token: index of its sequence's first token
    std::vector<int64_t> seq_len_;    // per token: its sequence's length
};

Status BertModel::linear(const std::string& name, int64_t n_in, int64_t n_out, Linear* out, Bias bias) const {
    SINAN_RETURN_IF_ERROR(bind_matrix(file_, name + ".weight", n_in, n_out, &out->w));
    if (bias == Bias::kNone) return Status::ok();
    return bind_vector(file_, name + ".bias", n_out, &out->b, /*optional=*/bias == Bias::kIfAny);
}

Status BertModel::bind() {
    EmbeddingHparams& h = hparams_;
    const gguf::TensorInfo* tok = file_.find_tensor("token_embd.weight");
    if (tok == nullptr || tok->shape.size() != 2)
        return Status::error(file_.path() + ": tensor 'token_embd.weight' is missing or not 2-D");
    h.n_vocab = static_cast<int64_t>(tok->shape[1]);
    SINAN_RETURN_IF_ERROR(bind_matrix(file_, "token_embd.weight", h.n_embd, h.n_vocab, &tok_embd_));
    const gguf::TensorInfo* types = file_.find_tensor("token_types.weight");
    h.n_token_types = types != nullptr && types->shape.size() == 2 ? static_cast<int64_t>(types->shape[1]) : 1;
    SINAN_RETURN_IF_ERROR(bind_matrix(file_, "token_types.weight", h.n_embd, h.n_token_types, &type_embd_));
    nomic_ = h.arch == "nomic-bert";
    if (nomic_) {
        rope_.n_rot = h.head_dim;
        rope_.freq_base = h.rope_freq_base;
        rope_.layout = kernels::RopeLayout::kNeox;  // llama.cpp: LLAMA_ROPE_TYPE_NEOX for nomic-bert
    } else {
        SINAN_RETURN_IF_ERROR(bind_matrix(file_, "position_embd.weight", h.n_embd, h.n_ctx_train, &pos_embd_));
    }
    SINAN_RETURN_IF_ERROR(bind_vector(file_, "token_embd_norm.weight", h.n_embd, &embd_norm_w_));
    SINAN_RETURN_IF_ERROR(bind_vector(file_, "token_embd_norm.bias", h.n_embd, &embd_norm_b_));
    layers_.resize(static_cast<size_t>(h.n_layer));
    for (int64_t l = 0; l < h.n_layer; ++l) {
        LayerWeights& w = layers_[static_cast<size_t>(l)];
        const std::string p = "blk." + std::to_string(l) + ".";
        if (nomic_) {
            // llama.cpp's graph uses attn_qkv's and attn_output's biases when present and never the FFN's.
            SINAN_RETURN_IF_ERROR(linear(p + "attn_qkv", h.n_embd, 3 * h.n_embd, &w.qkv, Bias::kIfAny));
            SINAN_RETURN_IF_ERROR(linear(p + "attn_output", h.n_embd, h.n_embd, &w.o, Bias::kIfAny));
            SINAN_RETURN_IF_ERROR(linear(p + "ffn_up", h.n_embd, h.n_ff, &w.up, Bias::kNone));
            SINAN_RETURN_IF_ERROR(linear(p + "ffn_gate", h.n_embd, h.n_ff, &w.gate, Bias::kNone));
            SINAN_RETURN_IF_ERROR(linear(p + "ffn_down", h.n_ff, h.n_embd, &w.down, Bias::kNone));
        } else {
            SINAN_RETURN_IF_ERROR(linear(p + "attn_q", h.n_embd, h.n_embd, &w.q));
            SINAN_RETURN_IF_ERROR(linear(p + "attn_k", h.n_embd, h.n_embd, &w.k));
            SINAN_RETURN_IF_ERROR(linear(p + "attn_v", h.n_embd, h.n_embd, &w.v));
            SINAN_RETURN_IF_ERROR(linear(p + "attn_output", h.n_embd, h.n_embd, &w.o));
            SINAN_RETURN_IF_ERROR(linear(p + "ffn_up", h.n_embd, h.n_ff, &w.up));
            SINAN_RETURN_IF_ERROR(linear(p + "ffn_down", h.n_ff, h.n_embd, &w.down));
        }
        SINAN_RETURN_IF_ERROR(bind_vector(file_, p + "attn_output_norm.weight", h.n_embd, &w.attn_norm_w));
        SINAN_RETURN_IF_ERROR(bind_vector(file_, p + "attn_output_norm.bias", h.n_embd, &w.attn_norm_b));
        SINAN_RETURN_IF_ERROR(bind_vector(file_, p + "layer_output_norm.weight", h.n_embd, &w.out_norm_w));
        SINAN_RETURN_IF_ERROR(bind_vector(file_, p + "layer_output_norm.bias", h.n_embd, &w.out_norm_b));
    }
    return bind_classifier();
}

// cls [n_embd -> n_cls] (+ tanh), then cls.output [n_cls -> n_out] when present. Bound whenever the
// file has the head; required when the file says rank pooling.
Status BertModel::bind_classifier() {
    EmbeddingHparams& h = hparams_;
    const gguf::TensorInfo* cls = file_.find_tensor("cls.weight");
    if (cls == nullptr) {
        if (h.pooling != Pooling::kRank) return Status::ok();
        return Status::error(file_.path() +
                             ": bert.pooling_type is rank (a cross-encoder reranker) but tensor 'cls.weight' (its "
                             "classifier head) is missing; convert the model again with llama.cpp's "
                             "convert_hf_to_gguf.py from its *ForSequenceClassification checkpoint");
    }
    if (cls->shape.size() != 2) return Status::error(file_.path() + ": tensor 'cls.weight' is not 2-D");
    const int64_t n_cls = static_cast<int64_t>(cls->shape[1]);
    SINAN_RETURN_IF_ERROR(linear("cls", h.n_embd, n_cls, &cls_));
    h.n_cls_out = n_cls;
    const gguf::TensorInfo* out = file_.find_tensor("cls.output.weight");
    if (out == nullptr) return Status::ok();
    if (out->shape.size() != 2) return Status::error(file_.path() + ": tensor 'cls.output.weight' is not 2-D");
    h.n_cls_out = static_cast<int64_t>(out->shape[1]);
    return linear("cls.output", n_cls, h.n_cls_out, &cls_out_);
}

void BertModel::apply(const Linear& l, const float* x, int64_t n, float* y) {
    kernels::matmul(l.w, x, n, y, pool_);
    if (l.b.empty()) return;
    for (int64_t t = 0; t < n; ++t) kernels::add_inplace(y + t * l.w.n_rows, l.b.data(), l.w.n_rows);
}

void BertModel::project_qkv(const LayerWeights& w, int64_t n) {
    if (!nomic_) {
        apply(w.q, x_.data(), n, q_.data());
        apply(w.k, x_.data(), n, k_.data());
        apply(w.v, x_.data(), n, v_.data());
        return;
    }
    const EmbeddingHparams& h = hparams_;
    const int64_t d = h.n_embd;
    apply(w.qkv, x_.data(), n, qkv_.data());  // [n, 3 d]: q | k | v per token
    for (int64_t t = 0; t < n; ++t) {
        const float* row = qkv_.data() + t * 3 * d;
        std::copy_n(row, d, q_.data() + t * d);
        std::copy_n(row + d, d, k_.data() + t * d);
        std::copy_n(row + 2 * d, d, v_.data() + t * d);
        const int32_t pos = pos_[static_cast<size_t>(t)];
        kernels::rope(q_.data() + t * d, h.n_head, h.head_dim, pos, rope_);
        kernels::rope(k_.data() + t * d, h.n_head, h.head_dim, pos, rope_);
    }
}

void BertModel::feed_forward(const LayerWeights& w, int64_t n) {
    const int64_t n_ff = hparams_.n_ff;
    apply(w.up, x_.data(), n, ff_.data());
    if (nomic_) {
        apply(w.gate, x_.data(), n, gate_.data());
        kernels::silu_mul(gate_.data(), ff_.data(), ff_.data(), n * n_ff, pool_);
    } else {
        kernels::gelu_f16(ff_.data(), ff_.data(), n * n_ff);
    }
    apply(w.down, ff_.data(), n, tmp_.data());
}

void BertModel::norm(float* x, int64_t n, const std::vector<float>& w, const std::vector<float>& b) const {
    const int64_t d = hparams_.n_embd;
    for (int64_t t = 0; t < n; ++t) kernels::layernorm(x + t * d, w.data(), b.data(), x + t * d, d, hparams_.norm_eps);
}

// attn_[t, h, :] = sum_j softmax_j(q[t, h] · k[j, h] * scale) v[j, h] over the tokens j of t's
// sequence. K and V go through an F16 cache and attend() with the reference's small-batch numerics
// (q rounded to F16, the weighted sum kept in F16): llama.cpp's CPU flash attention casts an
// encoder's float K and V to F16 and takes that path for batches under 64 tokens. One numerics for
// every batch keeps a text's vector independent of the batch it is in.
void BertModel::attention(int64_t n) {
    const EmbeddingHparams& h = hparams_;
    const int64_t d = h.head_dim, n_embd = h.n_embd;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    for (int64_t t = 0; t < n; ++t) {
        kernels::quantize_row(gguf::TensorType::F16, k_.data() + t * n_embd, kv_->k(0, t), n_embd);
        kernels::quantize_row(gguf::TensorType::F16, v_.data() + t * n_embd, kv_->v(0, t), n_embd);
    }
    pool_.parallel_for(n * h.n_head, [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; ++i) {
            const int64_t t = i / h.n_head, off = (i % h.n_head) * d;
            const int64_t j0 = seq_start_[static_cast<size_t>(t)], n_j = seq_len_[static_cast<size_t>(t)];
            attend(q_.data() + t * n_embd + off,
                   std::span(cells_).subspan(static_cast<size_t>(j0), static_cast<size_t>(n_j)), *kv_, 0, off, d, scale,
                   AttentionNumerics::kSmallBatch, attn_.data() + t * n_embd + off);
        }
    });
}

void BertModel::pool(std::span<const std::vector<int32_t>> sequences, Pooling pooling, std::vector<float>* out) const {
    const int64_t d = hparams_.n_embd;
    if (pooling == Pooling::kNone) {
        *out = x_;
        return;
    }
    const int64_t n_seq = static_cast<int64_t>(sequences.size());
    std::vector<float>& pooled = *out;
    pooled.resize(static_cast<size_t>(n_seq * d));
    int64_t start = 0;
    for (int64_t s = 0; s < n_seq; ++s) {
        const int64_t len = static_cast<int64_t>(sequences[static_cast<size_t>(s)].size());
        float* y = pooled.data() + s * d;
        const float* first = x_.data() + start * d;
        if (pooling == Pooling::kMean) {
            // Summed in double: the mean of 512 rows keeps float's precision.
            for (int64_t c = 0; c < d; ++c) {
                double sum = 0.0;
                for (int64_t j = 0; j < len; ++j) sum += first[j * d + c];
                y[c] = static_cast<float>(sum / static_cast<double>(len));
            }
        } else {
            const float* row = pooling == Pooling::kLast ? first + (len - 1) * d : first;  // kCls: [CLS]
            std::copy(row, row + d, y);
        }
        start += len;
    }
}

// out[s] = cls_out · tanh(cls · x[first token of s] + b) + b_out
void BertModel::classify(std::span<const std::vector<int32_t>> sequences, std::vector<float>* out) {
    const int64_t d = hparams_.n_embd, n_seq = static_cast<int64_t>(sequences.size());
    cls_in_.resize(static_cast<size_t>(n_seq * d));  // [n_seq, n_embd]
    int64_t start = 0;
    for (int64_t s = 0; s < n_seq; ++s) {
        std::copy_n(x_.data() + start * d, d, cls_in_.data() + s * d);
        start += static_cast<int64_t>(sequences[static_cast<size_t>(s)].size());
    }
    const int64_t n_cls = cls_.w.n_rows;
    cls_hidden_.resize(static_cast<size_t>(n_seq * n_cls));  // [n_seq, n_cls]
    apply(cls_, cls_in_.data(), n_seq, cls_hidden_.data());
    for (float& v : cls_hidden_) v = std::tanh(v);
    if (cls_out_.w.n_rows == 0) {
        *out = cls_hidden_;
        return;
    }
    out->resize(static_cast<size_t>(n_seq * cls_out_.w.n_rows));  // [n_seq, n_cls_out]
    apply(cls_out_, cls_hidden_.data(), n_seq, out->data());
}

Status BertModel::embed(std::span<const std::vector<int32_t>> sequences, Pooling pooling, std::vector<float>* out,
                        std::span<const int64_t> segment_b) {
    SINAN_RETURN_IF_ERROR(check_input(sequences, pooling, segment_b));
    const EmbeddingHparams& h = hparams_;
    const int64_t d = h.n_embd;
    int64_t n = 0;
    for (const std::vector<int32_t>& s : sequences) n += static_cast<int64_t>(s.size());
    x_.resize(static_cast<size_t>(n * d));
    q_.resize(x_.size());
    k_.resize(x_.size());
    v_.resize(x_.size());
    attn_.resize(x_.size());
    tmp_.resize(x_.size());
    ff_.resize(static_cast<size_t>(n * h.n_ff));
    if (nomic_) {
        qkv_.resize(static_cast<size_t>(n * 3 * d));
        gate_.resize(ff_.size());
        pos_.resize(static_cast<size_t>(n));
    }
    if (kv_ == nullptr || kv_->n_cells() < n) kv_ = std::make_unique<KvCache>(1, n, d, d);
    cells_.resize(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t) cells_[static_cast<size_t>(t)] = static_cast<int32_t>(t);
    seq_start_.resize(static_cast<size_t>(n));
    seq_len_.resize(static_cast<size_t>(n));

    std::vector<float> row(static_cast<size_t>(d));
    int64_t t = 0;
    for (size_t i = 0; i < sequences.size(); ++i) {
        const std::vector<int32_t>& s = sequences[i];
        const int64_t start = t;
        // Models with one token type see every token as type 0.
        const int64_t b = segment_b.empty() || h.n_token_types < 2 ? static_cast<int64_t>(s.size()) : segment_b[i];
        for (size_t pos = 0; pos < s.size(); ++pos, ++t) {
            float* x = x_.data() + t * d;
            kernels::get_row(tok_embd_, s[pos], x);
            kernels::get_row(type_embd_, static_cast<int64_t>(pos) >= b ? 1 : 0, row.data());
            kernels::add_inplace(x, row.data(), d);
            if (nomic_) {
                pos_[static_cast<size_t>(t)] = static_cast<int32_t>(pos);
            } else {
                kernels::get_row(pos_embd_, static_cast<int64_t>(pos), row.data());
                kernels::add_inplace(x, row.data(), d);
            }
            seq_start_[static_cast<size_t>(t)] = start;
            seq_len_[static_cast<size_t>(t)] = static_cast<int64_t>(s.size());
        }
    }
    norm(x_.data(), n, embd_norm_w_, embd_norm_b_);

    for (const LayerWeights& w : layers_) {
        project_qkv(w, n);
        attention(n);
        apply(w.o, attn_.data(), n, tmp_.data());
        kernels::add_inplace(x_.data(), tmp_.data(), n * d);
        norm(x_.data(), n, w.attn_norm_w, w.attn_norm_b);

        feed_forward(w, n);
        kernels::add_inplace(x_.data(), tmp_.data(), n * d);
        norm(x_.data(), n, w.out_norm_w, w.out_norm_b);
    }
    if (pooling == Pooling::kRank)
        classify(sequences, out);
    else
        pool(sequences, pooling, out);
    return Status::ok();
}

}  // namespace

Result<std::unique_ptr<EmbeddingModel>> load_bert(gguf::File file, EmbeddingHparams hparams,
                                                  const LoadOptions& options) {
    auto m = std::make_unique<BertModel>(std::move(file), std::move(hparams), options.n_threads);
    SINAN_RETURN_IF_ERROR(m->bind());
    return std::unique_ptr<EmbeddingModel>(std::move(m));
}

}  // namespace sinan::model
