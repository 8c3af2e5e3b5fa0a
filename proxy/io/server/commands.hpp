// Carries out a parsed command line (SPEC §1). Throws StartupError for start-up failures.
#pragma once

#include "core/cli/arguments.hpp"

namespace canaryd::io {

int run_command(const cli::Arguments& arguments);

}  // namespace canaryd::io
