// vector_passes.h's table for the x86-64 baseline (and any other target): the 16-lane vectors
// of fast_exp.h become four SSE registers each.
#define SINAN_PASSES_NS baseline
#define SINAN_PASSES_NAME "baseline"
#include "sampling/vector_passes_impl.h"
