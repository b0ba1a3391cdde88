#include "sampling/candidates.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "base/check.h"
#include "sampling/fast_exp.h"

namespace sinan::sampling {
namespace {
constexpr int32_t kHeapSelectMax = 4096;         // top-k by heap select up to here, by nth_element above
constexpr size_t kDrawBlock = 256;               // draw(): weights are summed per block, then blocks are scanned
constexpr float kMinBucketsPerNat = 8.0f;        // keep_top_p's buckets: at least 1/8 nat per bucket
constexpr float kMaxBucketsPerNat = 1048576.0f;  // and at most 2^20 buckets per nat
constexpr int32_t kSubBuckets = 256;             // keep_top_p: sub-buckets of a crossing bucket
constexpr size_t kSortDirectly = 64;             // keep_top_p: a crossing bucket this small is sorted whole
constexpr size_t kSampleStride = 64;             // keep_top_p: its guess looks at every 64th token
// A lambda, not the function pointer: std::sort and friends inline it.
constexpr auto kRanksBefore = [](const Candidate& a, const Candidate& b) { return ranks_before(a, b); };
}  // namespace

void CandidateList::reset(std::span<const float> logits) {
    if (items_.size() < logits.size()) {
        items_.resize(logits.size());
        unit_weights_.resize(logits.size());
        weights_.resize(logits.size());
        block_sums_.resize(logits.size() / kDrawBlock + 1);
    }
    logits_ = logits;
    cut_ = kKeepAll;
    listed_ = false;
    size_ = 0;
    if (logits.empty()) {
        max_ = kKeepAll.logit;
        min_ = -kKeepAll.logit;
        softmax_ = {};
        return;
    }
    const VectorPasses& passes = vector_passes();
    const Extremes extremes = passes.extremes(logits.data(), logits.size());
    max_ = extremes.max;
    min_ = extremes.min;
    softmax_ = passes.softmax_sums(logits.data(), logits.size(), max_, unit_weights_.data());
}

std::span<const Candidate> CandidateList::items() const {
    if (listed_) return {items_.data(), size_};
    shown_.resize(logits_.size());
    const size_t n = vector_passes().collect(logits_.data(), logits_.size(), cut_, max_, 1.0f, -1, shown_.data());
    return {shown_.data(), n};
}

void CandidateList::keep_top_k(int32_t k) {
    if (k <= 0 || (listed_ && static_cast<size_t>(k) >= size_)) return;
    const auto first = items_.begin();
    const auto kth = first + k;
    if (listed_) {  // a ranked list already: its first k
        size_ = static_cast<size_t>(k);
        return;
    }
    if (k <= kHeapSelectMax) {
        // Heap select straight from the logits: a heap of the k best so far, its worst on top; the
        // vector pass skips every logit below that worst (after the first few thousand tokens,
        // almost all of them).
        const VectorPasses& passes = vector_passes();
        const std::span<const float> x = logits_;
        size_t count = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            if (count == static_cast<size_t>(k)) {
                i = passes.find_at_least(x.data(), x.size(), i, items_[0].logit);
                if (i == x.size()) break;
            }
            const Candidate c{x[i], static_cast<int32_t>(i)};
            if (c.logit == kKeepAll.logit || ranks_before(cut_, c)) continue;  // banned, or past the cut
            if (count < static_cast<size_t>(k)) {
                items_[count++] = c;
                std::push_heap(first, first + static_cast<ptrdiff_t>(count), kRanksBefore);
            } else if (ranks_before(c, items_[0])) {
                std::pop_heap(first, kth, kRanksBefore);
                items_[static_cast<size_t>(k) - 1] = c;
                std::push_heap(first, kth, kRanksBefore);
            }
        }
        if (count < static_cast<size_t>(k)) return;  // k >= size(): stays the whole vocabulary
        std::sort_heap(first, kth, kRanksBefore);
    } else {
        const size_t n = vector_passes().collect(logits_.data(), logits_.size(), cut_, max_, 1.0f, -1, items_.data());
        if (static_cast<size_t>(k) >= n) return;  // stays the whole vocabulary
        const auto last = first + static_cast<ptrdiff_t>(n);
        std::nth_element(first, kth, last, kRanksBefore);
        std::sort(first, kth, kRanksBefore);
    }
    size_ = static_cast<size_t>(k);
    listed_ = true;
}

void CandidateList::keep_top_p(float p) {
    if (p >= 1.0f) return;
    if (listed_) {  // after top-k: a short ranked list, scan it
        double total = 0.0;
        for (size_t i = 0; i < size_; ++i) total += unit_weights_[static_cast<size_t>(items_[i].token)];
        const double target = static_cast<double>(p) * total;
        double cum = 0.0;
        for (size_t i = 0; i < size_; ++i) {
            cum += unit_weights_[static_cast<size_t>(items_[i].token)];
            if (cum >= target) {
                size_ = i + 1;
                return;
            }
        }
        return;  // rounding left the sum a hair short of target: keep all
    }

    // The whole vocabulary: the mass by distance below the best logit, in buckets, finds the
    // bucket where the cumulative mass crosses the target. Every token in a closer bucket is in
    // the top-p set whatever its rank; only the crossing bucket is sorted to place the cut. O(n)
    // plus a sort of part of one bucket, where sorting the kept set would cost O(m log m) for m in
    // the tens of thousands on a flat distribution. The buckets span the logits' range (a power
    // of two per nat, at least 1/8 nat: beyond 16 nats below the best, p / p_max < e^-16 is below
    // any top_p anyone sets), so a flat distribution spreads over all of them.
    //
    // The sums run from the far end: T(B), the mass of buckets B and further, from masses_beyond,
    // kMassLimits values of B a pass (one compare and one masked add per token and B). The
    // crossing bucket c has T(c) > rest_target >= T(c + 1), rest_target = (1 - p) * T(0): "the
    // mass from the best token through bucket c reaches p" said of what lies beyond. Each T is
    // exact to float rounding of itself, so a p of 0.999 or more still places its cut among
    // tokens a million times lighter than the best, where sums from the best token would carry
    // the best tokens' rounding. A sample of the vocabulary guesses c first, so that one pass
    // around the guess usually settles it; each further pass splits what is left in nine.
    const VectorPasses& passes = vector_passes();
    const float range = max_ - min_;
    float scale = kMinBucketsPerNat;
    while (scale < kMaxBucketsPerNat && range * (2.0f * scale) < static_cast<float>(kMassBuckets - 1)) scale *= 2.0f;
    const int32_t guess = guess_crossing_bucket(p, scale);

    std::array<int32_t, kMassLimits> bounds{};
    std::array<float, kMassLimits> limits{};
    std::array<double, kMassLimits> masses{};
    size_t n_bounds = 0;
    auto add_bound = [&](int32_t b) {
        if (n_bounds == kMassLimits) return;
        for (size_t j = 0; j < n_bounds; ++j)
            if (bounds[j] == b) return;
        bounds[n_bounds++] = b;
    };
    add_bound(0);  // the first pass: the total, the nearest bucket alone, and around the guess
    add_bound(1);
    for (int32_t d : {0, 1, -1, 2, -2, 3})
        if (guess + d >= 1 && guess + d < kMassBuckets) add_bound(guess + d);
    int32_t lo = 0;             // c >= lo, and T(lo) > rest_target
    int32_t hi = kMassBuckets;  // c < hi, and T(hi) <= rest_target (T(kMassBuckets) = 0)
    double rest = 0.0;          // T(lo)
    double rest_target = 0.0;   // (1 - p) * T(0)
    for (bool first = true;; first = false) {
        for (size_t j = n_bounds; j < kMassLimits; ++j) bounds[j] = bounds[0];  // unused: a repeat
        for (size_t j = 0; j < kMassLimits; ++j) limits[j] = static_cast<float>(bounds[j]);
        passes.masses_beyond(logits_.data(), unit_weights_.data(), logits_.size(), cut_, max_, scale, limits.data(),
                             masses.data());
        if (first) {
            rest_target = (1.0 - static_cast<double>(p)) * masses[0];
            rest = masses[0];
        }
        for (size_t j = 0; j < kMassLimits; ++j) {
            if (masses[j] <= rest_target) {
                if (bounds[j] > 0) hi = std::min(hi, bounds[j]);
            } else if (bounds[j] > lo) {
                lo = bounds[j];
                rest = masses[j];
            }
        }
        if (hi - lo <= 1) break;
        n_bounds = 0;  // the next pass: up to kMassLimits bounds evenly inside (lo, hi)
        const int32_t parts = static_cast<int32_t>(kMassLimits) + 1;
        for (int32_t k = 1; k < parts; ++k) {
            const int32_t b = hi - lo < parts ? lo + k : lo + k * (hi - lo) / parts;
            if (b > lo && b < hi) add_bound(b);
        }
    }
    const int32_t crossing = lo;

    size_t m = passes.collect(logits_.data(), logits_.size(), cut_, max_, scale, crossing, items_.data());
    if (m == 0) return;  // rounding: the target lies past every bucket with mass; keep all
    if (m > kSortDirectly && crossing < kMassBuckets - 1) {
        // Many tokens in one bucket: split it the same way into kSubBuckets (a power of two, so
        // each token's sub-bucket lies inside its bucket exactly) and sort only the sub-bucket
        // where the mass crosses. The last bucket has no upper bound and is sorted whole.
        std::array<double, kSubBuckets> sub{};
        auto sub_of = [&](float logit) {
            const auto f = static_cast<int32_t>((max_ - logit) * (scale * kSubBuckets));
            return static_cast<size_t>(std::clamp(f - crossing * kSubBuckets, 0, kSubBuckets - 1));
        };
        for (size_t i = 0; i < m; ++i)
            sub[sub_of(items_[i].logit)] += unit_weights_[static_cast<size_t>(items_[i].token)];
        size_t s = 0;
        while (s + 1 < kSubBuckets && rest - sub[s] > rest_target) rest -= sub[s++];
        size_t k = 0;
        for (size_t i = 0; i < m; ++i) {
            if (sub_of(items_[i].logit) == s) items_[k++] = items_[i];
        }
        m = k;
    }
    std::sort(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(m), kRanksBefore);
    for (size_t i = 0; i < m; ++i) {
        rest -= unit_weights_[static_cast<size_t>(items_[i].token)];
        if (rest <= rest_target) {
            cut_ = items_[i];
            return;
        }
    }
    cut_ = items_[m - 1];  // rounding left the sum a hair short of target: keep the whole (sub-)bucket
}

int32_t CandidateList::guess_crossing_bucket(float p, float scale) const {
    // Every kSampleStride-th token's weight into its bucket (four tables in turn, so that
    // neighbouring samples in one bucket do not wait on each other's adds); the first bucket where
    // the sample's cumulative mass reaches p of the sample's.
    std::array<std::array<double, kMassBuckets>, 4> sample{};
    const std::span<const float> x = logits_;
    for (size_t i = 0, k = 0; i < x.size(); i += kSampleStride, ++k) {
        const Candidate c{x[i], static_cast<int32_t>(i)};
        if (c.logit == kKeepAll.logit || ranks_before(cut_, c)) continue;  // banned, or past the cut
        const float scaled = (max_ - c.logit) * scale;
        const int32_t b =
            scaled < static_cast<float>(kMassBuckets - 1) ? static_cast<int32_t>(scaled) : kMassBuckets - 1;
        sample[k % 4][static_cast<size_t>(b)] += unit_weights_[i];
    }
    std::array<double, kMassBuckets> mass{};
    double total = 0.0;
    for (size_t b = 0; b < mass.size(); ++b) {
        mass[b] = (sample[0][b] + sample[1][b]) + (sample[2][b] + sample[3][b]);
        total += mass[b];
    }
    const double target = static_cast<double>(p) * total;
    double cum = 0.0;
    for (int32_t b = 0; b < kMassBuckets; ++b) {
        cum += mass[static_cast<size_t>(b)];
        if (cum >= target) return b;
    }
    return kMassBuckets - 1;
}

void CandidateList::keep_min_p(float min_p) {
    if (min_p <= 0.0f) return;
    const float threshold = max_logit() + std::log(min_p);
    if (!listed_) {
        // logit >= threshold is "ranks at or before (threshold, the largest id)".
        const Candidate cut{threshold, std::numeric_limits<int32_t>::max()};
        if (ranks_before(cut, cut_)) cut_ = cut;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < size_; ++i) {
        if (items_[i].logit >= threshold) items_[n++] = items_[i];
    }
    size_ = n;  // the max itself always passes, so n >= 1
}

int32_t CandidateList::draw(float temperature, double u) {
    const VectorPasses& passes = vector_passes();
    const float inv_t = 1.0f / temperature;
    size_t n = logits_.size();
    if (listed_) {
        n = size_;
        for (size_t i = 0; i < n; ++i) weights_[i] = detail::fast_exp((items_[i].logit - max_) * inv_t);
        passes.block_sums(weights_.data(), n, kDrawBlock, block_sums_.data());
    } else {
        // The block sums without storing the weights: only the block where the draw lands needs them.
        passes.cut_weight_sums(logits_.data(), n, cut_, max_, inv_t, kDrawBlock, block_sums_.data());
    }
    auto token_at = [&](size_t i) { return listed_ ? items_[i].token : static_cast<int32_t>(i); };
    // Makes the weights of tokens [begin, end) available: token i's is weights_[i - offset].
    auto block_weights = [&](size_t begin, size_t end) -> size_t {
        if (listed_) return 0;
        passes.cut_weights(logits_.data(), begin, end, cut_, max_, inv_t, weights_.data());
        return begin;
    };

    // The draw finds its block from the block sums, then its token by a scan inside the block.
    const size_t n_blocks = (n + kDrawBlock - 1) / kDrawBlock;
    double total = 0.0;
    for (size_t b = 0; b < n_blocks; ++b) total += block_sums_[b];
    const double target = u * total;
    double cum = 0.0;
    size_t last_block = n_blocks;  // the last block with weight
    for (size_t b = 0; b < n_blocks; ++b) {
        if (block_sums_[b] == 0.0f) continue;
        last_block = b;
        const size_t begin = b * kDrawBlock;
        const size_t end = std::min(n, begin + kDrawBlock);
        if (target >= cum + block_sums_[b] && b + 1 < n_blocks) {
            cum += block_sums_[b];
            continue;
        }
        const size_t offset = block_weights(begin, end);
        double c = cum;
        size_t last = n;  // the last token with weight in the block
        for (size_t i = begin; i < end; ++i) {
            const float w = weights_[i - offset];
            if (w == 0.0f) continue;
            c += w;
            last = i;
            if (target < c) return token_at(i);
        }
        // The in-block scan rounded a hair below the block sum (which is > 0, so some token has
        // weight): the draw is this block's last token with weight.
        return token_at(last);
    }
    // Only reachable when the final blocks all have weight 0: the last token that has weight.
    SINAN_CHECK(last_block < n_blocks, "CandidateList::draw: no candidate has weight");
    const size_t begin = last_block * kDrawBlock;
    const size_t end = std::min(n, begin + kDrawBlock);
    const size_t offset = block_weights(begin, end);
    for (size_t i = end; i-- > begin;) {
        if (weights_[i - offset] > 0.0f) return token_at(i);
    }
    SINAN_CHECK(false, "CandidateList::draw: a block sum > 0 with no weight in it");
    return -1;
}

}  // namespace sinan::sampling
