#include "sampling/candidates.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/check.h"
#include "sampling/fast_exp.h"

namespace sinan::sampling {
namespace {
// A lambda, not the function pointer: std::sort and friends inline it.
constexpr int32_t kHeapSelectMax = 4096;  // top-k by heap select up to here, by nth_element above
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

void CandidateList::sort_prefix(size_t n) {
    std::partial_sort(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(n),
                      items_.begin() + static_cast<ptrdiff_t>(size_), kRanksBefore);
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
    const float m = max_logit();
    const double target = static_cast<double>(p) * detail::sum_long(weights(1.0f));

    // Sort a growing prefix until its mass reaches the target: real distributions reach top-p
    // within a few hundred tokens, so this is usually one partial sort of 256 out of n_vocab.
    size_t n_sorted = sorted_ ? size_ : 0;
    size_t want = sorted_ ? size_ : std::min<size_t>(size_, 256);
    double cum = 0.0;
    size_t i = 0;
    for (;;) {
        if (n_sorted < want) {
            sort_prefix(want);
            n_sorted = want;
        }
        for (; i < n_sorted; ++i) {
            cum += detail::fast_exp(items_[i].logit - m);
            if (cum >= target) {
                size_ = i + 1;
                sorted_ = true;
                return;
            }
        }
        if (n_sorted == size_) break;  // rounding left the sum a hair short of target: keep all
        want = std::min(size_, want * 8);
    }
    sorted_ = true;
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
