// A real etcd (Debian's etcd-server, installed by docker/install-deps.sh) for the fleet
// tests: a single member on 127.0.0.1 free ports with a temporary data directory, started
// by the test and stopped by pid. No mock of the thing fleet mode integrates with.
#pragma once

#include "external_server.hpp"
#include "support.hpp"

#include <cstdint>
#include <string>

namespace canaryd::test {

class EtcdServer {
public:
    EtcdServer();  // waits until /health answers; fails the test if etcd does not start

    std::uint16_t client_port() const { return client_port_; }
    std::string log() const { return process_.log(); }

private:
    TempDir dir_;
    std::uint16_t client_port_ = 0;
    std::uint16_t peer_port_ = 0;
    ExternalServer process_;
};

}  // namespace canaryd::test
