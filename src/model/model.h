// Model: a loaded GGUF model that runs forward passes over batches of tokens from many sequences.
//
// load() maps the file and binds every tensor the architecture needs, checking names, shapes
// and hyperparameters (a missing or inconsistent tensor or key is an error that names it).
// Weight matrices are used in place from the mmap, or repacked once for the CPU's matrix kernel
// (LoadOptions::pack_weights); small vectors (norms, biases) are copied to floats. One
// architecture per file under arch/ ("llama" and "qwen2" share arch/dense.cpp; "deepseek2" is
// arch/deepseek2.cpp).
//
// forward() computes one batch (batch.h) over a KvCache made by make_cache(): every token's
// K and V go into the cache, every token attends to its own sequence's cells at positions up
// to its own, and the logits of the tokens with want_logits are written in batch order.
// Scratch buffers are reused across calls: no allocation per token once warmed up.
// Not thread-safe: one forward at a time (it uses the model's thread pool internally).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/huge_pages.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/ops.h"
#include "model/batch.h"
#include "model/hparams.h"
#include "model/kv_cache.h"

namespace sinan::model {

struct LoadOptions {
    int n_threads = 0;  // 0 = physical cores
    // Sliding-window attention: -1 = the model's own (attention.sliding_window, else none); 0 = none;
    // N > 0 = each token attends to the last N positions, itself included (Hparams::n_swa).
    int64_t swa_window = -1;
    // Weight matrices repacked once, at load, for this CPU's matrix kernel where it has a layout
    // of its own (kernels::pack_matrix; Q8_0, Q4_K and Q6_K on AVX-512 VNNI, F16 on AVX-512; llama
    // and qwen2): the same results, and a batch of a few sequences costs about what one does
    // (F16: one token reads 4 rows at once, its activations once for them). The mapped
    // pages of the packed rows are released, so the weights are resident once. The copies share
    // one buffer on 2 MiB pages (base/huge_pages.h: decoding reads them faster). The environment
    // variable SINAN_PACK_WEIGHTS=0 turns it off for a whole process (to compare).
    bool pack_weights = true;
};

class Model {
public:
    // Opens `path` and loads it. Errors name the file and what is missing or wrong.
    static Result<std::unique_ptr<Model>> load(const std::string& path, const LoadOptions& options = {});

    virtual ~Model() = default;

    const Hparams& hparams() const { return hparams_; }
    const gguf::File& file() const { return file_; }
    ThreadPool& pool() { return pool_; }
    // Bytes of the buffer holding the weights repacked at load for the CPU's matrix kernel
    // (LoadOptions::pack_weights; each copy 64-byte aligned); 0 when none were.
    uint64_t packed_weight_bytes() const { return packed_.size(); }
    // The weights' resident memory (the file's mapping and the repacked copies) and how much of it
    // is mapped with 2 MiB pages (base/huge_pages.h), for reports.
    PageUse weight_pages() const;

    // A cache for up to n_ctx tokens in total (all sequences together), K and V stored as kv_type
    // (F16 or Q8_0; check_kv_type must have accepted it: an unsupported type CHECKs).
    KvCache make_cache(int64_t n_ctx, gguf::TensorType kv_type = gguf::TensorType::F16) const {
        return KvCache(hparams_.n_layer, n_ctx, hparams_.n_embd_k_cache(), hparams_.n_embd_v_cache(), kv_type);
    }
    // OK when this model's cache can store K and V as `type`: F16 always; Q8_0 when every head's
    // keys and values are whole 32-value blocks (head sizes, or MLA's latent and rope parts, that are
    // multiples of 32). The error names the type, the sizes and the fallback.
    Status check_kv_type(gguf::TensorType type) const;

    // Context shift: re-rotates the keys stored in `cells` (every layer) as if their tokens sat
    // `delta` positions further (RoPE angles are linear in the position, so this is one more
    // rotation by delta, without YaRN's magnitude factor, which the stored keys already carry).
    // Cell positions are not changed here (KvCache::seq_shift does that). Error for an
    // architecture whose keys cannot be moved.
    Status shift_keys(KvCache& cache, const std::vector<int32_t>& cells, int32_t delta);

    // logits: resized to [batch.n_outputs(), n_vocab]. Errors: a token id outside the
    // vocabulary, a bad sequence id or position, or not enough free cache cells (nothing is
    // changed then).
    virtual Status forward(const Batch& batch, KvCache& cache, std::vector<float>* logits) = 0;

protected:
    // Where the rotated part of a cached key row lies: n_heads heads of head_stride values from
    // value `offset`, each with params.n_rot rotated values, turned by `params`.
    struct KeyRope {
        int64_t offset = 0, n_heads = 0, head_stride = 0;
        kernels::RopeParams params;
    };
    // nullopt: the architecture's keys carry no rotary part that shift_keys can move.
    virtual std::optional<KeyRope> key_rope() const { return std::nullopt; }

    Model(gguf::File file, Hparams hparams, int n_threads)
        : file_(std::move(file)), hparams_(std::move(hparams)), pool_(n_threads) {}

    // Whether a token at `pos` attends to a cached token at `cell_pos` (causal, within the window).
    bool attends(int32_t pos, int32_t cell_pos) const {
        return cell_pos <= pos && (hparams_.n_swa == 0 || pos - cell_pos < hparams_.n_swa);
    }
    // Checks token ids, positions and sequence ids, and claims and labels cache cells for the
    // batch. out_cells: the cell of each batch token.
    Status place_batch(const Batch& batch, KvCache& cache, std::vector<int32_t>* out_cells) const;
    // (*seq_cells)[s]: the cells of sequence s, in increasing order, for each sequence s of the
    // batch (positions are filtered per token by the caller); other entries are empty.
    static void collect_seq_cells(const Batch& batch, const KvCache& cache, std::vector<std::vector<int32_t>>* seq_cells);
    // Repacks each matrix that has a packed layout on this CPU (LoadOptions::pack_weights) and
    // points its .panels at the copy, which lives as long as the model; releases the mapped pages
    // of its rows. Other matrices stay as they are. Once per model: one buffer holds every copy.
    void pack_matrices(std::span<kernels::Matrix* const> matrices, const LoadOptions& options);

    gguf::File file_;
    Hparams hparams_;
    ThreadPool pool_;

private:
    HugePageBuffer packed_;  // pack_matrices' copies
};

// Architecture loaders (arch/*.cpp).
Result<std::unique_ptr<Model>> load_dense(gguf::File file, Hparams hparams, const LoadOptions& options);
Result<std::unique_ptr<Model>> load_deepseek2(gguf::File file, Hparams hparams, const LoadOptions& options);

}  // namespace sinan::model
