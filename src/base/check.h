// Assertions for programmer errors (never for user input: see status.h).
//   SINAN_CHECK(cond, msg)  always on; prints file:line and msg to stderr, then aborts.
//   SINAN_DCHECK(cond, msg) the same in debug builds, nothing in release (for hot loops).
#pragma once

#include <string>

namespace sinan::detail {
[[noreturn]] void check_failed(const char* file, int line, const char* cond, const std::string& msg);
}

#define SINAN_CHECK(cond, msg)                                                  \
    do {                                                                        \
        if (!(cond)) [[unlikely]]                                               \
            ::sinan::detail::check_failed(__FILE__, __LINE__, #cond, (msg));    \
    } while (0)

#ifdef NDEBUG
#define SINAN_DCHECK(cond, msg) \
    do {                        \
    } while (0)
#else
#define SINAN_DCHECK(cond, msg) SINAN_CHECK(cond, msg)
#endif
