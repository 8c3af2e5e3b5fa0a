#include "io/demo.hpp"

#include "config/loader.hpp"
#include "io/app.hpp"
#include "io/embedded_backend.hpp"

#include <boost/asio/executor_work_guard.hpp>

#include <iostream>
#include <thread>

namespace canaryd::io {

std::string demo_config_yaml(const std::string& listen, std::uint16_t stable_port, std::uint16_t canary_port) {
    return "threads: 2\n"
           "listeners:\n"
           "  - address: " + listen + "\n"
           "admin:\n"
           "  address: 127.0.0.1:9901\n"
           "defaults:\n"
           "  version_header: x-canaryd-version\n"
           "routes:\n"
           "  - name: demo\n"
           "    stable: {version: v1, endpoints: [127.0.0.1:" + std::to_string(stable_port) + "]}\n"
           "    canary: {version: v2, endpoints: [127.0.0.1:" + std::to_string(canary_port) + "]}\n"
           "    canary_weight: 10\n"
           "    sticky: {header: x-user-id}\n"
           "    overrides:\n"
           "      - {header: x-canary, value: always, to: canary}\n"
           "      - {header: x-canary, value: never, to: stable}\n";
}

namespace {

EmbeddedBackend::Handler version_page(std::string role, std::string release) {
    return [role, release](const http::request<http::string_body>&) {
        http::response<http::string_body> response{http::status::ok, 11};
        response.set(http::field::content_type, "text/plain; charset=utf-8");
        response.body() = "hello from " + role + " " + release + "\n";
        return response;
    };
}

}  // namespace

int run_demo(const std::string& listen) {
    boost::asio::io_context backends_context(1);
    EmbeddedBackend stable(backends_context, 0, version_page("stable", "v1"));
    EmbeddedBackend canary(backends_context, 0, version_page("canary", "v2"));
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

    const std::string address = listen.empty() ? "127.0.0.1:8080" : listen;
    auto loaded = config::load_config(demo_config_yaml(address, stable.port(), canary.port()));
    if (!loaded.ok()) {
        std::string message = "demo config is invalid:";
        for (const auto& e : loaded.errors) message += "\n  " + config::format_error("--demo", e);
        throw StartupError(message);
    }
    AppOptions options;
    options.handle_signals = true;
    App app(loaded.config, options);
    app.start();
    const std::string url = "http://" + loaded.config->listeners[0].address.host + ":" +
                            std::to_string(app.listener_port(0)) + "/";
    std::cout << "canaryd demo: stable v1 and canary v2 behind " << url << " (canary weight 10 %)\n"
              << "  try:  for i in $(seq 20); do curl -s " << url << "; done | sort | uniq -c\n"
              << "        curl -si -H 'x-canary: always' " << url << "\n"
              << "        curl -s -H 'x-user-id: alice' " << url << "   # the same user always lands on one version\n"
              << "  Ctrl-C stops it.\n"
              << std::flush;
    return app.run();
}

}  // namespace canaryd::io
