#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace sinan::model {

namespace {

using gguf::TensorType;

// Where one head's key and value rows sit in the cache, with byte offsets resolved once per call.
struct HeadRows {
    const KvCache& cache;
    int64_t layer;
    uint64_t k_offset, v_offset;
    bool v_in_k;

    HeadRows(const KvCache& c, int64_t l, const KvHead& head)
        : cache(c), layer(l), k_offset(c.offset_bytes(head.k_offset)), v_offset(c.offset_bytes(head.v_offset)),
          v_in_k(head.v_in_k) {}
    const uint8_t* key(int32_t cell) const { return cache.k(layer, cell) + k_offset; }
    const uint8_t* value(int32_t cell) const { return (v_in_k ? cache.k(layer, cell) : cache.v(layer, cell)) + v_offset; }
};

const uint16_t* as_f16(const uint8_t* p) { return reinterpret_cast<const uint16_t*>(p); }

// The small-batch numerics, for all the n_q queries in one kernel call: an F16 cache by the
// reference's path (kernels::attend_f16_rounded), a Q8_0 cache by the kernels' own
// (kernels::attend_q8_0: q quantized to Q8_0 once, matmul's dot products, the weighted sum in float).
void attend_small_batch(const float* q, int64_t q_stride, int64_t n_q, std::span<const int32_t> cells,
                        const HeadRows& rows, const KvHead& head, float scale, float* out, int64_t out_stride) {
    const auto n = static_cast<int64_t>(cells.size());
    if (rows.cache.type() == TensorType::F16) {
        thread_local std::vector<const uint16_t*> keys, values;
        keys.resize(cells.size());
        values.resize(cells.size());
        for (size_t j = 0; j < cells.size(); ++j) {
            keys[j] = as_f16(rows.key(cells[j]));
            values[j] = as_f16(rows.value(cells[j]));
        }
        kernels::attend_f16_rounded(q, q_stride, n_q, keys.data(), values.data(), n, head.dk, head.dv, scale, out,
                                    out_stride);
        return;
    }
    thread_local std::vector<const void*> keys, values;  // Q8_0 rows (KvCache::is_supported_type)
    keys.resize(cells.size());
    values.resize(cells.size());
    for (size_t j = 0; j < cells.size(); ++j) {
        keys[j] = rows.key(cells[j]);
        values[j] = rows.value(cells[j]);
    }
    kernels::attend_q8_0(q, q_stride, n_q, keys.data(), values.data(), n, head.dk, head.dv, scale, out, out_stride);
}

// One tile's scores for n_q queries (scores[g * n + j], n = cells.size()): F16 keys by the
// reference's fused chains; quantized keys by the kernels' dot products with each query quantized
// once (q_dot: n_q operands of q_dot_bytes).
void tile_scores(const float* q, int64_t q_stride, int64_t n_q, const uint8_t* q_dot, size_t q_dot_bytes,
                 std::span<const int32_t> cells, const HeadRows& rows, int64_t dk, float* scores) {
    const TensorType type = rows.cache.type();
    const size_t n = cells.size();
    if (type != TensorType::F16) {
        if (cells.back() - cells.front() == static_cast<int32_t>(n - 1)) {  // consecutive cells: rows a stride apart
            kernels::dot_rows(type, rows.key(cells.front()), rows.cache.k_row_bytes(), static_cast<int64_t>(n), q_dot,
                              n_q, dk, scores, static_cast<int64_t>(n));
            return;
        }
        for (int64_t g = 0; g < n_q; ++g)
            for (size_t j = 0; j < n; ++j)
                scores[g * n + j] = kernels::dot_row(type, rows.key(cells[j]), q_dot + g * q_dot_bytes, dk);
        return;
    }
    thread_local std::vector<const uint16_t*> keys;
    keys.resize(n);
    for (size_t j = 0; j < n; ++j) keys[j] = as_f16(rows.key(cells[j]));
    kernels::dot_f16_chains(q, q_stride, n_q, keys.data(), static_cast<int64_t>(n), dk, scores);
}

// s[j] *= scale for j < n; returns the largest (-inf for none). Four running maxima, not one
// chain of n dependent steps: a maximum is the same in any order.
float scale_and_max(float* s, size_t n, float scale) {
    float m[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    size_t j = 0;
    for (; j + 4 <= n; j += 4)
        for (size_t k = 0; k < 4; ++k) {
            s[j + k] *= scale;
            m[k] = std::max(m[k], s[j + k]);
        }
    for (; j < n; ++j) {
        s[j] *= scale;
        m[0] = std::max(m[0], s[j]);
    }
    return std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
}

// sum[g] += the float of the double sum of weights[g * stride + j], j < n in order, for each of nq
// queries: each query's sum is one chain of n additions, as the reference takes it; the chains of
// four queries advance together, so that they wait on each other's latency, not on their own.
void add_tile_sums(const float* weights, size_t stride, size_t n, size_t nq, float* sum) {
    for (size_t g0 = 0; g0 < nq; g0 += 4) {
        const size_t k = std::min<size_t>(4, nq - g0);
        const float* w[4];
        for (size_t i = 0; i < 4; ++i)
            w[i] = weights + (g0 + std::min(i, k - 1)) * stride;  // past k: a repeat, dropped
        double t[4] = {0.0, 0.0, 0.0, 0.0};
        for (size_t j = 0; j < n; ++j)
            for (size_t i = 0; i < 4; ++i) t[i] += w[i][j];
        for (size_t i = 0; i < k; ++i) sum[g0 + i] += static_cast<float>(t[i]);
    }
}

// The tiled path for n_q queries that share the KV head: per query the operations of one query
// alone; each tile's keys and values are read (and, F16, converted) once for all of them. Queries
// g < n_q1 see only cells[0, n_cells1) (the earlier of two tokens of a prompt: its cells are a
// prefix of the later one's), the others all of `cells`.
void attend_tiled(const float* q, int64_t q_stride, int64_t n_q, int64_t n_q1, std::span<const int32_t> cells,
                  size_t n_cells1, const HeadRows& rows, const KvHead& head, float scale, float* out,
                  int64_t out_stride) {
    thread_local std::vector<float> acc, scores, max, sum, vtmp;
    thread_local std::vector<uint8_t> q_dot;
    thread_local std::vector<const uint16_t*> values;
    const TensorType type = rows.cache.type();
    const int64_t dk = head.dk, d = head.dv;
    const auto nq = static_cast<size_t>(n_q), nq1 = static_cast<size_t>(n_q1);
    size_t q_dot_bytes = 0;
    if (type != TensorType::F16) {
        q_dot_bytes = kernels::dot_operand_bytes(type, dk);
        q_dot.resize(nq * q_dot_bytes);
        for (int64_t g = 0; g < n_q; ++g)
            kernels::quantize_dot_operand(type, q + g * q_stride, q_dot.data() + g * q_dot_bytes, dk);
    }
    acc.assign(nq * static_cast<size_t>(d), 0.0f);
    max.assign(nq, -INFINITY);
    sum.assign(nq, 0.0f);
    scores.resize(nq * kKvTile);
    // Rows [j0, j1) of the tile from cell i into the sums of queries [g0, nq) (their weights
    // scores[g * n + j], n the tile's length), row after row.
    auto add_values = [&](size_t i, size_t n, size_t g0, size_t j0, size_t j1) {
        if (j1 == j0 || g0 == nq) return;
        float* a = acc.data() + g0 * static_cast<size_t>(d);
        const float* w = scores.data() + g0 * n + j0;
        const auto n_g = static_cast<int64_t>(nq - g0);
        if (type == TensorType::F16) {
            values.resize(j1 - j0);
            for (size_t j = j0; j < j1; ++j) values[j - j0] = as_f16(rows.value(cells[i + j]));
            kernels::fma_f16_rows(a, d, n_g, w, static_cast<int64_t>(n), values.data(), static_cast<int64_t>(j1 - j0),
                                  d);
        } else {  // dequantized, then added: acc += s * v, the product rounded first
            vtmp.resize((j1 - j0) * static_cast<size_t>(d));
            for (size_t j = j0; j < j1; ++j)
                kernels::dequantize_row(type, rows.value(cells[i + j]), vtmp.data() + (j - j0) * d, d);
            kernels::add_scaled_rows(a, d, n_g, w, static_cast<int64_t>(n), vtmp.data(), d,
                                     static_cast<int64_t>(j1 - j0), d);
        }
    };
    size_t i = 0;
    while (i < cells.size()) {
        // One tile: the visible cells with the same cell / kKvTile; the first n1 of them are the
        // first queries' too.
        const int32_t tile = cells[i] / kKvTile;
        size_t end = i;
        while (end < cells.size() && cells[end] / kKvTile == tile) ++end;
        const size_t n = end - i, n1 = n_cells1 > i ? std::min(n, n_cells1 - i) : 0;
        tile_scores(q, q_stride, n_q, q_dot.data(), q_dot_bytes, cells.subspan(i, n), rows, dk, scores.data());
        for (size_t g = 0; g < nq; ++g) {
            const size_t n_g = g < nq1 ? n1 : n;  // 0: a tile the first queries do not see leaves them as they are
            float* s = scores.data() + g * n;
            float* a = acc.data() + g * static_cast<size_t>(d);
            const float new_max = std::max(max[g], scale_and_max(s, n_g, scale));
            if (new_max > max[g]) {
                float ms = max[g] - new_max;
                kernels::exp_f32(&ms, &ms, 1);
                for (int64_t k = 0; k < d; ++k) a[k] *= ms;
                sum[g] *= ms;
            }
            max[g] = new_max;
            for (size_t j = 0; j < n_g; ++j) s[j] -= new_max;
            kernels::exp_f32(s, s, static_cast<int64_t>(n_g));  // vectors on the SIMD levels
        }
        add_tile_sums(scores.data(), n, n1, nq1, sum.data());
        add_tile_sums(scores.data() + nq1 * n, n, n, nq - nq1, sum.data() + nq1);
        add_values(i, n, 0, 0, n1);    // every query that sees them
        add_values(i, n, nq1, n1, n);  // the later token's alone
        i = end;
    }
    for (size_t g = 0; g < nq; ++g) {
        const float inv = sum[g] == 0.0f ? 0.0f : 1.0f / sum[g];
        for (int64_t k = 0; k < d; ++k) out[static_cast<int64_t>(g) * out_stride + k] = acc[g * d + k] * inv;
    }
}

}  // namespace

int64_t heads_per_item(int64_t n_tokens, int64_t n_kv_heads, int64_t group, int64_t n_threads) {
    const int64_t wanted = 4 * n_threads;  // items, so that a thread held up costs little
    const int64_t groups = n_tokens * n_kv_heads;
    if (groups >= wanted) return group;
    return std::max<int64_t>(1, group * groups / wanted);  // groups x ceil(group / this) >= wanted
}

AttentionNumerics attention_numerics(int64_t n_queries, int64_t head_dim) {
    return n_queries >= kTiledMinQueries && head_dim % 16 == 0 ? AttentionNumerics::kTiled
                                                               : AttentionNumerics::kSmallBatch;
}

void attend_heads(const float* q, int64_t q_stride, int64_t n_q, std::span<const int32_t> cells, const KvCache& cache,
                  int64_t layer, const KvHead& head, float scale, AttentionNumerics numerics, float* out,
                  int64_t out_stride) {
    const HeadRows rows(cache, layer, head);
    if (numerics == AttentionNumerics::kTiled) {
        attend_tiled(q, q_stride, n_q, n_q, cells, cells.size(), rows, head, scale, out, out_stride);
        return;
    }
    attend_small_batch(q, q_stride, n_q, cells, rows, head, scale, out, out_stride);
}

void attend_token_pair(const float* q1, const float* q2, int64_t q_stride, int64_t n_heads,
                       std::span<const int32_t> cells, size_t n_cells1, const KvCache& cache, int64_t layer,
                       const KvHead& head, float scale, float* out1, float* out2, int64_t out_stride) {
    // The queries side by side, as attend_tiled takes them: the first token's heads, then the second's.
    thread_local std::vector<float> q, out;
    q.resize(static_cast<size_t>(2 * n_heads * head.dk));
    out.resize(static_cast<size_t>(2 * n_heads * head.dv));
    for (int64_t g = 0; g < n_heads; ++g) {
        std::copy_n(q1 + g * q_stride, head.dk, q.data() + g * head.dk);
        std::copy_n(q2 + g * q_stride, head.dk, q.data() + (n_heads + g) * head.dk);
    }
    attend_tiled(q.data(), head.dk, 2 * n_heads, n_heads, cells, n_cells1, HeadRows(cache, layer, head), head, scale,
                 out.data(), head.dv);
    for (int64_t g = 0; g < n_heads; ++g) {
        std::copy_n(out.data() + g * head.dv, head.dv, out1 + g * out_stride);
        std::copy_n(out.data() + (n_heads + g) * head.dv, head.dv, out2 + g * out_stride);
    }
}

}  // namespace sinan::model
