#include "knowledge/fusion.h"

#include <algorithm>
#include <unordered_map>

namespace sinan::knowledge {

std::vector<FusedId> fuse_reciprocal_rank(std::span<const std::vector<int64_t>> lists, size_t k, double rrf_k) {
    std::unordered_map<int64_t, size_t> slot;  // id -> index in fused
    std::vector<FusedId> fused;
    for (size_t l = 0; l < lists.size(); ++l) {
        for (size_t i = 0; i < lists[l].size(); ++i) {
            const int64_t id = lists[l][i];
            auto [it, inserted] = slot.try_emplace(id, fused.size());
            if (inserted) fused.push_back({id, 0.0, std::vector<uint32_t>(lists.size(), 0)});
            FusedId& f = fused[it->second];
            if (f.ranks[l] != 0) continue;  // a repeat inside one list: its first rank stands
            const auto rank = static_cast<uint32_t>(i + 1);
            f.ranks[l] = rank;
            f.score += 1.0 / (rrf_k + rank);
        }
    }
    auto best_rank = [](const FusedId& f) {
        uint32_t best = UINT32_MAX;
        for (uint32_t r : f.ranks)
            if (r != 0) best = std::min(best, r);
        return best;
    };
    auto better = [&](const FusedId& x, const FusedId& y) {
        if (x.score != y.score) return x.score > y.score;
        const uint32_t bx = best_rank(x), by = best_rank(y);
        if (bx != by) return bx < by;
        return x.id < y.id;
    };
    const size_t n = std::min(k, fused.size());
    std::partial_sort(fused.begin(), fused.begin() + static_cast<std::ptrdiff_t>(n), fused.end(), better);
    fused.resize(n);
    return fused;
}

}  // namespace sinan::knowledge
