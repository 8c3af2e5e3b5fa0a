#include "io/fleet/prometheus_client.hpp"

#include "io/control/http_client.hpp"

#include <boost/json.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>

namespace canaryd::io {

namespace json = boost::json;

namespace {

// Prometheus writes sample values as strings: "1.5", "NaN", "+Inf", "-Inf".
std::optional<double> sample_value(const json::value& v) {
    if (!v.is_string()) return std::nullopt;
    const std::string text(v.as_string());
    if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (text == "+Inf") return std::numeric_limits<double>::infinity();
    if (text == "-Inf") return -std::numeric_limits<double>::infinity();
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// RFC 3339 with fractional seconds ("2026-12-04T19:20:01.123456789Z") to Unix seconds.
std::optional<double> unix_seconds(std::string_view text) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0;
    double second = 0;
    char zone = 0;
    const std::string s(text);
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%c", &year, &month, &day, &hour, &minute, &second, &zone) != 7 ||
        zone != 'Z')
        return std::nullopt;
    std::tm utc{};
    utc.tm_year = year - 1900;
    utc.tm_mon = month - 1;
    utc.tm_mday = day;
    utc.tm_hour = hour;
    utc.tm_min = minute;
    const double whole = std::floor(second);
    utc.tm_sec = static_cast<int>(whole);
    return static_cast<double>(::timegm(&utc)) + (second - whole);
}

// The "data" of a successful API reply, or the error Prometheus gave.
Result<json::object> api_data(const Result<HttpReply>& reply, const std::string& what) {
    if (!reply) return Error{"prometheus " + reply.message()};
    boost::system::error_code ec;
    auto parsed = json::parse(reply->body, ec);
    if (ec || !parsed.is_object())
        return Error{"prometheus " + what + ": HTTP " + std::to_string(reply->status) + ", not a JSON object"};
    auto& o = parsed.as_object();
    const auto* status = o.if_contains("status");
    if (reply->status != 200 || !status || !status->is_string() || status->as_string() != "success") {
        const auto* error = o.if_contains("error");
        return Error{"prometheus " + what + ": HTTP " + std::to_string(reply->status) +
                     (error && error->is_string() ? ": " + std::string(error->as_string()) : "")};
    }
    const auto* data = o.if_contains("data");
    if (!data || !data->is_object()) return Error{"prometheus " + what + ": no data in the reply"};
    return data->as_object();
}

}  // namespace

PrometheusClient::PrometheusClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout) {}

Result<std::vector<PromSample>> PrometheusClient::query(const std::string& promql, double at) {
    boost::urls::url target("/api/v1/query");
    char time_text[64];
    std::snprintf(time_text, sizeof time_text, "%.3f", at);
    target.params().append({"query", promql});
    target.params().append({"time", time_text});
    HttpCall call;
    call.host = host_;
    call.port = port_;
    call.target = std::string(target.encoded_target());
    call.timeout = timeout_;
    auto data = api_data(http_call(call), "query " + promql);
    if (!data) return data.error();
    const auto* type = data->if_contains("resultType");
    const auto* result = data->if_contains("result");
    if (!type || !type->is_string() || !result) return Error{"prometheus query " + promql + ": no result"};
    std::vector<PromSample> samples;
    auto add = [&](const json::value& pair, const json::object* metric) -> Status {
        // [ <unix time>, "<value>" ]
        if (!pair.is_array() || pair.as_array().size() != 2) return Error{"prometheus query " + promql + ": a malformed sample"};
        auto value = sample_value(pair.as_array()[1]);
        if (!value) return Error{"prometheus query " + promql + ": a sample value that is not a number"};
        PromSample sample;
        sample.value = *value;
        if (metric)
            for (const auto& [name, label] : *metric)
                if (label.is_string()) sample.labels.emplace(std::string(name), std::string(label.as_string()));
        samples.push_back(std::move(sample));
        return {};
    };
    if (type->as_string() == "scalar") {
        if (auto added = add(*result, nullptr); !added) return added.error();
        return samples;
    }
    if (type->as_string() != "vector" || !result->is_array())
        return Error{"prometheus query " + promql + ": a " + std::string(type->as_string()) + ", not an instant vector"};
    for (const auto& item : result->as_array()) {
        if (!item.is_object()) return Error{"prometheus query " + promql + ": a malformed series"};
        const auto* metric = item.as_object().if_contains("metric");
        const auto* value = item.as_object().if_contains("value");
        if (!value) return Error{"prometheus query " + promql + ": a series without a value"};
        if (auto added = add(*value, metric && metric->is_object() ? &metric->as_object() : nullptr); !added)
            return added.error();
    }
    return samples;
}

Result<PromTargets> PrometheusClient::targets(const std::string& job) {
    HttpCall call;
    call.host = host_;
    call.port = port_;
    call.target = "/api/v1/targets?state=active";
    call.timeout = timeout_;
    auto data = api_data(http_call(call), "targets");
    if (!data) return data.error();
    const auto* active = data->if_contains("activeTargets");
    if (!active || !active->is_array()) return Error{"prometheus targets: no activeTargets"};
    PromTargets out;
    for (const auto& item : active->as_array()) {
        if (!item.is_object()) continue;
        const auto& t = item.as_object();
        const auto* labels = t.if_contains("labels");
        const auto* target_job = labels && labels->is_object() ? labels->as_object().if_contains("job") : nullptr;
        if (!target_job || !target_job->is_string() || target_job->as_string() != job) continue;
        const auto* health = t.if_contains("health");
        const bool up = health && health->is_string() && health->as_string() == "up";
        const auto* last = t.if_contains("lastScrape");
        const auto scraped = last && last->is_string() ? unix_seconds(last->as_string()) : std::nullopt;
        if (up && scraped) {
            ++out.up;
            out.scraped_until = out.scraped_until ? std::min(*out.scraped_until, *scraped) : *scraped;
        } else {
            ++out.down;
            const auto* error = t.if_contains("lastError");
            const auto* url = t.if_contains("scrapeUrl");
            out.errors.push_back((url && url->is_string() ? std::string(url->as_string()) : std::string("?")) + ": " +
                                 (error && error->is_string() && !error->as_string().empty() ? std::string(error->as_string())
                                                                                               : std::string("not scraped yet")));
        }
    }
    return out;
}

}  // namespace canaryd::io
