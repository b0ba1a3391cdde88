// vector_passes.h's table for AVX-512: the same source as the baseline's, built with the AVX-512
// flags of src/sampling/CMakeLists.txt, so each 16-lane vector is one register.
#define SINAN_PASSES_NS avx512
#define SINAN_PASSES_NAME "avx512"
#include "sampling/vector_passes_impl.h"
