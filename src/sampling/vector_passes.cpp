#include "sampling/vector_passes.h"

#include "base/cpu.h"

namespace sinan::sampling {

namespace baseline {
extern const VectorPasses kTable;
}
namespace avx512 {
extern const VectorPasses kTable;
}

const VectorPasses& baseline_vector_passes() { return baseline::kTable; }

const VectorPasses* avx512_vector_passes() { return cpu::features().avx512f ? &avx512::kTable : nullptr; }

const VectorPasses& vector_passes() {
    static const VectorPasses* const table = [] {
        const VectorPasses* wide = avx512_vector_passes();
        return wide != nullptr && cpu::best_level() >= cpu::Level::kAvx512 ? wide : &baseline::kTable;
    }();
    return *table;
}

}  // namespace sinan::sampling
