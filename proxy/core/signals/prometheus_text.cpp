#include "core/signals/prometheus_text.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace canaryd::signals {
namespace {

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_label_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_label_char(char c) { return is_label_start(c) || (c >= '0' && c <= '9'); }

void skip_blanks(std::string_view& s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
}

// Go's ParseFloat spellings as the format allows them: NaN, +Inf, -Inf, decimals, exponents.
std::optional<double> parse_value(std::string_view text) {
    if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
    if (text == "-Inf") return -std::numeric_limits<double>::infinity();
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    if (text.empty()) return std::nullopt;
    for (char c : text)  // from_chars would also take "inf"/"nan" spellings the format does not
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+')) return std::nullopt;
    double value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
    return value;
}

struct LineParser {
    std::string_view s;
    PromSample sample;
    std::string error;

    bool fail(std::string message) {
        error = std::move(message);
        return false;
    }

    bool parse() {
        if (s.empty() || !is_name_start(s.front())) return fail("expected a metric name");
        std::size_t n = 0;
        while (n < s.size() && is_name_char(s[n])) ++n;
        sample.name = std::string(s.substr(0, n));
        s.remove_prefix(n);
        skip_blanks(s);
        if (!s.empty() && s.front() == '{') {
            s.remove_prefix(1);
            if (!parse_labels()) return false;
        }
        skip_blanks(s);
        const auto value_end = s.find_first_of(" \t");
        const auto value = parse_value(s.substr(0, value_end));
        if (!value) return fail("invalid sample value '" + std::string(s.substr(0, value_end)) + "'");
        sample.value = *value;
        s = value_end == std::string_view::npos ? std::string_view{} : s.substr(value_end);
        skip_blanks(s);
        if (!s.empty()) {
            long long ts = 0;
            auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), ts);
            if (ec != std::errc{}) return fail("invalid timestamp");
            s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
            skip_blanks(s);
            if (!s.empty()) return fail("unexpected text after the timestamp");
            sample.timestamp_ms = ts;
        }
        return true;
    }

    bool parse_labels() {
        while (true) {
            skip_blanks(s);
            if (s.empty()) return fail("unterminated label set");
            if (s.front() == '}') {
                s.remove_prefix(1);
                return true;
            }
            if (!is_label_start(s.front())) return fail("invalid label name");
            std::size_t n = 0;
            while (n < s.size() && is_label_char(s[n])) ++n;
            std::string label(s.substr(0, n));
            s.remove_prefix(n);
            skip_blanks(s);
            if (s.empty() || s.front() != '=') return fail("expected '=' after label " + label);
            s.remove_prefix(1);
            skip_blanks(s);
            if (s.empty() || s.front() != '"') return fail("expected a quoted label value");
            s.remove_prefix(1);
            std::string value;
            bool closed = false;
            while (!s.empty()) {
                const char c = s.front();
                s.remove_prefix(1);
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\') {
                    if (s.empty()) return fail("dangling escape in a label value");
                    const char e = s.front();
                    s.remove_prefix(1);
                    if (e == 'n') value += '\n';
                    else if (e == '\\' || e == '"') value += e;
                    else return fail(std::string("invalid escape \\") + e + " in a label value");
                    continue;
                }
                value += c;
            }
            if (!closed) return fail("unterminated label value");
            sample.labels.emplace_back(std::move(label), std::move(value));
            skip_blanks(s);
            if (!s.empty() && s.front() == ',') s.remove_prefix(1);
            else if (s.empty() || s.front() != '}') return fail("expected ',' or '}' in a label set");
        }
    }
};

}  // namespace

Result<std::vector<PromSample>> parse_prometheus_text(std::string_view text) {
    std::vector<PromSample> samples;
    std::size_t line_number = 0;
    while (!text.empty()) {
        ++line_number;
        const auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        skip_blanks(line);
        if (line.empty() || line.front() == '#') continue;  // blank, comment, HELP or TYPE
        LineParser parser{line, {}, {}};
        if (!parser.parse()) return Error{"line " + std::to_string(line_number) + ": " + parser.error};
        samples.push_back(std::move(parser.sample));
    }
    return samples;
}

std::optional<double> sum_of(const std::vector<PromSample>& samples, std::string_view name) {
    std::optional<double> total;
    for (const auto& s : samples)
        if (s.name == name) total = total.value_or(0.0) + s.value;
    return total;
}

}  // namespace canaryd::signals
