// attend_heads: the query heads that share a KV head (grouped-query attention) attend in one call,
// and each head's output is the one it gets alone, bit for bit: for both numerics (the tiled
// prefill path, where the grouped kernels share each key and value between the heads, and the
// small-batch decode path), for F16 and Q8_0 caches, over cells that skip some and span several
// tiles, with head counts below, at and above the kernels' group of 8.
#include "model/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/half.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "model/kv_cache.h"

namespace sinan::model {
namespace {

using gguf::TensorType;

constexpr int64_t kHeadDim = 64;  // whole Q8_0 blocks
constexpr int64_t kKvHeads = 2;
constexpr int32_t kCells = 200;

std::vector<float> gaussian(std::mt19937& rng, int64_t n) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng);
    return v;
}

// A one-layer cache of kCells cells whose keys and values are random rows of `type`.
KvCache random_cache(TensorType type, std::mt19937& rng) {
    KvCache cache(1, kCells, kKvHeads * kHeadDim, kKvHeads * kHeadDim, type);
    for (int32_t c = 0; c < kCells; ++c) {
        kernels::quantize_row(type, gaussian(rng, kKvHeads * kHeadDim).data(), cache.k(0, c), kKvHeads * kHeadDim);
        kernels::quantize_row(type, gaussian(rng, kKvHeads * kHeadDim).data(), cache.v(0, c), kKvHeads * kHeadDim);
    }
    return cache;
}

TEST(Attention, HeadsSharingAKvHeadGetWhatEachGetsAloneBitForBit) {
    std::mt19937 rng(20261130);
    std::vector<int32_t> gaps, all;  // increasing over four 64-cell tiles: with gaps, and a prompt's (none)
    for (int32_t c = 0; c < kCells; ++c) {
        if (c % 7 != 3) gaps.push_back(c);
        all.push_back(c);
    }
    const KvHead head{kHeadDim, kHeadDim, kHeadDim, kHeadDim, false};  // the second KV head
    const float scale = 0.125f;
    for (const auto& [type, cells] :
         {std::pair{TensorType::F16, gaps}, std::pair{TensorType::Q8_0, gaps}, std::pair{TensorType::Q8_0, all}}) {
        const KvCache cache = random_cache(type, rng);
        for (AttentionNumerics numerics : {AttentionNumerics::kTiled, AttentionNumerics::kSmallBatch}) {
            for (int64_t n_q : {1, 6, 9}) {
                const int64_t q_stride = kHeadDim + 3, out_stride = kHeadDim + 5;
                const std::vector<float> q = gaussian(rng, n_q * q_stride);
                std::vector<float> together(static_cast<size_t>(n_q * out_stride), -7.0f), alone = together;
                attend_heads(q.data(), q_stride, n_q, cells, cache, 0, head, scale, numerics, together.data(),
                             out_stride);
                for (int64_t g = 0; g < n_q; ++g)
                    attend(q.data() + g * q_stride, cells, cache, 0, head, scale, numerics,
                           alone.data() + g * out_stride);
                const std::string what = std::string(gguf::type_name(type)) +
                                         (numerics == AttentionNumerics::kTiled ? " tiled" : " small batch") +
                                         ", heads " + std::to_string(n_q) + ", cells " + std::to_string(cells.size());
                EXPECT_EQ(together, alone) << what;
                EXPECT_NE(together[0], 0.0f) << what;          // an output was written
                EXPECT_EQ(together[kHeadDim], -7.0f) << what;  // and nothing between the outputs
            }
        }
    }
}

// The tiled numerics spelled out for one query over an F16 cache, as attention.h and the reference
// engine's tiled path define them: per 64-cell tile, each score one fused multiply-add chain over
// the head in index order, times the scale; the running maximum, and where the tile raises it the
// sum of values and of weights times exp(old - new); the weights exp(score - max), their sum one
// double chain in cell order added to the float sum; each value row fused into the sum in cell
// order; at the end the sum times 1 / the weights' sum. attend_heads gives these bits exactly.
TEST(Attention, TiledIsTheReferenceStepsBitForBit) {
    std::mt19937 rng(20261201);
    std::vector<int32_t> cells;  // gaps, and tiles of 64, 53 and 8 visible cells
    for (int32_t c = 0; c < kCells; ++c)
        if (c < 64 || (c < 150 && c % 8 != 5) || c >= 192) cells.push_back(c);
    const KvCache cache = random_cache(TensorType::F16, rng);
    const KvHead head{0, kHeadDim, 0, kHeadDim, false};
    const float scale = 0.125f;
    for (float spread : {1.0f, 8.0f}) {  // 8: scores far apart, so that later tiles raise the maximum
        std::vector<float> q = gaussian(rng, kHeadDim);
        for (float& x : q) x *= spread;
        std::vector<float> acc(kHeadDim, 0.0f), got(kHeadDim);
        float max = -INFINITY, sum = 0.0f;
        for (size_t i = 0; i < cells.size();) {
            size_t end = i;
            while (end < cells.size() && cells[end] / kKvTile == cells[i] / kKvTile) ++end;
            std::vector<float> w;
            float tile_max = -INFINITY;
            for (size_t j = i; j < end; ++j) {
                const auto* k = reinterpret_cast<const uint16_t*>(cache.k(0, cells[j]));
                float s = 0.0f;
                for (int64_t x = 0; x < kHeadDim; ++x) s = std::fma(q[x], kernels::fp16_to_fp32(k[x]), s);
                w.push_back(s * scale);
                tile_max = std::max(tile_max, w.back());
            }
            const float new_max = std::max(max, tile_max);
            if (new_max > max) {
                float ms = max - new_max;
                kernels::exp_f32(&ms, &ms, 1);
                for (float& a : acc) a *= ms;
                sum *= ms;
            }
            max = new_max;
            double tile_sum = 0.0;
            for (float& x : w) {
                x -= new_max;
                kernels::exp_f32(&x, &x, 1);
                tile_sum += x;
            }
            sum += static_cast<float>(tile_sum);
            for (size_t j = i; j < end; ++j) {
                const auto* v = reinterpret_cast<const uint16_t*>(cache.v(0, cells[j]));
                for (int64_t x = 0; x < kHeadDim; ++x) acc[x] = std::fma(kernels::fp16_to_fp32(v[x]), w[j - i], acc[x]);
            }
            i = end;
        }
        std::vector<float> want(kHeadDim);
        for (int64_t x = 0; x < kHeadDim; ++x) want[x] = acc[x] * (1.0f / sum);
        attend(q.data(), cells, cache, 0, head, scale, AttentionNumerics::kTiled, got.data());
        EXPECT_EQ(got, want) << "spread " << spread;
    }
}

// Two tokens of a prompt in one call: the first sees a prefix of the second's cells (ending inside
// a tile, at a tile's end, at the first cell, or the same cells), and each head of each token gets
// what attend_heads gives it over its own cells, bit for bit, for F16 and Q8_0 caches.
TEST(Attention, TokenPairGetsWhatEachTokenGetsAloneBitForBit) {
    std::mt19937 rng(20261202);
    std::vector<int32_t> cells;
    for (int32_t c = 0; c < kCells; ++c)
        if (c % 7 != 3) cells.push_back(c);
    const KvHead head{kHeadDim, kHeadDim, kHeadDim, kHeadDim, false};
    const float scale = 0.125f;
    constexpr int64_t kHeads = 6, q_stride = kHeadDim + 3, out_stride = kHeadDim + 5;
    for (TensorType type : {TensorType::F16, TensorType::Q8_0}) {
        const KvCache cache = random_cache(type, rng);
        for (size_t n1 : {size_t{1}, size_t{40}, size_t{55}, size_t{56}, size_t{100}, cells.size() - 1, cells.size()}) {
            const std::vector<float> q1 = gaussian(rng, kHeads * q_stride), q2 = gaussian(rng, kHeads * q_stride);
            std::vector<float> pair1(kHeads * out_stride, -7.0f), pair2 = pair1, alone1 = pair1, alone2 = pair1;
            const std::span<const int32_t> all(cells);
            attend_token_pair(q1.data(), q2.data(), q_stride, kHeads, all, n1, cache, 0, head, scale, pair1.data(),
                              pair2.data(), out_stride);
            attend_heads(q1.data(), q_stride, kHeads, all.first(n1), cache, 0, head, scale, AttentionNumerics::kTiled,
                         alone1.data(), out_stride);
            attend_heads(q2.data(), q_stride, kHeads, all, cache, 0, head, scale, AttentionNumerics::kTiled,
                         alone2.data(), out_stride);
            const std::string what = std::string(gguf::type_name(type)) + ", first token's cells " + std::to_string(n1);
            EXPECT_EQ(pair1, alone1) << what;
            EXPECT_EQ(pair2, alone2) << what;
            EXPECT_NE(pair1[0], 0.0f) << what;
            EXPECT_EQ(pair2[kHeadDim], -7.0f) << what;  // nothing between the outputs
        }
    }
}

// A prompt's tokens x KV heads give every thread several items: each takes a whole group. One
// decoded token of a model with few KV heads would not: its groups are split so that every
// thread has items, and a group that does not divide evenly still has every head in some item.
TEST(Attention, WorkItemsKeepWholeGroupsUnlessThreadsWouldWait) {
    EXPECT_EQ(heads_per_item(128, 2, 6, 2), 6);
    EXPECT_EQ(heads_per_item(1, 128, 1, 16), 1);
    for (int64_t threads : {1, 2, 16}) {
        for (int64_t kv_heads : {1, 2, 8}) {
            for (int64_t group : {1, 6, 7, 128}) {
                const int64_t per_item = heads_per_item(1, kv_heads, group, threads);
                ASSERT_GE(per_item, 1);
                ASSERT_LE(per_item, group);
                const int64_t items = kv_heads * ((group + per_item - 1) / per_item);
                EXPECT_GE(items, std::min(kv_heads * group, 4 * threads))
                    << threads << " threads, " << kv_heads << " KV heads, groups of " << group;
            }
        }
    }
}

}  // namespace
}  // namespace sinan::model
