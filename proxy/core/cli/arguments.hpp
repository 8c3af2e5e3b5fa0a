// Command line -> what to do (SPEC §1). Pure, so every form is unit-tested.
#pragma once

#include <string>
#include <vector>

namespace canaryd::cli {

enum class Mode { run, check_config, demo, version, help };

struct Arguments {
    Mode mode = Mode::help;
    std::string config_path;  // run, check_config
    std::string listen;       // demo: the proxy's address (default 127.0.0.1:8080)
};

struct ParsedArguments {
    Arguments arguments;
    std::string error;  // non-empty: print it with the usage and exit 2
};

ParsedArguments parse_arguments(const std::vector<std::string>& args);

std::string usage();

}  // namespace canaryd::cli
