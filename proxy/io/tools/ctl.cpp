#include "io/tools/ctl.hpp"

#include "core/cli/ctl_text.hpp"
#include "core/config/units.hpp"
#include "io/admin/admin_auth.hpp"
#include "io/control/http_client.hpp"
#include "io/server/app.hpp"

#include <cstdlib>
#include <iostream>

namespace canaryd::io {

int run_ctl(const cli::Arguments& arguments) {
    auto url = config::parse_http_url(arguments.admin_url);
    if (!url) throw StartupError("--admin: " + url.message());
    std::string token;
    if (!arguments.token_file.empty()) {
        token = read_admin_token(arguments.token_file);
    } else if (const char* env = std::getenv("CANARYD_ADMIN_TOKEN")) {
        token = env;
    }
    const auto& command = arguments.ctl;
    std::string target = (url->target == "/" ? std::string() : url->target) + command.path;
    if (!command.query.empty()) target += "?" + command.query;

    HttpCall call;
    call.host = url->host;
    call.port = url->port;
    call.method = command.method;
    call.target = target;
    call.timeout = std::chrono::seconds(10);
    if (!token.empty()) call.headers.emplace_back("Authorization", "Bearer " + token);
    auto reply = http_call(call);
    if (!reply) throw StartupError("cannot reach the admin API at " + arguments.admin_url + ": " + reply.message());
    const auto& response = *reply;
    const unsigned status = response.status;
    // Tables by default; the raw JSON with --json, and always for an error's text body.
    Result<std::string> shown = response.body;
    if (!arguments.json_output && status >= 200 && status < 300) {
        if (command.path == "/status") shown = cli::status_text(response.body);
        else if (command.path == "/events") shown = cli::events_text(response.body);
        else if (command.path == "/fleet") shown = cli::fleet_text(response.body);
        else if (command.path != "/demo") shown = cli::action_text(response.body);
        if (!shown) shown = response.body;  // not what ctl expected: show it as it came
    }
    std::cout << *shown;
    if (!shown->empty() && shown->back() != '\n') std::cout << "\n";
    if (status < 200 || status >= 300) {
        std::cerr << "canaryd ctl: " << command.method << " " << target << ": " << status << "\n";
        return 1;
    }
    return 0;
}

}  // namespace canaryd::io
