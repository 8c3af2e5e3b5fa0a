#include "core/cli/arguments.hpp"

namespace canaryd::cli {

namespace {

// What the parser builds as it goes; the first error ends it.
struct ParsedArguments {
    Arguments arguments;
    std::string error;
};

// Query values are route names and numbers; anything else is percent-encoded.
std::string encode(const std::string& value) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : value) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// The value after option args[i] (advancing i), or an error naming the option.
bool take_value(const std::vector<std::string>& args, std::size_t& i, std::string& out, std::string& error) {
    if (i + 1 >= args.size() || args[i + 1].empty()) {
        error = args[i] + " needs a value";
        return false;
    }
    out = args[++i];
    return true;
}

void add_query(std::string& query, const std::string& key, const std::string& value) {
    if (!query.empty()) query += '&';
    query += key + "=" + encode(value);
}

ParsedArguments parse_ctl(const std::vector<std::string>& args) {
    ParsedArguments parsed;
    auto& a = parsed.arguments;
    a.mode = Mode::ctl;
    if (args.size() < 2) {
        parsed.error = "ctl needs a command: status, events, rollback, promote, pause, resume, weight N, demo";
        return parsed;
    }
    const std::string& command = args[1];
    std::string route;
    std::string weight;
    std::string error_rate;
    std::string latency_ms;
    bool fleet = false;
    std::size_t i = 2;
    if (command == "weight") {
        if (args.size() < 3 || args[2].starts_with("--")) {
            parsed.error = "ctl weight needs the canary weight in percent, e.g. ctl weight 12.5";
            return parsed;
        }
        weight = args[2];
        i = 3;
    }
    for (; i < args.size(); ++i) {
        const std::string& arg = args[i];
        auto value = [&](std::string& out) { return take_value(args, i, out, parsed.error); };
        if (arg == "--route") {
            if (!value(route)) return parsed;
        } else if (arg == "--admin") {
            if (!value(a.admin_url)) return parsed;
        } else if (arg == "--token-file") {
            if (!value(a.token_file)) return parsed;
        } else if (arg == "--json") {
            a.json_output = true;
        } else if (arg == "--fleet" && command == "status") {
            fleet = true;
        } else if (arg == "--error-rate" && command == "demo") {
            if (!value(error_rate)) return parsed;
        } else if (arg == "--latency-ms" && command == "demo") {
            if (!value(latency_ms)) return parsed;
        } else {
            parsed.error = "unknown argument '" + arg + "' for ctl " + command;
            return parsed;
        }
    }
    auto& ctl = a.ctl;
    if (command == "status" || command == "events") {
        ctl.method = "GET";
        ctl.path = fleet ? "/fleet" : "/" + command;
    } else if (command == "rollback" || command == "promote" || command == "pause" || command == "resume" ||
               command == "weight") {
        ctl.method = "POST";
        ctl.path = "/" + command;
        if (!route.empty()) add_query(ctl.query, "route", route);
        if (command == "weight") add_query(ctl.query, "canary", weight);
    } else if (command == "demo") {
        ctl.method = "POST";
        ctl.path = "/demo";
        if (!error_rate.empty()) add_query(ctl.query, "error_rate", error_rate);
        if (!latency_ms.empty()) add_query(ctl.query, "latency_ms", latency_ms);
    } else {
        parsed.error = "unknown ctl command '" + command + "'";
        return parsed;
    }
    if (!a.admin_url.starts_with("http://")) parsed.error = "--admin must be an http:// URL";
    return parsed;
}

ParsedArguments parse_command_line(const std::vector<std::string>& args) {
    ParsedArguments parsed;
    auto& a = parsed.arguments;
    if (args.empty()) {
        parsed.error = "missing command";
        return parsed;
    }
    if (args[0] == "ctl") return parse_ctl(args);
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
        auto value = [&](std::string& out) { return take_value(args, i, out, parsed.error); };
        if (arg == "--config") {
            if (!set_mode(Mode::run, arg) || !value(a.config_path)) return parsed;
        } else if (arg == "--check-config") {
            if (!set_mode(Mode::check_config, arg) || !value(a.config_path)) return parsed;
        } else if (arg == "--demo") {
            if (!set_mode(Mode::demo, arg)) return parsed;
        } else if (arg == "--listen") {
            if (!value(a.listen)) return parsed;
        } else if (arg == "--admin") {
            if (!value(a.demo_admin)) return parsed;
        } else if (arg == "--token-file") {
            if (!value(a.token_file)) return parsed;
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
    if (!a.demo_admin.empty() && a.mode != Mode::demo) parsed.error = "--admin applies to --demo and ctl only";
    if (!a.token_file.empty() && a.mode != Mode::demo) parsed.error = "--token-file applies to --demo and ctl only";
    return parsed;
}

}  // namespace

Result<Arguments> parse_arguments(const std::vector<std::string>& args) {
    auto parsed = parse_command_line(args);
    if (!parsed.error.empty()) return Error{std::move(parsed.error)};
    return std::move(parsed.arguments);
}

std::string usage() {
    return "usage:\n"
           "  canaryd --config FILE          run with FILE (SIGHUP re-reads it)\n"
           "  canaryd --check-config FILE    validate FILE: exit 0, or print FILE:LINE:COL errors and exit 1\n"
           "  canaryd --demo [--listen ADDR] [--admin ADDR] [--token-file F]\n"
           "                                 run an embedded config with built-in stable and canary backends\n"
           "                                 (defaults 127.0.0.1:8080 and admin 127.0.0.1:9901; the dashboard\n"
           "                                 is at the admin address; with --token-file, actions need that token)\n"
           "  canaryd ctl status|events|rollback|promote|pause|resume|weight N [--route R]\n"
           "  canaryd ctl status --fleet   (fleet mode: the replicas etcd and Prometheus know)\n"
           "              [--admin http://127.0.0.1:9901] [--token-file F] [--json]\n"
           "                                 operator commands over the admin API, printed as tables\n"
           "                                 (--json: the API's JSON); the token is read from\n"
           "                                 --token-file or $CANARYD_ADMIN_TOKEN\n"
           "  canaryd ctl demo [--error-rate PERCENT] [--latency-ms MS]\n"
           "                                 make the --demo canary fail or slow down\n"
           "  canaryd --version | --help\n";
}

}  // namespace canaryd::cli
