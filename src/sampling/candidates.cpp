#include "sampling/candidates.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/check.h"
#include "sampling/fast_exp.h"

namespace sinan::sampling {

void CandidateList::reset(std::span<const float> logits) {
    if (items_.size() < logits.size()) items_.resize(logits.size());
    constexpr float kBanned = -std::numeric_limits<float>::infinity();
    size_t n = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        if (logits[i] == kBanned) continue;
        items_[n++] = {logits[i], static_cast<int32_t>(i)};
    }
    size_ = n;
    sorted_ = false;
}

void CandidateList::sort_prefix(size_t n) {
    std::partial_sort(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(n),
                      items_.begin() + static_cast<ptrdiff_t>(size_), ranks_before);
}

void CandidateList::keep_top_k(int32_t k) {
    if (k <= 0 || static_cast<size_t>(k) >= size_) return;
    const auto first = items_.begin();
    const auto kth = first + k;
    std::nth_element(first, kth, first + static_cast<ptrdiff_t>(size_), ranks_before);
    std::sort(first, kth, ranks_before);
    size_ = static_cast<size_t>(k);
    sorted_ = true;
}

float CandidateList::max_logit() const {
    SINAN_CHECK(size_ > 0, "CandidateList::max_logit on an empty list");
    if (sorted_) return items_[0].logit;
    float m = items_[0].logit;
    for (size_t i = 1; i < size_; ++i) m = std::max(m, items_[i].logit);
    return m;
}

void CandidateList::keep_top_p(float p) {
    if (p >= 1.0f || size_ <= 1) return;
    const float m = max_logit();
    double total = 0.0;
    for (size_t i = 0; i < size_; ++i) total += detail::fast_exp(items_[i].logit - m);
    const double target = static_cast<double>(p) * total;

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
