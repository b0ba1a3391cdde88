// EmbeddingModel: a loaded GGUF encoder that turns token sequences into vectors (dense retrieval).
// The generative Model (model.h) is logits over a KV cache; an encoder has neither: every token
// attends to every token of its own sequence (bidirectional), and a sequence's vector is pooled
// from its tokens' final hidden states. One architecture so far, "bert" (BERT, bge, e5 and other
// BertModel encoders as llama.cpp's converter writes them), in arch/bert.cpp.
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
    kRank = 4,  // cross-encoder rerankers (a classifier head on [CLS]): not supported yet
};
// "none", "mean", "cls", "last", "rank".
std::string_view pooling_name(Pooling p);
// Parses a pooling_name; errors name the value and list the valid ones.
Result<Pooling> parse_pooling(std::string_view name);

struct EmbeddingHparams {
    std::string arch;         // "bert"
    int64_t n_vocab = 0;      // rows of token_embd
    int64_t n_ctx_train = 0;  // rows of position_embd: the longest sequence
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t head_dim = 0;  // n_embd / n_head
    int64_t n_ff = 0;
    float norm_eps = 1e-12f;  // attention.layer_norm_epsilon
    Pooling pooling = Pooling::kCls;
};

// Whether `arch` (general.architecture) is an embedding architecture sinan knows ("bert").
bool is_embedding_arch(std::string_view arch);

// Reads and checks the hyperparameters of an embedding model. Errors name the key at fault.
Result<EmbeddingHparams> read_embedding_hparams(const gguf::File& file);

class EmbeddingModel {
  public:
    // Opens `path` and loads it. Errors name the file and what is missing or wrong; a generative
    // model's file is refused with a message saying so.
    static Result<std::unique_ptr<EmbeddingModel>> load(const std::string& path, const LoadOptions& options = {});

    virtual ~EmbeddingModel() = default;

    const EmbeddingHparams& hparams() const { return hparams_; }
    const gguf::File& file() const { return file_; }

    // Runs the encoder over `sequences` (each 1..n_ctx_train valid token ids, positions from 0) and
    // pools each with `pooling`. out is resized to [n_seq, n_embd], in sequence order; for kNone
    // to [total tokens, n_embd], the sequences' tokens one after another. Vectors are not
    // normalised. Errors: an empty or too long sequence, a token id outside the vocabulary, rank
    // pooling (nothing is computed then).
    virtual Status embed(std::span<const std::vector<int32_t>> sequences, Pooling pooling, std::vector<float>* out) = 0;

  protected:
    EmbeddingModel(gguf::File file, EmbeddingHparams hparams, int n_threads)
        : file_(std::move(file)), hparams_(std::move(hparams)), pool_(n_threads) {}

    // Checks the sequences against the model's limits and the pooling against its head.
    Status check_input(std::span<const std::vector<int32_t>> sequences, Pooling pooling) const;

    gguf::File file_;
    EmbeddingHparams hparams_;
    ThreadPool pool_;
};

// Architecture loaders (arch/*.cpp).
Result<std::unique_ptr<EmbeddingModel>> load_bert(gguf::File file, EmbeddingHparams hparams,
                                                  const LoadOptions& options);

}  // namespace sinan::model
