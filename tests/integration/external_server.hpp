// A real server binary the tests start themselves (etcd, Prometheus): spawned with its stdout
// and stderr in a log file, waited for until an HTTP readiness URL answers, stopped by pid
// (SIGTERM, then SIGKILL after 5 s). The part every such harness shares.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace canaryd::test {

class ExternalServer {
public:
    ExternalServer() = default;
    ~ExternalServer();
    ExternalServer(const ExternalServer&) = delete;
    ExternalServer& operator=(const ExternalServer&) = delete;

    // Starts `args` (args[0] is the binary) with output to `log_path`, then waits up to
    // `limit` until GET http://127.0.0.1:port/ready_target answers 200 with a body containing
    // `ready_body` (empty: any). Fails the test, with the log, when it does not.
    void start(std::vector<std::string> args, std::string log_path, std::uint16_t port, const std::string& ready_target,
               const std::string& ready_body, std::chrono::seconds limit);
    // SIGTERM, then SIGKILL after 5 s; start() may be called again (the log is appended to).
    void stop();
    bool running() const { return pid_ != 0; }
    std::string log() const;

private:
    std::string log_path_;
    pid_t pid_ = 0;
};

}  // namespace canaryd::test
