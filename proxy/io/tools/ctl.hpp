// `canaryd ctl`: sends one operator command to the admin API and prints the answer.
#pragma once

#include "core/cli/arguments.hpp"

namespace canaryd::io {

// Exit code: 0 for a 2xx answer, 1 otherwise (the status line goes to stderr).
int run_ctl(const cli::Arguments& arguments);

}  // namespace canaryd::io
