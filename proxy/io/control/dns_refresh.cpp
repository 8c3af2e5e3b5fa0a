#include "io/control/dns_refresh.hpp"

#include "io/log/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/array.hpp>

#include <algorithm>

namespace canaryd::io {

namespace asio = boost::asio;

namespace {

// The addresses of `a` that `b` does not have, as text.
boost::json::array missing_from(const std::vector<tcp::endpoint>& a, const std::vector<tcp::endpoint>& b) {
    boost::json::array out;
    for (const auto& e : a)
        if (std::find(b.begin(), b.end(), e) == b.end()) out.emplace_back(endpoint_text(e));
    return out;
}

}  // namespace

DnsRefresh::DnsRefresh(asio::io_context& control, asio::thread_pool& blocking, std::string hosts_file, Apply apply)
    : control_(control), blocking_(blocking), hosts_file_(std::move(hosts_file)), apply_(std::move(apply)), timer_(control) {}

void DnsRefresh::follow(std::shared_ptr<const config::Config> config, const ResolvedNames& names) {
    config_ = std::move(config);
    names_ = names;
    failing_.clear();  // the names just resolved, or the reload would have failed
    schedule();
}

void DnsRefresh::stop() {
    stopped_ = true;
    timer_.cancel();
}

void DnsRefresh::schedule() {
    timer_.cancel();
    if (stopped_ || !config_ || config_->defaults.dns_refresh.count() == 0) return;
    timer_.expires_after(config_->defaults.dns_refresh);
    timer_.async_wait([weak = weak_from_this(), config = config_](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->stopped_ || self->config_ != config) return;
        self->refresh();
    });
}

void DnsRefresh::refresh() {
    asio::post(blocking_, [self = shared_from_this(), config = config_] {
        auto fresh = resolve_names(*config, self->hosts_file_);
        asio::post(self->control_, [self, config, fresh = std::move(fresh)] {
            if (self->stopped_ || self->config_ != config) return;  // a reload came in between
            self->merge(config, fresh);
            self->schedule();
        });
    });
}

void DnsRefresh::merge(const std::shared_ptr<const config::Config>& config, const ResolvedNames& fresh) {
    bool changed = false;
    for (const auto& [key, addresses] : fresh.endpoints) {
        auto& in_force = names_.endpoints[key];
        if (auto failed = fresh.failed.find(key); failed != fresh.failed.end()) {
            if (failing_.insert(key).second)
                log::warn("dns_failed", {{"endpoint", key},
                                         {"error", failed->second},
                                         {"kept", missing_from(in_force, {})}});
            continue;  // the last good set stays
        }
        if (failing_.erase(key) != 0) log::info("dns_recovered", {{"endpoint", key}});
        if (addresses == in_force) continue;
        log::info("dns_changed", {{"endpoint", key},
                                  {"added", missing_from(addresses, in_force)},
                                  {"removed", missing_from(in_force, addresses)}});
        in_force = addresses;
        changed = true;
    }
    if (changed) apply_(config, names_);
}

}  // namespace canaryd::io
