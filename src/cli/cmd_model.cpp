#include "cli/commands.h"

namespace sinan::cli {

void register_model(CLI::App& app) {}

}  // namespace sinan::cli
