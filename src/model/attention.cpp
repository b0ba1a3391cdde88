#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace sinan::model {

namespace {

using gguf::TensorType;

void to_f16_and_back(float* x, uint16_t* tmp, int64_t n) {
    kernels::quantize_row(TensorType::F16, x, tmp, n);
    kernels::dequantize_row(TensorType::F16, tmp, x, n);
}

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

// acc[j] += s * value[j] for a value row of the cache's type. F16 rounds each product-sum once
// (the reference's F16 path); other types are dequantized first, as the reference does.
void add_scaled_value(float* acc, const uint8_t* value, TensorType type, float s, int64_t d, std::vector<float>& tmp) {
    if (type == TensorType::F16) {
        kernels::fma_f16(acc, as_f16(value), s, d);
        return;
    }
    tmp.resize(static_cast<size_t>(d));
    kernels::dequantize_row(type, value, tmp.data(), d);
    for (int64_t j = 0; j < d; ++j) acc[j] += s * tmp[static_cast<size_t>(j)];
}

// F16 cache: q rounded to F16, scores in float from the dequantized keys, the weighted sum kept in
// F16 (the reference's small-batch path). Quantized cache: q quantized to the keys' dot format once
// and dot products of the kernels' own (matmul's), the weighted sum in float.
void attend_small_batch(const float* q_in, std::span<const int32_t> cells, const HeadRows& rows, const KvHead& head,
                        float scale, float* out) {
    thread_local std::vector<float> q, k, acc, vtmp;
    thread_local std::vector<uint16_t> tmp;
    const TensorType type = rows.cache.type();
    const bool f16 = type == TensorType::F16;
    const int64_t dk = head.dk, d = head.dv;
    acc.assign(static_cast<size_t>(d), 0.0f);
    if (f16) {
        q.assign(q_in, q_in + dk);
        k.resize(static_cast<size_t>(dk));
        tmp.resize(std::max(q.size(), acc.size()));
        to_f16_and_back(q.data(), tmp.data(), dk);
    } else {
        tmp.resize((kernels::dot_operand_bytes(type, dk) + 1) / sizeof(uint16_t));
        kernels::quantize_dot_operand(type, q_in, tmp.data(), dk);
    }
    float max = -INFINITY, sum = 0.0f;
    for (int32_t c : cells) {
        float s;
        if (f16) {
            kernels::dequantize_row(TensorType::F16, rows.key(c), k.data(), dk);
            s = kernels::dot_f32(q.data(), k.data(), dk) * scale;
        } else {
            s = kernels::dot_row(type, rows.key(c), tmp.data(), dk) * scale;
        }
        float ms = 1.0f, vs = 1.0f;
        if (s > max) {
            ms = std::exp(max - s);  // 0 for the first cell
            max = s;
            for (float& a : acc) a *= ms;
            if (f16) to_f16_and_back(acc.data(), tmp.data(), d);
        } else {
            vs = std::exp(s - max);
        }
        add_scaled_value(acc.data(), rows.value(c), type, vs, d, vtmp);
        if (f16) to_f16_and_back(acc.data(), tmp.data(), d);
        sum = sum * ms + vs;
    }
    for (int64_t j = 0; j < d; ++j) out[j] = sum == 0.0f ? 0.0f : acc[static_cast<size_t>(j)] / sum;
}

// One tile's scores: F16 keys by the reference's fused chains; quantized keys by the kernels' dot
// products with q quantized once (q_dot).
void tile_scores(const float* q, const void* q_dot, std::span<const int32_t> cells, const HeadRows& rows, int64_t dk,
                 float* scores) {
    const TensorType type = rows.cache.type();
    if (type != TensorType::F16) {
        for (size_t j = 0; j < cells.size(); ++j) scores[j] = kernels::dot_row(type, rows.key(cells[j]), q_dot, dk);
        return;
    }
    thread_local std::vector<const uint16_t*> keys;
    keys.resize(cells.size());
    for (size_t j = 0; j < cells.size(); ++j) keys[j] = as_f16(rows.key(cells[j]));
    kernels::dot_f16_chains(q, keys.data(), static_cast<int64_t>(cells.size()), dk, scores);
}

void attend_tiled(const float* q, std::span<const int32_t> cells, const HeadRows& rows, const KvHead& head, float scale,
                  float* out) {
    thread_local std::vector<float> acc, scores, vtmp;
    thread_local std::vector<uint16_t> q_dot;
    const TensorType type = rows.cache.type();
    const int64_t dk = head.dk, d = head.dv;
    if (type != TensorType::F16) {
        q_dot.resize((kernels::dot_operand_bytes(type, dk) + 1) / sizeof(uint16_t));
        kernels::quantize_dot_operand(type, q, q_dot.data(), dk);
    }
    acc.assign(static_cast<size_t>(d), 0.0f);
    float max = -INFINITY, sum = 0.0f;
    size_t i = 0;
    while (i < cells.size()) {
        // One tile: the visible cells with the same cell / kKvTile.
        const int32_t tile = cells[i] / kKvTile;
        size_t end = i;
        while (end < cells.size() && cells[end] / kKvTile == tile) ++end;
        scores.resize(end - i);
        tile_scores(q, q_dot.data(), cells.subspan(i, end - i), rows, dk, scores.data());
        float tile_max = -INFINITY;
        for (float& s : scores) {
            s *= scale;
            tile_max = std::max(tile_max, s);
        }
        const float new_max = std::max(max, tile_max);
        if (new_max > max) {
            const float ms = std::exp(max - new_max);
            for (float& a : acc) a *= ms;
            sum *= ms;
        }
        max = new_max;
        double tile_sum = 0.0;
        for (float& s : scores) {
            s = std::exp(s - max);
            tile_sum += s;
        }
        sum += static_cast<float>(tile_sum);
        for (size_t j = i; j < end; ++j) add_scaled_value(acc.data(), rows.value(cells[j]), type, scores[j - i], d, vtmp);
        i = end;
    }
    const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
    for (int64_t j = 0; j < d; ++j) out[j] = acc[static_cast<size_t>(j)] * inv;
}

}  // namespace

AttentionNumerics attention_numerics(int64_t n_queries, int64_t head_dim) {
    return n_queries >= kTiledMinQueries && head_dim % 16 == 0 ? AttentionNumerics::kTiled
                                                               : AttentionNumerics::kSmallBatch;
}

void attend(const float* q, std::span<const int32_t> cells, const KvCache& cache, int64_t layer, const KvHead& head,
            float scale, AttentionNumerics numerics, float* out) {
    const HeadRows rows(cache, layer, head);
    if (numerics == AttentionNumerics::kTiled) attend_tiled(q, cells, rows, head, scale, out);
    else attend_small_batch(q, cells, rows, head, scale, out);
}

}  // namespace sinan::model
