// vector_passes.h's table for AVX2: the same source as the baseline's, built with the AVX2 flags
// of src/sampling/CMakeLists.txt, so each 16-lane vector is two registers.
#define SINAN_PASSES_NS avx2
#define SINAN_PASSES_NAME "avx2"
#include "sampling/vector_passes_impl.h"
