#include "core/config/loader.hpp"

#include "core/grpc/grpc_status.hpp"

#include "core/config/units.hpp"
#include "core/config/yaml_reader.hpp"
#include "core/text/printable.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

namespace canaryd::config {
namespace {

std::string lower(std::string text) {
    for (auto& c : text)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return text;
}

// RFC 9110 §5.1: a field name is a token.
bool is_token(std::string_view text) {
    if (text.empty()) return false;
    for (char c : text) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

std::string shortest(double value) {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, ec == std::errc{} ? end : buffer);
}

// Release labels reach a response header (version_header), metric labels, log lines and
// the dashboard, and often come from a pipeline (an image tag, a branch name): letters,
// digits and . _ + - only, so none of them can carry CR LF or markup. Returns the offset of
// the first wrong character, or npos when the label is fine.
std::size_t bad_release_char(std::string_view label) {
    if (label.empty()) return 0;
    for (std::size_t i = 0; i < label.size(); ++i) {
        const char c = label[i];
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (alnum || (i > 0 && std::string_view("._+-").find(c) != std::string_view::npos)) continue;
        return i;
    }
    return label.size() > 63 ? 63 : std::string_view::npos;
}

std::size_t first_outside(std::string_view text, unsigned char low, unsigned char high) {
    for (std::size_t i = 0; i < text.size(); ++i)
        if (const auto c = static_cast<unsigned char>(text[i]); c < low || c > high) return i;
    return std::string_view::npos;
}

std::size_t first_control(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i)
        if (const auto c = static_cast<unsigned char>(text[i]); (c < 0x20 && c != '\t') || c == 0x7f) return i;
    return std::string_view::npos;
}

bool is_route_name(std::string_view text) {
    if (text.empty() || text.size() > 64) return false;
    for (char c : text) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

// Host patterns: a name, or "*." followed by a name. Ports are not part of the match.
bool is_host_pattern(std::string_view text) {
    if (text.starts_with("*.")) text.remove_prefix(2);
    if (text.empty()) return false;
    for (char c : text) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
        if (!ok) return false;
    }
    return !text.starts_with('.') && !text.ends_with('.');
}

class Loader {
public:
    explicit Loader(std::vector<ConfigError>& errors) : reader_(errors) {}

    Config load(const YAML::Node& root) {
        Config config;
        MapFields top(reader_, root, "",
                      {"threads", "listeners", "admin", "state_file", "access_log", "watch_config", "defaults", "routes",
                       "fleet", "notify"});
        if (!top.valid()) return config;
        if (auto n = top.get("threads"); n.IsDefined())
            config.threads = static_cast<std::uint32_t>(reader_.uint(n, "threads", 1, 1024).value_or(0));
        load_listeners(top.require("listeners"), config);
        if (auto n = top.get("admin"); n.IsDefined()) load_admin(n, config.admin);
        if (auto n = top.get("state_file"); n.IsDefined())
            config.state_file = reader_.non_empty_string(n, "state_file").value_or("");
        if (auto n = top.get("access_log"); n.IsDefined())
            config.access_log = reader_.non_empty_string(n, "access_log").value_or("");
        if (auto n = top.get("watch_config"); n.IsDefined())
            config.watch_config = reader_.boolean(n, "watch_config").value_or(true);
        if (auto n = top.get("defaults"); n.IsDefined()) load_defaults(n, config.defaults);
        load_routes(top.require("routes"), config);
        if (auto n = top.get("notify"); n.IsDefined()) load_notify(n, config.notify);
        if (auto n = top.get("fleet"); n.IsDefined()) config.fleet = load_fleet(n);
        return config;
    }

    void load_notify(const YAML::Node& node, std::vector<NotifyTarget>& out) {
        if (!reader_.expect_sequence(node, "notify")) return;
        for (std::size_t i = 0; i < node.size(); ++i) {
            const std::string path = "notify[" + std::to_string(i) + "]";
            MapFields fields(reader_, node[i], path, {"url", "format", "events", "secret_file"});
            if (!fields.valid()) continue;
            NotifyTarget target;
            if (auto u = fields.require("url"); u.IsDefined())
                if (auto text = reader_.non_empty_string(u, fields.path_of("url"))) {
                    if (auto parsed = parse_http_url(*text, true); !parsed)
                        reader_.error(u, fields.path_of("url"), parsed.message());
                    else
                        target.url = *text;
                }
            if (auto f = fields.get("format"); f.IsDefined())
                if (auto text = reader_.string(f, fields.path_of("format"))) {
                    if (*text == "json") target.format = NotifyTarget::Format::json;
                    else if (*text == "slack") target.format = NotifyTarget::Format::slack;
                    else reader_.error(f, fields.path_of("format"), "'" + *text + "' is not a format: json or slack");
                }
            if (auto e = fields.get("events"); e.IsDefined() && reader_.expect_sequence(e, fields.path_of("events"))) {
                for (std::size_t k = 0; k < e.size(); ++k) {
                    const auto event_path = fields.path_of("events") + "[" + std::to_string(k) + "]";
                    auto name = reader_.string(e[k], event_path);
                    if (!name) continue;
                    const bool known = std::any_of(std::begin(kNotifyEvents), std::end(kNotifyEvents),
                                                   [&](const char* known_event) { return *name == known_event; });
                    if (!known) {
                        std::string list;
                        for (const char* ev : kNotifyEvents) list += (list.empty() ? "" : ", ") + std::string(ev);
                        reader_.error(e[k], event_path, "'" + *name + "' is not an event: " + list);
                    } else {
                        target.events.push_back(*name);
                    }
                }
            }
            if (auto s = fields.get("secret_file"); s.IsDefined())
                target.secret_file = reader_.non_empty_string(s, fields.path_of("secret_file")).value_or("");
            out.push_back(std::move(target));
        }
    }

    // SPEC §9. At least one engine: a fleet with neither would be a fleet in name only.
    Fleet load_fleet(const YAML::Node& node) {
        Fleet fleet;
        MapFields fields(reader_, node, "fleet", {"name", "prometheus", "etcd"});
        if (!fields.valid()) return fleet;
        if (auto n = fields.require("name"); n.IsDefined())
            if (auto text = reader_.non_empty_string(n, "fleet.name")) {
                if (!is_route_name(*text))
                    reader_.error(n, "fleet.name", "use 1-64 letters, digits, '-', '_' or '.' (it names etcd keys)");
                else
                    fleet.name = *text;
            }
        if (auto n = fields.get("prometheus"); n.IsDefined()) fleet.prometheus = load_fleet_prometheus(n);
        if (auto n = fields.get("etcd"); n.IsDefined()) fleet.etcd = load_fleet_etcd(n);
        if (!fields.has("prometheus") && !fields.has("etcd"))
            reader_.error(node, "fleet", "name at least one of prometheus (fleet-wide signals) or etcd (shared state)");
        return fleet;
    }

    FleetPrometheus load_fleet_prometheus(const YAML::Node& node) {
        FleetPrometheus out;
        MapFields fields(reader_, node, "fleet.prometheus", {"url", "selector", "timeout"});
        if (!fields.valid()) return out;
        if (auto u = fields.require("url"); u.IsDefined())
            if (auto text = reader_.non_empty_string(u, "fleet.prometheus.url")) {
                auto parsed = parse_http_url(*text, true);
                if (!parsed) {
                    reader_.error(u, "fleet.prometheus.url", parsed.message());
                } else if (parsed->https) {
                    reader_.error(u, "fleet.prometheus.url", "https is not supported here: use http:// (a sidecar or in-cluster address)");
                } else {
                    out.url = *text;
                    out.host = parsed->host;
                    out.port = parsed->port;
                }
            }
        if (auto s = fields.get("selector"); s.IsDefined())
            if (auto text = reader_.string(s, "fleet.prometheus.selector")) {
                std::string_view v = *text;
                while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
                while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
                if (v.size() < 2 || v.front() != '{' || v.back() != '}' ||
                    v.substr(1, v.size() - 2).find_first_of("{}") != std::string_view::npos || first_control(v) != std::string_view::npos)
                    reader_.error(s, "fleet.prometheus.selector",
                                  "a label matcher set in braces, e.g. '{job=\"canaryd-checkout\"}'");
                else
                    out.selector = std::string(v.substr(1, v.size() - 2));
            }
        if (auto t = fields.get("timeout"); t.IsDefined())
            if (auto d = reader_.duration(t, "fleet.prometheus.timeout")) {
                if (*d < Duration(100) || *d > Duration(60'000))
                    reader_.error(t, "fleet.prometheus.timeout", "must be between 100ms and 60s");
                else
                    out.timeout = *d;
            }
        return out;
    }

    FleetEtcd load_fleet_etcd(const YAML::Node& node) {
        FleetEtcd out;
        MapFields fields(reader_, node, "fleet.etcd", {"endpoints", "prefix", "lease"});
        if (!fields.valid()) return out;
        if (auto e = fields.require("endpoints"); e.IsDefined() && reader_.expect_sequence(e, "fleet.etcd.endpoints")) {
            if (e.size() == 0) reader_.error(e, "fleet.etcd.endpoints", "at least one endpoint is required");
            for (std::size_t i = 0; i < e.size(); ++i) {
                const auto path = "fleet.etcd.endpoints[" + std::to_string(i) + "]";
                auto text = reader_.non_empty_string(e[i], path);
                if (!text) continue;
                auto parsed = parse_http_url(*text, false);
                if (!parsed) {
                    reader_.error(e[i], path, parsed.message() + " (etcd's JSON gateway, e.g. http://etcd-0:2379)");
                    continue;
                }
                if (parsed->target != "/") {
                    reader_.error(e[i], path, "an endpoint is scheme, host and port only (no path)");
                    continue;
                }
                out.endpoints.push_back({parsed->host, parsed->port});
            }
        }
        if (auto p = fields.get("prefix"); p.IsDefined())
            if (auto text = reader_.non_empty_string(p, "fleet.etcd.prefix")) {
                if (first_control(*text) != std::string_view::npos || !text->starts_with('/') || !text->ends_with('/'))
                    reader_.error(p, "fleet.etcd.prefix", "a key prefix that starts and ends with '/', e.g. /canaryd/");
                else
                    out.prefix = *text;
            }
        if (auto l = fields.get("lease"); l.IsDefined())
            if (auto d = reader_.duration(l, "fleet.etcd.lease")) {
                if (*d < Duration(2'000) || *d > Duration(300'000) || d->count() % 1000 != 0)
                    reader_.error(l, "fleet.etcd.lease", "whole seconds between 2s and 5m (etcd leases are in seconds)");
                else
                    out.lease = *d;
            }
        return out;
    }

private:

    void load_listeners(const YAML::Node& node, Config& config) {
        if (!node.IsDefined() || !reader_.expect_sequence(node, "listeners")) return;
        if (node.size() == 0) reader_.error(node, "listeners", "at least one listener is required");
        for (std::size_t i = 0; i < node.size(); ++i) {
            const std::string path = "listeners[" + std::to_string(i) + "]";
            MapFields fields(reader_, node[i], path, {"address", "tls"});
            if (!fields.valid()) continue;
            Listener listener;
            if (auto a = fields.require("address"); a.IsDefined()) {
                auto hp = reader_.host_port(a, fields.path_of("address"), true);
                if (hp) {
                    // Port 0 asks the kernel for a free port each time: never a duplicate.
                    for (const auto& other : config.listeners)
                        if (other.address == *hp && hp->port != 0)
                            reader_.error(a, fields.path_of("address"), "duplicate listener address");
                    listener.address = *hp;
                }
            }
            if (auto t = fields.get("tls"); t.IsDefined()) {
                MapFields tls(reader_, t, fields.path_of("tls"), {"cert_file", "key_file"});
                if (tls.valid()) {
                    TlsFiles files;
                    if (auto c = tls.require("cert_file"); c.IsDefined())
                        files.cert_file = reader_.non_empty_string(c, tls.path_of("cert_file")).value_or("");
                    if (auto k = tls.require("key_file"); k.IsDefined())
                        files.key_file = reader_.non_empty_string(k, tls.path_of("key_file")).value_or("");
                    listener.tls = files;
                }
            }
            config.listeners.push_back(std::move(listener));
        }
    }

    void load_admin(const YAML::Node& node, Admin& admin) {
        MapFields fields(reader_, node, "admin", {"address", "token_file", "tokens"});
        if (!fields.valid()) return;
        bool address_ok = true;
        if (auto a = fields.get("address"); a.IsDefined()) {
            auto hp = reader_.host_port(a, "admin.address", true);
            address_ok = hp.has_value();
            if (hp) admin.address = *hp;
        }
        if (auto t = fields.get("token_file"); t.IsDefined())
            admin.token_file = reader_.non_empty_string(t, "admin.token_file").value_or("");
        if (auto t = fields.get("tokens"); t.IsDefined() && reader_.expect_sequence(t, "admin.tokens"))
            for (std::size_t i = 0; i < t.size(); ++i) load_admin_token(t[i], "admin.tokens[" + std::to_string(i) + "]", admin);
        // SPEC §7: mutating calls on a reachable admin port must be authenticated.
        const bool can_mutate_with_token =
            !admin.token_file.empty() || std::any_of(admin.tokens.begin(), admin.tokens.end(), [](const AdminToken& t) {
                return t.role == AdminToken::Role::operator_role;
            });
        if (address_ok && !can_mutate_with_token && !is_loopback_host(admin.address.host))
            reader_.error(fields.get("address"), "admin.address",
                          "a non-loopback admin address requires admin.token_file or an operator in admin.tokens");
    }

    void load_admin_token(const YAML::Node& node, const std::string& path, Admin& admin) {
        MapFields fields(reader_, node, path, {"name", "file", "role"});
        if (!fields.valid()) return;
        AdminToken token;
        if (auto n = fields.require("name"); n.IsDefined())
            if (auto name = reader_.non_empty_string(n, fields.path_of("name"))) {
                // The name reaches /events, logs and notifications: a plain word.
                const bool plain = std::all_of(name->begin(), name->end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                           c == '_' || c == '.';
                });
                const bool taken =
                    std::any_of(admin.tokens.begin(), admin.tokens.end(), [&](const AdminToken& t) { return t.name == *name; }) ||
                    (*name == "admin" && !admin.token_file.empty());
                if (!plain || name->size() > 64)
                    reader_.error(n, fields.path_of("name"), "a token name is up to 64 letters, digits, '-', '_' or '.'");
                else if (taken)
                    reader_.error(n, fields.path_of("name"),
                                  "duplicate token name '" + *name + "'" + (*name == "admin" ? " (token_file is 'admin')" : ""));
                else
                    token.name = *name;
            }
        if (auto f = fields.require("file"); f.IsDefined()) token.file = reader_.non_empty_string(f, fields.path_of("file")).value_or("");
        if (auto r = fields.require("role"); r.IsDefined())
            if (auto role = reader_.string(r, fields.path_of("role"))) {
                if (*role == "operator") token.role = AdminToken::Role::operator_role;
                else if (*role == "viewer") token.role = AdminToken::Role::viewer;
                else reader_.error(r, fields.path_of("role"), "'" + *role + "' is not a role: operator or viewer");
            }
        admin.tokens.push_back(std::move(token));
    }

    void load_defaults(const YAML::Node& node, Defaults& defaults) {
        MapFields fields(reader_, node, "defaults", {"signals", "timeouts", "limits", "upstream", "version_header",
                                                      "dns_refresh"});
        if (!fields.valid()) return;
        if (auto sig = fields.get("signals"); sig.IsDefined()) load_signal_settings(sig, defaults.signals);
        if (auto t = fields.get("timeouts"); t.IsDefined()) {
            MapFields timeouts(reader_, t, "defaults.timeouts",
                               {"connect", "header", "upstream_response", "idle", "body", "tunnel_idle",
                                "shutdown_grace", "drain"});
            auto read = [&](std::string_view key, Duration& out, bool allow_zero) {
                auto n = timeouts.get(key);
                if (!n.IsDefined()) return;
                auto d = reader_.duration(n, timeouts.path_of(key));
                if (!d) return;
                if (!allow_zero && d->count() == 0) {
                    // Timeouts are finite and non-zero so that no connection can hang forever.
                    reader_.error(n, timeouts.path_of(key), "must be greater than zero");
                    return;
                }
                out = *d;
            };
            read("connect", defaults.timeouts.connect, false);
            read("header", defaults.timeouts.header, false);
            read("upstream_response", defaults.timeouts.upstream_response, false);
            read("idle", defaults.timeouts.idle, false);
            read("body", defaults.timeouts.body, false);
            read("tunnel_idle", defaults.timeouts.tunnel_idle, false);
            read("shutdown_grace", defaults.timeouts.shutdown_grace, true);
            read("drain", defaults.timeouts.drain, false);
        }
        if (auto l = fields.get("limits"); l.IsDefined()) {
            MapFields limits(reader_, l, "defaults.limits",
                             {"request_line_bytes", "header_bytes", "field_bytes", "field_count", "body_bytes"});
            if (auto n = limits.get("request_line_bytes"); n.IsDefined())
                defaults.limits.request_line_bytes = reader_.size(n, "defaults.limits.request_line_bytes", 256, 1ull << 20)
                                                         .value_or(defaults.limits.request_line_bytes);
            if (auto n = limits.get("field_bytes"); n.IsDefined())
                defaults.limits.field_bytes =
                    reader_.size(n, "defaults.limits.field_bytes", 256, 1ull << 20).value_or(defaults.limits.field_bytes);
            if (auto n = limits.get("field_count"); n.IsDefined())
                defaults.limits.field_count = static_cast<std::uint32_t>(
                    reader_.uint(n, "defaults.limits.field_count", 1, 10'000).value_or(defaults.limits.field_count));
            if (auto n = limits.get("header_bytes"); n.IsDefined())
                defaults.limits.header_bytes =
                    reader_.size(n, "defaults.limits.header_bytes", 1024, 16ull << 20).value_or(defaults.limits.header_bytes);
            if (auto n = limits.get("body_bytes"); n.IsDefined())
                defaults.limits.body_bytes =
                    reader_.size(n, "defaults.limits.body_bytes", 0, 1ull << 50).value_or(defaults.limits.body_bytes);
        }
        if (auto u = fields.get("upstream"); u.IsDefined()) {
            MapFields upstream(reader_, u, "defaults.upstream", {"max_idle_per_endpoint"});
            if (auto n = upstream.get("max_idle_per_endpoint"); n.IsDefined())
                if (auto cap = reader_.uint(n, "defaults.upstream.max_idle_per_endpoint", 0, 100'000))
                    defaults.upstream.max_idle_per_endpoint = static_cast<std::uint32_t>(*cap);
        }
        if (auto v = fields.get("version_header"); v.IsDefined()) {
            auto name = reader_.string(v, "defaults.version_header");
            if (name && !name->empty() && !is_token(*name))
                reader_.error(v, "defaults.version_header", "'" + *name + "' is not a valid header name");
            else if (name)
                defaults.version_header = lower(*name);
        }
        if (auto d = fields.get("dns_refresh"); d.IsDefined())
            if (auto every = reader_.duration(d, "defaults.dns_refresh")) defaults.dns_refresh = *every;
    }

    void load_signal_settings(const YAML::Node& node, SignalsSettings& settings) {
        MapFields fields(reader_, node, "defaults.signals", {"window", "failure_statuses"});
        if (!fields.valid()) return;
        if (auto w = fields.get("window"); w.IsDefined()) {
            auto d = reader_.duration(w, "defaults.signals.window");
            if (d && (d->count() < 1'000 || d->count() > 3'600'000 || d->count() % 1'000 != 0))
                reader_.error(w, "defaults.signals.window", "must be whole seconds between 1s and 1h");
            else if (d)
                settings.window = *d;
        }
        if (auto f = fields.get("failure_statuses"); f.IsDefined() && reader_.expect_sequence(f, "defaults.signals.failure_statuses")) {
            settings.failure_statuses.clear();
            for (std::size_t i = 0; i < f.size(); ++i) {
                const std::string item_path = "defaults.signals.failure_statuses[" + std::to_string(i) + "]";
                auto text = reader_.string(f[i], item_path);
                if (!text) continue;
                // "5xx" names a class, "429" a single status.
                if (text->size() == 3 && (*text)[0] >= '1' && (*text)[0] <= '5' && (*text)[1] == 'x' && (*text)[2] == 'x') {
                    settings.failure_statuses.add_class(static_cast<unsigned>((*text)[0] - '0'));
                } else if (text->size() == 3 && text->find_first_not_of("0123456789") == std::string::npos &&
                           (*text)[0] >= '1' && (*text)[0] <= '5') {
                    settings.failure_statuses.add_code(static_cast<unsigned>(std::stoi(*text)));
                } else if (text->starts_with("grpc:")) {
                    if (auto code = grpc::status_from_name(std::string_view(*text).substr(5)))
                        settings.failure_statuses.add_grpc(*code);
                    else
                        reader_.error(f[i], item_path,
                                      "'" + text->substr(5) + "' is not a gRPC status: OK, CANCELLED, UNKNOWN, ..., UNAVAILABLE, DATA_LOSS, UNAUTHENTICATED");
                } else {
                    reader_.error(f[i], item_path,
                                  "expected a status such as 503, a class such as 5xx or a gRPC status such as grpc:UNAVAILABLE, got '" +
                                      *text + "'");
                }
            }
        }
    }

    void load_backend_signals(const YAML::Node& node, const std::string& path, BackendSignals& out) {
        MapFields fields(reader_, node, path, {"pid_file", "cgroup", "scrape", "scrape_path"});
        if (!fields.valid()) return;
        int given = 0;
        for (auto key : {"pid_file", "cgroup", "scrape", "scrape_path"}) given += fields.has(key);
        if (given != 1) {
            reader_.error(node, path, "give exactly one of pid_file, cgroup, scrape or scrape_path");
            return;
        }
        auto read_paths = [&](std::string_view key) {
            auto n = fields.get(key);
            const std::string key_path = fields.path_of(key);
            if (n.IsSequence()) {
                if (n.size() == 0) reader_.error(n, key_path, "must not be empty");
                for (std::size_t i = 0; i < n.size(); ++i)
                    if (auto p = reader_.non_empty_string(n[i], key_path + "[" + std::to_string(i) + "]")) out.paths.push_back(*p);
            } else if (auto p = reader_.non_empty_string(n, key_path)) {
                out.paths.push_back(*p);
            }
        };
        if (fields.has("pid_file")) {
            out.source = BackendSignals::Source::pid_file;
            read_paths("pid_file");
        } else if (fields.has("cgroup")) {
            out.source = BackendSignals::Source::cgroup;
            read_paths("cgroup");
        } else if (fields.has("scrape")) {
            out.source = BackendSignals::Source::scrape;
            auto n = fields.get("scrape");
            if (auto url = reader_.string(n, fields.path_of("scrape"))) {
                auto parsed = parse_http_url(*url);
                if (!parsed) reader_.error(n, fields.path_of("scrape"), parsed.message());
                else out.scrape_url = *url;
            }
        } else {
            out.source = BackendSignals::Source::scrape_path;
            auto n = fields.get("scrape_path");
            if (auto p = reader_.string(n, fields.path_of("scrape_path"))) {
                if (!p->starts_with('/')) reader_.error(n, fields.path_of("scrape_path"), "must start with '/'");
                else out.scrape_path = *p;
            }
        }
    }

    std::optional<Version> load_version(const YAML::Node& node, const std::string& path) {
        MapFields fields(reader_, node, path, {"version", "endpoints", "signals", "tls", "protocol"});
        if (!fields.valid()) return std::nullopt;
        Version version;
        if (auto p = fields.get("protocol"); p.IsDefined())
            if (auto text = reader_.string(p, fields.path_of("protocol"))) {
                if (*text == "http1") version.protocol = Version::Protocol::http1;
                else if (*text == "http2") version.protocol = Version::Protocol::http2;
                else reader_.error(p, fields.path_of("protocol"), "'" + *text + "' is not a protocol: http1 or http2");
            }
        if (auto v = fields.require("version"); v.IsDefined())
            if (auto label = reader_.non_empty_string(v, fields.path_of("version"))) {
                if (const auto at = bad_release_char(*label); at != std::string_view::npos)
                    reader_.error(v, fields.path_of("version"),
                                  at >= 63 ? "a version label is at most 63 characters"
                                           : "character " + std::to_string(at + 1) + " ('" +
                                                 label->substr(at, 1) +  // escaped with the message
                                                 "') is not allowed: a version label is a letter or digit, then up "
                                                 "to 62 letters, digits, '.', '_', '+' or '-'");
                version.release = *label;
            }
        if (auto e = fields.require("endpoints"); e.IsDefined() && reader_.expect_sequence(e, fields.path_of("endpoints"))) {
            for (std::size_t i = 0; i < e.size(); ++i) {
                const std::string ep_path = fields.path_of("endpoints") + "[" + std::to_string(i) + "]";
                auto hp = reader_.host_port(e[i], ep_path, false);
                if (!hp) continue;
                if (std::find(version.endpoints.begin(), version.endpoints.end(), *hp) != version.endpoints.end()) {
                    reader_.error(e[i], ep_path, "duplicate endpoint " + hp->to_string());
                    continue;
                }
                version.endpoints.push_back(*hp);
            }
        }
        if (auto sig = fields.get("signals"); sig.IsDefined()) load_backend_signals(sig, fields.path_of("signals"), version.signals);
        if (auto t = fields.get("tls"); t.IsDefined()) version.tls = load_upstream_tls(t, fields.path_of("tls"));
        return version;
    }

    std::optional<UpstreamTls> load_upstream_tls(const YAML::Node& node, const std::string& path) {
        MapFields fields(reader_, node, path, {"ca_file", "server_name", "cert_file", "key_file", "verify"});
        if (!fields.valid()) return std::nullopt;
        UpstreamTls tls;
        for (auto [key, out] : {std::pair{"ca_file", &tls.ca_file}, std::pair{"server_name", &tls.server_name},
                                std::pair{"cert_file", &tls.cert_file}, std::pair{"key_file", &tls.key_file}})
            if (auto n = fields.get(key); n.IsDefined()) *out = reader_.non_empty_string(n, fields.path_of(key)).value_or("");
        if (auto v = fields.get("verify"); v.IsDefined()) tls.verify = reader_.boolean(v, fields.path_of("verify")).value_or(true);
        // A client certificate is a pair: one file without the other is a typo, not a choice.
        if (fields.has("cert_file") != fields.has("key_file"))
            reader_.error(node, path, "cert_file and key_file go together (the client certificate and its key)");
        if (!tls.server_name.empty()) {
            auto parsed = parse_host_port(tls.server_name + ":1", false);  // the host rules of an endpoint
            if (!parsed || tls.server_name.find(':') != std::string::npos)
                reader_.error(fields.get("server_name"), fields.path_of("server_name"),
                              "'" + tls.server_name + "' is not a host name");
            else
                tls.server_name = parsed->host;  // lower case, as names compare
        }
        return tls;
    }

    std::optional<Role> role(const YAML::Node& node, const std::string& path) {
        auto text = reader_.string(node, path);
        if (!text) return std::nullopt;
        if (*text == "stable") return Role::stable;
        if (*text == "canary") return Role::canary;
        reader_.error(node, path, "expected 'stable' or 'canary', got '" + *text + "'");
        return std::nullopt;
    }

    void load_route(const YAML::Node& node, const std::string& path, Route& route) {
        MapFields fields(reader_, node, path,
                         {"name", "match", "stable", "canary", "canary_weight", "sticky", "overrides", "analysis",
                          "rollout"});
        if (!fields.valid()) return;
        if (auto n = fields.require("name"); n.IsDefined()) {
            auto name = reader_.string(n, fields.path_of("name"));
            if (name && !is_route_name(*name))
                reader_.error(n, fields.path_of("name"),
                              "route names are 1-64 characters of letters, digits, '-', '_' and '.'");
            else if (name)
                route.name = *name;
        }
        if (auto m = fields.get("match"); m.IsDefined()) {
            MapFields match(reader_, m, fields.path_of("match"), {"host", "path_prefix"});
            if (auto h = match.get("host"); h.IsDefined()) {
                auto host = reader_.string(h, match.path_of("host"));
                if (host && !is_host_pattern(lower(*host)))
                    reader_.error(h, match.path_of("host"),
                                  "expected a host name or '*.domain', without port, got '" + *host + "'");
                else if (host)
                    route.match.host = lower(*host);
            }
            if (auto p = match.get("path_prefix"); p.IsDefined()) {
                auto prefix = reader_.string(p, match.path_of("path_prefix"));
                if (prefix && !prefix->starts_with('/'))
                    reader_.error(p, match.path_of("path_prefix"), "must start with '/'");
                else if (const auto at = prefix ? first_outside(*prefix, 0x21, 0x7e) : std::string::npos;
                         at != std::string::npos)
                    // RFC 9112 §3.2: a request-target has no spaces, controls or raw non-ASCII
                    // bytes, so such a prefix could never match: say so rather than never route.
                    reader_.error(p, match.path_of("path_prefix"),
                                  "character " + std::to_string(at + 1) + " ('" + prefix->substr(at, 1) +
                                      "') cannot appear in a request path (percent-encode it)");
                else if (prefix)
                    route.match.path_prefix = *prefix;
            }
        }
        if (auto s = fields.require("stable"); s.IsDefined())
            if (auto v = load_version(s, fields.path_of("stable"))) route.stable = std::move(*v);
        if (auto c = fields.get("canary"); c.IsDefined()) route.canary = load_version(c, fields.path_of("canary"));
        if (auto w = fields.get("canary_weight"); w.IsDefined()) {
            route.canary_weight_bp = reader_.weight_bp(w, fields.path_of("canary_weight")).value_or(0);
            if (!fields.has("canary") && route.canary_weight_bp > 0)
                reader_.error(w, fields.path_of("canary_weight"), "a canary weight needs a canary version");
        }
        if (route.canary && !route.stable.release.empty() && route.canary->release == route.stable.release)
            reader_.error(fields.get("canary"), fields.path_of("canary.version"),
                          "canary and stable have the same version label '" + route.stable.release + "'");
        if (auto s = fields.get("sticky"); s.IsDefined()) load_sticky(s, fields.path_of("sticky"), route);
        if (auto o = fields.get("overrides"); o.IsDefined()) load_overrides(o, fields.path_of("overrides"), route);
        if (auto a = fields.get("analysis"); a.IsDefined()) {
            route.analysis = load_analysis(a, fields.path_of("analysis"));
            if (!fields.has("canary")) reader_.error(a, fields.path_of("analysis"), "analysis needs a canary version");
        }
        if (auto r = fields.get("rollout"); r.IsDefined()) {
            route.rollout = load_rollout(r, fields.path_of("rollout"));
            if (!fields.has("canary")) reader_.error(r, fields.path_of("rollout"), "a rollout needs a canary version");
            if (fields.has("canary_weight"))
                reader_.error(fields.get("canary_weight"), fields.path_of("canary_weight"),
                              "give either canary_weight or rollout.steps: the steps set the weight");
        }
    }

    std::optional<double> number(const YAML::Node& node, const std::string& path, double min, double max) {
        auto text = reader_.string(node, path);
        if (!text) return std::nullopt;
        double value = 0;
        auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
        if (text->empty() || ec != std::errc{} || ptr != text->data() + text->size() || !std::isfinite(value)) {
            reader_.error(node, path, "expected a number, got '" + *text + "'");
            return std::nullopt;
        }
        if (value < min || value > max) {
            reader_.error(node, path, "value " + *text + " is out of range " + shortest(min) + ".." + shortest(max));
            return std::nullopt;
        }
        return value;
    }

    std::optional<Analysis> load_analysis(const YAML::Node& node, const std::string& path) {
        MapFields fields(reader_, node, path, {"interval", "min_requests", "confidence", "horizon", "guardrails"});
        if (!fields.valid()) return std::nullopt;
        Analysis analysis;
        if (auto n = fields.get("interval"); n.IsDefined()) {
            auto d = reader_.duration(n, fields.path_of("interval"));
            if (d && (d->count() < 1'000 || d->count() % 1'000 != 0))
                reader_.error(n, fields.path_of("interval"), "must be whole seconds, at least 1s");
            else if (d)
                analysis.interval = *d;
        }
        if (auto n = fields.get("min_requests"); n.IsDefined())
            analysis.min_requests = reader_.uint(n, fields.path_of("min_requests"), 1, 100'000'000).value_or(analysis.min_requests);
        if (auto n = fields.get("confidence"); n.IsDefined()) {
            auto c = number(n, fields.path_of("confidence"), 0.5, 0.999999);
            if (c && *c <= 0.5) reader_.error(n, fields.path_of("confidence"), "must be above 0.5");
            else if (c) analysis.confidence = *c;
        }
        if (auto n = fields.get("horizon"); n.IsDefined()) {
            auto d = reader_.duration(n, fields.path_of("horizon"));
            if (d && (d->count() < 300'000 || d->count() > 7 * 86'400'000 || d->count() % 1'000 != 0))
                reader_.error(n, fields.path_of("horizon"), "must be whole seconds from 5m to 7d");
            else if (d)
                analysis.horizon = *d;
        }
        auto g = fields.require("guardrails");
        if (g.IsDefined() && reader_.expect_sequence(g, fields.path_of("guardrails"))) {
            if (g.size() == 0) reader_.error(g, fields.path_of("guardrails"), "at least one guardrail is required");
            for (std::size_t i = 0; i < g.size(); ++i) {
                const auto item_path = fields.path_of("guardrails") + "[" + std::to_string(i) + "]";
                auto guardrail = load_guardrail(g[i], item_path);
                if (!guardrail) continue;
                // Labels (metric, or metric.bound) name a guardrail in logs and metrics.
                const bool duplicate = std::any_of(analysis.guardrails.begin(), analysis.guardrails.end(), [&](const Guardrail& o) {
                    return o.metric == guardrail->metric && o.bound_name() == guardrail->bound_name();
                });
                if (duplicate)
                    reader_.error(g[i], item_path,
                                  "a second " + guardrail->name() + " guardrail with " + guardrail->bound_name() +
                                      "; give each metric and bound once");
                else
                    analysis.guardrails.push_back(*guardrail);
            }
        }
        return analysis;
    }

    std::optional<Guardrail> load_guardrail(const YAML::Node& node, const std::string& path) {
        MapFields fields(reader_, node, path, {"metric", "max_drop", "min", "max_ratio", "max_ms", "max_bytes", "for", "dry_run"});
        if (!fields.valid()) return std::nullopt;
        Guardrail g;
        auto m = fields.require("metric");
        if (!m.IsDefined()) return std::nullopt;
        auto metric = reader_.string(m, fields.path_of("metric"));
        if (!metric) return std::nullopt;
        using M = Guardrail::Metric;
        static const std::pair<const char*, M> metrics[] = {
            {"success_rate", M::success_rate}, {"latency_p50", M::latency_p50}, {"latency_p90", M::latency_p90},
            {"latency_p99", M::latency_p99},   {"cpu_per_request", M::cpu_per_request}, {"memory", M::memory}};
        bool known = false;
        for (const auto& [name, value] : metrics)
            if (*metric == name) {
                g.metric = value;
                known = true;
            }
        if (!known) {
            reader_.error(m, fields.path_of("metric"),
                          "unknown metric '" + *metric +
                              "'; expected success_rate, latency_p50, latency_p90, latency_p99, cpu_per_request or memory");
            return std::nullopt;
        }
        // Which bounds each metric takes.
        std::vector<std::string_view> allowed;
        switch (g.metric) {
            case M::success_rate: allowed = {"max_drop", "min"}; break;
            case M::latency_p50:
            case M::latency_p90:
            case M::latency_p99: allowed = {"max_ratio", "max_ms"}; break;
            case M::cpu_per_request: allowed = {"max_ratio"}; break;
            case M::memory: allowed = {"max_bytes", "max_ratio"}; break;
        }
        int bounds = 0;
        for (auto key : {"max_drop", "min", "max_ratio", "max_ms", "max_bytes"}) {
            if (!fields.has(key)) continue;
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                reader_.error(fields.get(key), fields.path_of(key), "not a bound of metric " + *metric);
                return std::nullopt;
            }
            ++bounds;
        }
        if (bounds != 1) {
            std::string list;
            for (auto a : allowed) list += (list.empty() ? "" : " or ") + std::string(a);
            reader_.error(node, path, "give exactly one bound for " + *metric + ": " + list);
            return std::nullopt;
        }
        if (auto n = fields.get("max_drop"); n.IsDefined()) g.max_drop_points = number(n, fields.path_of("max_drop"), 0, 100);
        if (auto n = fields.get("min"); n.IsDefined()) g.min_percent = number(n, fields.path_of("min"), 0, 100);
        if (auto n = fields.get("max_ratio"); n.IsDefined()) g.max_ratio = number(n, fields.path_of("max_ratio"), 1.0, 1000);
        if (auto n = fields.get("max_ms"); n.IsDefined()) g.max_ms = number(n, fields.path_of("max_ms"), 0.001, 3'600'000);
        if (auto n = fields.get("max_bytes"); n.IsDefined()) g.max_bytes = reader_.size(n, fields.path_of("max_bytes"), 1, 1ull << 50);
        if (auto n = fields.get("for"); n.IsDefined()) {
            if (g.metric != M::cpu_per_request && g.metric != M::memory) {
                reader_.error(n, fields.path_of("for"), "only cpu_per_request and memory take 'for'");
            } else if (auto d = reader_.duration(n, fields.path_of("for"))) {
                g.persistence = *d;
            }
        }
        if (auto n = fields.get("dry_run"); n.IsDefined())
            if (auto b = reader_.boolean(n, fields.path_of("dry_run"))) g.dry_run = *b;
        const bool ok = g.max_drop_points || g.min_percent || g.max_ratio || g.max_ms || g.max_bytes;
        return ok ? std::optional<Guardrail>(g) : std::nullopt;
    }

    std::optional<Rollout> load_rollout(const YAML::Node& node, const std::string& path) {
        MapFields fields(reader_, node, path, {"steps", "max_hold"});
        if (!fields.valid()) return std::nullopt;
        Rollout rollout;
        if (auto n = fields.get("max_hold"); n.IsDefined())
            rollout.max_hold = reader_.duration(n, fields.path_of("max_hold")).value_or(rollout.max_hold);
        auto steps = fields.require("steps");
        if (!steps.IsDefined() || !reader_.expect_sequence(steps, fields.path_of("steps"))) return rollout;
        if (steps.size() == 0) reader_.error(steps, fields.path_of("steps"), "at least one step is required");
        for (std::size_t i = 0; i < steps.size(); ++i) {
            const std::string step_path = fields.path_of("steps") + "[" + std::to_string(i) + "]";
            MapFields step_fields(reader_, steps[i], step_path, {"weight", "pause", "gate"});
            if (!step_fields.valid()) continue;
            RolloutStep step;
            if (auto w = step_fields.require("weight"); w.IsDefined()) {
                auto weight = reader_.weight_bp(w, step_fields.path_of("weight"));
                if (weight && *weight == 0) reader_.error(w, step_fields.path_of("weight"), "a step's weight must be above 0");
                else if (weight && !rollout.steps.empty() && *weight <= rollout.steps.back().weight_bp)
                    reader_.error(w, step_fields.path_of("weight"), "step weights must increase");
                else if (weight) step.weight_bp = *weight;
            }
            const bool last = i + 1 == steps.size();
            if (auto g = step_fields.get("gate"); g.IsDefined()) load_gate(g, step_fields.path_of("gate"), step);
            if (auto p = step_fields.get("pause"); p.IsDefined()) {
                step.pause = reader_.duration(p, step_fields.path_of("pause")).value_or(step.pause);
                if (step_fields.has("gate"))
                    reader_.error(p, step_fields.path_of("pause"), "a step waits for a pause or a gate, not both");
            } else if (!last && !step_fields.has("gate")) {
                reader_.error(steps[i], step_fields.path_of("pause"),
                              "missing required key (every step but the last pauses or has a gate)");
            }
            rollout.steps.push_back(step);
        }
        return rollout;
    }

    // `gate: manual` or `gate: {webhook: URL}`.
    void load_gate(const YAML::Node& node, const std::string& path, RolloutStep& step) {
        if (node.IsScalar()) {
            if (node.Scalar() == "manual") step.gate = RolloutStep::Gate::manual;
            else reader_.error(node, path, "'" + node.Scalar() + "' is not a gate: manual or {webhook: URL}");
            return;
        }
        MapFields fields(reader_, node, path, {"webhook"});
        if (!fields.valid()) return;
        if (auto u = fields.require("webhook"); u.IsDefined())
            if (auto url = reader_.non_empty_string(u, fields.path_of("webhook"))) {
                if (auto parsed = parse_http_url(*url, true); !parsed) {
                    reader_.error(u, fields.path_of("webhook"), parsed.message());
                } else {
                    step.gate = RolloutStep::Gate::webhook;
                    step.webhook = *url;
                }
            }
    }

    void load_sticky(const YAML::Node& node, const std::string& path, Route& route) {
        MapFields fields(reader_, node, path, {"header", "cookie", "salt"});
        if (!fields.valid()) return;
        Sticky sticky;
        sticky.salt = route.name;
        const bool has_header = fields.has("header");
        const bool has_cookie = fields.has("cookie");
        if (has_header == has_cookie) {
            reader_.error(node, path, "give exactly one of 'header' or 'cookie'");
            return;
        }
        if (has_header) {
            sticky.source = Sticky::Source::header;
            auto name = reader_.string(fields.get("header"), fields.path_of("header"));
            if (!name) return;
            if (!is_token(*name)) {
                reader_.error(fields.get("header"), fields.path_of("header"), "'" + *name + "' is not a valid header name");
                return;
            }
            sticky.name = lower(*name);
        } else {
            sticky.source = Sticky::Source::cookie;
            auto name = reader_.string(fields.get("cookie"), fields.path_of("cookie"));
            if (!name) return;
            if (!is_token(*name)) {
                reader_.error(fields.get("cookie"), fields.path_of("cookie"), "'" + *name + "' is not a valid cookie name");
                return;
            }
            sticky.name = *name;
        }
        if (auto s = fields.get("salt"); s.IsDefined()) {
            auto salt = reader_.string(s, fields.path_of("salt"));
            if (salt) sticky.salt = *salt;
        }
        route.sticky = std::move(sticky);
    }

    void load_overrides(const YAML::Node& node, const std::string& path, Route& route) {
        if (!reader_.expect_sequence(node, path)) return;
        for (std::size_t i = 0; i < node.size(); ++i) {
            const std::string rule_path = path + "[" + std::to_string(i) + "]";
            MapFields fields(reader_, node[i], rule_path, {"header", "value", "to"});
            if (!fields.valid()) continue;
            Override rule;
            bool ok = true;
            if (auto h = fields.require("header"); h.IsDefined()) {
                auto name = reader_.string(h, fields.path_of("header"));
                if (name && is_token(*name))
                    rule.header = lower(*name);
                else {
                    if (name) reader_.error(h, fields.path_of("header"), "'" + *name + "' is not a valid header name");
                    ok = false;
                }
            } else {
                ok = false;
            }
            if (auto v = fields.require("value"); v.IsDefined()) {
                auto value = reader_.string(v, fields.path_of("value"));
                // RFC 9110 §5.5: a field value never holds CR, LF, NUL or other controls.
                const auto at = value ? first_control(*value) : std::string::npos;
                if (at != std::string::npos) {
                    reader_.error(v, fields.path_of("value"),
                                  "character " + std::to_string(at + 1) + " ('" + value->substr(at, 1) +
                                      "') cannot appear in a header value");
                    ok = false;
                } else if (value) {
                    rule.value = *value;
                } else {
                    ok = false;
                }
            } else {
                ok = false;
            }
            if (auto t = fields.require("to"); t.IsDefined()) {
                auto r = role(t, fields.path_of("to"));
                if (r) rule.to = *r; else ok = false;
            } else {
                ok = false;
            }
            if (ok && rule.to == Role::canary && !route.canary)
                reader_.error(node[i], rule_path, "routes to canary, but the route has no canary version");
            if (ok) route.overrides.push_back(std::move(rule));
        }
    }

    void load_routes(const YAML::Node& node, Config& config) {
        if (!node.IsDefined() || !reader_.expect_sequence(node, "routes")) return;
        if (node.size() == 0) reader_.error(node, "routes", "at least one route is required");
        std::map<std::string, std::size_t> names;
        std::map<std::pair<std::string, std::string>, std::size_t> matches;
        for (std::size_t i = 0; i < node.size(); ++i) {
            const std::string path = "routes[" + std::to_string(i) + "]";
            Route route;
            load_route(node[i], path, route);
            if (!route.name.empty()) {
                auto [it, inserted] = names.emplace(route.name, i);
                if (!inserted)
                    reader_.error(node[i]["name"], path + ".name",
                                  "duplicate route name (also routes[" + std::to_string(it->second) + "])");
            }
            auto [it, inserted] = matches.emplace(std::pair{route.match.host, route.match.path_prefix}, i);
            if (!inserted && node[i].IsMap())
                reader_.error(node[i], path + ".match",
                              "same host and path_prefix as routes[" + std::to_string(it->second) +
                                  "]; this route could never match");
            config.routes.push_back(std::move(route));
        }
    }

    YamlReader reader_;
};

}  // namespace

namespace {

// Every error points inside the file and prints as one clean line: yaml-cpp counts line
// breaks that are not '\n' (a lone CR, NEL) and columns in decoded characters, so on binary
// junk its marks can lie past the end; and the values an error quotes are escaped.
void point_inside(std::string_view text, std::vector<ConfigError>& errors) {
    std::vector<std::size_t> line_lengths{0};
    for (char c : text) {
        if (c == '\n') line_lengths.push_back(0);
        else ++line_lengths.back();
    }
    if (line_lengths.size() > 1 && line_lengths.back() == 0) line_lengths.pop_back();  // final newline
    for (auto& e : errors) {
        e.line = std::clamp(e.line, 1, static_cast<int>(line_lengths.size()));
        const auto length = line_lengths[static_cast<std::size_t>(e.line - 1)];
        e.column = std::clamp(e.column, 1, static_cast<int>(std::min<std::size_t>(length + 1, 1u << 30)));
        e.path = text::printable(e.path, 200);
        e.message = text::printable(e.message, 400);
    }
}

}  // namespace

LoadResult load_config(std::string_view yaml_text) {
    LoadResult result;
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        // Syntax errors stop parsing: yaml-cpp cannot recover past them.
        ConfigError error;
        error.line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
        error.column = e.mark.column >= 0 ? e.mark.column + 1 : 1;
        error.message = "YAML syntax error: " + e.msg;
        result.errors.push_back(std::move(error));
        point_inside(yaml_text, result.errors);
        return result;
    }
    Config config;
    try {
        Loader loader(result.errors);
        config = loader.load(root);
    } catch (const YAML::Exception& e) {
        ConfigError error;
        error.line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
        error.column = e.mark.column >= 0 ? e.mark.column + 1 : 1;
        error.message = std::string("invalid document: ") + e.what();
        result.errors.push_back(std::move(error));
    }
    point_inside(yaml_text, result.errors);
    std::stable_sort(result.errors.begin(), result.errors.end(), [](const auto& a, const auto& b) {
        return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    if (result.errors.empty()) result.config = std::make_shared<const Config>(std::move(config));
    return result;
}

}  // namespace canaryd::config
