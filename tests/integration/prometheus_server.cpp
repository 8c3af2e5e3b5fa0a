#include "prometheus_server.hpp"

#include <fstream>

namespace canaryd::test {

PrometheusServer::PrometheusServer(const std::vector<std::string>& targets, std::uint16_t port)
    : port_(port != 0 ? port : closed_port()) {
    std::string list;
    for (const auto& t : targets) list += (list.empty() ? "'" : ", '") + t + "'";
    const auto config = (dir_.path / "prometheus.yml").string();
    std::ofstream(config) << "global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}\n"
                             "scrape_configs:\n"
                             "  - job_name: canaryd\n"
                             "    static_configs: [{targets: [" << list << "]}]\n";
    start();
}

void PrometheusServer::start() {
    const auto config = (dir_.path / "prometheus.yml").string();
    process_.start({"/usr/bin/prometheus", "--config.file=" + config, "--storage.tsdb.path=" + (dir_.path / "data").string(),
                    "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
                   (dir_.path / "prometheus.log").string(), port_, "/-/ready", "", std::chrono::seconds(15));
}

}  // namespace canaryd::test
