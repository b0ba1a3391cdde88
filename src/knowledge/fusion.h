// Reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009): several ranked lists of ids
// (best first) become one list ordered by
//
//   rrf(id) = sum over lists L that contain id of 1 / (k + rank_L(id))      rank 1-based, k = 60
//
// RRF looks only at ranks, so lists with incomparable scores (BM25 and cosine) fuse without
// normalisation; k = 60 is the paper's constant (it damps the weight of the very top ranks).
//
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace sinan::knowledge {

inline constexpr double kRrfK = 60.0;

struct FusedId {
    int64_t id = 0;
    double score = 0;             // the RRF sum
    std::vector<uint32_t> ranks;  // [n_lists] 1-based rank in each input list, 0 where absent
};

// The best `k` ids of the fused lists, highest RRF first; ties go to the better best rank, then
// the lower id (deterministic). An id repeated inside one list counts at its first (best) rank.
std::vector<FusedId> fuse_reciprocal_rank(std::span<const std::vector<int64_t>> lists, size_t k, double rrf_k = kRrfK);

}  // namespace sinan::knowledge
