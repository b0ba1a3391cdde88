// Attention of query heads over cached keys and values (F16 or Q8_0 in the KV cache), for each:
//   out = sum_c softmax_c(q · k_c * scale) v_c      over the given cells, in cell order
// one head at a time (attend) or the heads that share a KV head together (attend_heads).
// Both paths are online softmax over the cells (flash-attention style): memory is O(head size)
// per call whatever the number of cells, so a long prefill never holds an [n_tokens x n_kv]
// matrix; the cost is O(n_cells x head size) per query.
//
// Two numerics, both chosen to agree with the reference engine (llama.cpp's CPU flash
// attention) to float rounding, because which one it uses depends on the batch:
//   kSmallBatch: q is rounded to F16 like the keys, and the running weighted sum of values is
//                kept in F16 (online softmax, rescaled whenever a new maximum arrives) — the
//                reference's path for batches of fewer than kTiledMinQueries queries.
//   kTiled:      q stays float, cells are taken in tiles of kKvTile by cell index, the softmax
//                and the weighted sum are float — its path for larger batches (prefill).
// See docs/model.md for how this was established against the golden logits.
// A Q8_0 cache has no reference numerics to follow: q is quantized once to Q8_0 and scored with the
// kernels' Q8_0 dot product (as matmul scores weights), values are dequantized and summed in
// float; both numerics keep their cell order and tiling.
// Thread-safety: pure; scratch is thread-local.
#pragma once

#include <cstdint>
#include <span>

#include "model/kv_cache.h"

namespace sinan::model {

enum class AttentionNumerics { kSmallBatch, kTiled };

inline constexpr int64_t kTiledMinQueries = 64;  // queries in a batch from which kTiled applies
inline constexpr int32_t kKvTile = 64;           // cells per tile in kTiled

// Which numerics the reference uses for a batch of n_queries queries with value heads of
// head_dim (the tiled path also needs the value head to fill whole 16-float vectors).
AttentionNumerics attention_numerics(int64_t n_queries, int64_t head_dim);

// Where one KV head sits in a cache cell: dk key values from value k_offset of the row
// cache.k(layer, cell), and dv values from value v_offset of cache.v(layer, cell), or of
// cache.k(layer, cell) when v_in_k (multi-head latent attention reads its values from the cached
// latent). Offsets and sizes count values and are whole blocks of the cache's type.
struct KvHead {
    int64_t k_offset = 0, dk = 0;
    int64_t v_offset = 0, dv = 0;
    bool v_in_k = false;
};

// n_q queries that share the KV head (grouped-query attention; one query: n_q = 1): query g is
// [head.dk] floats at q + g * q_stride, its output [head.dv] at out + g * out_stride; cells:
// visible cells in increasing order. Each query's output is the same whatever n_q, bit for bit;
// the tiled path reads each tile's keys and values once for all n_q (F16: converted once, and the
// queries' multiply-add chains interleaved).
void attend_heads(const float* q, int64_t q_stride, int64_t n_q, std::span<const int32_t> cells, const KvCache& cache,
                  int64_t layer, const KvHead& head, float scale, AttentionNumerics numerics, float* out,
                  int64_t out_stride);

// Two tokens of a prompt at once, with the tiled numerics: n_heads queries of each (q1, q2; heads
// q_stride apart), the first seeing cells[0, n_cells1) (a prefix of the second's cells), the
// second all of `cells`; outputs out1, out2 (heads out_stride apart). Each query's output is the
// one attend_heads gives it over its own cells, bit for bit; each tile's keys are converted and
// transposed once for both tokens' queries.
void attend_token_pair(const float* q1, const float* q2, int64_t q_stride, int64_t n_heads,
                       std::span<const int32_t> cells, size_t n_cells1, const KvCache& cache, int64_t layer,
                       const KvHead& head, float scale, float* out1, float* out2, int64_t out_stride);

// How many of the `group` query heads that share a KV head one work item of a forward pass takes
// (one attend_heads call): all of them when the batch's tokens x KV heads already give each of
// n_threads threads several items, fewer when not (decoding a token with few KV heads), so that
// no thread waits.
int64_t heads_per_item(int64_t n_tokens, int64_t n_kv_heads, int64_t group, int64_t n_threads);

// One query: q [head.dk] floats, out [head.dv].
inline void attend(const float* q, std::span<const int32_t> cells, const KvCache& cache, int64_t layer,
                   const KvHead& head, float scale, AttentionNumerics numerics, float* out) {
    attend_heads(q, head.dk, 1, cells, cache, layer, head, scale, numerics, out, head.dv);
}

// The same with K and V of head_dim values each at kv_offset in their own rows.
inline void attend(const float* q, std::span<const int32_t> cells, const KvCache& cache, int64_t layer,
                   int64_t kv_offset, int64_t head_dim, float scale, AttentionNumerics numerics, float* out) {
    attend(q, cells, cache, layer, KvHead{kv_offset, head_dim, kv_offset, head_dim, false}, scale, numerics, out);
}

}  // namespace sinan::model
