#include "etcd_server.hpp"

namespace canaryd::test {

EtcdServer::EtcdServer() : client_port_(closed_port()), peer_port_(closed_port()) { start(); }

void EtcdServer::start() {
    const auto client = "http://127.0.0.1:" + std::to_string(client_port_);
    const auto peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    process_.start({"/usr/bin/etcd", "--name", "test", "--data-dir", (dir_.path / "data").string(),
                    "--listen-client-urls", client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
                    "--initial-advertise-peer-urls", peer, "--initial-cluster", "test=" + peer, "--log-level", "warn"},
                   (dir_.path / "etcd.log").string(), client_port_, "/health", "true", std::chrono::seconds(15));
}

}  // namespace canaryd::test
