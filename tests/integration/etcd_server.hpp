// A real etcd (Debian's etcd-server, installed by docker/install-deps.sh) for the fleet
// tests: a single member on 127.0.0.1 free ports with a temporary data directory, started
// by the test and stopped by pid. No mock of the thing fleet mode integrates with.
#pragma once

#include "external_server.hpp"
#include "support.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace canaryd::test {

class EtcdServer {
public:
    EtcdServer();  // waits until /health answers; fails the test if etcd does not start

    std::uint16_t client_port() const { return client_port_; }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
    // An outage: stopped, then started again on the same ports and data.
    void stop() { process_.stop(); }
    void start();
    std::string log() const { return process_.log(); }

private:
    // In memory when /dev/shm exists: etcd fsyncs every write, and on a loaded CI disk one
    // fsync can outlast a test's short lease.
    TempDir dir_{std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp"};
    std::uint16_t client_port_ = 0;
    std::uint16_t peer_port_ = 0;
    ExternalServer process_;
};

}  // namespace canaryd::test
