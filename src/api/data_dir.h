// The data directory of `sinan serve` and `sinan keys`: where API keys (keys.json) and, later,
// other server state live. One rule for every command: the --data-dir flag when given, else
// $SINAN_DATA_DIR when set and not empty, else ./sinan-data (relative to the working directory).
// Thread-safety: reads the environment; call from the CLI before threads start.
#pragma once

#include <cstdlib>
#include <string>

namespace sinan::api {

inline constexpr const char* kDefaultDataDir = "./sinan-data";

// `flag_value` is the --data-dir argument ("" when the flag was not given).
inline std::string resolve_data_dir(const std::string& flag_value) {
    if (!flag_value.empty()) return flag_value;
    const char* env = std::getenv("SINAN_DATA_DIR");
    if (env != nullptr && env[0] != '\0') return env;
    return kDefaultDataDir;
}

}  // namespace sinan::api
