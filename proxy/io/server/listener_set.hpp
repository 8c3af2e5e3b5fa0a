// The client listeners of the running config (SPEC §4, §8): opened at start-up, and on each
// reload reconciled in two phases so that a reload either applies as a whole or not at all —
// stage() binds every new address and re-reads every certificate without touching what
// serves traffic (a port in use or a bad certificate fails the reload, the old listeners stay),
// then commit() closes the listeners the new config dropped, swaps TLS contexts (rotation
// without a restart) and starts the new ones. Control thread only.
#pragma once

#include "core/common/result.hpp"
#include "core/config/config.hpp"
#include "io/control/snapshot.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace canaryd::io {

class Listener;
class Worker;

class ListenerSet {
public:
    ListenerSet(boost::asio::io_context& control, std::vector<Worker*> workers);
    ~ListenerSet();

    // Binds the new config's listeners beside the open ones. On failure everything staged
    // is closed again and nothing changed.
    Status stage(const std::vector<config::Listener>& configs, const ResolvedNames& names);
    // Makes the staged set the open one; returns the listeners it started.
    std::vector<std::shared_ptr<Listener>> commit();
    // Stops accepting on every listener (established connections are not touched).
    void stop();

    std::uint16_t port(std::size_t index) const;

private:
    Result<std::shared_ptr<Listener>> bind(const config::Listener& listener_config, const ResolvedNames& names);
    // The listener's TLS context read from its files now (null without `tls:`).
    static Result<std::shared_ptr<boost::asio::ssl::context>> tls_for(const config::Listener& listener_config);
    void drop_staged();

    boost::asio::io_context& control_;
    std::vector<Worker*> workers_;
    std::vector<std::shared_ptr<Listener>> open_;
    // The next set: kept listeners and newly bound ones, in config order.
    std::vector<std::shared_ptr<Listener>> staged_;
    std::vector<std::shared_ptr<Listener>> opened_;  // bound by stage(), not yet started
    std::vector<std::pair<std::shared_ptr<Listener>, std::shared_ptr<boost::asio::ssl::context>>> rotated_;
};

}  // namespace canaryd::io
