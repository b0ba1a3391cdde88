// Attention of one query head over cached keys and values (F16 in the KV cache):
//   out = sum_c softmax_c(q · k_c * scale) v_c      over the given cells, in cell order
//
// Two numerics, both chosen to agree with the reference engine (llama.cpp's CPU flash
// attention) to float rounding, because which one it uses depends on the batch:
//   kSmallBatch: q is rounded to F16 like the keys, and the running weighted sum of values is
//                kept in F16 (online softmax, rescaled whenever a new maximum arrives) — the
//                reference's path for batches of fewer than kTiledMinQueries queries.
//   kTiled:      q stays float, cells are taken in tiles of kKvTile by cell index, the softmax
//                and the weighted sum are float — its path for larger batches (prefill).
// See docs/model.md for how this was established against the golden logits.
// Thread-safety: pure; scratch is thread-local.
#pragma once

#include <cstdint>
#include <span>

#include "model/kv_cache.h"

namespace sinan::model {

enum class AttentionNumerics { kSmallBatch, kTiled };

inline constexpr int64_t kTiledMinQueries = 64;  // queries in a batch from which kTiled applies
inline constexpr int32_t kKvTile = 64;           // cells per tile in kTiled

// Which numerics the reference uses for a batch of n_queries queries with heads of head_dim
// (the tiled path also needs head_dim to fill whole 16-float vectors).
AttentionNumerics attention_numerics(int64_t n_queries, int64_t head_dim);

// q: [head_dim] floats; cells: visible cells in increasing order; k/v of each cell at
// cache.k(layer, cell) + kv_offset. out: [head_dim].
void attend(const float* q, std::span<const int32_t> cells, const KvCache& cache, int64_t layer, int64_t kv_offset,
            int64_t head_dim, float scale, AttentionNumerics numerics, float* out);

}  // namespace sinan::model
