// Logging to stderr (stdout belongs to command output). Levels: error, warn, info, debug.
// The level is process-wide, set once by the CLI (-v / SINAN_LOG=debug). Thread-safe: each
// line is written with one call.
#pragma once

#include <string>

namespace sinan::log {

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void set_level(Level level);
Level level();

void write(Level level, const std::string& message);
inline void error(const std::string& m) { write(Level::kError, m); }
inline void warn(const std::string& m) { write(Level::kWarn, m); }
inline void info(const std::string& m) { write(Level::kInfo, m); }
inline void debug(const std::string& m) { write(Level::kDebug, m); }

}  // namespace sinan::log
