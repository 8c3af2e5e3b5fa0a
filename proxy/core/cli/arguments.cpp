#include "cli/arguments.hpp"

namespace canaryd::cli {

ParsedArguments parse_arguments(const std::vector<std::string>& args) {
    ParsedArguments parsed;
    auto& a = parsed.arguments;
    if (args.empty()) {
        parsed.error = "missing command";
        return parsed;
    }
    bool mode_set = false;
    auto set_mode = [&](Mode mode, const std::string& flag) {
        if (mode_set) {
            parsed.error = flag + " cannot be combined with another command";
            return false;
        }
        mode_set = true;
        a.mode = mode;
        return true;
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= args.size() || args[i + 1].empty()) {
                parsed.error = arg + " needs a value";
                return false;
            }
            out = args[++i];
            return true;
        };
        if (arg == "--config") {
            if (!set_mode(Mode::run, arg) || !value(a.config_path)) return parsed;
        } else if (arg == "--check-config") {
            if (!set_mode(Mode::check_config, arg) || !value(a.config_path)) return parsed;
        } else if (arg == "--demo") {
            if (!set_mode(Mode::demo, arg)) return parsed;
        } else if (arg == "--listen") {
            if (!value(a.listen)) return parsed;
        } else if (arg == "--version" || arg == "-V") {
            if (!set_mode(Mode::version, arg)) return parsed;
        } else if (arg == "--help" || arg == "-h") {
            if (!set_mode(Mode::help, arg)) return parsed;
        } else {
            parsed.error = "unknown argument '" + arg + "'";
            return parsed;
        }
    }
    if (!a.listen.empty() && a.mode != Mode::demo) parsed.error = "--listen applies to --demo only";
    return parsed;
}

std::string usage() {
    return "usage:\n"
           "  canaryd --config FILE          run with FILE (SIGHUP re-reads it)\n"
           "  canaryd --check-config FILE    validate FILE: exit 0, or print FILE:LINE:COL errors and exit 1\n"
           "  canaryd --demo [--listen ADDR] run an embedded config with built-in stable and canary backends\n"
           "  canaryd --version | --help\n";
}

}  // namespace canaryd::cli
