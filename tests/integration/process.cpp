#include "process.hpp"

#include "support.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace canaryd::test {

namespace {

std::string next_base() {
    static int counter = 0;
    return "/tmp/canaryd-proc-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

}  // namespace

CanarydProcess::CanarydProcess(const std::string& yaml, std::uint16_t admin_port) {
    const std::string base = next_base();
    config_path_ = base + ".yaml";
    write_config(yaml);
    spawn({"--config", config_path_}, admin_port);
}

CanarydProcess::CanarydProcess(std::vector<std::string> args, std::uint16_t admin_port) {
    spawn(std::move(args), admin_port);
}

void CanarydProcess::spawn(std::vector<std::string> args, std::uint16_t admin_port) {
    log_path_ = next_base() + ".log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    std::string binary = CANARYD_BINARY;
    std::vector<char*> argv{binary.data()};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    // Generous: a sanitizer build on a loaded CI machine starts slowly.
    for (int i = 0; i < 600; ++i) {
        try {
            if (Client(admin_port).get("/healthz").result_int() == 200) return;
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    FAIL("canaryd did not start: " << log());
}

CanarydProcess::~CanarydProcess() {
    if (!exited_) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    std::remove(config_path_.c_str());
    std::remove(log_path_.c_str());
}

void CanarydProcess::write_config(const std::string& yaml) {
    const std::string temporary = config_path_ + ".tmp";
    std::ofstream(temporary) << yaml;
    std::rename(temporary.c_str(), config_path_.c_str());
}

void CanarydProcess::signal(int signal_number) { kill(pid_, signal_number); }

std::optional<int> CanarydProcess::wait_exit(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            exited_ = true;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
}

std::string CanarydProcess::log() const {
    std::ifstream in(log_path_);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace canaryd::test
