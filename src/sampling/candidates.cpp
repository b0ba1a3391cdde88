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
constexpr float kMinBucketsPerNat = 8.0f;        // keep_top_p's buckets: at least 1/8 nat per bucket
constexpr float kMaxBucketsPerNat = 1048576.0f;  // and at most 2^20 buckets per nat
constexpr int32_t kSubBuckets = 256;             // keep_top_p: sub-buckets of a crossing bucket
constexpr size_t kSortDirectly = 64;             // keep_top_p: a crossing bucket this small is sorted whole
constexpr size_t kSampleRun = 16;                // keep_top_p: its guess looks at runs of 16 tokens,
constexpr size_t kSampleSpacing = 512;           // one every 512 (a 32nd of the tokens),
constexpr size_t kNearBuckets = 32;              // and at every token of the first 32 buckets
constexpr size_t kNearMax = 256;                 // when there are at most 256 of them
constexpr size_t kSpreadBounds = 3;              // keep_top_p: bounds a pass spreads over its bracket
// A lambda, not the function pointer: std::sort and friends inline it.
constexpr auto kRanksBefore = [](const Candidate& a, const Candidate& b) { return ranks_before(a, b); };
}  // namespace

void CandidateList::reserve(size_t n_vocab) {
    if (items_.size() >= n_vocab) return;
    items_.resize(n_vocab);
    unit_weights_.resize(n_vocab);
    weights_.resize(n_vocab);
    block_sums_.resize(n_vocab / kDrawBlock + 1);
    unit_block_sums_.resize(n_vocab / kDrawBlock + 1);
}

void CandidateList::reset(std::span<const float> logits, bool proposal_sums) { start(logits, true, proposal_sums); }

void CandidateList::reset_sums_only(std::span<const float> logits) { start(logits, false, false); }

void CandidateList::start(std::span<const float> logits, bool unit_weights, bool proposal_sums) {
    reserve(logits.size());
    has_unit_weights_ = unit_weights;
    has_unit_block_sums_ = unit_weights && proposal_sums;
    logits_ = logits;
    cut_ = kKeepAll;
    crossing_ = {};
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
    softmax_ = passes.softmax_sums(logits.data(), logits.size(), max_, unit_weights ? unit_weights_.data() : nullptr,
                                   has_unit_block_sums_ ? unit_block_sums_.data() : nullptr);
}

std::span<const Candidate> CandidateList::items() const {
    if (listed_) return {items_.data(), size_};
    shown_.resize(logits_.size());
    const Candidate cut =
        crossing_.bucket != Crossing::kNone ? cut_in_crossing(searched(crossing_), shown_.data()) : cut_;
    const size_t n = vector_passes().collect(logits_.data(), logits_.size(), cut, max_, 1.0f, -1, shown_.data());
    return {shown_.data(), n};
}

CandidateList::Crossing CandidateList::searched(Crossing crossing) const {
    if (crossing.bucket == Crossing::kUnsearched)
        crossing.bucket =
            find_crossing_bucket(crossing.p, crossing.scale, softmax_.z, &crossing.rest, &crossing.rest_target);
    return crossing;
}

void CandidateList::settle_cut() {
    if (crossing_.bucket == Crossing::kNone) return;
    cut_ = cut_in_crossing(searched(crossing_), items_.data());
    crossing_.bucket = Crossing::kNone;
}

int32_t CandidateList::bucket_of(float logit, float scale) const {
    const float scaled = (max_ - logit) * scale;
    return scaled < static_cast<float>(kMassBuckets - 1) ? static_cast<int32_t>(scaled) : kMassBuckets - 1;
}

void CandidateList::keep_top_k(int32_t k) {
    if (k <= 0 || (listed_ && static_cast<size_t>(k) >= size_)) return;
    settle_cut();
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
    SINAN_CHECK(has_unit_weights_, "CandidateList::keep_top_p after reset_sums_only");
    settle_cut();
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
    // the best tokens' rounding. An estimate of the buckets' masses guesses c first, so that one
    // pass around the guess usually settles it (find_crossing_bucket).
    const float range = max_ - min_;
    float scale = kMinBucketsPerNat;
    while (scale < kMaxBucketsPerNat && range * (2.0f * scale) < static_cast<float>(kMassBuckets - 1)) scale *= 2.0f;
    if (cut_.token == kKeepAll.token && cut_.logit == kKeepAll.logit) {
        // Every token that is not banned: T(0) is the softmax sum z (masses_beyond at limit 0 adds
        // the same weights in the same order). The crossing bucket is searched when something
        // needs it (settle_cut); a draw by proposals asks only about the buckets of the proposals
        // it would take (draw_proposed), usually one pass of masses_beyond and no search.
        crossing_ = {Crossing::kUnsearched, p, scale, 0.0, (1.0 - static_cast<double>(p)) * softmax_.z};
        return;
    }
    Crossing crossing{Crossing::kUnsearched, p, scale};
    crossing.bucket = find_crossing_bucket(p, scale, -1.0, &crossing.rest, &crossing.rest_target);
    // Where in the crossing bucket the cut falls is found when something needs it (settle_cut):
    // a draw by proposals usually does not (draw_proposed).
    crossing_ = crossing;
}

Candidate CandidateList::cut_in_crossing(const Crossing& c, Candidate* scratch) const {
    // T(crossing) > rest_target >= T(crossing + 1) (find_crossing_bucket), so the bucket holds a
    // token with weight: the cut lies among its tokens, sorted by rank.
    const int32_t crossing = c.bucket;
    const float scale = c.scale;
    double rest = c.rest;
    const double rest_target = c.rest_target;
    size_t m = vector_passes().collect(logits_.data(), logits_.size(), cut_, max_, scale, crossing, scratch);
    if (m == 0) return cut_;  // not reached (see above); the cut as it was
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
            sub[sub_of(scratch[i].logit)] += unit_weights_[static_cast<size_t>(scratch[i].token)];
        size_t s = 0;
        while (s + 1 < kSubBuckets && rest - sub[s] > rest_target) rest -= sub[s++];
        size_t k = 0;
        for (size_t i = 0; i < m; ++i) {
            if (sub_of(scratch[i].logit) == s) scratch[k++] = scratch[i];
        }
        m = k;
    }
    std::sort(scratch, scratch + m, kRanksBefore);
    for (size_t i = 0; i < m; ++i) {
        rest -= unit_weights_[static_cast<size_t>(scratch[i].token)];
        if (rest <= rest_target) return scratch[i];
    }
    return scratch[m - 1];  // rounding left the sum a hair short of target: keep the whole (sub-)bucket
}

int32_t CandidateList::find_crossing_bucket(float p, float scale, double total, double* rest,
                                            double* rest_target) const {
    // Known: c >= lo with T(lo) > rest_target, and c < hi with T(hi) <= rest_target (T = 0 at
    // kMassBuckets, past the last bucket). Each pass asks for T at B = c' and c' + 1 for the
    // likeliest crossings c': first the estimate's, then the buckets with estimated mass nearest to
    // it, alternately further and closer; a bracket of at most kMassLimits buckets is asked whole.
    const VectorPasses& passes = vector_passes();
    std::array<double, kMassBuckets> estimate{};
    int32_t guess = guess_crossing_bucket(p, scale, estimate);
    std::array<double, kMassBuckets + 1> estimate_beyond{};  // estimated T
    for (int32_t b = kMassBuckets; b-- > 0;)
        estimate_beyond[static_cast<size_t>(b)] =
            estimate_beyond[static_cast<size_t>(b) + 1] + estimate[static_cast<size_t>(b)];

    int32_t lo = 0, hi = kMassBuckets;
    double t_lo = 0.0, t_hi = 0.0;  // T(lo), T(hi)
    std::array<int32_t, kMassLimits> bounds{};
    std::array<float, kMassLimits> limits{};
    std::array<double, kMassLimits> masses{};
    size_t n_bounds = 0;
    auto add_bound = [&](int32_t b) {
        if (n_bounds == kMassLimits || b <= lo || b >= hi) return;
        for (size_t j = 0; j < n_bounds; ++j)
            if (bounds[j] == b) return;
        bounds[n_bounds++] = b;
    };
    auto add_crossing = [&](int32_t c) {
        add_bound(c);
        add_bound(c + 1);
    };
    const bool measure_total = total < 0.0;
    if (!measure_total) {
        *rest_target = (1.0 - static_cast<double>(p)) * total;
        t_lo = total;
    }
    for (bool first = true;; first = false) {
        n_bounds = 0;
        if (first && measure_total) bounds[n_bounds++] = 0;  // the total
        if (hi - lo <= static_cast<int32_t>(kMassLimits)) {
            for (int32_t b = lo + 1; b < hi; ++b) add_bound(b);
        } else {
            // The last kSpreadBounds go to the quarters of the bracket, whatever the estimate
            // says: a pass at least quarters it.
            const size_t guessed = kMassLimits - kSpreadBounds;
            add_crossing(guess);
            for (int32_t up = guess + 1, down = guess - 1; n_bounds < guessed && (up < hi || down >= lo);) {
                while (up < hi && estimate[static_cast<size_t>(up)] == 0.0) ++up;
                while (down >= lo && estimate[static_cast<size_t>(down)] == 0.0) --down;
                if (up < hi) add_crossing(up++);
                if (down >= lo && n_bounds < guessed) add_crossing(down--);
            }
            n_bounds = std::min(n_bounds, guessed);
            for (int32_t k = 1; k <= static_cast<int32_t>(kSpreadBounds); ++k) add_bound(lo + k * (hi - lo) / 4);
        }
        for (size_t j = n_bounds; j < kMassLimits; ++j) bounds[j] = bounds[0];  // unused: a repeat
        for (size_t j = 0; j < kMassLimits; ++j) limits[j] = static_cast<float>(bounds[j]);
        passes.masses_beyond(logits_.data(), unit_weights_.data(), logits_.size(), cut_, max_, scale, limits.data(),
                             kMassLimits, masses.data());
        if (first && measure_total) {
            *rest_target = (1.0 - static_cast<double>(p)) * masses[0];
            t_lo = masses[0];
        }
        for (size_t j = 0; j < kMassLimits; ++j) {
            if (masses[j] <= *rest_target) {
                if (bounds[j] > 0 && bounds[j] < hi) {
                    hi = bounds[j];
                    t_hi = masses[j];
                }
            } else if (bounds[j] > lo) {
                lo = bounds[j];
                t_lo = masses[j];
            }
        }
        if (hi - lo <= 1) break;
        // The next guess: where the estimate, scaled to the measured T(lo) and T(hi), crosses.
        const double e_lo = estimate_beyond[static_cast<size_t>(lo)], e_hi = estimate_beyond[static_cast<size_t>(hi)];
        const double want = e_hi + (*rest_target - t_hi) / (t_lo - t_hi) * (e_lo - e_hi);
        guess = lo;
        while (guess + 1 < hi && estimate_beyond[static_cast<size_t>(guess) + 1] > want) ++guess;
    }
    *rest = t_lo;
    return lo;
}

int32_t CandidateList::guess_crossing_bucket(float p, float scale, std::array<double, kMassBuckets>& mass) const {
    // The tokens of the first kNearBuckets buckets exactly, when there are at most kNearMax of
    // them (a peaked distribution: a sample would miss the few tokens that hold its mass); then
    // the other tokens' weights in a run of kSampleRun every kSampleSpacing, counted that ratio
    // of times (four tables in turn, so that neighbouring samples in one bucket do not wait on
    // each other's adds). The first bucket where the cumulative mass reaches p of the whole. Runs
    // rather than a stride: a sample of every 32nd token touched every other cache line of the
    // logits and the weights, which in the engine come from other caches than the sampling core's.
    const VectorPasses& passes = vector_passes();
    const std::span<const float> x = logits_;
    auto kept = [&](size_t i) {
        const Candidate c{x[i], static_cast<int32_t>(i)};
        return c.logit != kKeepAll.logit && !ranks_before(cut_, c);  // not banned, not past the cut
    };
    auto bucket = [&](float logit) { return static_cast<size_t>(bucket_of(logit, scale)); };
    std::array<double, kMassBuckets> near{};
    // Logits at or above this lie in the first kNearBuckets buckets (or one more, by rounding:
    // the test below is the buckets' own).
    const float near_logit = max_ - static_cast<float>(kNearBuckets) / scale;
    size_t n_near = 0;
    for (size_t i = passes.find_at_least(x.data(), x.size(), 0, near_logit); i < x.size();
         i = passes.find_at_least(x.data(), x.size(), i + 1, near_logit)) {
        if (++n_near > kNearMax) break;
        if (kept(i) && bucket(x[i]) < kNearBuckets) near[bucket(x[i])] += unit_weights_[i];
    }
    const bool exact_near = n_near <= kNearMax;

    std::array<std::array<double, kMassBuckets>, 4> sample{};
    for (size_t run = 0; run < x.size(); run += kSampleSpacing) {
        const size_t end = std::min(run + kSampleRun, x.size());
        for (size_t i = run; i < end; ++i) {
            if (!kept(i)) continue;
            const size_t b = bucket(x[i]);
            if (exact_near && b < kNearBuckets) continue;  // counted exactly above
            sample[i % 4][b] += unit_weights_[i];
        }
    }
    const double weight = exact_near ? static_cast<double>(kSampleSpacing / kSampleRun) : 1.0;
    double total = 0.0;
    for (size_t b = 0; b < mass.size(); ++b) {
        mass[b] =
            ((sample[0][b] + sample[1][b]) + (sample[2][b] + sample[3][b])) * weight + (exact_near ? near[b] : 0.0);
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
    settle_cut();
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

namespace {

// The draw's search over n weights in blocks of kDrawBlock with sums block_sums (added in
// double, in order): the first token whose cumulative weight passes u * total. Blocks whose sum
// is 0 are skipped; weights_of(begin, end) gives the weights of the block it lands in (token i's
// at [i - begin]). A scan that rounds a hair below its block's sum ends on the block's last token
// with weight; u past every block with weight, on the last such block's last token with weight.
template <typename WeightsOf>
size_t find_cumulative(const float* block_sums, size_t n, double u, WeightsOf weights_of) {
    const size_t n_blocks = (n + kDrawBlock - 1) / kDrawBlock;
    double total = 0.0;
    for (size_t b = 0; b < n_blocks; ++b) total += block_sums[b];
    const double target = u * total;
    double cum = 0.0;
    size_t last_block = n_blocks;  // the last block with weight
    for (size_t b = 0; b < n_blocks; ++b) {
        if (block_sums[b] == 0.0f) continue;
        last_block = b;
        const size_t begin = b * kDrawBlock;
        const size_t end = std::min(n, begin + kDrawBlock);
        if (target >= cum + block_sums[b] && b + 1 < n_blocks) {
            cum += block_sums[b];
            continue;
        }
        const float* w = weights_of(begin, end);
        double c = cum;
        size_t last = n;  // the last token with weight in the block
        for (size_t i = begin; i < end; ++i) {
            if (w[i - begin] == 0.0f) continue;
            c += w[i - begin];
            last = i;
            if (target < c) return i;
        }
        return last;  // the block sum is > 0, so some token has weight
    }
    // Only reachable when the final blocks all have weight 0: the last token that has weight.
    SINAN_CHECK(last_block < n_blocks, "CandidateList::draw: no candidate has weight");
    const size_t begin = last_block * kDrawBlock;
    const size_t end = std::min(n, begin + kDrawBlock);
    const float* w = weights_of(begin, end);
    for (size_t i = end; i-- > begin;) {
        if (w[i - begin] > 0.0f) return i;
    }
    SINAN_CHECK(false, "CandidateList::draw: a block sum > 0 with no weight in it");
    return 0;
}

}  // namespace

int32_t CandidateList::draw(float temperature, double u) {
    settle_cut();
    const VectorPasses& passes = vector_passes();
    const float inv_t = 1.0f / temperature;
    if (listed_) {
        for (size_t i = 0; i < size_; ++i) weights_[i] = detail::fast_exp((items_[i].logit - max_) * inv_t);
        passes.block_sums(weights_.data(), size_, kDrawBlock, block_sums_.data());
        const size_t i = find_cumulative(block_sums_.data(), size_, u,
                                         [&](size_t begin, size_t) { return weights_.data() + begin; });
        return items_[i].token;
    }
    // The block sums without storing the weights: only the block where the draw lands needs them.
    const size_t n = logits_.size();
    passes.cut_weight_sums(logits_.data(), n, cut_, max_, inv_t, kDrawBlock, block_sums_.data());
    return static_cast<int32_t>(find_cumulative(block_sums_.data(), n, u, [&](size_t begin, size_t end) {
        passes.cut_weights(logits_.data(), begin, end, cut_, max_, inv_t, weights_.data());
        return weights_.data();
    }));
}

bool CandidateList::kept(Candidate c) {
    if (ranks_before(cut_, c)) return false;
    if (crossing_.bucket == Crossing::kNone) return true;
    if (crossing_.bucket == Crossing::kUnsearched) {
        settle_cut();
        return !ranks_before(cut_, c);
    }
    // Top-p's buckets as collect() places a token (the same float operations): before the
    // crossing bucket kept, after it not (the cut lies inside it), in it as the settled cut says.
    const int32_t b = bucket_of(c.logit, crossing_.scale);
    if (b < crossing_.bucket) return true;
    if (b > crossing_.bucket) return false;
    settle_cut();
    return !ranks_before(cut_, c);
}

bool CandidateList::kept_by_proposal_draw(Candidate c, std::array<double, kMassBuckets + 1>& t) {
    if (crossing_.bucket != Crossing::kUnsearched || ranks_before(cut_, c)) return kept(c);
    // The crossing bucket is the last b with T(b) > rest_target (T never grows with b): c's bucket
    // b lies before it when T(b + 1) > rest_target, after it when T(b) <= rest_target, else it is
    // the crossing bucket, whose cut then decides.
    const int32_t b = bucket_of(c.logit, crossing_.scale);
    const auto unknown = [&](int32_t bound) { return std::isnan(t[static_cast<size_t>(bound)]); };
    if (unknown(b) || unknown(b + 1)) {  // one pass of two limits (T(0) and T(kMassBuckets) are known)
        std::array<float, 2> limits{};
        std::array<double, 2> masses{};
        size_t n_limits = 0;
        for (int32_t bound : {b, b + 1})
            if (unknown(bound)) limits[n_limits++] = static_cast<float>(bound);
        vector_passes().masses_beyond(logits_.data(), unit_weights_.data(), logits_.size(), cut_, max_, crossing_.scale,
                                      limits.data(), n_limits, masses.data());
        for (size_t j = 0; j < n_limits; ++j) t[static_cast<size_t>(limits[j])] = masses[j];
    }
    const size_t at = static_cast<size_t>(b);
    if (t[at + 1] > crossing_.rest_target) return true;
    if (t[at] <= crossing_.rest_target) return false;
    crossing_.bucket = b;
    crossing_.rest = t[at];
    return kept(c);
}

int32_t CandidateList::draw_proposed(float temperature, const std::array<double, kDrawUniforms>& u) {
    if (listed_ || !(temperature <= 1.0f)) return draw(temperature, u.back());
    SINAN_CHECK(has_unit_weights_, "CandidateList::draw_proposed after reset_sums_only");
    // Proposals by reset()'s weights, whose block sums reset usually left: no pass here, no exp.
    // Whether the temperature's factor takes a proposal is known at once, so the cut is asked only
    // about those it would take.
    const size_t n = logits_.size();
    if (!has_unit_block_sums_) {
        vector_passes().block_sums(unit_weights_.data(), n, kDrawBlock, unit_block_sums_.data());
        has_unit_block_sums_ = true;
    }
    const float excess = 1.0f / temperature - 1.0f;
    std::array<double, kMassBuckets + 1> t;  // top-p's T(b) measured in this draw
    t.fill(std::numeric_limits<double>::quiet_NaN());
    t[0] = softmax_.z;
    t[kMassBuckets] = 0.0;
    for (size_t k = 0; k < kProposals; ++k) {
        const size_t i = find_cumulative(unit_block_sums_.data(), n, u[2 * k],
                                         [&](size_t begin, size_t) { return unit_weights_.data() + begin; });
        const Candidate c{logits_[i], static_cast<int32_t>(i)};
        if (!(u[2 * k + 1] < static_cast<double>(detail::fast_exp((c.logit - max_) * excess)))) continue;
        if (kept_by_proposal_draw(c, t)) return c.token;
    }
    return draw(temperature, u.back());
}

}  // namespace sinan::sampling
