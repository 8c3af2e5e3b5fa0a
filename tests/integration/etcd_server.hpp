// A real etcd (Debian's etcd-server, installed by docker/install-deps.sh) for the fleet
// tests: a single member on 127.0.0.1 free ports with a temporary data directory, started
// by the test and stopped by pid. No mock of the thing fleet mode integrates with.
#pragma once

#include "support.hpp"

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace canaryd::test {

class EtcdServer {
public:
    EtcdServer();  // waits until /health answers; fails the test if etcd does not start
    ~EtcdServer();
    EtcdServer(const EtcdServer&) = delete;
    EtcdServer& operator=(const EtcdServer&) = delete;

    std::uint16_t client_port() const { return client_port_; }
    std::string log() const;

private:
    TempDir dir_;
    std::uint16_t client_port_ = 0;
    std::uint16_t peer_port_ = 0;
    pid_t pid_ = 0;
};

}  // namespace canaryd::test
