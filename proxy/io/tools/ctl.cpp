#include "io/tools/ctl.hpp"

#include "core/cli/ctl_text.hpp"
#include "core/config/units.hpp"
#include "io/admin/admin_auth.hpp"
#include "io/server/app.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <cstdlib>
#include <iostream>

namespace canaryd::io {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

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

    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    asio::ip::tcp::resolver resolver(ioc);
    boost::system::error_code ec;
    const auto endpoints = resolver.resolve(url->host, std::to_string(url->port), ec);
    if (ec) throw StartupError("cannot resolve " + url->host + ": " + ec.message());
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(endpoints, ec);
    if (ec) throw StartupError("cannot reach the admin API at " + arguments.admin_url + ": " + ec.message());
    bhttp::request<bhttp::empty_body> request{command.method == "POST" ? bhttp::verb::post : bhttp::verb::get, target, 11};
    request.set(bhttp::field::host, url->host);
    request.set(bhttp::field::user_agent, "canaryd-ctl");
    if (!token.empty()) request.set(bhttp::field::authorization, "Bearer " + token);
    request.keep_alive(false);
    if (command.method == "POST") request.content_length(0);
    bhttp::write(stream, request, ec);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> response;
    if (!ec) bhttp::read(stream, buffer, response, ec);
    if (ec) throw StartupError("admin API at " + arguments.admin_url + ": " + ec.message());
    const unsigned status = response.result_int();
    // Tables by default; the raw JSON with --json, and always for an error's text body.
    Result<std::string> shown = response.body();
    if (!arguments.json_output && status >= 200 && status < 300) {
        if (command.path == "/status") shown = cli::status_text(response.body());
        else if (command.path == "/events") shown = cli::events_text(response.body());
        else if (command.path != "/demo") shown = cli::action_text(response.body());
        if (!shown) shown = response.body();  // not what ctl expected: show it as it came
    }
    std::cout << *shown;
    if (!shown->empty() && shown->back() != '\n') std::cout << "\n";
    if (status < 200 || status >= 300) {
        std::cerr << "canaryd ctl: " << command.method << " " << target << ": " << status << " " << response.reason() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace canaryd::io
