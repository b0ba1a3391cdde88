#include "kernels/matmul_profile.h"

#include <algorithm>
#include <atomic>

namespace sinan::kernels {

namespace {
std::atomic<MatmulProfile*> g_profile{nullptr};
}  // namespace

void MatmulProfile::record(const std::string& matrix, int64_t n_tokens, double seconds, uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    MatmulTiming& t = by_key_[{matrix, n_tokens}];
    t.matrix = matrix;
    t.n_tokens = n_tokens;
    ++t.calls;
    t.seconds += seconds;
    t.bytes += bytes;
}

std::vector<MatmulTiming> MatmulProfile::timings() const {
    std::vector<MatmulTiming> out;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& [key, t] : by_key_) out.push_back(t);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const MatmulTiming& a, const MatmulTiming& b) { return a.seconds > b.seconds; });
    return out;
}

void set_matmul_profile(MatmulProfile* profile) { g_profile.store(profile, std::memory_order_release); }

MatmulProfile* matmul_profile() { return g_profile.load(std::memory_order_acquire); }

}  // namespace sinan::kernels
