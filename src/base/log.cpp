#include "base/log.h"

#include <atomic>
#include <cstdio>

namespace sinan::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::kWarn)};
const char* kNames[] = {"error", "warn", "info", "debug"};
}  // namespace

void set_level(Level l) { g_level.store(static_cast<int>(l)); }
Level level() { return static_cast<Level>(g_level.load()); }

void write(Level l, const std::string& message) {
    if (static_cast<int>(l) > g_level.load()) return;
    std::string line = std::string("sinan: ") + kNames[static_cast<int>(l)] + ": " + message + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace sinan::log
