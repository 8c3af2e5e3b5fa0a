#include "prometheus_server.hpp"

#include "io/control/http_client.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>

extern char** environ;

namespace canaryd::test {

namespace {
constexpr const char* kPrometheus = "/usr/bin/prometheus";
}

PrometheusServer::PrometheusServer(const std::vector<std::string>& targets) : port_(closed_port()) {
    REQUIRE_MESSAGE(std::filesystem::exists(kPrometheus), "no " << kPrometheus << ": docker/install-deps.sh installs prometheus");
    std::string list;
    for (const auto& t : targets) list += (list.empty() ? "'" : ", '") + t + "'";
    const auto config = (dir_.path / "prometheus.yml").string();
    std::ofstream(config) << "global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}\n"
                             "scrape_configs:\n"
                             "  - job_name: canaryd\n"
                             "    static_configs: [{targets: [" << list << "]}]\n";
    std::vector<std::string> args{kPrometheus,
                                  "--config.file=" + config,
                                  "--storage.tsdb.path=" + (dir_.path / "data").string(),
                                  "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                  "--log.level=warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const auto log_path = (dir_.path / "prometheus.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&pid_, kPrometheus, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    io::HttpCall ready;
    ready.host = "127.0.0.1";
    ready.port = port_;
    ready.target = "/-/ready";
    ready.timeout = std::chrono::milliseconds(500);
    for (int i = 0; i < 150; ++i) {  // up to 15 s
        auto reply = io::http_call(ready);
        if (reply && reply->status == 200) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("prometheus did not start: " << log());
}

PrometheusServer::~PrometheusServer() {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
}

std::string PrometheusServer::log() const {
    std::ifstream in(dir_.path / "prometheus.log");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace canaryd::test
