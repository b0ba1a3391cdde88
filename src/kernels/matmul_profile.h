// Where a forward pass's matrix products spend their time: while a MatmulProfile is installed
// (set_matmul_profile), every matmul and matmul_shared_input call (ops.h) records its wall time
// and the weight bytes it read, per matrix (type and shape; "Q4_K 1536x8960 + Q4_K 1536x8960" for
// products that share their input) and batch size. `sinan bench --profile` prints it: which
// matrices read memory below the probe's rate, which batch sizes cost what. When none is installed
// a call pays one atomic load.
// Thread-safety: record() may run on several threads at once; install a profile (or remove it)
// and read it while no matrix product runs.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sinan::kernels {

struct MatmulTiming {
    std::string matrix;  // "Q6_K 1536x151936": type, then columns (input) x rows (output)
    int64_t n_tokens = 0;
    int64_t calls = 0;
    double seconds = 0;  // all calls
    uint64_t bytes = 0;  // weight bytes read, all calls
};

class MatmulProfile {
  public:
    void record(const std::string& matrix, int64_t n_tokens, double seconds, uint64_t bytes);
    // Every matrix and batch size seen, the longest total time first.
    std::vector<MatmulTiming> timings() const;

  private:
    mutable std::mutex mu_;
    std::map<std::pair<std::string, int64_t>, MatmulTiming> by_key_;
};

// Starts recording into `profile` (null: stops). The caller keeps it alive until it stops.
void set_matmul_profile(MatmulProfile* profile);
MatmulProfile* matmul_profile();

}  // namespace sinan::kernels
