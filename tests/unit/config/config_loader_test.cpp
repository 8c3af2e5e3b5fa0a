#include "core/config/loader.hpp"
#include "core/text/printable.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include <string>

using namespace canaryd::config;

namespace {

constexpr const char* kMinimal = R"(listeners:
  - address: 127.0.0.1:8080
routes:
  - name: api
    stable: {version: v41, endpoints: [10.0.0.1:8080]}
)";

// The single error of a document, asserting there is exactly one.
ConfigError only_error(const std::string& yaml) {
    auto result = load_config(yaml);
    REQUIRE_FALSE(result.ok());
    INFO(format_error("f.yaml", result.errors.front()));
    REQUIRE(result.errors.size() == 1);
    return result.errors.front();
}

}  // namespace

TEST_CASE("a minimal config loads with documented defaults") {
    auto result = load_config(kMinimal);
    REQUIRE(result.ok());
    const Config& c = *result.config;
    CHECK(c.threads == 0);
    CHECK(c.watch_config);
    CHECK(c.admin.address.host == "127.0.0.1");
    CHECK(c.admin.address.port == 9901);
    CHECK(c.defaults.timeouts.connect == Duration{1'000});
    CHECK(c.defaults.timeouts.header == Duration{10'000});
    CHECK(c.defaults.timeouts.upstream_response == Duration{30'000});
    CHECK(c.defaults.timeouts.idle == Duration{60'000});
    CHECK_FALSE(c.defaults.upstream.max_idle_per_endpoint.has_value());  // automatic
    CHECK(c.defaults.timeouts.shutdown_grace == Duration{0});
    CHECK(c.defaults.timeouts.drain == Duration{30'000});
    CHECK(c.defaults.limits.header_bytes == 64u * 1024);
    CHECK(c.defaults.limits.body_bytes == 100ull * 1024 * 1024);
    CHECK(c.defaults.version_header.empty());
    CHECK(c.defaults.dns_refresh == Duration{5'000});
    REQUIRE(c.routes.size() == 1);
    const Route& r = c.routes[0];
    CHECK(r.name == "api");
    CHECK(r.match.host.empty());
    CHECK(r.match.path_prefix == "/");
    CHECK(r.stable.release == "v41");
    CHECK_FALSE(r.canary);
    CHECK(r.canary_weight_bp == 0);
    CHECK_FALSE(r.sticky);
}

TEST_CASE("a full route loads every field") {
    auto result = load_config(R"(threads: 2
listeners:
  - address: 0.0.0.0:8080
admin:
  address: 10.0.0.9:9901
  token_file: /etc/canaryd/admin.token
state_file: /var/lib/canaryd/state.json
defaults:
  timeouts: {connect: 250ms, header: 5s, upstream_response: 1m, idle: 90s, shutdown_grace: 2s, drain: 1m30s}
  limits: {header_bytes: 32KiB, body_bytes: 1GiB}
  upstream: {max_idle_per_endpoint: 8}
  version_header: X-Served-By
routes:
  - name: api
    match: {host: API.example.com, path_prefix: /v1}
    stable: {version: v41, endpoints: [10.0.0.1:8080, 10.0.0.2:8080]}
    canary: {version: v42, endpoints: ["[fd00::3]:8080"]}
    canary_weight: 12.5
    sticky: {header: X-User-Id}
    overrides:
      - {header: X-Canary, value: always, to: canary}
      - {header: x-canary, value: never, to: stable}
)");
    for (const auto& e : result.errors) INFO(format_error("f", e));
    REQUIRE(result.ok());
    const Config& c = *result.config;
    CHECK(c.threads == 2);
    CHECK(c.admin.token_file == "/etc/canaryd/admin.token");
    CHECK(c.state_file == "/var/lib/canaryd/state.json");
    CHECK(c.defaults.timeouts.connect == Duration{250});
    CHECK(c.defaults.timeouts.drain == Duration{90'000});
    CHECK(c.defaults.limits.body_bytes == 1ull << 30);
    CHECK(c.defaults.upstream.max_idle_per_endpoint == 8u);
    CHECK(c.defaults.version_header == "x-served-by");
    const Route& r = c.routes[0];
    CHECK(r.match.host == "api.example.com");
    CHECK(r.match.path_prefix == "/v1");
    CHECK(r.stable.endpoints.size() == 2);
    REQUIRE(r.canary);
    CHECK(r.canary->endpoints[0].host == "fd00::3");
    CHECK(r.canary_weight_bp == 1'250);
    REQUIRE(r.sticky);
    CHECK(r.sticky->source == Sticky::Source::header);
    CHECK(r.sticky->name == "x-user-id");
    CHECK(r.sticky->salt == "api");  // defaults to the route name
    REQUIRE(r.overrides.size() == 2);
    CHECK(r.overrides[0].header == "x-canary");
    CHECK(r.overrides[0].to == Role::canary);
    CHECK(r.overrides[1].to == Role::stable);
}

TEST_CASE("YAML syntax errors carry their position") {
    auto e = only_error("listeners:\n  - address: [unclosed\n");
    CHECK(e.line >= 2);
    CHECK(e.message.find("YAML syntax error") != std::string::npos);
}

TEST_CASE("unknown keys are errors at the key, with a suggestion") {
    auto e = only_error(std::string(kMinimal) + "    canary_wieght: 10\n");
    CHECK(e.line == 6);
    CHECK(e.column == 5);
    CHECK(e.path == "routes[0].canary_wieght");
    CHECK(e.message == "unknown key (did you mean 'canary_weight'?)");
    CHECK(format_error("canaryd.yaml", e) ==
          "canaryd.yaml:6:5: routes[0].canary_wieght: unknown key (did you mean 'canary_weight'?)");
}

TEST_CASE("duplicate keys are errors") {
    auto e = only_error("threads: 2\nthreads: 3\n" + std::string(kMinimal));
    CHECK(e.line == 2);
    CHECK(e.column == 1);
    CHECK(e.message == "duplicate key");
}

TEST_CASE("wrong types are errors at the value") {
    auto e = only_error("listeners: 8080\nroutes:\n  - name: api\n    stable: {version: v1, endpoints: []}\n");
    CHECK(e.line == 1);
    CHECK(e.column == 12);
    CHECK(e.path == "listeners");
    CHECK(e.message.find("expected a list") != std::string::npos);

    auto m = only_error(std::string(kMinimal) + "    sticky: x-user-id\n");
    CHECK(m.line == 6);
    CHECK(m.column == 13);
    CHECK(m.message.find("expected a map") != std::string::npos);

    auto w = only_error("watch_config: sometimes\n" + std::string(kMinimal));
    CHECK(w.line == 1);
    CHECK(w.path == "watch_config");
    auto off = load_config("watch_config: false\n" + std::string(kMinimal));
    REQUIRE(off.ok());
    CHECK_FALSE(off.config->watch_config);

    auto dns = only_error("defaults: {dns_refresh: often}\n" + std::string(kMinimal));
    CHECK(dns.path == "defaults.dns_refresh");
    auto no_refresh = load_config("defaults: {dns_refresh: 0s}\n" + std::string(kMinimal));
    REQUIRE(no_refresh.ok());
    CHECK(no_refresh.config->defaults.dns_refresh == Duration{0});
    auto every_second = load_config("defaults: {dns_refresh: 1s}\n" + std::string(kMinimal));
    REQUIRE(every_second.ok());
    CHECK(every_second.config->defaults.dns_refresh == Duration{1'000});
}

TEST_CASE("out-of-range values are errors") {
    auto threads = only_error("threads: 0\n" + std::string(kMinimal));
    CHECK(threads.path == "threads");
    CHECK(threads.message.find("out of range") != std::string::npos);

    auto weight = only_error(R"(listeners: [{address: 127.0.0.1:8080}]
routes:
  - name: api
    stable: {version: v1, endpoints: [10.0.0.1:80]}
    canary: {version: v2, endpoints: [10.0.0.2:80]}
    canary_weight: 150
)");
    CHECK(weight.line == 6);
    CHECK(weight.column == 20);
    CHECK(weight.path == "routes[0].canary_weight");

    auto port = only_error("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: api\n"
                           "    stable: {version: v1, endpoints: [10.0.0.1:70000]}\n");
    CHECK(port.path == "routes[0].stable.endpoints[0]");
    CHECK(port.message.find("out of range") != std::string::npos);

    auto zero_timeout = only_error(std::string(kMinimal) + "defaults: {timeouts: {connect: 0s}}\n");
    CHECK(zero_timeout.path == "defaults.timeouts.connect");
}

TEST_CASE("bad units are errors") {
    auto d = only_error(std::string(kMinimal) + "defaults:\n  timeouts: {idle: 60}\n");
    CHECK(d.line == 7);
    CHECK(d.path == "defaults.timeouts.idle");
    auto s = only_error(std::string(kMinimal) + "defaults:\n  limits: {body_bytes: 10 MB}\n");
    CHECK(s.path == "defaults.limits.body_bytes");
    auto w = only_error(R"(listeners: [{address: 127.0.0.1:8080}]
routes:
  - name: api
    stable: {version: v1, endpoints: [10.0.0.1:80]}
    canary: {version: v2, endpoints: [10.0.0.2:80]}
    canary_weight: 0.005
)");
    CHECK(w.message.find("two decimals") != std::string::npos);
}

TEST_CASE("missing required keys are errors at the enclosing map") {
    auto e = only_error("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: api\n    stable: {endpoints: []}\n");
    CHECK(e.path == "routes[0].stable.version");
    CHECK(e.message == "missing required key");
    CHECK(e.line == 4);
    CHECK(e.column == 13);

    auto empty = load_config("");
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.errors[0].line == 1);
}

TEST_CASE("analysis and rollout load with their defaults") {
    auto result = load_config(R"(listeners: [{address: 127.0.0.1:8080}]
routes:
  - name: api
    stable: {version: v41, endpoints: [10.0.0.1:80]}
    canary: {version: v42, endpoints: [10.0.0.2:80]}
    analysis:
      interval: 2s
      min_requests: 50
      confidence: 0.995
      guardrails:
        - {metric: success_rate, max_drop: 0}
        - {metric: success_rate, min: 99.5}
        - {metric: latency_p99, max_ratio: 1.25}
        - {metric: latency_p50, max_ms: 250}
        - {metric: cpu_per_request, max_ratio: 1.5, for: 30s}
        - {metric: memory, max_bytes: 512MiB}
        - {metric: memory, max_ratio: 1.3}
    rollout:
      steps: [{weight: 1, pause: 30s}, {weight: 10, pause: 1m}, {weight: 50, pause: 2m}, {weight: 100}]
      max_hold: 5m
)");
    for (const auto& e : result.errors) INFO(format_error("f", e));
    REQUIRE(result.ok());
    const auto& route = result.config->routes[0];
    REQUIRE(route.analysis);
    CHECK(route.analysis->interval == Duration{2'000});
    CHECK(route.analysis->min_requests == 50);
    CHECK(route.analysis->confidence == doctest::Approx(0.995));
    REQUIRE(route.analysis->guardrails.size() == 7);
    CHECK(route.analysis->guardrails[0].max_drop_points == 0.0);
    CHECK(route.analysis->guardrails[1].min_percent == 99.5);
    CHECK(route.analysis->guardrails[2].max_ratio == 1.25);
    CHECK(route.analysis->guardrails[2].latency_quantile() == 0.99);
    CHECK(route.analysis->guardrails[3].max_ms == 250.0);
    CHECK(route.analysis->guardrails[4].persistence == Duration{30'000});
    CHECK(route.analysis->guardrails[5].max_bytes == 512ull << 20);
    CHECK(route.analysis->guardrails[5].persistence == Duration{15'000});  // default
    REQUIRE(route.rollout);
    REQUIRE(route.rollout->steps.size() == 4);
    CHECK(route.rollout->steps[1].weight_bp == 1'000);
    CHECK(route.rollout->steps[1].pause == Duration{60'000});
    CHECK(route.rollout->steps[3].weight_bp == 10'000);
    CHECK(route.rollout->max_hold == Duration{300'000});

    auto defaults = load_config("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: a\n"
                                "    stable: {version: v1, endpoints: []}\n    canary: {version: v2, endpoints: []}\n"
                                "    analysis: {guardrails: [{metric: success_rate, max_drop: 0}]}\n");
    REQUIRE(defaults.ok());
    CHECK(defaults.config->routes[0].analysis->interval == Duration{1'000});
    CHECK(defaults.config->routes[0].analysis->min_requests == 100);
    CHECK(defaults.config->routes[0].analysis->confidence == doctest::Approx(0.99));
}

TEST_CASE("analysis and rollout errors") {
    const std::string head = "listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: a\n"
                             "    stable: {version: v1, endpoints: []}\n    canary: {version: v2, endpoints: []}\n";
    auto guardrail = [&](const std::string& g) { return only_error(head + "    analysis: {guardrails: [" + g + "]}\n"); };
    CHECK(guardrail("{metric: errors, max_drop: 0}").message.find("unknown metric") != std::string::npos);
    CHECK(guardrail("{metric: success_rate}").message.find("exactly one bound") != std::string::npos);
    CHECK(guardrail("{metric: success_rate, max_drop: 0, min: 99}").message.find("exactly one bound") != std::string::npos);
    CHECK(guardrail("{metric: success_rate, max_ratio: 2}").message.find("not a bound") != std::string::npos);
    CHECK(guardrail("{metric: latency_p99, max_ratio: 0.5}").message.find("out of range") != std::string::npos);
    CHECK(guardrail("{metric: latency_p99, max_ratio: 1.5, for: 10s}").message.find("only cpu_per_request") != std::string::npos);
    CHECK(guardrail("{metric: success_rate, max_drop: lots}").message.find("expected a number") != std::string::npos);
    auto confidence = only_error(head + "    analysis: {confidence: 1.5, guardrails: [{metric: success_rate, max_drop: 0}]}\n");
    CHECK(confidence.path == "routes[0].analysis.confidence");
    auto empty = only_error(head + "    analysis: {guardrails: []}\n");
    CHECK(empty.message.find("at least one guardrail") != std::string::npos);
    auto decreasing = only_error(head + "    rollout: {steps: [{weight: 10, pause: 1s}, {weight: 5}]}\n");
    CHECK(decreasing.message.find("must increase") != std::string::npos);
    auto no_pause = only_error(head + "    rollout: {steps: [{weight: 10}, {weight: 50}]}\n");
    CHECK(no_pause.path == "routes[0].rollout.steps[0].pause");
    auto both = only_error(head + "    canary_weight: 5\n    rollout: {steps: [{weight: 10}]}\n");
    CHECK(both.message.find("either canary_weight or rollout.steps") != std::string::npos);
    auto no_canary = only_error("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: a\n"
                                "    stable: {version: v1, endpoints: []}\n"
                                "    analysis: {guardrails: [{metric: success_rate, max_drop: 0}]}\n");
    CHECK(no_canary.message.find("needs a canary") != std::string::npos);
}

TEST_CASE("signal settings and backend signal sources") {
    auto result = load_config(R"(listeners: [{address: 127.0.0.1:8080}]
defaults:
  signals: {window: 30s, failure_statuses: [5xx, 429]}
routes:
  - name: a
    match: {host: a.example}
    stable: {version: v1, endpoints: [10.0.0.1:80], signals: {pid_file: /run/a.pid}}
    canary: {version: v2, endpoints: [10.0.0.2:80], signals: {cgroup: [/sys/fs/cgroup/a, /sys/fs/cgroup/b]}}
  - name: b
    match: {host: b.example}
    stable: {version: v1, endpoints: [10.0.0.3:80], signals: {scrape: "http://10.0.0.3:9100/metrics"}}
    canary: {version: v2, endpoints: [10.0.0.4:80], signals: {scrape_path: /metrics}}
)");
    for (const auto& e : result.errors) INFO(format_error("f", e));
    REQUIRE(result.ok());
    const auto& c = *result.config;
    CHECK(c.defaults.signals.window == Duration{30'000});
    CHECK(c.defaults.signals.failure_statuses.matches(503));
    CHECK(c.defaults.signals.failure_statuses.matches(429));
    CHECK_FALSE(c.defaults.signals.failure_statuses.matches(404));
    CHECK(c.routes[0].stable.signals.source == BackendSignals::Source::pid_file);
    CHECK(c.routes[0].stable.signals.paths == std::vector<std::string>{"/run/a.pid"});
    CHECK(c.routes[0].canary->signals.paths.size() == 2);
    CHECK(c.routes[1].stable.signals.scrape_url == "http://10.0.0.3:9100/metrics");
    CHECK(c.routes[1].canary->signals.scrape_path == "/metrics");

    const std::string base = "listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: a\n    stable: {version: v1, endpoints: [], signals: ";
    CHECK(only_error(base + "{pid_file: /a, cgroup: /b}}\n").message.find("exactly one") != std::string::npos);
    CHECK(only_error(base + "{scrape: https://x/metrics}}\n").message.find("https") != std::string::npos);
    CHECK(only_error(base + "{scrape_path: metrics}}\n").message.find("start with '/'") != std::string::npos);
    CHECK(only_error(base + "{cgroup: []}}\n").message.find("must not be empty") != std::string::npos);
    auto bad_status = only_error("listeners: [{address: 127.0.0.1:8080}]\ndefaults: {signals: {failure_statuses: [5XX]}}\n"
                                 "routes:\n  - name: a\n    stable: {version: v1, endpoints: []}\n");
    CHECK(bad_status.path == "defaults.signals.failure_statuses[0]");
    auto bad_window = only_error("listeners: [{address: 127.0.0.1:8080}]\ndefaults: {signals: {window: 1500ms}}\n"
                                 "routes:\n  - name: a\n    stable: {version: v1, endpoints: []}\n");
    CHECK(bad_window.path == "defaults.signals.window");
}

TEST_CASE("a non-loopback admin address needs a token") {
    auto e = only_error(std::string(kMinimal) + "admin: {address: 0.0.0.0:9901}\n");
    CHECK(e.path == "admin.address");
    CHECK(e.message.find("token_file") != std::string::npos);
    auto ok = load_config(std::string(kMinimal) + "admin: {address: 0.0.0.0:9901, token_file: /t}\n");
    CHECK(ok.ok());
}

TEST_CASE("upstream tls per version: keys, defaults and errors") {
    auto with_tls = [](const std::string& tls) {
        return std::string("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: api\n"
                           "    stable: {version: v1, endpoints: [api.internal:443], tls: ") + tls + "}\n"
               "    canary: {version: v2, endpoints: [10.0.0.2:8080]}\n";
    };
    auto full = load_config(with_tls("{ca_file: /ca.pem, server_name: API.Example.com, cert_file: /c.pem, key_file: /k.pem, verify: false}"));
    REQUIRE(full.ok());
    const auto& tls = full.config->routes[0].stable.tls;
    REQUIRE(tls.has_value());
    CHECK(tls->ca_file == "/ca.pem");
    CHECK(tls->server_name == "api.example.com");
    CHECK(tls->cert_file == "/c.pem");
    CHECK(tls->key_file == "/k.pem");
    CHECK_FALSE(tls->verify);
    CHECK_FALSE(full.config->routes[0].canary->tls.has_value());  // plain HTTP unless asked

    auto defaults = load_config(with_tls("{}"));
    REQUIRE(defaults.ok());
    CHECK(defaults.config->routes[0].stable.tls->verify);  // verified by default
    CHECK(defaults.config->routes[0].stable.tls->ca_file.empty());  // the system store

    auto half = only_error(with_tls("{cert_file: /c.pem}"));
    CHECK(half.path == "routes[0].stable.tls");
    CHECK(half.message.find("cert_file and key_file go together") != std::string::npos);
    auto bad_name = only_error(with_tls("{server_name: 'a b'}"));
    CHECK(bad_name.path == "routes[0].stable.tls.server_name");
    auto with_port = only_error(with_tls("{server_name: 'api:443'}"));
    CHECK(with_port.path == "routes[0].stable.tls.server_name");
    auto typo = only_error(with_tls("{verfy: true}"));
    CHECK(typo.path == "routes[0].stable.tls.verfy");
    auto not_bool = only_error(with_tls("{verify: maybe}"));
    CHECK(not_bool.path == "routes[0].stable.tls.verify");
}

TEST_CASE("fleet: name, prometheus and etcd with their defaults") {
    auto loaded = load_config("fleet:\n  name: checkout\n  prometheus: {url: 'http://prom:9090', selector: '{job=\"canaryd-checkout\"}'}\n"
                              "  etcd: {endpoints: [http://etcd-0:2379, 'http://10.0.0.2:2379']}\n" +
                              std::string(kMinimal));
    REQUIRE(loaded.errors.empty());
    REQUIRE(loaded.config->fleet);
    const auto& fleet = *loaded.config->fleet;
    CHECK(fleet.name == "checkout");
    REQUIRE(fleet.prometheus);
    CHECK(fleet.prometheus->host == "prom");
    CHECK(fleet.prometheus->port == 9090);
    CHECK(fleet.prometheus->selector == "job=\"canaryd-checkout\"");
    CHECK(fleet.prometheus->timeout == canaryd::config::Duration(2000));
    REQUIRE(fleet.etcd);
    REQUIRE(fleet.etcd->endpoints.size() == 2);
    CHECK(fleet.etcd->endpoints[0].host == "etcd-0");
    CHECK(fleet.etcd->endpoints[1].port == 2379);
    CHECK(fleet.etcd->prefix == "/canaryd/");
    CHECK(fleet.etcd->lease == canaryd::config::Duration(10000));

    auto etcd_only = load_config("fleet: {name: a, etcd: {endpoints: [http://127.0.0.1:2379], prefix: /x/, lease: 2s}}\n" +
                                 std::string(kMinimal));
    REQUIRE(etcd_only.errors.empty());
    CHECK_FALSE(etcd_only.config->fleet->prometheus);
    CHECK(etcd_only.config->fleet->etcd->prefix == "/x/");
    CHECK_FALSE(load_config(std::string(kMinimal)).config->fleet);
}

TEST_CASE("fleet: every mistake is reported at its position") {
    auto neither = only_error("fleet: {name: checkout}\n" + std::string(kMinimal));
    CHECK(neither.path == "fleet");
    CHECK(neither.message.find("at least one of prometheus") != std::string::npos);
    CHECK(only_error("fleet: {prometheus: {url: 'http://p:9090'}}\n" + std::string(kMinimal)).message.find("missing") !=
          std::string::npos);
    auto bad_name = only_error("fleet: {name: 'a b', etcd: {endpoints: [http://e:2379]}}\n" + std::string(kMinimal));
    CHECK(bad_name.path == "fleet.name");
    auto selector = only_error("fleet: {name: a, prometheus: {url: 'http://p:9090', selector: 'job=x'}}\n" + std::string(kMinimal));
    CHECK(selector.path == "fleet.prometheus.selector");
    auto url = only_error("fleet: {name: a, prometheus: {url: 'ftp://p'}}\n" + std::string(kMinimal));
    CHECK(url.path == "fleet.prometheus.url");
    auto endpoint = only_error("fleet: {name: a, etcd: {endpoints: ['http://e:2379', 'e:2379']}}\n" + std::string(kMinimal));
    CHECK(endpoint.path == "fleet.etcd.endpoints[1]");
    CHECK(endpoint.column > 1);
    auto none = only_error("fleet: {name: a, etcd: {endpoints: []}}\n" + std::string(kMinimal));
    CHECK(none.path == "fleet.etcd.endpoints");
    auto lease = only_error("fleet: {name: a, etcd: {endpoints: [http://e:2379], lease: 1500ms}}\n" + std::string(kMinimal));
    CHECK(lease.path == "fleet.etcd.lease");
    auto prefix = only_error("fleet: {name: a, etcd: {endpoints: [http://e:2379], prefix: canaryd}}\n" + std::string(kMinimal));
    CHECK(prefix.path == "fleet.etcd.prefix");
    auto typo = load_config("fleet: {name: a, etcd: {endpoint: [http://e:2379]}}\n" + std::string(kMinimal));
    REQUIRE_FALSE(typo.errors.empty());
    CHECK(std::any_of(typo.errors.begin(), typo.errors.end(), [](const auto& e) { return e.path == "fleet.etcd.endpoint"; }));
}

TEST_CASE("notify targets: url, format, events, secret_file, and their errors") {
    auto ok = load_config(std::string(kMinimal) +
                          "notify:\n  - {url: 'https://hooks.slack.com/services/T/B/X', format: slack, events: [rollback, hold_timeout]}\n"
                          "  - {url: 'http://10.0.0.9:8080/canaryd', secret_file: /etc/canaryd/hook.secret}\n");
    REQUIRE(ok.ok());
    REQUIRE(ok.config->notify.size() == 2);
    CHECK(ok.config->notify[0].format == NotifyTarget::Format::slack);
    CHECK(ok.config->notify[0].events == std::vector<std::string>{"rollback", "hold_timeout"});
    CHECK(ok.config->notify[1].format == NotifyTarget::Format::json);  // the default
    CHECK(ok.config->notify[1].events.empty());                         // every event
    CHECK(ok.config->notify[1].secret_file == "/etc/canaryd/hook.secret");

    auto no_url = only_error(std::string(kMinimal) + "notify: [{format: json}]\n");
    CHECK(no_url.path == "notify[0].url");
    auto bad_url = only_error(std::string(kMinimal) + "notify: [{url: 'ftp://x/y'}]\n");
    CHECK(bad_url.path == "notify[0].url");
    CHECK(bad_url.message.find("http:// or https://") != std::string::npos);
    auto bad_format = only_error(std::string(kMinimal) + "notify: [{url: 'http://x/', format: teams}]\n");
    CHECK(bad_format.path == "notify[0].format");
    auto bad_event = only_error(std::string(kMinimal) + "notify: [{url: 'http://x/', events: [rollback, deploy]}]\n");
    CHECK(bad_event.path == "notify[0].events[1]");
    CHECK(bad_event.message.find("'deploy' is not an event: rollback, pause") != std::string::npos);
}

TEST_CASE("admin tokens: names, files, roles, and what a reachable address needs") {
    auto ok = load_config(std::string(kMinimal) +
                          "admin:\n  address: 0.0.0.0:9901\n  tokens:\n    - {name: alice, file: /a, role: operator}\n"
                          "    - {name: bob, file: /b, role: viewer}\n");
    REQUIRE(ok.ok());
    REQUIRE(ok.config->admin.tokens.size() == 2);
    CHECK(ok.config->admin.tokens[0].role == AdminToken::Role::operator_role);
    CHECK(ok.config->admin.tokens[1].role == AdminToken::Role::viewer);
    CHECK(ok.config->admin.has_tokens());

    // A reachable address with only viewers: nobody could act, and anyone could on loopback.
    auto viewers_only = only_error(std::string(kMinimal) +
                                   "admin:\n  address: 0.0.0.0:9901\n  tokens: [{name: bob, file: /b, role: viewer}]\n");
    CHECK(viewers_only.path == "admin.address");
    auto duplicate = only_error(std::string(kMinimal) +
                                "admin:\n  tokens: [{name: a, file: /a, role: viewer}, {name: a, file: /b, role: viewer}]\n");
    CHECK(duplicate.path == "admin.tokens[1].name");
    auto admin_taken = only_error(std::string(kMinimal) +
                                  "admin:\n  token_file: /t\n  tokens: [{name: admin, file: /a, role: viewer}]\n");
    CHECK(admin_taken.message.find("token_file is 'admin'") != std::string::npos);
    auto bad_role = only_error(std::string(kMinimal) + "admin:\n  tokens: [{name: a, file: /a, role: root}]\n");
    CHECK(bad_role.path == "admin.tokens[0].role");
    auto bad_name = only_error(std::string(kMinimal) + "admin:\n  tokens: [{name: 'a b', file: /a, role: viewer}]\n");
    CHECK(bad_name.path == "admin.tokens[0].name");
    auto no_role = only_error(std::string(kMinimal) + "admin:\n  tokens: [{name: a, file: /a}]\n");
    CHECK(no_role.path == "admin.tokens[0].role");
}

TEST_CASE("rollout gates: manual or a webhook, instead of a pause") {
    auto with_steps = [](const std::string& steps) {
        return std::string("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: api\n"
                           "    stable: {version: v1, endpoints: [10.0.0.1:80]}\n    canary: {version: v2, endpoints: [10.0.0.2:80]}\n"
                           "    rollout: {steps: ") + steps + "}\n";
    };
    auto ok = load_config(with_steps("[{weight: 5, gate: manual}, {weight: 20, gate: {webhook: 'https://ci/ok'}}, {weight: 100}]"));
    REQUIRE(ok.ok());
    const auto& steps = ok.config->routes[0].rollout->steps;
    CHECK(steps[0].gate == RolloutStep::Gate::manual);
    CHECK(steps[1].gate == RolloutStep::Gate::webhook);
    CHECK(steps[1].webhook == "https://ci/ok");
    CHECK(steps[2].gate == RolloutStep::Gate::none);

    auto both = only_error(with_steps("[{weight: 5, pause: 1m, gate: manual}, {weight: 100}]"));
    CHECK(both.path == "routes[0].rollout.steps[0].pause");
    auto unknown = only_error(with_steps("[{weight: 5, gate: auto}, {weight: 100}]"));
    CHECK(unknown.path == "routes[0].rollout.steps[0].gate");
    auto bad_url = only_error(with_steps("[{weight: 5, gate: {webhook: 'ftp://x'}}, {weight: 100}]"));
    CHECK(bad_url.path == "routes[0].rollout.steps[0].gate.webhook");
    auto neither = only_error(with_steps("[{weight: 5}, {weight: 100}]"));
    CHECK(neither.message.find("pauses or has a gate") != std::string::npos);
}

TEST_CASE("cross-field rules") {
    auto dup = only_error(std::string(kMinimal) +
                          "  - name: api\n    match: {host: a.example.com}\n    stable: {version: v1, endpoints: []}\n");
    CHECK(dup.path == "routes[1].name");
    CHECK(dup.message.find("duplicate route name") != std::string::npos);

    auto shadow = only_error(std::string(kMinimal) + "  - name: other\n    stable: {version: v1, endpoints: []}\n");
    CHECK(shadow.path == "routes[1].match");
    CHECK(shadow.message.find("could never match") != std::string::npos);

    auto same_label = only_error("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: api\n"
                                 "    stable: {version: v1, endpoints: []}\n    canary: {version: v1, endpoints: []}\n");
    CHECK(same_label.message.find("same version label") != std::string::npos);

    auto weight_without_canary = only_error(std::string(kMinimal) + "    canary_weight: 5\n");
    CHECK(weight_without_canary.message.find("needs a canary") != std::string::npos);

    auto sticky_both = only_error(std::string(kMinimal) + "    sticky: {header: x-user, cookie: uid}\n");
    CHECK(sticky_both.message.find("exactly one") != std::string::npos);

    auto bad_role = only_error(std::string(kMinimal) + "    overrides: [{header: x-canary, value: a, to: beta}]\n");
    CHECK(bad_role.path == "routes[0].overrides[0].to");

    auto dup_endpoint = only_error("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: api\n"
                                   "    stable: {version: v1, endpoints: [10.0.0.1:80, 10.0.0.1:80]}\n");
    CHECK(dup_endpoint.path == "routes[0].stable.endpoints[1]");
}

TEST_CASE("every error is reported at once, in file order") {
    auto result = load_config(R"(threads: lots
listeners:
  - address: nowhere
routes:
  - name: api
    stable: {version: v1, endpoints: [10.0.0.1:80]}
    canary: {version: v2, endpoints: [10.0.0.2:80]}
    canary_weight: 200
    stcky: {header: x}
)");
    REQUIRE_FALSE(result.ok());
    REQUIRE(result.errors.size() == 4);
    CHECK(result.errors[0].path == "threads");
    CHECK(result.errors[1].path == "listeners[0].address");
    CHECK(result.errors[2].path == "routes[0].canary_weight");
    CHECK(result.errors[3].path == "routes[0].stcky");
    CHECK(result.errors[3].message.find("did you mean 'sticky'") != std::string::npos);
    CHECK(result.errors[0].line < result.errors[1].line);
}

TEST_CASE("config strings that reach headers, labels and logs are checked at load, with the bad character named") {
    SUBCASE("a version label with CR LF (header injection through version_header)") {
        const auto e = only_error(R"(listeners: [{address: 127.0.0.1:8080}]
routes:
  - name: api
    stable: {version: "v1\r\nSet-Cookie: pwned=1", endpoints: [10.0.0.1:8080]}
)");
        CHECK(e.path == "routes[0].stable.version");
        CHECK(e.line == 4);
        CHECK(e.message.find("character 3 ('\\r')") != std::string::npos);
    }
    SUBCASE("labels from pipelines: tags and dotted versions pass, slashes and spaces do not") {
        for (const char* ok : {"v42", "2026.11.2", "1.4.0-rc.1+build.7", "sha_9f3e2a"}) {
            auto r = load_config(std::string("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: api\n"
                                             "    stable: {version: \"") + ok + "\", endpoints: [10.0.0.1:8080]}\n");
            CHECK_MESSAGE(r.ok(), ok);
        }
        for (const char* bad : {"feature/login", "v 2", "-v2", "<b>v2</b>"}) {
            auto r = load_config(std::string("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: api\n"
                                             "    stable: {version: \"") + bad + "\", endpoints: [10.0.0.1:8080]}\n");
            CHECK_MESSAGE(!r.ok(), bad);
        }
        auto longer = load_config("listeners: [{address: 127.0.0.1:8080}]\nroutes:\n  - name: api\n"
                                  "    stable: {version: " + std::string(64, 'a') + ", endpoints: [10.0.0.1:8080]}\n");
        REQUIRE_FALSE(longer.ok());
        CHECK(longer.errors[0].message.find("at most 63") != std::string::npos);
    }
    SUBCASE("an override value with a control character, a path prefix with a space") {
        auto r = load_config(R"(listeners: [{address: 127.0.0.1:8080}]
routes:
  - name: api
    match: {path_prefix: "/a b"}
    stable: {version: v1, endpoints: [10.0.0.1:8080]}
    canary: {version: v2, endpoints: [10.0.0.2:8080]}
    overrides:
      - {header: x-canary, value: "yes\n", to: canary}
)");
        REQUIRE(r.errors.size() == 2);
        CHECK(r.errors[0].path == "routes[0].match.path_prefix");
        CHECK(r.errors[0].message.find("character 3 (' ')") != std::string::npos);
        CHECK(r.errors[1].path == "routes[0].overrides[0].value");
        CHECK(r.errors[1].message.find("('\\n')") != std::string::npos);
    }
}

TEST_CASE("errors on binary junk point inside the file and print as one escaped line") {
    // Lone CRs and NEL are line breaks to yaml-cpp but not to an editor; control bytes and
    // invalid UTF-8 must not reach the terminal.
    std::string junk = "a: 1\rb: 2\r\xc2\x85\x01\x02\xff\xfe\x1b[31m";
    for (int i = 0; i < 400; ++i) junk += static_cast<char>((i * 37 + 11) % 256);
    junk += "\n: [\n";
    const auto r = load_config(junk);
    REQUIRE_FALSE(r.ok());
    int lines = 1;
    for (char c : junk) lines += c == '\n';
    for (const auto& e : r.errors) {
        const auto text = format_error("f.yaml", e);
        INFO(text);
        CHECK(e.line >= 1);
        CHECK(e.line <= lines);
        CHECK(text.find_first_of(std::string("\r\n\x1b\x00", 4)) == std::string::npos);
        CHECK(canaryd::text::first_unprintable(text) == std::string::npos);
    }
}

TEST_CASE("a version's protocol: http1 by default, http2 when asked, anything else an error at its position") {
    auto h2 = load_config(R"(listeners: [{address: 127.0.0.1:8080}]
routes:
  - name: api
    stable: {version: v1, endpoints: [10.0.0.1:50051], protocol: http2}
    canary: {version: v2, endpoints: [10.0.0.2:8080]}
)");
    REQUIRE(h2.errors.empty());
    CHECK(h2.config->routes[0].stable.protocol == canaryd::config::Version::Protocol::http2);
    CHECK(h2.config->routes[0].canary->protocol == canaryd::config::Version::Protocol::http1);
    auto bad = only_error(R"(listeners: [{address: 127.0.0.1:8080}]
routes:
  - name: api
    stable: {version: v1, endpoints: [10.0.0.1:50051], protocol: grpc}
)");
    CHECK(bad.path == "routes[0].stable.protocol");
    CHECK(bad.message.find("http1 or http2") != std::string::npos);
}

TEST_CASE("failure_statuses accepts gRPC statuses by name, and says which names exist") {
    auto ok = load_config(std::string(kMinimal) + "defaults:\n  signals: {failure_statuses: [5xx, 'grpc:UNAVAILABLE', 'grpc:internal']}\n");
    REQUIRE(ok.errors.empty());
    const auto& statuses = ok.config->defaults.signals.failure_statuses;
    CHECK(statuses.matches(502));
    CHECK(statuses.matches_grpc(14));
    CHECK(statuses.matches_grpc(13));
    CHECK_FALSE(statuses.matches_grpc(4));  // the listed set replaced the default
    auto bad = only_error(std::string(kMinimal) + "defaults:\n  signals: {failure_statuses: ['grpc:BROKEN']}\n");
    CHECK(bad.path == "defaults.signals.failure_statuses[0]");
    CHECK(bad.message.find("UNAVAILABLE") != std::string::npos);
}
