#include "io/tools/demo.hpp"

#include "core/config/loader.hpp"
#include "io/server/app.hpp"
#include "io/tools/embedded_backend.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <iostream>
#include <random>
#include <thread>

namespace canaryd::io {

namespace {

// A YAML single-quoted scalar: the only escape is '' for a quote (YAML 1.2 §7.3.2).
std::string yaml_quoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

}  // namespace

std::string demo_config_yaml(const DemoOptions& options, std::uint16_t stable_port, std::uint16_t canary_port) {
    const std::string listen = options.listen.empty() ? "127.0.0.1:8080" : options.listen;
    const std::string admin = options.admin.empty() ? "127.0.0.1:9901" : options.admin;
    const std::string token = options.token_file.empty() ? "" : "  token_file: " + yaml_quoted(options.token_file) + "\n";
    return "threads: 2\n"
           "listeners:\n"
           "  - address: " + yaml_quoted(listen) + "\n"
           "admin:\n"
           "  address: " + yaml_quoted(admin) + "\n" + token +
           "defaults:\n"
           "  version_header: x-canaryd-version\n"
           "  signals: {window: 30s}\n"
           "routes:\n"
           "  - name: demo\n"
           "    stable: {version: v1, endpoints: [127.0.0.1:" + std::to_string(stable_port) + "]}\n"
           "    canary: {version: v2, endpoints: [127.0.0.1:" + std::to_string(canary_port) + "]}\n"
           "    canary_weight: 20\n"
           "    sticky: {header: x-user-id}\n"
           "    overrides:\n"
           "      - {header: x-canary, value: always, to: canary}\n"
           "      - {header: x-canary, value: never, to: stable}\n"
           "    analysis:\n"
           "      interval: 1s\n"
           "      min_requests: 50\n"
           "      confidence: 0.99\n"
           "      guardrails:\n"
           "        - {metric: success_rate, max_drop: 0}\n"
           "        - {metric: latency_p99, max_ratio: 1.5}\n";
}

namespace {

// The canary's fault knobs, set through POST /demo (canaryd ctl demo ...).
struct DemoKnobs {
    std::atomic<double> error_percent{0};
    std::atomic<int> latency_ms{0};
};

EmbeddedBackend::Handler version_page(std::string role, std::string release, DemoKnobs* knobs) {
    auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
    return [role, release, knobs, rng](const http::request<http::string_body>&) {
        http::response<http::string_body> response{http::status::ok, 11};
        response.set(http::field::content_type, "text/plain; charset=utf-8");
        if (knobs && std::uniform_real_distribution<double>(0, 100)(*rng) < knobs->error_percent.load()) {
            response.result(http::status::internal_server_error);
            response.body() = "injected failure from " + role + " " + release + "\n";
            return response;
        }
        response.body() = "hello from " + role + " " + release + "\n";
        return response;
    };
}

// Steady demo traffic (about 50 requests/s, a few hundred distinct users) so the signals and
// the analyzer have something to judge without the newcomer writing a load loop.
void generate_traffic(std::uint16_t port, const std::atomic<bool>& running) {
    namespace beast = boost::beast;
    std::mt19937_64 rng(7);
    while (running) {
        boost::asio::io_context ioc;
        beast::tcp_stream stream(ioc);
        boost::system::error_code ec;
        stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
        beast::flat_buffer buffer;
        while (!ec && running) {
            http::request<http::empty_body> request{http::verb::get, "/", 11};
            request.set(http::field::host, "demo");
            request.set("x-user-id", "user-" + std::to_string(rng() % 500));
            stream.expires_after(std::chrono::seconds(5));
            http::write(stream, request, ec);
            http::response<http::string_body> response;
            if (!ec) http::read(stream, buffer, response, ec);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

}  // namespace

int run_demo(const DemoOptions& demo) {
    DemoKnobs knobs;
    boost::asio::io_context backends_context(1);
    EmbeddedBackend stable(backends_context, 0, version_page("stable", "v1", nullptr));
    EmbeddedBackend canary(backends_context, 0, version_page("canary", "v2", &knobs),
                           [&knobs] { return std::chrono::milliseconds(knobs.latency_ms.load()); });
    stable.start();
    canary.start();
    auto guard = boost::asio::make_work_guard(backends_context);
    std::thread backends_thread([&] { backends_context.run(); });
    struct Joiner {
        boost::asio::io_context& context;
        std::thread& thread;
        ~Joiner() {
            context.stop();
            thread.join();
        }
    } joiner{backends_context, backends_thread};

    auto loaded = config::load_config(demo_config_yaml(demo, stable.port(), canary.port()));
    if (!loaded.ok()) {
        std::string message = "demo config is invalid:";
        for (const auto& e : loaded.errors) message += "\n  " + config::format_error("--demo", e);
        throw StartupError(message);
    }
    AppOptions options;
    options.handle_signals = true;
    options.demo_control = [&knobs](const std::map<std::string, std::string>& query) {
        if (auto it = query.find("error_rate"); it != query.end())
            knobs.error_percent = std::clamp(std::atof(it->second.c_str()), 0.0, 100.0);
        if (auto it = query.find("latency_ms"); it != query.end())
            knobs.latency_ms = std::clamp(std::atoi(it->second.c_str()), 0, 10'000);
        return "{\"canary_error_rate\":" + std::to_string(knobs.error_percent.load()) +
               ",\"canary_latency_ms\":" + std::to_string(knobs.latency_ms.load()) + "}\n";
    };
    App app(loaded.config, options);
    app.start();
    const std::string url = "http://" + loaded.config->listeners[0].address.host + ":" +
                            std::to_string(app.listener_port(0)) + "/";
    std::atomic<bool> running{true};
    std::thread traffic([&] { generate_traffic(app.listener_port(0), running); });
    const std::string admin_host = loaded.config->admin.address.host + ":" + std::to_string(app.admin_port());
    // ctl talks to the default admin address unless told: say --admin when it is another.
    std::string to = demo.admin.empty() ? "" : " --admin http://" + admin_host;
    if (!demo.token_file.empty()) to += " --token-file " + demo.token_file;
    std::cout << "canaryd demo: stable v1 and canary v2 behind " << url << " (canary weight 20 %),\n"
              << "with built-in traffic of about 50 requests/s and guardrails on success rate and p99 latency.\n\n"
              << "  dashboard: http://" << admin_host << "/    # live charts; roll back from the browser\n\n"
              << "  try:  curl -s " << url << "    # see who answers\n"
              << "        curl -s -H 'x-canary: always' " << url << "\n"
              << "        curl -s " << admin_host << "/status    # live signals of both versions\n"
              << "        canaryd ctl demo --error-rate 5" << to << "    # the canary starts failing 5 % of requests...\n"
              << "        canaryd ctl events" << to << "    # ...and is rolled back within seconds\n"
              << "        canaryd ctl resume" << to << "    # (after: canaryd ctl demo --error-rate 0" << to << ")\n"
              << "  Ctrl-C stops it.\n"
              << std::flush;
    const int code = app.run();
    running = false;
    traffic.join();
    return code;
}

}  // namespace canaryd::io
