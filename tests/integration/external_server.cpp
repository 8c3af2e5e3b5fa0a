#include "external_server.hpp"

#include "io/control/http_client.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>

extern char** environ;

namespace canaryd::test {

void ExternalServer::start(std::vector<std::string> args, std::string log_path, std::uint16_t port,
                           const std::string& ready_target, const std::string& ready_body, std::chrono::seconds limit) {
    REQUIRE_MESSAGE(std::filesystem::exists(args.at(0)), "no " << args[0] << ": docker/install-deps.sh installs it");
    const bool restart = log_path == log_path_;
    log_path_ = std::move(log_path);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | (restart ? O_APPEND : O_TRUNC), 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    io::HttpCall ready;
    ready.host = "127.0.0.1";
    ready.port = port;
    ready.target = ready_target;
    ready.timeout = std::chrono::milliseconds(500);
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        auto reply = io::http_call(ready);
        if (reply && reply->status == 200 && reply->body.find(ready_body) != std::string::npos) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL(args[0] << " did not start: " << log());
}

ExternalServer::~ExternalServer() { stop(); }

void ExternalServer::stop() {
    if (pid_ == 0) return;
    const pid_t pid = pid_;
    pid_ = 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 50; ++i) {
        if (waitpid(pid, nullptr, WNOHANG) == pid) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
}

std::string ExternalServer::log() const {
    std::ifstream in(log_path_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace canaryd::test
