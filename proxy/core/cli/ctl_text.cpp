#include "core/cli/ctl_text.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace canaryd::cli {

namespace json = boost::json;

namespace {

// A table whose columns are as wide as their widest cell, two spaces apart.
class Table {
public:
    explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    std::string render(const std::string& indent) const {
        std::vector<std::size_t> width;
        for (const auto& row : rows_)
            for (std::size_t i = 0; i < row.size(); ++i) {
                if (width.size() <= i) width.push_back(0);
                width[i] = std::max(width[i], row[i].size());
            }
        std::string out;
        for (const auto& row : rows_) {
            std::string line = indent;
            for (std::size_t i = 0; i < row.size(); ++i) {
                line += row[i];
                if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
            }
            out += line + "\n";
        }
        return out;
    }

private:
    std::vector<std::vector<std::string>> rows_;
};

std::string fixed(double v, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    return text;
}

const json::value* field(const json::value& v, std::string_view key) {
    return v.is_object() ? v.as_object().if_contains(key) : nullptr;
}

std::string str(const json::value& v, std::string_view key, const std::string& missing = "-") {
    const auto* f = field(v, key);
    if (!f || f->is_null()) return missing;
    if (f->is_string()) return std::string(f->as_string());
    if (f->is_bool()) return f->as_bool() ? "yes" : "no";
    if (f->is_int64()) return std::to_string(f->as_int64());
    if (f->is_uint64()) return std::to_string(f->as_uint64());
    if (f->is_double()) return fixed(f->as_double(), 2);
    return json::serialize(*f);
}

std::optional<double> num(const json::value& v, std::string_view key) {
    const auto* f = field(v, key);
    if (!f || !f->is_number()) return std::nullopt;
    return f->to_number<double>();
}

std::string percent(std::optional<double> v, int decimals = 2) { return v ? fixed(*v, decimals) + " %" : "-"; }

std::string bytes(std::optional<double> v) {
    if (!v) return "-";
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = *v;
    int unit = 0;
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        ++unit;
    }
    return fixed(value, unit == 0 ? 0 : 1) + " " + units[unit];
}

Result<json::value> parse(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) return Error{"the admin API sent something that is not JSON: " + ec.message()};
    return v;
}

// "|#####-----| 42 %": how far a guardrail's evidence has come towards failing.
std::string progress(double statistic, double threshold) {
    if (!(threshold > 0)) return "";
    const double share = std::clamp(statistic / threshold, 0.0, 1.0);
    const int filled = static_cast<int>(std::lround(share * 10));
    return "|" + std::string(static_cast<std::size_t>(filled), '#') + std::string(static_cast<std::size_t>(10 - filled), '-') +
           "| " + fixed(share * 100, 0) + " %";
}

}  // namespace

Result<std::string> status_text(std::string_view text) {
    auto parsed = parse(text);
    if (!parsed) return parsed.error();
    const auto& status = *parsed;
    std::string out = "canaryd " + str(status, "canaryd_version") + ", config generation " +
                      str(status, "config_generation") + ", window " + str(status, "window_seconds") + " s" +
                      (str(status, "draining") == "yes" ? ", DRAINING" : "") + "\n";
    if (const auto* f = field(status, "fleet"); f && f->is_object()) {
        out += "fleet " + str(*f, "name") + ": replica " + str(*f, "id") + " is " + str(*f, "role") + ", " + str(*f, "state") +
               ", leader " + str(*f, "leader", "none") + ", " + str(*f, "replicas") + " replicas, fleet signals " +
               str(*f, "signals") + "\n";
        if (const auto e = str(*f, "error", ""); !e.empty()) out += "  why: " + e + "\n";
        if (const auto e = str(*f, "signals_error", ""); !e.empty()) out += "  signals: " + e + "\n";
    }
    const auto* routes = field(status, "routes");
    if (!routes || !routes->is_array()) return Error{"/status has no routes"};
    for (const auto& route : routes->as_array()) {
        out += "\nroute " + str(route, "name") + ": " + str(route, "state");
        const auto step = field(route, "step");
        if (step && step->is_number()) out += " at step " + str(route, "step");
        out += ", canary weight " + percent(num(route, "canary_weight")) + " (configured " +
               percent(num(route, "configured_weight")) + ")\n";
        if (const auto reason = str(route, "state_reason", ""); !reason.empty()) out += "  why: " + reason + "\n";
        Table versions({"version", "release", "endpoints", "requests", "success", "p50 ms", "p99 ms", "share", "cpu", "memory"});
        for (const char* role : {"stable", "canary"}) {
            const auto* v = field(route, role);
            if (!v || v->is_null()) continue;
            const auto success = num(*v, "success_rate");
            versions.add({role, str(*v, "release"), str(*v, "endpoints"), str(*v, "requests"),
                          success ? fixed(*success * 100, 3) + " %" : "-", str(*v, "latency_p50_ms"),
                          str(*v, "latency_p99_ms"), percent(num(*v, "traffic_share"), 1),
                          num(*v, "cpu_cores") ? fixed(*num(*v, "cpu_cores"), 3) : "-", bytes(num(*v, "memory_bytes"))});
        }
        out += versions.render("  ");
        const auto* guardrails = field(route, "guardrails");
        if (guardrails && guardrails->is_array() && !guardrails->as_array().empty()) {
            Table table({"guardrail", "verdict", "evidence", "fails at", "towards failing"});
            for (const auto& g : guardrails->as_array()) {
                const double statistic = num(g, "statistic").value_or(0);
                const double threshold = num(g, "threshold").value_or(0);
                table.add({str(g, "guardrail") + (str(g, "dry_run") == "yes" ? " (dry run)" : ""), str(g, "verdict"),
                           fixed(statistic, 2), fixed(threshold, 2), progress(statistic, threshold)});
            }
            out += table.render("  ");
        }
        if (const auto* d = field(route, "last_decision"); d && d->is_object())
            out += "  last decision " + str(*d, "time") + ": " + str(*d, "verdict") +
                   (str(*d, "guardrail", "").empty() ? "" : " (" + str(*d, "guardrail") + ")") + "\n";
    }
    return out;
}

Result<std::string> events_text(std::string_view text) {
    auto parsed = parse(text);
    if (!parsed) return parsed.error();
    const auto* events = field(*parsed, "events");
    if (!events || !events->is_array()) return Error{"/events has no events"};
    if (events->as_array().empty()) return std::string("no events yet\n");
    // In a fleet, which replica decided each event (SPEC §9).
    bool fleet = false;
    for (const auto& e : events->as_array()) fleet = fleet || field(e, "decided_by") != nullptr;
    std::vector<std::string> columns{"time", "route", "event", "actor", "weight", "reason"};
    if (fleet) columns.insert(columns.begin() + 4, "decided by");
    Table table(columns);
    for (const auto& e : events->as_array()) {
        std::vector<std::string> row{str(e, "time"), str(e, "route"), str(e, "event"), str(e, "actor"),
                                     percent(num(e, "canary_weight")), str(e, "reason", "")};
        if (fleet) row.insert(row.begin() + 4, str(e, "decided_by", "-"));
        table.add(row);
    }
    return table.render("");
}

Result<std::string> fleet_text(std::string_view text) {
    auto parsed = parse(text);
    if (!parsed) return parsed.error();
    const auto* f = field(*parsed, "fleet");
    if (!f || !f->is_object()) return Error{"/fleet has no fleet object"};
    std::string out = "fleet " + str(*f, "name") + ": " + str(*f, "state") + ", leader " + str(*f, "leader", "none") +
                      "; this replica " + str(*f, "id") + " (" + str(*f, "role") + ")\n";
    if (const auto e = str(*f, "error", ""); !e.empty()) out += "  why: " + e + "\n";
    const auto leader = str(*f, "leader", "");
    if (const auto* ids = field(*parsed, "replicas"); ids && ids->is_array() && !ids->as_array().empty()) {
        Table table({"replica (etcd)", "role"});
        for (const auto& id : ids->as_array()) {
            const std::string name = id.is_string() ? std::string(id.as_string()) : "?";
            table.add({name, name == leader ? "leader" : "follower"});
        }
        out += table.render("  ");
    }
    if (const auto* targets = field(*parsed, "targets"); targets && targets->is_array() && !targets->as_array().empty()) {
        Table table({"target (Prometheus)", "up"});
        for (const auto& t : targets->as_array()) table.add({str(t, "instance"), str(t, "up")});
        out += table.render("  ");
    } else if (str(*f, "signals") != "off") {
        out += "  Prometheus: no targets read yet" + (str(*f, "signals_error", "").empty() ? "" : " (" + str(*f, "signals_error") + ")") + "\n";
    }
    return out;
}

Result<std::string> action_text(std::string_view text) {
    auto parsed = parse(text);
    if (!parsed) return parsed.error();
    const auto& reply = *parsed;
    std::string out = str(reply, "route") + ": " + str(reply, "state") + ", canary weight " +
                      percent(num(reply, "canary_weight"));
    if (const auto reason = str(reply, "reason", ""); !reason.empty()) out += " (" + reason + ")";
    if (str(reply, "changed") == "no") out += "; it already was: nothing changed";
    if (const auto by = str(reply, "decided_by", ""); !by.empty()) out += "; decided by replica " + by;
    return out + "\n";
}

}  // namespace canaryd::cli
