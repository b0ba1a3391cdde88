// Formatting numbers for people: "1.54 GB", "1.5 B". Shared by the CLI commands.
#pragma once

#include <cstdint>
#include <string>

namespace sinan::cli {

// Decimal units (kB = 1000 bytes), three significant digits: "5.79 MB", "512 B".
std::string format_bytes(uint64_t bytes);
// "1.54 B", "260 K", "999".
std::string format_count(uint64_t n);

}  // namespace sinan::cli
