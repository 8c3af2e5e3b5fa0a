#include "etcd_server.hpp"

#include "io/control/http_client.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <vector>

extern char** environ;

namespace canaryd::test {

namespace {
constexpr const char* kEtcd = "/usr/bin/etcd";
}

EtcdServer::EtcdServer() : client_port_(closed_port()), peer_port_(closed_port()) {
    REQUIRE_MESSAGE(std::filesystem::exists(kEtcd), "no " << kEtcd << ": docker/install-deps.sh installs etcd-server");
    const auto client = "http://127.0.0.1:" + std::to_string(client_port_);
    const auto peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> args{kEtcd,
                                  "--name", "test",
                                  "--data-dir", (dir_.path / "data").string(),
                                  "--listen-client-urls", client,
                                  "--advertise-client-urls", client,
                                  "--listen-peer-urls", peer,
                                  "--initial-advertise-peer-urls", peer,
                                  "--initial-cluster", "test=" + peer,
                                  "--log-level", "warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const auto log_path = (dir_.path / "etcd.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&pid_, kEtcd, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    io::HttpCall health;
    health.host = "127.0.0.1";
    health.port = client_port_;
    health.target = "/health";
    health.timeout = std::chrono::milliseconds(500);
    for (int i = 0; i < 100; ++i) {  // up to 10 s
        auto reply = io::http_call(health);
        if (reply && reply->status == 200 && reply->body.find("true") != std::string::npos) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("etcd did not start: " << log());
}

EtcdServer::~EtcdServer() {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
}

std::string EtcdServer::log() const {
    std::ifstream in(dir_.path / "etcd.log");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace canaryd::test
