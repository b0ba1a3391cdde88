#include "sampling/candidates.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "base/check.h"
#include "sampling/fast_exp.h"

namespace sinan::sampling {
namespace {
// A lambda, not the function pointer: std::sort and friends inline it.
constexpr int32_t kHeapSelectMax = 4096;  // top-k by heap select up to here, by nth_element above
// keep_top_p histogram: buckets of 1/8 nat below the best logit over 32 nats, then one bucket for
// everything further (p / p_max < e^-32: far below any top_p anyone sets).
constexpr float kTopPRange = 32.0f;
constexpr float kTopPBucketsPerUnit = 8.0f;
constexpr int32_t kTopPBuckets = static_cast<int32_t>(kTopPRange * kTopPBucketsPerUnit) + 1;
constexpr auto kRanksBefore = [](const Candidate& a, const Candidate& b) { return ranks_before(a, b); };
}  // namespace

void CandidateList::reset(std::span<const float> logits) {
    if (items_.size() < logits.size()) {
        items_.resize(logits.size());
        weights_.resize(logits.size());
    }
    constexpr float kBanned = -std::numeric_limits<float>::infinity();
    size_t n = 0;
    float max = kBanned;
    for (size_t i = 0; i < logits.size(); ++i) {
        // Branch-free: a banned token is written and then overwritten by the next one.
        items_[n] = {logits[i], static_cast<int32_t>(i)};
        n += logits[i] != kBanned;
        max = std::max(max, logits[i]);
    }
    size_ = n;
    max_ = max;  // no step removes the best token, so this holds until the next reset
    sorted_ = false;
}

void CandidateList::keep_top_k(int32_t k) {
    if (k <= 0 || static_cast<size_t>(k) >= size_) return;
    const auto first = items_.begin();
    const auto kth = first + k;
    const auto last = first + static_cast<ptrdiff_t>(size_);
    if (k <= kHeapSelectMax) {
        // Heap select: after the heap fills, almost every token fails one comparison with its top.
        std::partial_sort(first, kth, last, kRanksBefore);
    } else {
        std::nth_element(first, kth, last, kRanksBefore);
        std::sort(first, kth, kRanksBefore);
    }
    size_ = static_cast<size_t>(k);
    sorted_ = true;
}

std::span<const float> CandidateList::weights(float temperature) {
    const detail::F4 max = detail::splat4(max_logit());
    const float inv_t = 1.0f / temperature;
    size_t i = 0;
    for (; i + 4 <= size_; i += 4) {
        const detail::F4 l = {items_[i].logit, items_[i + 1].logit, items_[i + 2].logit, items_[i + 3].logit};
        detail::store4(&weights_[i], detail::fast_exp4((l - max) * inv_t));
    }
    for (; i < size_; ++i) weights_[i] = detail::fast_exp((items_[i].logit - max[0]) * inv_t);
    return {weights_.data(), size_};
}

float CandidateList::max_logit() const {
    SINAN_CHECK(size_ > 0, "CandidateList::max_logit on an empty list");
    return max_;
}

void CandidateList::keep_top_p(float p) {
    if (p >= 1.0f || size_ <= 1) return;
    const std::span<const float> w = weights(1.0f);
    const double target = static_cast<double>(p) * detail::sum_long(w);
    if (sorted_) {  // after top-k: a short sorted list, scan it
        double cum = 0.0;
        for (size_t i = 0; i < size_; ++i) {
            cum += w[i];
            if (cum >= target) {
                size_ = i + 1;
                return;
            }
        }
        return;  // rounding left the sum a hair short of target: keep all
    }

    // Unsorted (the whole vocabulary): a histogram of the mass by distance below the best logit
    // finds the bucket where the cumulative mass crosses the target. Every token in a closer
    // bucket is in the top-p set whatever its rank; only the crossing bucket is sorted. O(n) plus
    // a sort of one bucket, where sorting the kept set would cost O(m log m) for m in the tens of
    // thousands on a flat distribution.
    const float max = max_;
    auto bucket_of = [max](float logit) {
        const float d = max - logit;
        return d < kTopPRange ? static_cast<int32_t>(d * kTopPBucketsPerUnit) : kTopPBuckets - 1;
    };
    std::array<double, kTopPBuckets> mass{};
    for (size_t i = 0; i < size_; ++i) mass[static_cast<size_t>(bucket_of(items_[i].logit))] += w[i];
    double before = 0.0;  // mass of the buckets closer than the crossing one
    int32_t crossing = 0;
    while (crossing < kTopPBuckets - 1 && before + mass[static_cast<size_t>(crossing)] < target) {
        before += mass[static_cast<size_t>(crossing++)];
    }

    // Keep buckets up to the crossing one, in id order, then move the crossing bucket to the end
    // (a two-pointer partition written here: its order is part of what a seed reproduces, so it
    // must not depend on the standard library).
    size_t n = 0;
    for (size_t i = 0; i < size_; ++i) {
        if (bucket_of(items_[i].logit) <= crossing) items_[n++] = items_[i];
    }
    size_t lo = 0;
    size_t hi = n;
    while (lo < hi) {
        if (bucket_of(items_[lo].logit) < crossing) {
            ++lo;
        } else {
            std::swap(items_[lo], items_[--hi]);
        }
    }
    const auto crossing_begin = items_.begin() + static_cast<ptrdiff_t>(lo);
    std::sort(crossing_begin, items_.begin() + static_cast<ptrdiff_t>(n), kRanksBefore);
    double cum = before;
    size_ = n;  // rounding left the sum a hair short of target: keep the whole crossing bucket
    for (size_t i = lo; i < n; ++i) {
        cum += detail::fast_exp(items_[i].logit - max);
        if (cum >= target) {
            size_ = i + 1;
            break;
        }
    }
    sorted_ = false;
}

void CandidateList::keep_min_p(float min_p) {
    if (min_p <= 0.0f || size_ <= 1) return;
    const float threshold = max_logit() + std::log(min_p);
    size_t n = 0;
    for (size_t i = 0; i < size_; ++i) {
        if (items_[i].logit >= threshold) items_[n++] = items_[i];
    }
    size_ = n;  // the max itself always passes, so n >= 1
}

}  // namespace sinan::sampling
