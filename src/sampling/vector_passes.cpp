#include "sampling/vector_passes.h"

#include "base/cpu.h"

namespace sinan::sampling {

namespace baseline {
extern const VectorPasses kTable;
}
namespace avx2 {
extern const VectorPasses kTable;
}
namespace avx512 {
extern const VectorPasses kTable;
}

const VectorPasses& baseline_vector_passes() { return baseline::kTable; }

const VectorPasses* avx2_vector_passes() { return cpu::features().avx2 ? &avx2::kTable : nullptr; }

const VectorPasses* avx512_vector_passes() { return cpu::features().avx512f ? &avx512::kTable : nullptr; }

const VectorPasses& vector_passes() {
    static const VectorPasses* const table = [] {
        const cpu::Level level = cpu::best_level();
        if (const VectorPasses* wide = avx512_vector_passes(); wide != nullptr && level >= cpu::Level::kAvx512)
            return wide;
        if (const VectorPasses* wide = avx2_vector_passes(); wide != nullptr && level >= cpu::Level::kAvx2) return wide;
        return &baseline::kTable;
    }();
    return *table;
}

}  // namespace sinan::sampling
