#include "support.hpp"

#include "core/config/loader.hpp"
#include "io/log/log.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/file.h>
#include <unistd.h>
#include <vector>

namespace canaryd::test {

namespace asio = boost::asio;

namespace {

// A test's YAML as the file the proxy reads: an admin listener at `admin_address` unless the test
// chose one, and no config watch unless the test asks (tests that rewrite their file reload it
// when they say, SIGHUP's path, not 300 ms later by the watch; config_watch_test covers it).
std::string as_test_file(const std::string& yaml, const std::string& admin_address) {
    const bool has_admin = yaml.starts_with("admin:") || yaml.find("\nadmin:") != std::string::npos;
    std::string text = has_admin ? yaml : yaml + "admin: {address: " + admin_address + "}\n";
    if (text.find("watch_config:") == std::string::npos) text += "watch_config: false\n";
    return text;
}

}  // namespace

Upstream::Upstream(std::string name, Handler handler, io::EmbeddedBackend::Delay delay, std::string host,
                   std::uint16_t port)
    : name_(std::move(name)), host_(std::move(host)) {
    if (!handler) {
        handler = [name = name_](const http::request<http::string_body>&) {
            http::response<http::string_body> response{http::status::ok, 11};
            response.set(http::field::content_type, "text/plain");
            response.body() = name;
            return response;
        };
    }
    auto recording = [this, handler](const http::request<http::string_body>& request) {
        RecordedRequest r;
        r.method = std::string(request.method_string());
        r.target = std::string(request.target());
        for (const auto& f : request) {
            std::string key(f.name_string());
            for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            r.headers.emplace(key, std::string(f.value()));
        }
        r.body = request.body();
        {
            std::lock_guard lock(mutex_);
            recorded_.push_back(std::move(r));
        }
        return handler(request);
    };
    backend_ = std::make_unique<io::EmbeddedBackend>(context_, port, recording, std::move(delay), host_);
    backend_->start();
    thread_ = std::thread([this] {
        auto guard = asio::make_work_guard(context_);
        context_.run();
    });
}

Upstream::~Upstream() {
    asio::post(context_, [this] { backend_->stop(); });
    context_.stop();
    thread_.join();
}

std::vector<RecordedRequest> Upstream::recorded() const {
    std::lock_guard lock(mutex_);
    return recorded_;
}

namespace {

io::AppOptions seeded(std::uint64_t seed, std::function<double()> clock = {}) {
    io::AppOptions options;
    options.seed = seed;
    options.clock = std::move(clock);
    return options;
}

}  // namespace

Proxy::Proxy(const std::string& yaml, std::uint64_t seed) : Proxy(yaml, seeded(seed)) {}

Proxy::Proxy(const std::string& yaml, std::function<double()> clock) : Proxy(yaml, seeded(20261126, std::move(clock))) {}

Proxy::Proxy(const std::string& yaml, io::AppOptions options) {
    log::set_min_level(log::Level::error);
    // Tests run in parallel: the admin listener gets a free port unless the test chose one.
    const std::string text = as_test_file(yaml, "127.0.0.1:0");
    static std::atomic<int> counter{0};
    config_path_ = "/tmp/canaryd-test-" + std::to_string(getpid()) + "-" + std::to_string(++counter) + ".yaml";
    std::ofstream(config_path_) << text;
    auto loaded = config::load_config(text);
    for (const auto& e : loaded.errors) FAIL_CHECK(config::format_error("test.yaml", e));
    REQUIRE(loaded.ok());
    options.config_path = config_path_;
    app_ = std::make_unique<io::App>(loaded.config, options);
    app_->start();
    control_thread_ = std::thread([this] { app_->run(); });
}

Proxy::~Proxy() {
    app_->stop();
    control_thread_.join();
    app_.reset();
    std::remove(config_path_.c_str());
}

namespace {

// The value of `series` (exact name and labels) in the admin /metrics text, or 0.
double metric_value(std::uint16_t admin_port, const std::string& series) {
    const auto text = Client(admin_port).get("/metrics").body();
    const auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

std::int64_t Proxy::reload(const std::string& yaml) {
    // Keep the admin port: a reload does not move the admin listener.
    const std::string text = as_test_file(yaml, "127.0.0.1:" + std::to_string(app_->admin_port()));
    const auto port = app_->admin_port();
    const auto before = admin_status(port).at("config_generation").as_int64();
    const std::string fail_series = "canaryd_config_reloads_total{result=\"fail\"}";
    const double fails_before = metric_value(port, fail_series);
    std::ofstream(config_path_) << text;
    app_->reload();
    // Applied when the generation moves; a failed reload shows in the fail counter instead.
    for (int i = 0; i < 200; ++i) {
        const auto now = admin_status(port).at("config_generation").as_int64();
        if (now != before || metric_value(port, fail_series) != fails_before) return now;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return before;
}

LoadLoop::LoadLoop(std::uint16_t port, std::map<std::string, std::string> headers, unsigned per_second) {
    thread_ = std::thread([this, port, headers, per_second] {
        const auto gap = per_second == 0 ? std::chrono::microseconds(0) : std::chrono::microseconds(1'000'000 / per_second);
        auto next = std::chrono::steady_clock::now();
        while (running_) {
            try {
                Client client(port);
                while (running_) {
                    const auto status = client.get("/", headers).result_int();
                    ++sent_;
                    if (status < 200 || status > 299) ++not_ok_;
                    if (per_second != 0) {
                        next += gap;
                        std::this_thread::sleep_until(next);
                    }
                }
            } catch (const std::exception&) {
                ++not_ok_;
                std::this_thread::sleep_for(std::chrono::milliseconds(20));  // reconnect
                next = std::chrono::steady_clock::now();
            }
        }
    });
}

LoadLoop::~LoadLoop() {
    running_ = false;
    thread_.join();
}

boost::json::value admin_status(std::uint16_t admin_port) {
    Client admin(admin_port);
    return boost::json::parse(admin.get("/status").body());
}

boost::json::value wait_for_status(std::uint16_t admin_port, const std::function<bool(const boost::json::value&)>& ready,
                                   std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    auto status = admin_status(admin_port);
    while (!ready(status) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        status = admin_status(admin_port);
    }
    return status;
}

Client::Client(std::uint16_t port) : socket_(context_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
}

http::response<http::string_body> Client::request(http::verb method, const std::string& target,
                                                  const std::map<std::string, std::string>& headers,
                                                  const std::string& body) {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "test.local");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = body;
    request.prepare_payload();
    http::write(socket_, request);
    http::response<http::string_body> response;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64ull << 20);
    if (method == http::verb::head) parser.skip(true);
    http::read(socket_, buffer_, parser);
    return parser.release();
}

LogCapture::LogCapture() {
    log::set_min_level(log::Level::info);
    log::set_sink([this](std::string_view line) {
        auto parsed = boost::json::parse(line);
        std::lock_guard lock(mutex_);
        lines_.push_back(parsed.as_object());
    });
}

LogCapture::~LogCapture() {
    log::set_sink({});
    log::set_min_level(log::Level::error);
}

std::vector<boost::json::object> LogCapture::events(const std::string& event) const {
    std::lock_guard lock(mutex_);
    std::vector<boost::json::object> out;
    for (const auto& line : lines_)
        if (line.contains("event") && line.at("event").as_string() == event) out.push_back(line);
    return out;
}

TempDir::TempDir(const char* parent) {
    std::string name = std::string(parent) + "/canaryd-test-XXXXXX";
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    path = name;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

namespace {

// The lowest port the kernel hands out as the local port of an outgoing connection or of a
// bind to port 0 (Linux: net.ipv4.ip_local_port_range, 32768 by default).
std::uint16_t ephemeral_low() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned low = 0;
    if (in >> low && low > 1024 && low <= 65535) return static_cast<std::uint16_t>(low);
    return 32768;
}

bool can_bind(std::uint16_t port) {
    boost::system::error_code error;
    asio::io_context context;
    tcp::acceptor acceptor(context);
    acceptor.open(tcp::v4(), error);
    if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
    if (!error) acceptor.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), error);
    return !error;
}

}  // namespace

// A port handed to another process (canaryd, etcd, Prometheus) must stay free until that
// process binds it. A port the kernel chose for a bind to 0 comes from the ephemeral range,
// which every outgoing connection of every test running in parallel also draws from, so it
// can be taken in between ("Address already in use" under load). Ports are therefore picked
// below that range, and each is reserved for the life of this test process by an exclusive
// lock on a file named after it, so two test processes never pick the same one.
std::uint16_t closed_port() {
    static std::vector<int> held_locks;  // released when the test process exits
    const std::uint16_t high = ephemeral_low();
    const std::uint16_t low = high > 12000 ? static_cast<std::uint16_t>(high - 12000) : 1025;
    const std::filesystem::path lock_dir = std::filesystem::temp_directory_path() / "canaryd-test-ports";
    std::error_code ignored;
    std::filesystem::create_directories(lock_dir, ignored);
    const unsigned span = high - low;
    unsigned start = static_cast<unsigned>(getpid()) * 7919u + static_cast<unsigned>(held_locks.size()) * 104729u;
    for (unsigned i = 0; i < span; ++i) {
        const auto port = static_cast<std::uint16_t>(low + (start + i) % span);
        const std::string lock_path = (lock_dir / std::to_string(port)).string();
        const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) continue;
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd);
            continue;
        }
        if (!can_bind(port)) {
            ::close(fd);
            continue;
        }
        held_locks.push_back(fd);
        return port;
    }
    FAIL("no free port below the ephemeral range " << high);
    return 0;
}

std::string config_with_routes(const std::string& routes, const std::string& extra_top_level) {
    return "threads: 2\nlisteners:\n  - address: 127.0.0.1:0\n" + extra_top_level + "routes:\n" + routes;
}

}  // namespace canaryd::test
