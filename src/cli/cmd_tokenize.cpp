#include "cli/commands.h"

namespace sinan::cli {

void register_tokenize(CLI::App& app) {}

}  // namespace sinan::cli
