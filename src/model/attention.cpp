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

const uint16_t* value_row(const KvCache& cache, int64_t layer, int32_t cell, const KvHead& head) {
    return (head.v_in_k ? cache.k(layer, cell) : cache.v(layer, cell)) + head.v_offset;
}

void attend_small_batch(const float* q_in, std::span<const int32_t> cells, const KvCache& cache, int64_t layer,
                        const KvHead& head, float scale, float* out) {
    thread_local std::vector<float> q, k, acc;
    thread_local std::vector<uint16_t> tmp;
    const int64_t dk = head.dk, d = head.dv;
    q.assign(q_in, q_in + dk);
    k.resize(static_cast<size_t>(dk));
    acc.assign(static_cast<size_t>(d), 0.0f);
    tmp.resize(std::max(q.size(), acc.size()));
    to_f16_and_back(q.data(), tmp.data(), dk);
    float max = -INFINITY, sum = 0.0f;
    for (int32_t c : cells) {
        kernels::dequantize_row(TensorType::F16, cache.k(layer, c) + head.k_offset, k.data(), dk);
        const float s = kernels::dot_f32(q.data(), k.data(), dk) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > max) {
            ms = std::exp(max - s);  // 0 for the first cell
            max = s;
            for (float& a : acc) a *= ms;
            to_f16_and_back(acc.data(), tmp.data(), d);
        } else {
            vs = std::exp(s - max);
        }
        kernels::fma_f16(acc.data(), value_row(cache, layer, c, head), vs, d);
        to_f16_and_back(acc.data(), tmp.data(), d);
        sum = sum * ms + vs;
    }
    for (int64_t j = 0; j < d; ++j) out[j] = sum == 0.0f ? 0.0f : acc[static_cast<size_t>(j)] / sum;
}

void attend_tiled(const float* q, std::span<const int32_t> cells, const KvCache& cache, int64_t layer,
                  const KvHead& head, float scale, float* out) {
    thread_local std::vector<float> acc, scores;
    thread_local std::vector<const uint16_t*> keys;
    const int64_t dk = head.dk, d = head.dv;
    acc.assign(static_cast<size_t>(d), 0.0f);
    float max = -INFINITY, sum = 0.0f;
    size_t i = 0;
    while (i < cells.size()) {
        // One tile: the visible cells with the same cell / kKvTile.
        const int32_t tile = cells[i] / kKvTile;
        size_t end = i;
        while (end < cells.size() && cells[end] / kKvTile == tile) ++end;
        scores.resize(end - i);
        keys.resize(end - i);
        for (size_t j = i; j < end; ++j) keys[j - i] = cache.k(layer, cells[j]) + head.k_offset;
        kernels::dot_f16_chains(q, keys.data(), static_cast<int64_t>(end - i), dk, scores.data());
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
        for (size_t j = i; j < end; ++j) kernels::fma_f16(acc.data(), value_row(cache, layer, cells[j], head), scores[j - i], d);
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
    if (numerics == AttentionNumerics::kTiled) attend_tiled(q, cells, cache, layer, head, scale, out);
    else attend_small_batch(q, cells, cache, layer, head, scale, out);
}

}  // namespace sinan::model
