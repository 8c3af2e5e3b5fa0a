// A real Prometheus (Debian's prometheus package, installed by docker/install-deps.sh) for
// the fleet tests: on a 127.0.0.1 free port with a temporary data directory, scraping the
// given targets every second as job "canaryd", started by the test and stopped by pid.
#pragma once

#include "external_server.hpp"
#include "support.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace canaryd::test {

class PrometheusServer {
public:
    // "127.0.0.1:PORT" each; `port` 0: a free one.
    explicit PrometheusServer(const std::vector<std::string>& targets, std::uint16_t port = 0);

    std::uint16_t port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    // An outage: stopped, then started again on the same port and data.
    void stop() { process_.stop(); }
    void start();
    std::string log() const { return process_.log(); }

private:
    TempDir dir_;
    std::uint16_t port_ = 0;
    ExternalServer process_;
};

}  // namespace canaryd::test
