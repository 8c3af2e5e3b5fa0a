// Plain configuration structs: what one YAML file says, already validated.
//
// A Config is built once by the loader and then only read; the I/O layer wraps it in a
// std::shared_ptr<const Config> snapshot. Runtime state (the weight in force, a latched
// rollback) never lives here.
#pragma once

#include "core/analysis/outcome.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace canaryd::config {

using Duration = std::chrono::milliseconds;

// Weights are basis points: 10,000 = 100 %, so 0.01 % is the smallest step (SPEC §2).
inline constexpr std::uint32_t kWeightScale = 10'000;

// "host:port" as written; the host is an IP literal or a name resolved by the I/O layer.
struct HostPort {
    std::string host;
    std::uint16_t port = 0;

    std::string to_string() const;
    friend bool operator==(const HostPort&, const HostPort&) = default;
};

struct TlsFiles {
    std::string cert_file;
    std::string key_file;
    friend bool operator==(const TlsFiles&, const TlsFiles&) = default;
};

struct Listener {
    HostPort address;
    std::optional<TlsFiles> tls;
    friend bool operator==(const Listener&, const Listener&) = default;
};

// A named admin token (SPEC §10): events say who acted ("alice@10.0.0.7"); a viewer reads
// but never mutates.
struct AdminToken {
    enum class Role : std::uint8_t { operator_role, viewer };
    std::string name;
    std::string file;  // its trimmed content is the token; re-read on every reload
    Role role = Role::operator_role;
    friend bool operator==(const AdminToken&, const AdminToken&) = default;
};

struct Admin {
    HostPort address{"127.0.0.1", 9901};
    std::string token_file;  // an operator token named "admin"; empty: none
    std::vector<AdminToken> tokens;
    // No token at all: mutating calls are open, and the address must be loopback.
    bool has_tokens() const { return !token_file.empty() || !tokens.empty(); }
};

struct Timeouts {
    Duration connect{1'000};
    Duration header{10'000};             // absolute deadline for a whole request header
    Duration upstream_response{30'000};  // request fully sent -> response header received
    Duration idle{60'000};               // keep-alive idle, both sides
    Duration body{30'000};               // longest pause between two reads of a request body
    Duration tunnel_idle{600'000};       // an upgraded (WebSocket) tunnel with no traffic either way
    Duration shutdown_grace{0};
    Duration drain{30'000};
};

struct Limits {
    std::uint64_t request_line_bytes = 8 * 1024;      // beyond: 414
    std::uint64_t header_bytes = 64 * 1024;           // whole header block, request line included; 431
    std::uint64_t field_bytes = 16 * 1024;            // one header field line; 431
    std::uint32_t field_count = 100;                  // header fields per request; 431
    std::uint64_t body_bytes = 100ull * 1024 * 1024;  // request body; 413
};

struct UpstreamPool {
    // Idle keep-alive connections kept per endpoint and worker thread. Unset (the default):
    // as many as the worker recently had in use at once, within its descriptor budget
    // (io/upstream/upstream_pool.hpp), so steady load never closes and reopens connections.
    // 0 turns upstream keep-alive off.
    std::optional<std::uint32_t> max_idle_per_endpoint;
};

// Per-version request signals (SPEC §5).
struct SignalsSettings {
    Duration window{60'000};                    // sliding window of one-second buckets
    analysis::FailureStatuses failure_statuses;  // default: every 5xx
};

struct Defaults {
    SignalsSettings signals;
    Timeouts timeouts;
    Limits limits;
    UpstreamPool upstream;
    // When non-empty, responses carry this header naming the version that served
    // ("stable/v41", "canary/v42"). Off by default: it leaks release names to clients.
    std::string version_header;
    // How often endpoint host names are resolved again (SPEC §11), so that Service DNS names
    // follow pods as they come and go. Zero: only when a config loads.
    Duration dns_refresh{5'000};
};

enum class Role : std::uint8_t { stable = 0, canary = 1 };
const char* to_string(Role role);

// Where a version's backend CPU and memory come from (SPEC §5).
struct BackendSignals {
    enum class Source : std::uint8_t { none, pid_file, cgroup, scrape, scrape_path };
    Source source = Source::none;
    std::vector<std::string> paths;  // pid files or cgroup v2 directories, summed
    std::string scrape_url;          // scrape: one Prometheus text endpoint for the version
    std::string scrape_path;         // scrape_path: this path on every endpoint, summed
};
const char* to_string(BackendSignals::Source source);

// TLS to a version's endpoints (SPEC §11): many backends an edge gateway fronts speak HTTPS
// only. Verified by default, against `ca_file` or the system's CA store.
struct UpstreamTls {
    std::string ca_file;      // PEM bundle; empty: the system store
    std::string server_name;  // SNI and the name checked; empty: each endpoint's host
    std::string cert_file;    // client certificate (mTLS), with key_file
    std::string key_file;
    bool verify = true;       // false: any certificate is accepted (test backends only)
    friend bool operator==(const UpstreamTls&, const UpstreamTls&) = default;
};

struct Version {
    // How canaryd speaks to the version's endpoints: HTTP/1.1, or HTTP/2 (prior knowledge on
    // plain TCP, ALPN h2 with `tls:`), which gRPC services need.
    enum class Protocol : std::uint8_t { http1, http2 };
    std::string release;  // the `version:` label, e.g. "v42"
    std::vector<HostPort> endpoints;
    BackendSignals signals;
    std::optional<UpstreamTls> tls;  // unset: plain HTTP
    Protocol protocol = Protocol::http1;
};

struct Match {
    std::string host;  // lower case; "" = any host, "*.example.com" = any subdomain
    std::string path_prefix = "/";
};

struct Sticky {
    enum class Source : std::uint8_t { header, cookie };
    Source source = Source::header;
    std::string name;  // header name (lower case) or cookie name
    std::string salt;  // defaults to the route name
};

struct Override {
    std::string header;  // lower case
    std::string value;   // compared exactly
    Role to = Role::stable;
};

// One guardrail (SPEC §6): a metric and exactly one bound.
struct Guardrail {
    enum class Metric : std::uint8_t { success_rate, latency_p50, latency_p90, latency_p99, cpu_per_request, memory };
    Metric metric = Metric::success_rate;
    // success_rate
    std::optional<double> max_drop_points;  // canary may be at most this many points worse than stable
    std::optional<double> min_percent;      // absolute minimum success rate
    // latency_*, cpu_per_request, memory (memory: per endpoint)
    std::optional<double> max_ratio;
    // latency_*
    std::optional<double> max_ms;
    // memory
    std::optional<std::uint64_t> max_bytes;
    // cpu_per_request, memory: how long a bound must be exceeded before it fails
    Duration persistence{15'000};
    // Evaluated, logged and exported like the others, but never acts (SPEC §6).
    bool dry_run = false;

    std::string name() const;  // "success_rate", "latency_p99", ...
    std::string bound_name() const;  // "max_drop", "min", "max_ratio", "max_ms" or "max_bytes"
    // The same test with the same bounds: its evidence stays valid across a reload.
    // (dry_run is not part of it: switching it on or off keeps the evidence.)
    bool same_test(const Guardrail& other) const;
    double latency_quantile() const;  // 0.5, 0.9, 0.99 for latency metrics
    bool is_latency() const;
};

struct Analysis {
    Duration interval{1'000};
    // The guardrail labels of this route (in guardrails' order): the metric name, or
    // "metric.bound" when a metric is given more than once (latency_p99.max_ratio and
    // latency_p99.max_ms). Used in logs, /status and metric labels.
    std::vector<std::string> guardrail_labels() const;
    std::uint64_t min_requests = 100;  // per version, before any verdict
    double confidence = 0.99;          // for the whole family of guardrails, per horizon
    // The span of analysis that 1 - confidence covers: a healthy canary is rolled back at
    // most that often per horizon of analysis (a rollout that ends within one horizon: at
    // most once in 1/(1 - confidence)). Longer: fewer false rollbacks per day for canaries
    // left at a weight for days, a little slower detection of late regressions.
    Duration horizon{1'800'000};
    std::vector<Guardrail> guardrails;
};

struct RolloutStep {
    // A gate instead of a pause (SPEC §6): `manual` waits for an operator's promote, `webhook`
    // for the URL to answer 2xx (polled every analysis interval; anything else holds).
    enum class Gate : std::uint8_t { none, manual, webhook };
    std::uint32_t weight_bp = 0;
    Duration pause{0};
    Gate gate = Gate::none;
    std::string webhook;  // with Gate::webhook: http:// or https://
};

struct Rollout {
    std::vector<RolloutStep> steps;
    // A step whose pause is over but whose analysis still holds (too little traffic, a
    // missing signal) waits at most this long; then the rollout pauses for an operator.
    Duration max_hold{600'000};
};

struct Route {
    std::string name;
    Match match;
    Version stable;
    std::optional<Version> canary;
    std::uint32_t canary_weight_bp = 0;
    std::optional<Sticky> sticky;
    std::vector<Override> overrides;
    std::optional<Analysis> analysis;
    std::optional<Rollout> rollout;
};

// Where rollout events are sent (SPEC §10, `notify:`): a chat webhook, an incident tool, a
// pipeline that waits for a promote.
struct NotifyTarget {
    enum class Format : std::uint8_t { json, slack };
    std::string url;                  // http:// or https://, validated at load
    Format format = Format::json;     // json: the /events record; slack: {"text": ...}
    std::vector<std::string> events;  // which events; empty: every one
    std::string secret_file;          // HMAC-SHA256 key: X-Canaryd-Signature
    friend bool operator==(const NotifyTarget&, const NotifyTarget&) = default;
};
// The events a notification can be about (SPEC §10).
inline constexpr const char* kNotifyEvents[] = {"rollback", "pause",        "advance",       "promote",
                                                "resume",   "hold_timeout", "fleet_degraded"};

// Fleet mode (SPEC §9): the replicas that share `name` act as one canary.
struct FleetPrometheus {
    std::string url;        // as written (for messages)
    std::string host;
    std::uint16_t port = 9090;
    // Label matchers added to every query, without the braces ('job="canaryd-checkout"');
    // empty: none.
    std::string selector;
    Duration timeout{2'000};
    friend bool operator==(const FleetPrometheus&, const FleetPrometheus&) = default;
};
struct FleetEtcd {
    std::vector<HostPort> endpoints;  // tried in order; the one that answered is kept
    std::string prefix = "/canaryd/";
    Duration lease{10'000};
    friend bool operator==(const FleetEtcd&, const FleetEtcd&) = default;
};
struct Fleet {
    std::string name;
    std::optional<FleetPrometheus> prometheus;  // fleet-wide signals
    std::optional<FleetEtcd> etcd;              // shared rollout state and leader
    friend bool operator==(const Fleet&, const Fleet&) = default;
};

struct Config {
    std::uint32_t threads = 0;  // 0 = one per core, resolved by the I/O layer
    // Reload when the config file changes (SPEC §11), as well as on SIGHUP.
    bool watch_config = true;
    std::vector<Listener> listeners;
    Admin admin;
    std::string state_file;
    std::string access_log;  // "" = off, "stderr", or a file path
    Defaults defaults;
    std::vector<Route> routes;
    std::vector<NotifyTarget> notify;
    std::optional<Fleet> fleet;

    const Route* find_route(std::string_view name) const;
};

}  // namespace canaryd::config
