#include "core/config/units.hpp"

#include <boost/url/parse.hpp>

#include <charconv>
#include <limits>

namespace canaryd::config {

namespace {

// A parse failure: the message for the operator.
Error fail(std::string message) { return Error{std::move(message)}; }

}  // namespace
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads leading decimal digits; false on overflow or when there are none.
bool take_uint(std::string_view& text, std::uint64_t& out) {
    std::size_t n = 0;
    while (n < text.size() && is_digit(text[n])) ++n;
    if (n == 0) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + n, out);
    if (ec != std::errc{} || ptr != text.data() + n) return false;
    text.remove_prefix(n);
    return true;
}

bool mul_overflows(std::uint64_t a, std::uint64_t b) {
    return b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b;
}

}  // namespace

std::string HostPort::to_string() const {
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

Result<Duration> parse_duration(std::string_view text) {
    using P = Result<Duration>;
    const std::string original(text);
    if (text == "0") return P(Duration{0});
    if (text.empty()) return fail("empty duration; expected e.g. 250ms, 5s, 1m");
    std::uint64_t total_ms = 0;
    while (!text.empty()) {
        std::uint64_t amount = 0;
        if (!take_uint(text, amount))
            return fail("invalid duration '" + original + "'; expected e.g. 250ms, 5s, 1m30s");
        std::uint64_t unit_ms = 0;
        if (text.starts_with("ms")) {
            unit_ms = 1;
            text.remove_prefix(2);
        } else if (text.starts_with("s")) {
            unit_ms = 1'000;
            text.remove_prefix(1);
        } else if (text.starts_with("m")) {
            unit_ms = 60'000;
            text.remove_prefix(1);
        } else if (text.starts_with("h")) {
            unit_ms = 3'600'000;
            text.remove_prefix(1);
        } else {
            return fail("invalid duration '" + original + "'; units are ms, s, m, h");
        }
        if (mul_overflows(amount, unit_ms) || total_ms + amount * unit_ms < total_ms ||
            total_ms + amount * unit_ms > 365ull * 24 * 3'600'000)
            return fail("duration '" + original + "' is out of range (at most 365 days)");
        total_ms += amount * unit_ms;
    }
    return P(Duration{static_cast<Duration::rep>(total_ms)});
}

Result<std::uint64_t> parse_size(std::string_view text) {
    using P = Result<std::uint64_t>;
    const std::string original(text);
    std::uint64_t amount = 0;
    if (!take_uint(text, amount))
        return fail("invalid size '" + original + "'; expected e.g. 64KiB, 512MiB, 1GB");
    struct Unit {
        std::string_view name;
        std::uint64_t factor;
    };
    static constexpr Unit units[] = {
        {"", 1},
        {"B", 1},
        {"KiB", 1ull << 10},
        {"MiB", 1ull << 20},
        {"GiB", 1ull << 30},
        {"TiB", 1ull << 40},
        {"KB", 1'000},
        {"MB", 1'000'000},
        {"GB", 1'000'000'000},
        {"TB", 1'000'000'000'000},
    };
    for (const auto& unit : units) {
        if (text != unit.name) continue;
        if (mul_overflows(amount, unit.factor)) return fail("size '" + original + "' is too large");
        return P(amount * unit.factor);
    }
    return fail("invalid size unit in '" + original + "'; units are B, KiB, MiB, GiB, TiB, KB, MB, GB, TB");
}

Result<std::uint32_t> parse_weight_bp(std::string_view text) {
    using P = Result<std::uint32_t>;
    const std::string original(text);
    if (text.ends_with('%')) text.remove_suffix(1);
    std::uint64_t whole = 0;
    if (!take_uint(text, whole))
        return fail("invalid weight '" + original + "'; expected a percentage such as 10 or 12.5");
    std::uint64_t hundredths = 0;
    if (!text.empty() && text.front() == '.') {
        text.remove_prefix(1);
        std::size_t digits = 0;
        while (digits < text.size() && is_digit(text[digits])) ++digits;
        if (digits == 0) return fail("invalid weight '" + original + "'");
        if (digits > 2) {
            // Trailing zeros beyond the second decimal are harmless ("12.500").
            for (std::size_t i = 2; i < digits; ++i)
                if (text[i] != '0')
                    return fail("weight '" + original + "' has more than two decimals (the step is 0.01 %)");
        }
        hundredths = static_cast<std::uint64_t>(text[0] - '0') * 10;
        if (digits >= 2) hundredths += static_cast<std::uint64_t>(text[1] - '0');
        text.remove_prefix(digits);
    }
    if (!text.empty()) return fail("invalid weight '" + original + "'; expected a percentage such as 10 or 12.5");
    if (whole > 100 || (whole == 100 && hundredths > 0))
        return fail("weight '" + original + "' is out of range 0..100");
    return P(static_cast<std::uint32_t>(whole * 100 + hundredths));
}

Result<HostPort> parse_host_port(std::string_view text, bool allow_port_zero) {
    using P = Result<HostPort>;
    const std::string original(text);
    std::string host;
    std::string_view port_text;
    if (text.starts_with('[')) {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return fail("invalid address '" + original + "'; expected [ipv6]:port");
        host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return fail("address '" + original + "' has no port; expected host:port");
        host = std::string(text.substr(0, colon));
        if (host.find(':') != std::string::npos)
            return fail("invalid address '" + original + "'; write IPv6 addresses as [addr]:port");
        port_text = text.substr(colon + 1);
    }
    if (host.empty()) return fail("address '" + original + "' has no host");
    for (char c : host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
                        c == '-' || c == ':' || c == '_';
        if (!ok) return fail("invalid character in host of '" + original + "'");
    }
    std::uint64_t port = 0;
    std::string_view digits = port_text;
    if (!take_uint(digits, port) || !digits.empty())
        return fail("invalid port in '" + original + "'");
    if (port > 65535 || (port == 0 && !allow_port_zero))
        return fail("port of '" + original + "' is out of range 1..65535");
    for (auto& c : host)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return P(HostPort{std::move(host), static_cast<std::uint16_t>(port)});
}

Result<HttpUrl> parse_http_url(std::string_view text, bool allow_https) {
    using P = Result<HttpUrl>;
    const std::string original(text);
    // RFC 3986 parsing by Boost.URL; what canaryd accepts on top is narrower: plain http, a
    // host (name or IP literal), no user info, no fragment.
    const auto parsed = boost::urls::parse_absolute_uri(text);
    if (!parsed) return fail("expected an http:// URL, got '" + original + "': " + parsed.error().message());
    const auto& u = *parsed;
    const bool https = u.scheme_id() == boost::urls::scheme::https;
    if (https && !allow_https) return fail("https scrape URLs are not supported: '" + original + "'");
    if (u.scheme_id() != boost::urls::scheme::http && !https)
        return fail(std::string(allow_https ? "expected an http:// or https:// URL" : "expected an http:// URL") + ", got '" +
                    original + "'");
    if (!u.has_authority() || u.encoded_host().empty()) return fail("no host in URL '" + original + "'");
    if (u.has_userinfo()) return fail("user info is not supported in URL '" + original + "'");
    if (u.has_fragment()) return fail("a fragment ('#') has no meaning in URL '" + original + "'");
    std::string authority(u.encoded_host());
    authority += ':';
    authority += u.has_port() && !u.port().empty() ? std::string(u.port()) : std::string(https ? "443" : "80");
    auto hp = parse_host_port(authority, false);
    if (!hp) return fail("invalid host in URL '" + original + "': " + hp.message());
    HttpUrl url;
    url.host = hp->host;
    url.port = hp->port;
    url.https = https;
    url.target = u.encoded_target().empty() ? "/" : std::string(u.encoded_target());
    if (url.target.front() != '/') url.target.insert(0, 1, '/');
    return P(std::move(url));
}

bool is_loopback_host(std::string_view host) {
    return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::string format_weight_percent(std::uint32_t weight_bp) {
    std::string out = std::to_string(weight_bp / 100);
    const auto frac = weight_bp % 100;
    if (frac != 0) {
        out += '.';
        out += static_cast<char>('0' + frac / 10);
        if (frac % 10 != 0) out += static_cast<char>('0' + frac % 10);
    }
    return out;
}

}  // namespace canaryd::config
