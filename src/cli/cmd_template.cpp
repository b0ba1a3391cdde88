#include "cli/commands.h"

namespace sinan::cli {

void register_template(CLI::App& app) {}

}  // namespace sinan::cli
