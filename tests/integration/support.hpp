// Test harness: in-process upstreams, an in-process canaryd, and a blocking HTTP client,
// all on 127.0.0.1 with ports picked by the kernel.
#pragma once

#include "io/server/app.hpp"
#include "io/tools/embedded_backend.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace canaryd::test {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

struct RecordedRequest {
    std::string method;
    std::string target;
    std::multimap<std::string, std::string> headers;  // lower-case names
    std::string body;

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

// A well-behaved HTTP/1.1 upstream that answers "<name>" and records what it received.
class Upstream {
public:
    using Handler = io::EmbeddedBackend::Handler;
    explicit Upstream(std::string name, Handler handler = {}, io::EmbeddedBackend::Delay delay = {},
                      std::string host = "127.0.0.1", std::uint16_t port = 0);
    ~Upstream();

    std::uint16_t port() const { return backend_->port(); }
    std::string address() const { return host_ + ":" + std::to_string(port()); }
    std::uint64_t connections() const { return backend_->connections_accepted(); }
    std::uint64_t requests() const { return backend_->requests_served(); }
    std::vector<RecordedRequest> recorded() const;

private:
    std::string name_;
    std::string host_;
    boost::asio::io_context context_{1};
    std::unique_ptr<io::EmbeddedBackend> backend_;
    mutable std::mutex mutex_;
    std::vector<RecordedRequest> recorded_;
    std::thread thread_;
};

// canaryd running in-process on the given YAML (listeners should use port 0). The YAML is
// also written to a file, so that reload() works as SIGHUP does.
class Proxy {
public:
    explicit Proxy(const std::string& yaml, std::uint64_t seed = 20261126);
    // With the rollout's clock in the test's hands (AppOptions::clock).
    Proxy(const std::string& yaml, std::function<double()> clock);
    // With options of the test's (a hosts file, a clock); the config path is the harness's.
    Proxy(const std::string& yaml, io::AppOptions options);
    ~Proxy();

    std::uint16_t port(std::size_t listener = 0) const { return app_->listener_port(listener); }
    io::App& app() { return *app_; }
    // Writes `yaml` as the config file and reloads it; waits until the reload was applied
    // (or failed). Returns the config generation in force afterwards.
    std::int64_t reload(const std::string& yaml);

private:
    std::string config_path_;
    std::unique_ptr<io::App> app_;
    std::thread control_thread_;
};

// Requests sent in a loop from a thread of its own until destroyed.
class LoadLoop {
public:
    // `per_second` 0: as fast as the proxy answers; else paced to about that rate.
    LoadLoop(std::uint16_t port, std::map<std::string, std::string> headers = {}, unsigned per_second = 0);
    ~LoadLoop();
    std::uint64_t sent() const { return sent_.load(); }
    std::uint64_t not_ok() const { return not_ok_.load(); }  // answers other than 2xx, and transport errors

private:
    std::atomic<bool> running_{true};
    std::atomic<std::uint64_t> sent_{0};
    std::atomic<std::uint64_t> not_ok_{0};
    std::thread thread_;
};

// GET /status of the admin API, parsed; waits up to `limit` for `ready` to hold.
boost::json::value admin_status(std::uint16_t admin_port);
boost::json::value wait_for_status(std::uint16_t admin_port, const std::function<bool(const boost::json::value&)>& ready,
                                   std::chrono::milliseconds limit = std::chrono::seconds(10));

// A blocking keep-alive HTTP/1.1 client.
class Client {
public:
    explicit Client(std::uint16_t port);

    http::response<http::string_body> request(http::verb method, const std::string& target,
                                              const std::map<std::string, std::string>& headers = {},
                                              const std::string& body = "");
    http::response<http::string_body> get(const std::string& target,
                                          const std::map<std::string, std::string>& headers = {}) {
        return request(http::verb::get, target, headers);
    }

private:
    boost::asio::io_context context_;
    tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
};

// The proxy's log lines (info and above) while it lives, parsed; stderr gets none of them.
// Make it after the Proxy, whose constructor quiets the log.
class LogCapture {
public:
    LogCapture();
    ~LogCapture();
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;
    // Every line whose "event" is `event`, in order.
    std::vector<boost::json::object> events(const std::string& event) const;

private:
    mutable std::mutex mutex_;
    std::vector<boost::json::object> lines_;
};

// A temporary directory, removed with everything in it when destroyed.
struct TempDir {
    explicit TempDir(const char* parent = "/tmp");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::filesystem::path path;
};

// A port on 127.0.0.1 with nothing listening, below the kernel's ephemeral range and reserved
// for this test process (no other test picks it, no outgoing connection takes it).
std::uint16_t closed_port();

// A config with one listener on port 0 and the given routes block.
std::string config_with_routes(const std::string& routes, const std::string& extra_top_level = "");

}  // namespace canaryd::test
