#include "model/model.h"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "base/check.h"
#include "base/log.h"
#include "base/mapped_file.h"
#include "kernels/kernels.h"
#include "model/embedding_model.h"

namespace sinan::model {

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const LoadOptions& options) {
    Result<gguf::File> f = gguf::File::open(path);
    if (!f.ok()) return f.status();
    if (is_embedding_arch(f->architecture()))
        return Status::error(path + ": '" + std::string(f->architecture()) +
                             "' is an embedding model (it makes vectors, not text): use `sinan embed` or "
                             "POST /v1/embeddings");
    Result<Hparams> h = read_hparams(*f);
    if (!h.ok()) return h.status();
    if (options.swa_window >= 0) h->n_swa = options.swa_window;
    if (h->arch == "deepseek2") return load_deepseek2(std::move(f).value(), std::move(h).value(), options);
    // llama and qwen2 are the same dense decoder up to biases and the rope layout.
    return load_dense(std::move(f).value(), std::move(h).value(), options);
}

void Model::pack_matrices(std::span<kernels::Matrix* const> matrices, const LoadOptions& options) {
    const char* env = std::getenv("SINAN_PACK_WEIGHTS");
    if (!options.pack_weights || (env != nullptr && std::string_view(env) == "0")) return;
    // One buffer for every copy, so that only its last 2 MiB page is partly unused.
    std::vector<std::pair<kernels::Matrix*, uint64_t>> todo;  // matrix, offset of its copy
    uint64_t total = 0;
    for (kernels::Matrix* m : matrices) {
        const uint64_t n = kernels::packed_bytes(*m);
        if (n == 0 || m->panels != nullptr) continue;
        if (std::any_of(todo.begin(), todo.end(), [m](const auto& t) { return t.first == m; })) continue;
        todo.emplace_back(m, total);
        total += (n + 63) / 64 * 64;  // each copy 64-byte aligned
    }
    if (todo.empty()) return;
    SINAN_CHECK(packed_.data() == nullptr, "Model::pack_matrices: called twice (the first copies would be freed)");
    Result<HugePageBuffer> buffer = HugePageBuffer::allocate(total);
    if (!buffer.ok()) {  // the kernels read the rows in place: slower with batches, same results
        log::warn("weights not repacked for this CPU's kernels: " + buffer.message());
        return;
    }
    packed_ = std::move(buffer).value();
    for (const auto& [m, offset] : todo) {
        void* copy = static_cast<uint8_t*>(packed_.data()) + offset;
        kernels::pack_matrix(*m, copy, pool_);
        m->panels = copy;
        const uint64_t rows_bytes = gguf::row_bytes(m->type, static_cast<uint64_t>(m->n_cols)) * m->n_rows;
        if (file_.is_mapped()) release_pages(m->data, rows_bytes);  // a caller's buffer (File::parse): not ours
    }
}

PageUse Model::weight_pages() const {
    PageUse use;
    if (file_.is_mapped()) use += page_use(file_.mapped_data(), file_.file_size());
    if (packed_.size() > 0) use += page_use(packed_.data(), packed_.size());
    return use;
}

Status Model::shift_keys(KvCache& cache, const std::vector<int32_t>& cells, int32_t delta) {
    const std::optional<KeyRope> kr = key_rope();
    if (!kr) return Status::error("architecture " + hparams_.arch + " cannot shift its context (no rotary key part)");
    if (delta == 0 || cells.empty()) return Status::ok();
    // The stored keys already carry YaRN's magnitude: turn them by delta at magnitude 1.
    kernels::RopeParams p = kr->params;
    p.attn_factor = p.ext_factor != 0.0f ? 1.0f / (1.0f + 0.1f * std::log(1.0f / p.freq_scale)) : 1.0f;
    const int64_t n = cache.n_embd_k();
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t l = 0; l < hparams_.n_layer; ++l) {
        for (int32_t c : cells) {
            uint8_t* k = cache.k(l, c);
            kernels::dequantize_row(cache.type(), k, row.data(), n);
            kernels::rope(row.data() + kr->offset, kr->n_heads, kr->head_stride, delta, p);
            kernels::quantize_row(cache.type(), row.data(), k, n);
        }
    }
    return Status::ok();
}

Status Model::place_batch(const Batch& batch, KvCache& cache, std::vector<int32_t>* out_cells) const {
    const size_t n = batch.size();
    if (batch.positions.size() != n || batch.seq_ids.size() != n || batch.want_logits.size() != n)
        return Status::error("batch vectors have different lengths");
    for (size_t i = 0; i < n; ++i) {
        if (batch.tokens[i] < 0 || batch.tokens[i] >= hparams_.n_vocab)
            return Status::error("token id " + std::to_string(batch.tokens[i]) + " is outside the vocabulary (0.." +
                                 std::to_string(hparams_.n_vocab - 1) + ")");
        if (batch.seq_ids[i] < 0 || batch.seq_ids[i] >= KvCache::kMaxSequences)
            return Status::error("sequence id " + std::to_string(batch.seq_ids[i]) + " is out of range");
        if (batch.positions[i] < 0) return Status::error("negative position in batch");
    }
    std::optional<std::vector<int32_t>> cells = cache.find_slots(static_cast<int64_t>(n));
    if (!cells)
        return Status::error("the KV cache is full (" + std::to_string(cache.n_used()) + " of " +
                             std::to_string(cache.n_cells()) + " cells used); raise the context size");
    for (size_t i = 0; i < n; ++i) cache.set_cell((*cells)[i], batch.positions[i], batch.seq_ids[i]);
    *out_cells = std::move(*cells);
    return Status::ok();
}

Status Model::check_kv_type(gguf::TensorType type) const {
    if (!KvCache::is_supported_type(type))
        return Status::error(std::string("KV cache type ") + gguf::type_name(type) + " is not supported; use f16 or q8_0");
    const int64_t block = gguf::type_traits(type).block_size;
    const Hparams& h = hparams_;
    // The parts attention addresses separately: per-head K and V, or MLA's latent and rope part.
    const std::vector<int64_t> parts =
        h.n_lora_kv > 0 ? std::vector<int64_t>{h.n_lora_kv, h.n_rot} : std::vector<int64_t>{h.head_dim};
    for (int64_t p : parts)
        if (p % block != 0)
            return Status::error(std::string("KV cache type ") + gguf::type_name(type) + " needs head sizes that are multiples of " +
                                 std::to_string(block) + "; this model's is " + std::to_string(p) + ": use --kv-type f16");
    return Status::ok();
}

void Model::collect_seq_cells(const Batch& batch, const KvCache& cache, std::vector<std::vector<int32_t>>* seq_cells) {
    for (std::vector<int32_t>& s : *seq_cells) s.clear();
    seq_cells->resize(KvCache::kMaxSequences);
    // One pass over the used cells for all the batch's sequences (a pass per sequence made a step of
    // 8 sequences read the cells 8 times); a cell none of them holds (free, or kept by the prefix
    // cache for sequences that ended) is passed over with one test of its sequence set.
    thread_local std::vector<int32_t> seqs;
    seqs.assign(batch.seq_ids.begin(), batch.seq_ids.end());
    std::sort(seqs.begin(), seqs.end());
    seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
    std::bitset<KvCache::kMaxSequences> in_batch;
    for (int32_t s : seqs) in_batch.set(static_cast<size_t>(s));
    const auto end = static_cast<int32_t>(cache.cells_end());
    for (int32_t c = 0; c < end; ++c) {
        if ((cache.cell_seqs(c) & in_batch).none()) continue;
        for (int32_t s : seqs)
            if (cache.cell_has(c, s)) (*seq_cells)[static_cast<size_t>(s)].push_back(c);
    }
}

}  // namespace sinan::model
