#include "cli/format.h"

#include <cstdio>

namespace sinan::cli {

namespace {
std::string scaled(double v, const char* const* units, int n_units, const char* sep) {
    int u = 0;
    while (v >= 1000.0 && u + 1 < n_units) {
        v /= 1000.0;
        ++u;
    }
    char buf[64];
    if (u == 0) std::snprintf(buf, sizeof buf, "%.0f", v);
    else std::snprintf(buf, sizeof buf, v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f", v);
    return units[u][0] ? std::string(buf) + sep + units[u] : std::string(buf);
}
}  // namespace

std::string format_bytes(uint64_t bytes) {
    static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB"};
    return scaled(static_cast<double>(bytes), kUnits, 5, " ");
}

std::string format_count(uint64_t n) {
    static const char* const kUnits[] = {"", "K", "M", "B", "T"};
    return scaled(static_cast<double>(n), kUnits, 5, " ");
}

}  // namespace sinan::cli
