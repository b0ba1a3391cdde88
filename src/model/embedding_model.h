// EmbeddingModel: a loaded GGUF encoder that turns token sequences into vectors (dense retrieval).
// The generative Model (model.h) is logits over a KV cache; an encoder has neither: every token
// attends to every token of its own sequence (bidirectional), and a sequence's vector is pooled
// from its tokens' final hidden states. Two architectures, both in arch/bert.cpp (one encoder with
// two variants, as llama.cpp's build_bert):
//   "bert"        BERT, bge, e5 and other BertModel encoders as llama.cpp's converter writes them:
//                 learned positions (position_embd), separate Q, K, V with biases, GELU FFN.
//   "nomic-bert"  nomic-embed-text v1 / v1.5 (NomicBertModel): no position_embd; one fused
//                 attn_qkv [n_embd -> 3 n_embd] (Q, K, V rows in that order), RoPE on Q and K
//                 (NeoX layout, the whole head, positions 0.. per sequence, base
//                 nomic-bert.rope.freq_base), SwiGLU FFN down(silu(gate x) * up x); projections
//                 without biases (attn_qkv's and attn_output's are used when the file has them).
//                 The LayerNorms, post-norm order, pooling and bidirectional attention are bert's.
//
// Cross-encoder rerankers (bge-reranker and other BertForSequenceClassification checkpoints,
// `bert.pooling_type` 4 = rank) are the same encoder with a classifier head on the [CLS] state:
//   score = cls.output · tanh(cls · h_CLS + cls.bias) + cls.output.bias     (llama.cpp's tensor names)
// cls.output is optional (then the tanh layer is the output, as llama.cpp allows). A pair is one
// sequence, [CLS] query [SEP] document [SEP]; its second segment (the document and its [SEP]) gets
// token type 1 when the model has two token types, as Hugging Face's tokenizer gives it and the
// checkpoint was trained with. llama.cpp gives every token type 0 (its batches carry no segments),
// so its scores for such models differ from the checkpoint's; sinan follows the checkpoint.
//
// load() maps the file, reads the hyperparameters (embedding_hparams below) and binds every
// tensor, checking names and shapes. Weight matrices of any supported type are used in place from
// the mmap; embedding tables are read a row at a time; norms and biases are copied to floats.
//
// embed() computes a batch of whole sequences in one pass. Scratch buffers are reused across
// calls. Not thread-safe: one embed at a time (it uses the model's thread pool internally);
// engine::Embedder serialises callers.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "model/model.h"

namespace sinan::model {

// How a sequence's token states become its vector (GGUF `<arch>.pooling_type`, llama.cpp's enum).
enum class Pooling {
    kNone = 0,  // no pooling: one vector per token
    kMean = 1,  // mean over the sequence's tokens
    kCls = 2,   // the first token's state ([CLS])
    kLast = 3,  // the last token's state
    kRank = 4,  // cross-encoder rerankers: the classifier head on [CLS], n_cls_out values per sequence
};
// "none", "mean", "cls", "last", "rank".
std::string_view pooling_name(Pooling p);
// Parses a pooling_name; errors name the value and list the valid ones.
Result<Pooling> parse_pooling(std::string_view name);

struct EmbeddingHparams {
    std::string arch;         // "bert" or "nomic-bert"
    int64_t n_vocab = 0;      // rows of token_embd
    int64_t n_ctx_train = 0;  // context_length: the longest sequence (bert: rows of position_embd)
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t head_dim = 0;  // n_embd / n_head
    int64_t n_ff = 0;
    float norm_eps = 1e-12f;  // attention.layer_norm_epsilon
    Pooling pooling = Pooling::kCls;
    // nomic-bert: rope.freq_base (10000 when absent, as llama.cpp); bert: 0 (no RoPE).
    float rope_freq_base = 0.0f;
    int64_t n_token_types = 1;  // rows of token_types (2 for models trained on pairs); set by load
    int64_t n_cls_out = 0;      // values the classifier head gives per sequence (0: no head); set by load
};

// Whether `arch` (general.architecture) is an embedding architecture sinan knows ("bert",
// "nomic-bert").
bool is_embedding_arch(std::string_view arch);

// Whether a loaded model is a cross-encoder reranker: rank pooling with a classifier head.
bool is_reranker(const EmbeddingHparams& h);

// Packs sequences, in order, into forward passes of at most `max_tokens` tokens (a longer sequence
// runs alone): the [begin, end) index range of each pass. What bounds the scratch memory of
// engine::Embedder and engine::Reranker.
std::vector<std::pair<size_t, size_t>> token_passes(std::span<const std::vector<int32_t>> sequences,
                                                     int64_t max_tokens);

// Reads and checks the hyperparameters of an embedding model. Errors name the key at fault.
// `<arch>.pooling_type` defaults to cls for bert (BERT's own pooler) and is required for
// nomic-bert (as llama.cpp requires it).
Result<EmbeddingHparams> read_embedding_hparams(const gguf::File& file);

class EmbeddingModel {
  public:
    // Opens `path` and loads it. Errors name the file and what is missing or wrong; a generative
    // model's file is refused with a message saying so, and so is a rank-pooling file without its
    // classifier head (naming the missing tensor).
    static Result<std::unique_ptr<EmbeddingModel>> load(const std::string& path, const LoadOptions& options = {});

    virtual ~EmbeddingModel() = default;

    const EmbeddingHparams& hparams() const { return hparams_; }
    const gguf::File& file() const { return file_; }

    // Runs the encoder over `sequences` (each 1..n_ctx_train valid token ids, positions from 0) and
    // pools each with `pooling`. out is resized to [n_seq, n_embd], in sequence order; for kNone
    // to [total tokens, n_embd], the sequences' tokens one after another; for kRank to
    // [n_seq, n_cls_out], the classifier head's raw outputs (logits, no sigmoid). Vectors are not
    // normalised.
    // segment_b: empty (every token has type 0), or one entry per sequence: the position where its
    // second segment begins (tokens from there on get type 1 when n_token_types is 2 or more; the
    // sequence's length for none). Errors (nothing is computed then): an empty or too long
    // sequence, a token id outside the vocabulary, segment_b of the wrong size or out of range,
    // rank pooling on a model without a classifier head.
    virtual Status embed(std::span<const std::vector<int32_t>> sequences, Pooling pooling, std::vector<float>* out,
                         std::span<const int64_t> segment_b = {}) = 0;

  protected:
    EmbeddingModel(gguf::File file, EmbeddingHparams hparams, int n_threads)
        : file_(std::move(file)), hparams_(std::move(hparams)), pool_(n_threads) {}

    // Checks the sequences against the model's limits, segment_b against them and the pooling
    // against the model's head.
    Status check_input(std::span<const std::vector<int32_t>> sequences, Pooling pooling,
                       std::span<const int64_t> segment_b) const;

    gguf::File file_;
    EmbeddingHparams hparams_;
    ThreadPool pool_;
};

// Architecture loaders (arch/*.cpp). load_bert loads both bert and nomic-bert (hparams.arch says
// which tensors to bind).
Result<std::unique_ptr<EmbeddingModel>> load_bert(gguf::File file, EmbeddingHparams hparams,
                                                  const LoadOptions& options);

}  // namespace sinan::model
