#include "io/control/name_resolver.hpp"

#include "core/text/hosts_file.hpp"
#include "io/control/read_file.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>

namespace canaryd::io {

using tcp = boost::asio::ip::tcp;

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(host, ec);
    return !ec;
}

namespace {

Result<std::vector<tcp::endpoint>> from_hosts_file(const config::HostPort& hp, const std::string& hosts_file) {
    auto table = read_file(hosts_file);
    if (!table) return Error{"cannot resolve " + hp.to_string() + ": " + table.message()};
    std::vector<tcp::endpoint> out;
    for (const auto& text : text::hosts_addresses(*table, hp.host)) {
        boost::system::error_code ec;
        const auto address = boost::asio::ip::make_address(text, ec);
        if (ec) return Error{"cannot resolve " + hp.to_string() + ": '" + text + "' in " + hosts_file + " is not an address"};
        out.emplace_back(address, hp.port);
    }
    if (out.empty()) return Error{"cannot resolve " + hp.to_string() + ": not in " + hosts_file};
    return out;
}

Result<std::vector<tcp::endpoint>> from_system(boost::asio::io_context& ioc, const config::HostPort& hp) {
    boost::system::error_code ec;
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
    if (ec || results.empty()) return Error{"cannot resolve " + hp.to_string() + ": " + (ec ? ec.message() : "no addresses")};
    std::vector<tcp::endpoint> out;
    for (const auto& r : results) out.push_back(r.endpoint());
    return out;
}

}  // namespace

Result<std::vector<tcp::endpoint>> resolve_host(boost::asio::io_context& ioc, const config::HostPort& hp,
                                                const std::string& hosts_file) {
    boost::system::error_code ec;
    const auto literal = boost::asio::ip::make_address(hp.host, ec);
    if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(literal, hp.port)};
    auto found = hosts_file.empty() ? from_system(ioc, hp) : from_hosts_file(hp, hosts_file);
    if (!found) return found;
    // One address family per name, IPv4 when it has any (Envoy's V4_PREFERRED): "localhost"
    // answers ::1 and 127.0.0.1, and a backend listening on one of them only must not see
    // half its requests refused at the other.
    auto& addresses = *found;
    if (std::any_of(addresses.begin(), addresses.end(), [](const tcp::endpoint& e) { return e.address().is_v4(); }))
        std::erase_if(addresses, [](const tcp::endpoint& e) { return !e.address().is_v4(); });
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    return found;
}

}  // namespace canaryd::io
