// Endpoint host names followed as they change (SPEC §11, `defaults.dns_refresh`): on
// Kubernetes a Service name's addresses come and go with its pods, and a proxy that resolved
// them once turns pod churn into 502s.
//
// Every `dns_refresh` the names of the config in force are looked up again on the
// blocking-work thread (never on the I/O or control threads: a slow DNS server holds up
// nothing). Back on the control thread the answers are merged into the addresses in force:
// a lookup that failed keeps its last good set (logged once when it starts failing and once
// when it recovers), and when any set changed the owner publishes a snapshot of the same
// config with the new addresses (`Apply`). A reload in between wins: answers for a config
// that is no longer in force are dropped.
#pragma once

#include "core/config/config.hpp"
#include "io/control/snapshot.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <memory>
#include <set>
#include <string>

namespace canaryd::io {

// Owned through a shared_ptr: its pending handlers keep it alive after stop().
class DnsRefresh : public std::enable_shared_from_this<DnsRefresh> {
public:
    using Apply = std::function<void(const std::shared_ptr<const config::Config>& config, const ResolvedNames& names)>;

    DnsRefresh(boost::asio::io_context& control, boost::asio::thread_pool& blocking, std::string hosts_file, Apply apply);

    // Control thread: the config now in force and the addresses its snapshot was built from
    // (start-up and every reload). Restarts the period.
    void follow(std::shared_ptr<const config::Config> config, const ResolvedNames& names);
    void stop();

private:
    void schedule();
    void refresh();
    void merge(const std::shared_ptr<const config::Config>& config, const ResolvedNames& fresh);

    boost::asio::io_context& control_;
    boost::asio::thread_pool& blocking_;
    std::string hosts_file_;
    Apply apply_;
    boost::asio::steady_timer timer_;
    std::shared_ptr<const config::Config> config_;
    ResolvedNames names_;           // the addresses in force
    std::set<std::string> failing_;  // "host:port" whose last lookup failed
    bool stopped_ = false;
};

}  // namespace canaryd::io
