#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace sinan::detail {

void check_failed(const char* file, int line, const char* cond, const std::string& msg) {
    std::fprintf(stderr, "sinan: internal error at %s:%d: check failed: %s: %s\n", file, line, cond, msg.c_str());
    std::fflush(stderr);
    std::abort();
}

}  // namespace sinan::detail
