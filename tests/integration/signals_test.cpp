// Per-version signals end to end (SPEC §5, §7): counts on /metrics and /status equal the
// requests sent; upstream errors by kind; backend CPU and memory from a real process and
// from a scrape; the admin API's answers.
#include "io/upstream/backend_probe.hpp"
#include "raw.hpp"
#include "support.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

using namespace canaryd::test;

namespace {

std::string split_config(const Upstream& stable, const Upstream& canary, const std::string& extra = "") {
    return config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                              "]}\n    canary: {version: v2, endpoints: [" + canary.address() + "]}\n"
                              "    canary_weight: 50\n" + extra);
}

// The value of one series in a Prometheus text body, or -1.
double series(const std::string& metrics, const std::string& name, const std::string& labels_regex) {
    const std::regex line("^" + name + "\\{([^}]*)\\} ([0-9.e+-]+)$", std::regex::multiline);
    for (auto it = std::sregex_iterator(metrics.begin(), metrics.end(), line); it != std::sregex_iterator(); ++it) {
        if (std::regex_search((*it)[1].str(), std::regex(labels_regex))) return std::stod((*it)[2].str());
    }
    return -1;
}

// The value of a series without labels, or -1.
double unlabelled(const std::string& metrics, const std::string& name) {
    std::smatch m;
    if (std::regex_search(metrics, m, std::regex("^" + name + " ([0-9.e+-]+)$", std::regex::multiline)))
        return std::stod(m[1].str());
    return -1;
}

class Burner {
public:
    Burner(const std::string& pid_file, int mib) {
        std::vector<std::string> args{CANARYD_BURNER, "--mib", std::to_string(mib), "--pid-file", pid_file};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        REQUIRE(posix_spawn(&pid_, CANARYD_BURNER, nullptr, nullptr, argv.data(), environ) == 0);
        // Generous: on a loaded CI machine touching the memory can take seconds.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (std::chrono::steady_clock::now() < deadline) {
            std::ifstream in(pid_file);
            int written = 0;
            if (in >> written && written == pid_) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        // The destructor does not run when the constructor fails: stop the burner here, or it
        // spins forever and holds the test's output open (CTest then waits for its timeout).
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        FAIL("the burner did not write its pid file within 30 s");
    }
    ~Burner() {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = 0;
};

}  // namespace

TEST_CASE("after traffic, /metrics and /status carry per-version counts equal to the requests sent") {
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_config(stable, canary));
    Client client(proxy.port());
    const int n = 400;
    for (int i = 0; i < n; ++i) REQUIRE(client.get("/").result_int() == 200);
    const auto s = static_cast<std::int64_t>(stable.requests());
    const auto c = static_cast<std::int64_t>(canary.requests());
    REQUIRE(s + c == n);
    const auto admin_port = proxy.app().admin_port();
    auto status = wait_for_status(admin_port, [&](const boost::json::value& v) {
        const auto& r = v.at("routes").at(0);
        return r.at("stable").at("requests").as_int64() + r.at("canary").at("requests").as_int64() == n;
    });
    const auto& route = status.at("routes").at(0);
    CHECK(route.at("stable").at("requests").as_int64() == s);
    CHECK(route.at("canary").at("requests").as_int64() == c);
    CHECK(route.at("stable").at("success_rate").to_number<double>() == 1.0);
    CHECK(route.at("canary_weight").to_number<double>() == 50.0);
    CHECK(route.at("stable").at("traffic_share").to_number<double>() + route.at("canary").at("traffic_share").to_number<double>() ==
          doctest::Approx(100.0));
    CHECK(route.at("canary").at("latency_p99_ms").to_number<double>() > 0.0);

    Client admin(admin_port);
    const auto metrics = admin.get("/metrics").body();
    CHECK(series(metrics, "canaryd_requests_total", "code=\"200\".*release=\"v1\".*version=\"stable\"") == s);
    CHECK(series(metrics, "canaryd_requests_total", "code=\"200\".*release=\"v2\".*version=\"canary\"") == c);
    CHECK(series(metrics, "canaryd_request_duration_seconds_count", "version=\"stable\"") == s);
    CHECK(series(metrics, "canaryd_request_duration_seconds_count", "version=\"canary\"") == c);
    CHECK(series(metrics, "canaryd_weight", "version=\"canary\"") == 50);
    CHECK(series(metrics, "canaryd_weight", "version=\"stable\"") == 50);
    CHECK(series(metrics, "canaryd_upstream_errors_total", "kind=\"connect\".*version=\"stable\"") == 0);
    CHECK(metrics.find("# TYPE canaryd_request_duration_seconds histogram") != std::string::npos);
    CHECK(series(metrics, "canaryd_config_reloads_total", "result=\"fail\"") == 0);
}

TEST_CASE("failures: 5xx from the version and proxy errors on the way to it") {
    Upstream stable("stable", [](const http::request<http::string_body>& request) {
        http::response<http::string_body> response{request.target() == "/fail" ? http::status::service_unavailable
                                                                                 : http::status::ok, 11};
        response.body() = "x";
        return response;
    });
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                                   "]}\n    canary: {version: v2, endpoints: [127.0.0.1:" + std::to_string(closed_port()) +
                                   "]}\n    overrides: [{header: x-canary, value: always, to: canary}, {header: x-canary, value: never, to: stable}]\n"
                                   "    canary_weight: 1\n"));
    Client client(proxy.port());
    for (int i = 0; i < 30; ++i) client.get("/ok", {{"x-canary", "never"}});
    for (int i = 0; i < 10; ++i) client.get("/fail", {{"x-canary", "never"}});
    for (int i = 0; i < 5; ++i) CHECK(client.get("/", {{"x-canary", "always"}}).result_int() == 502);
    auto status = wait_for_status(proxy.app().admin_port(), [](const boost::json::value& v) {
        return v.at("routes").at(0).at("canary").at("requests").as_int64() == 5;
    });
    const auto& route = status.at("routes").at(0);
    CHECK(route.at("stable").at("requests").as_int64() >= 40);
    CHECK(route.at("stable").at("success_rate").to_number<double>() < 0.8);
    CHECK(route.at("canary").at("success_rate").to_number<double>() == 0.0);
    CHECK(route.at("canary").at("upstream_errors").at("connect").as_int64() == 5);
    Client admin(proxy.app().admin_port());
    const auto metrics = admin.get("/metrics").body();
    CHECK(series(metrics, "canaryd_upstream_errors_total", "kind=\"connect\".*version=\"canary\"") == 5);
    CHECK(series(metrics, "canaryd_requests_total", "code=\"502\".*version=\"canary\"") == 5);
    CHECK(series(metrics, "canaryd_requests_total", "code=\"503\".*version=\"stable\"") == 10);
}

TEST_CASE("admin API: health, readiness, 404, 405") {
    Upstream stable("stable");
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() + "]}\n"));
    Client admin(proxy.app().admin_port());
    CHECK(admin.get("/healthz").result_int() == 200);
    CHECK(admin.get("/readyz").result_int() == 200);
    CHECK(admin.get("/nope").result_int() == 404);
    auto wrong = admin.get("/rollback");
    CHECK(wrong.result_int() == 405);
    CHECK(wrong[http::field::allow] == "POST");
    CHECK(admin.request(http::verb::post, "/status").result_int() == 405);
    CHECK(admin.get("/status")[http::field::content_type] == "application/json");
}

TEST_CASE("admin API: mutating calls need the bearer token, checked before the path") {
    Upstream stable("stable");
    const std::string token_file = "/tmp/canaryd-test-token-" + std::to_string(getpid());
    std::ofstream(token_file) << "  s3cret-token\n";
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() + "]}\n",
                                   "admin: {address: 127.0.0.1:0, token_file: " + token_file + "}\n"));
    Client admin(proxy.app().admin_port());
    auto no_token = admin.request(http::verb::post, "/rollback?route=api");
    CHECK(no_token.result_int() == 401);
    CHECK(no_token[http::field::www_authenticate].starts_with("Bearer"));
    CHECK(admin.request(http::verb::post, "/not-built-yet").result_int() == 401);
    CHECK(admin.request(http::verb::delete_, "/status").result_int() == 401);
    CHECK(admin.request(http::verb::post, "/rollback?route=api", {{"authorization", "Bearer wrong"}}).result_int() == 401);
    CHECK(admin.request(http::verb::post, "/rollback?route=api", {{"authorization", "Basic s3cret-token"}}).result_int() == 401);
    CHECK(admin.request(http::verb::post, "/rollback?route=api", {{"authorization", "Bearer s3cret-token"}}).result_int() != 401);
    CHECK(admin.get("/status").result_int() == 200);  // reads need no token
    std::remove(token_file.c_str());
}

TEST_CASE("/metrics carries canaryd's own process metrics, read when scraped") {
    Upstream stable("stable");
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() + "]}\n"));
    Client admin(proxy.app().admin_port());
    const auto before = admin.get("/metrics").body();
    CHECK(before.find("# TYPE process_cpu_seconds_total counter") != std::string::npos);
    CHECK(before.find("# TYPE process_open_fds gauge") != std::string::npos);
    const double cpu_before = unlabelled(before, "process_cpu_seconds_total");
    CHECK(cpu_before >= 0);
    CHECK(unlabelled(before, "process_resident_memory_bytes") > 1024 * 1024);
    CHECK(unlabelled(before, "process_virtual_memory_bytes") >= unlabelled(before, "process_resident_memory_bytes"));
    const double fds = unlabelled(before, "process_open_fds");
    CHECK(fds >= 3);  // at least the listener, the admin listener and this client's connection
    CHECK(unlabelled(before, "process_max_fds") >= fds);
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const double started = unlabelled(before, "process_start_time_seconds");
    CHECK(started <= now + 1);
    CHECK(started >= now - 24 * 3600);  // this test process started today

    // Work done between two scrapes shows: CPU grows, and 50 more sockets are 50 more fds.
    // Spin until this process has used 0.2 s more CPU (by std::clock, another reading than
    // /proc's), however loaded the machine is.
    volatile double sink = 0;
    const std::clock_t cpu_start = std::clock();
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::clock() - cpu_start < CLOCKS_PER_SEC / 5 && std::chrono::steady_clock::now() < give_up) sink = sink + 1;
    std::vector<std::unique_ptr<Client>> held;
    for (int i = 0; i < 50; ++i) held.push_back(std::make_unique<Client>(proxy.port()));
    const auto after = admin.get("/metrics").body();
    CHECK(unlabelled(after, "process_cpu_seconds_total") >= cpu_before + 0.1);
    CHECK(unlabelled(after, "process_open_fds") >= fds + 50);
}

TEST_CASE("backend CPU and memory of a real process move the right way") {
    const std::string pid_file = "/tmp/canaryd-test-burner-" + std::to_string(getpid()) + ".pid";
    Burner burner(pid_file, 96);
    const auto first = canaryd::io::probe_pid_file(pid_file);
    REQUIRE(first.ok());
    CHECK(first.memory_bytes > 90.0 * 1024 * 1024);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    const auto second = canaryd::io::probe_pid(burner.pid());
    REQUIRE(second.ok());
    CHECK(second.cpu_seconds - first.cpu_seconds > 0.2);  // it burns close to one core
    CHECK_FALSE(canaryd::io::probe_pid_file("/nonexistent/pid").ok());
    std::remove(pid_file.c_str());
}

TEST_CASE("cgroup v2 directories are read and summed") {
    const std::string base = "/tmp/canaryd-test-cgroup-" + std::to_string(getpid());
    for (const char* name : {"/a", "/b"}) {
        std::filesystem::create_directories(base + name);
        std::ofstream(base + name + "/cpu.stat") << "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n";
        std::ofstream(base + name + "/memory.current") << "104857600\n";
    }
    const auto one = canaryd::io::probe_cgroup(base + "/a");
    REQUIRE(one.ok());
    CHECK(one.cpu_seconds == doctest::Approx(2.5));
    CHECK(one.memory_bytes == doctest::Approx(104857600.0));
    canaryd::config::Version version;
    version.signals.source = canaryd::config::BackendSignals::Source::cgroup;
    version.signals.paths = {base + "/a", base + "/b"};
    const auto both = canaryd::io::probe_version(version, std::chrono::milliseconds(500));
    REQUIRE(both.ok());
    CHECK(both.cpu_seconds == doctest::Approx(5.0));
    CHECK(both.memory_bytes == doctest::Approx(209715200.0));
    version.signals.paths.push_back(base + "/missing");
    CHECK_FALSE(canaryd::io::probe_version(version, std::chrono::milliseconds(500)).ok());  // no partial sums
    std::filesystem::remove_all(base);
}

TEST_CASE("/status shows backend CPU and memory from a pid file") {
    const std::string pid_file = "/tmp/canaryd-test-burner2-" + std::to_string(getpid()) + ".pid";
    Burner burner(pid_file, 64);
    Upstream stable("stable");
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                                   "], signals: {pid_file: " + pid_file + "}}\n"));
    auto status = wait_for_status(proxy.app().admin_port(), [](const boost::json::value& v) {
        return !v.at("routes").at(0).at("stable").at("cpu_cores").is_null();
    });
    const auto& stable_status = status.at("routes").at(0).at("stable");
    REQUIRE_FALSE(stable_status.at("cpu_cores").is_null());
    CHECK(stable_status.at("cpu_cores").to_number<double>() > 0.3);
    CHECK(stable_status.at("memory_bytes").to_number<double>() > 60.0 * 1024 * 1024);
    Client admin(proxy.app().admin_port());
    CHECK(series(admin.get("/metrics").body(), "canaryd_backend_memory_bytes", "version=\"stable\"") > 60.0 * 1024 * 1024);
    std::remove(pid_file.c_str());
}

TEST_CASE("backend signals from a Prometheus scrape, and a failing scrape marks the signal missing") {
    std::atomic<int> scrapes{0};
    Upstream exporter("exporter", [&](const http::request<http::string_body>&) {
        const int n = ++scrapes;
        http::response<http::string_body> response{http::status::ok, 11};
        response.body() = "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total " + std::to_string(n * 0.5) +
                          "\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1.23456789e+08\n";
        return response;
    });
    Upstream stable("stable");
    Proxy proxy(config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                                   "], signals: {scrape: \"http://" + exporter.address() + "/metrics\"}}\n"
                                   "    canary: {version: v2, endpoints: [" + stable.address() +
                                   "], signals: {scrape: \"http://127.0.0.1:" + std::to_string(closed_port()) + "/metrics\"}}\n"));
    auto status = wait_for_status(proxy.app().admin_port(), [](const boost::json::value& v) {
        return !v.at("routes").at(0).at("stable").at("cpu_cores").is_null();
    });
    const auto& route = status.at("routes").at(0);
    REQUIRE_FALSE(route.at("stable").at("cpu_cores").is_null());
    CHECK(route.at("stable").at("cpu_cores").to_number<double>() == doctest::Approx(0.5).epsilon(0.3));
    CHECK(route.at("stable").at("memory_bytes").to_number<double>() == 123456789.0);
    CHECK(route.at("canary").at("cpu_cores").is_null());
    CHECK(route.at("canary").at("memory_bytes").is_null());
    CHECK(route.at("canary").at("signal_error").as_string().find("scrape") != boost::json::string::npos);
    Client admin(proxy.app().admin_port());
    const auto metrics = admin.get("/metrics").body();
    CHECK(series(metrics, "canaryd_backend_signal_errors_total", "source=\"scrape\".*version=\"canary\"") >= 1);
    CHECK(series(metrics, "canaryd_backend_memory_bytes", "version=\"canary\"") == -1);  // absent, not made up
}
