// Command line -> what to do (SPEC §1). Pure, so every form is unit-tested.
#pragma once

#include "core/common/result.hpp"

#include <string>
#include <vector>

namespace canaryd::cli {

enum class Mode { run, check_config, demo, ctl, version, help };

// `canaryd ctl COMMAND ...`: an operator command sent to the admin API (SPEC §1, §7).
struct CtlCommand {
    std::string method = "GET";  // GET or POST
    std::string path;            // e.g. "/rollback"
    std::string query;           // already encoded, without '?'
};

struct Arguments {
    Mode mode = Mode::help;
    std::string config_path;  // run, check_config
    std::string listen;       // demo: the proxy's address (default 127.0.0.1:8080)
    std::string demo_admin;   // demo: the admin API's address (default 127.0.0.1:9901)
    // ctl:
    CtlCommand ctl;
    std::string admin_url = "http://127.0.0.1:9901";
    std::string token_file;  // ctl: else $CANARYD_ADMIN_TOKEN; demo: the admin's operator token
    bool json_output = false;  // --json: the API's JSON as it came, not tables
};

// An error: print it with the usage and exit 2.
Result<Arguments> parse_arguments(const std::vector<std::string>& args);

std::string usage();

}  // namespace canaryd::cli
