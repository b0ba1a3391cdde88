// Straightforward references for the sampling tests, written from the definitions in double
// precision with a full sort: what the optimised code in src/sampling must agree with.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace sinan::sampling::test {

inline std::vector<float> random_logits(size_t n, uint32_t seed, float scale = 3.0f) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> x(n);
    for (float& v : x) v = normal(gen);
    return x;
}

// Token ids ordered by logit descending, ties to the lower id.
inline std::vector<int32_t> ranked_ids(const std::vector<float>& logits) {
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
        if (logits[a] != logits[b]) return logits[a] > logits[b];
        return a < b;
    });
    return ids;
}

// log-softmax in double; -inf stays -inf.
inline std::vector<double> log_softmax(const std::vector<float>& logits) {
    double m = -std::numeric_limits<double>::infinity();
    for (float v : logits) m = std::max(m, static_cast<double>(v));
    double z = 0.0;
    for (float v : logits) z += std::exp(static_cast<double>(v) - m);
    std::vector<double> out(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - m - std::log(z);
    return out;
}

inline double entropy(const std::vector<float>& logits) {
    double h = 0.0;
    for (double lp : log_softmax(logits)) {
        if (std::isfinite(lp)) h -= std::exp(lp) * lp;
    }
    return h;
}

}  // namespace sinan::sampling::test
