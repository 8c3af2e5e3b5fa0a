// The deployment files in docker/ are checked, not just written (SPEC §11): every Kubernetes
// manifest parses as YAML, every canaryd config embedded in one passes the real binary's
// --check-config, the pieces of a manifest agree with each other and with that config
// (the --config path is where the ConfigMap is mounted, the grace period covers
// shutdown_grace + drain, the probes hit /readyz and /healthz), the systemd unit reloads with
// SIGHUP, and the Grafana dashboard queries only metrics and labels canaryd exports.
#include "support.hpp"

#include "core/config/loader.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <sys/wait.h>

using namespace canaryd;

namespace {

const std::filesystem::path kDocker = CANARYD_DOCKER_DIR;

std::string read(const std::filesystem::path& file) {
    std::ifstream in(file);
    REQUIRE_MESSAGE(in, "cannot read " << file);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs the real `canaryd --check-config` on `text`; returns its exit code and output.
std::pair<int, std::string> check_config(const std::string& text) {
    test::TempDir dir;
    const auto file = dir.path / "canaryd.yaml";
    const auto out = dir.path / "out";
    std::ofstream(file) << text;
    const std::string command = std::string(CANARYD_BINARY) + " --check-config " + file.string() + " > " + out.string() + " 2>&1";
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read(out)};
}

struct EmbeddedConfig {
    std::string text;
    std::string config_map;  // metadata.name of the ConfigMap
    std::string key;         // the data key (the file name when mounted)
};

std::vector<YAML::Node> documents(const std::filesystem::path& file) {
    std::vector<YAML::Node> docs;
    for (auto& doc : YAML::LoadAllFromFile(file.string()))
        if (doc.IsMap()) docs.push_back(doc);
    return docs;
}

std::vector<EmbeddedConfig> embedded_configs(const std::vector<YAML::Node>& docs) {
    std::vector<EmbeddedConfig> out;
    for (const auto& doc : docs) {
        if (doc["kind"].as<std::string>() != "ConfigMap") continue;
        for (const auto& entry : doc["data"]) {
            const auto key = entry.first.as<std::string>();
            const auto text = entry.second.as<std::string>();
            if (key.ends_with(".yaml") && text.find("routes:") != std::string::npos)
                out.push_back({text, doc["metadata"]["name"].as<std::string>(), key});
        }
    }
    return out;
}

const YAML::Node* find_kind(const std::vector<YAML::Node>& docs, const std::string& kind) {
    for (const auto& doc : docs)
        if (doc["kind"].as<std::string>() == kind) return &doc;
    return nullptr;
}

// Checks a Deployment's canaryd container against the config its ConfigMap carries.
void check_deployment(const YAML::Node& deployment, const std::vector<EmbeddedConfig>& configs) {
    const auto pod = deployment["spec"]["template"]["spec"];
    std::optional<YAML::Node> container;
    for (const auto& c : pod["containers"])
        if (c["name"].as<std::string>() == "canaryd") container.emplace(static_cast<const YAML::Node&>(c));
    REQUIRE(container.has_value());
    const auto args = (*container)["args"].as<std::vector<std::string>>();
    REQUIRE(args.size() == 2);
    CHECK(args[0] == "--config");
    // The --config path is a file of the ConfigMap, where its volume is mounted.
    std::string volume_name;
    for (const auto& v : pod["volumes"])
        if (v["configMap"] && v["configMap"]["name"].as<std::string>() == configs.at(0).config_map)
            volume_name = v["name"].as<std::string>();
    REQUIRE_FALSE(volume_name.empty());
    std::string mount_path;
    for (const auto& m : (*container)["volumeMounts"])
        if (m["name"].as<std::string>() == volume_name) {
            mount_path = m["mountPath"].as<std::string>();
            CHECK_FALSE(m["subPath"]);  // a subPath mount never sees ConfigMap updates
        }
    CHECK(args[1] == mount_path + "/" + configs.at(0).key);

    CHECK((*container)["readinessProbe"]["httpGet"]["path"].as<std::string>() == "/readyz");
    CHECK((*container)["livenessProbe"]["httpGet"]["path"].as<std::string>() == "/healthz");

    // The kubelet's SIGKILL must not cut the drain short.
    auto loaded = config::load_config(configs.at(0).text);
    REQUIRE(loaded.ok());
    const auto& timeouts = loaded.config->defaults.timeouts;
    const auto needed_ms = timeouts.shutdown_grace.count() + timeouts.drain.count();
    CHECK(pod["terminationGracePeriodSeconds"].as<long>() * 1000 > needed_ms);
    CHECK(timeouts.shutdown_grace.count() > 0);  // the pod leaves the Service before the listener closes
    // A token guards an admin API that the probes reach from outside the pod.
    if (loaded.config->admin.address.host != "127.0.0.1") CHECK_FALSE(loaded.config->admin.token_file.empty());
}

}  // namespace

TEST_CASE("manifests: every Kubernetes manifest parses and every canaryd config in it passes --check-config") {
    int manifests = 0;
    for (const auto& entry : std::filesystem::directory_iterator(kDocker)) {
        if (entry.path().extension() != ".yaml" || !entry.path().filename().string().starts_with("kubernetes-")) continue;
        ++manifests;
        CAPTURE(entry.path().string());
        const auto docs = documents(entry.path());
        REQUIRE_FALSE(docs.empty());
        for (const auto& doc : docs) {
            CHECK(doc["apiVersion"].IsScalar());
            CHECK(doc["kind"].IsScalar());
            CHECK(doc["metadata"]["name"].IsScalar());
        }
        const auto configs = embedded_configs(docs);
        REQUIRE(configs.size() == 1);
        const auto [rc, output] = check_config(configs[0].text);
        CHECK_MESSAGE(rc == 0, output);
        const auto* deployment = find_kind(docs, "Deployment");
        REQUIRE(deployment != nullptr);
        check_deployment(*deployment, configs);
    }
    CHECK(manifests == 2);  // the sidecar and the gateway
}

TEST_CASE("manifests: the gateway has a Service, a PodDisruptionBudget and rolls with no pod missing") {
    const auto docs = documents(kDocker / "kubernetes-gateway.yaml");
    const auto* deployment = find_kind(docs, "Deployment");
    const auto* service = find_kind(docs, "Service");
    const auto* budget = find_kind(docs, "PodDisruptionBudget");
    REQUIRE(deployment != nullptr);
    REQUIRE(service != nullptr);
    REQUIRE(budget != nullptr);
    const auto pod_labels = (*deployment)["spec"]["template"]["metadata"]["labels"].as<std::map<std::string, std::string>>();
    auto selects_the_pods = [&](const YAML::Node& selector) {
        for (const auto& [k, v] : selector.as<std::map<std::string, std::string>>())
            if (pod_labels.count(k) == 0 || pod_labels.at(k) != v) return false;
        return true;
    };
    CHECK(selects_the_pods((*service)["spec"]["selector"]));
    CHECK(selects_the_pods((*budget)["spec"]["selector"]["matchLabels"]));
    CHECK(selects_the_pods((*deployment)["spec"]["selector"]["matchLabels"]));
    const auto replicas = (*deployment)["spec"]["replicas"].as<int>();
    CHECK(replicas >= 2);
    CHECK((*budget)["spec"]["minAvailable"].as<int>() < replicas);  // a node can still be drained
    CHECK((*deployment)["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"].as<int>() == 0);
    // The gateway's endpoints are Service names, followed by the DNS refresh.
    const auto configs = embedded_configs(docs);
    REQUIRE(configs.size() == 1);
    auto loaded = config::load_config(configs[0].text);
    REQUIRE(loaded.ok());
    CHECK(loaded.config->defaults.dns_refresh.count() > 0);
    CHECK(loaded.config->routes.at(0).stable.endpoints.at(0).host.ends_with(".svc.cluster.local"));
}

TEST_CASE("manifests: the systemd unit validates first, reloads with SIGHUP, restarts on failure, is hardened") {
    std::map<std::string, std::vector<std::string>> keys;
    std::istringstream unit(read(kDocker / "canaryd.service"));
    std::string section;
    for (std::string line; std::getline(unit, line);) {
        if (line.empty() || line[0] == '#') continue;
        if (line[0] == '[') {
            section = line;
            continue;
        }
        const auto eq = line.find('=');
        REQUIRE_MESSAGE(eq != std::string::npos, "not KEY=VALUE: " << line);
        keys[section + line.substr(0, eq)].push_back(line.substr(eq + 1));
    }
    auto one = [&](const std::string& key) {
        REQUIRE_MESSAGE(keys[key].size() == 1, key);
        return keys[key][0];
    };
    CHECK(one("[Service]ExecReload") == "/bin/kill -HUP $MAINPID");
    CHECK(one("[Service]Restart") == "on-failure");
    CHECK(one("[Service]ExecStart").find(" --config /etc/canaryd/canaryd.yaml") != std::string::npos);
    CHECK(one("[Service]ExecStartPre").find(" --check-config /etc/canaryd/canaryd.yaml") != std::string::npos);
    CHECK(one("[Service]KillSignal") == "SIGTERM");
    for (const char* hardening : {"NoNewPrivileges", "ProtectHome", "PrivateTmp", "DynamicUser"}) CHECK(one(std::string("[Service]") + hardening) == "yes");
    CHECK(one("[Service]ProtectSystem") == "strict");
    CHECK(one("[Service]StateDirectory") == "canaryd");  // where state_file lives, writable under ProtectSystem
    CHECK(one("[Install]WantedBy") == "multi-user.target");
    // The stop timeout covers the default drain (30 s).
    CHECK(std::stoi(one("[Service]TimeoutStopSec")) > 30);
}

TEST_CASE("manifests: the compose fleet runs two replicas of one checked config, with the Prometheus and etcd it names") {
    const auto compose = YAML::LoadFile((kDocker / "compose.yaml").string());
    const auto services = compose["services"];
    REQUIRE(services.IsMap());
    const auto config_text = read(kDocker / "compose" / "canaryd.yaml");
    const auto [code, output] = check_config(config_text);
    CHECK_MESSAGE(code == 0, output);
    const auto config = YAML::Load(config_text);
    const auto admin_port = config["admin"]["address"].as<std::string>().substr(config["admin"]["address"].as<std::string>().rfind(':') + 1);
    std::vector<std::string> replicas;
    for (const auto& service : services) {
        const auto name = service.first.as<std::string>();
        if (!name.starts_with("canaryd-")) continue;
        replicas.push_back(name);
        // Every replica mounts the one config and the token it names, and runs it.
        bool config_mounted = false, token_mounted = false;
        for (const auto& volume : service.second["volumes"]) {
            const auto v = volume.as<std::string>();
            config_mounted = config_mounted || v.starts_with("./compose/canaryd.yaml:/etc/canaryd/canaryd.yaml");
            token_mounted = token_mounted || v.find(":" + config["admin"]["token_file"].as<std::string>()) != std::string::npos;
        }
        CHECK_MESSAGE(config_mounted, name);
        CHECK_MESSAGE(token_mounted, name);
        CHECK(service.second["command"][1].as<std::string>() == "/etc/canaryd/canaryd.yaml");
    }
    CHECK(replicas.size() >= 2);
    // The engines the fleet section names are services of the file, and Prometheus scrapes
    // every replica's admin port under the job the selector matches.
    CHECK(config["fleet"]["etcd"]["endpoints"][0].as<std::string>() == "http://etcd:2379");
    REQUIRE(services["etcd"].IsMap());
    CHECK(config["fleet"]["prometheus"]["url"].as<std::string>() == "http://prometheus:9090");
    REQUIRE(services["prometheus"].IsMap());
    const auto prometheus = YAML::LoadFile((kDocker / "compose" / "prometheus.yml").string());
    const auto job = prometheus["scrape_configs"][0];
    CHECK(config["fleet"]["prometheus"]["selector"].as<std::string>() == "{job=\"" + job["job_name"].as<std::string>() + "\"}");
    std::set<std::string> targets;
    for (const auto& t : job["static_configs"][0]["targets"]) targets.insert(t.as<std::string>());
    for (const auto& r : replicas) CHECK_MESSAGE(targets.contains(r + ":" + admin_port), r << " is not scraped");
    for (const char* backend : {"stable", "canary"}) CHECK(services[backend].IsMap());
}

TEST_CASE("manifests: the Grafana dashboard queries only metrics and labels canaryd exports") {
    // What canaryd exports: a real scrape of a route with a canary, analysis and backend
    // signals after some traffic, so that every family has series to show its labels.
    test::TempDir dir;
    const auto pid_file = (dir.path / "pid").string();
    std::ofstream(pid_file) << ::getpid();
    test::Upstream stable("stable");
    test::Upstream canary("canary");
    test::Proxy proxy(test::config_with_routes(
        "  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() + "], signals: {pid_file: " + pid_file +
        "}}\n    canary: {version: v2, endpoints: [" + canary.address() + "], signals: {pid_file: " + pid_file +
        "}}\n    canary_weight: 50\n    analysis:\n      guardrails:\n        - {metric: success_rate, max_drop: 0}\n"));
    {
        test::Client client(proxy.port());
        for (int i = 0; i < 20; ++i) client.get("/");
    }
    test::Client admin(proxy.app().admin_port());
    std::string scraped;
    for (int i = 0; i < 50 && scraped.find("canaryd_backend_cpu_cores{") == std::string::npos; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        scraped = admin.get("/metrics").body();
    }
    std::map<std::string, std::set<std::string>> labels_of;  // family (and histogram series) -> label names
    const std::regex type_line("^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\\w+)$", std::regex::multiline);
    for (auto it = std::sregex_iterator(scraped.begin(), scraped.end(), type_line); it != std::sregex_iterator(); ++it) {
        const auto name = (*it)[1].str();
        labels_of[name];
        if ((*it)[2].str() == "histogram")
            for (const char* suffix : {"_bucket", "_sum", "_count"}) labels_of[name + suffix];
    }
    const std::regex series("^([a-zA-Z_:][a-zA-Z0-9_:]*)\\{([^}]*)\\}", std::regex::multiline);
    for (auto it = std::sregex_iterator(scraped.begin(), scraped.end(), series); it != std::sregex_iterator(); ++it) {
        const auto labels = (*it)[2].str();
        const std::regex label_name("([a-zA-Z_][a-zA-Z0-9_]*)=\"");
        for (auto l = std::sregex_iterator(labels.begin(), labels.end(), label_name); l != std::sregex_iterator(); ++l)
            labels_of[(*it)[1].str()].insert((*l)[1].str());
    }
    REQUIRE(labels_of.count("canaryd_requests_total") == 1);
    REQUIRE(labels_of.count("process_cpu_seconds_total") == 1);

    // The dashboard: every query, and each metric and label matcher in it.
    const auto dashboard = boost::json::parse(read(kDocker / "grafana-dashboard.json"));
    std::vector<std::string> queries;
    std::function<void(const boost::json::value&)> collect = [&](const boost::json::value& v) {
        if (v.is_object()) {
            for (const auto& [key, child] : v.as_object()) {
                if ((key == "expr" || key == "query") && child.is_string()) queries.emplace_back(child.as_string());
                collect(child);
            }
        } else if (v.is_array()) {
            for (const auto& child : v.as_array()) collect(child);
        }
    };
    collect(dashboard);
    REQUIRE(queries.size() >= 10);
    // The SPEC §5 views an operator needs on release day.
    std::string all;
    for (const auto& q : queries) all += q + "\n";
    for (const char* needed : {"canaryd_requests_total", "canaryd_request_duration_seconds_bucket", "canaryd_weight",
                               "canaryd_rollbacks_total"})
        CHECK_MESSAGE(all.find(needed) != std::string::npos, needed);

    const std::regex metric_use("\\b((?:canaryd|process)_[a-zA-Z0-9_]*)(\\{([^}]*)\\})?");
    const std::set<std::string> added_by_prometheus{"job", "instance"};
    int checked = 0;
    for (const auto& query : queries) {
        CAPTURE(query);
        for (auto it = std::sregex_iterator(query.begin(), query.end(), metric_use); it != std::sregex_iterator(); ++it) {
            const auto name = (*it)[1].str();
            ++checked;
            REQUIRE_MESSAGE(labels_of.count(name) == 1, name << " is not a metric canaryd exports");
            const auto matchers = (*it)[3].str();
            const std::regex matcher_label("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!~|!=|=)");
            for (auto m = std::sregex_iterator(matchers.begin(), matchers.end(), matcher_label); m != std::sregex_iterator(); ++m) {
                const auto label = (*m)[1].str();
                if (added_by_prometheus.count(label)) continue;
                CHECK_MESSAGE(labels_of[name].count(label) == 1, name << " has no label " << label);
            }
        }
    }
    CHECK(checked >= 15);
}
