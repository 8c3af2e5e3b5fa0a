#include "io/server/listener_set.hpp"

#include "io/log/log.hpp"
#include "io/server/listener.hpp"
#include "io/server/tls_context.hpp"

#include <algorithm>

namespace canaryd::io {

ListenerSet::ListenerSet(boost::asio::io_context& control, std::vector<Worker*> workers)
    : control_(control), workers_(std::move(workers)) {}

ListenerSet::~ListenerSet() {
    drop_staged();
    stop();
}

Result<std::shared_ptr<boost::asio::ssl::context>> ListenerSet::tls_for(const config::Listener& listener_config) {
    if (!listener_config.tls) return std::shared_ptr<boost::asio::ssl::context>();
    auto context = make_tls_context(*listener_config.tls);
    if (!context) return Error{"listener " + listener_config.address.to_string() + ": " + context.message()};
    return context;
}

Result<std::shared_ptr<Listener>> ListenerSet::bind(const config::Listener& listener_config, const ResolvedNames& names) {
    const auto where = "listener " + listener_config.address.to_string() + ": ";
    auto tls = tls_for(listener_config);
    if (!tls) return tls.error();
    const auto address = names.listeners.find(listener_config.address.to_string());
    if (address == names.listeners.end()) return Error{where + "cannot resolve the host"};
    auto listener = std::make_shared<Listener>(control_, workers_, listener_config);
    if (auto err = listener->open(address->second)) return Error{where + err.message(), err.value()};
    listener->set_tls_context(std::move(tls).value());
    return listener;
}

Status ListenerSet::stage(const std::vector<config::Listener>& configs, const ResolvedNames& names) {
    drop_staged();
    for (const auto& listener_config : configs) {
        // Each open listener serves at most one config entry (two ":0" entries are two ports).
        auto same = std::find_if(open_.begin(), open_.end(), [&](const auto& l) {
            return l->config() == listener_config && std::find(staged_.begin(), staged_.end(), l) == staged_.end();
        });
        if (same != open_.end()) {
            if (listener_config.tls) {
                // Certificates are re-read on every reload (rotation without a restart).
                auto tls = tls_for(listener_config);
                if (!tls) {
                    drop_staged();
                    return tls.error();
                }
                rotated_.emplace_back(*same, std::move(tls).value());
            }
            staged_.push_back(*same);
            continue;
        }
        auto listener = bind(listener_config, names);
        if (!listener) {
            drop_staged();
            return listener.error();
        }
        opened_.push_back(*listener);
        staged_.push_back(*listener);
    }
    return {};
}

std::vector<std::shared_ptr<Listener>> ListenerSet::commit() {
    for (auto& listener : open_) {
        if (std::find(staged_.begin(), staged_.end(), listener) != staged_.end()) continue;
        listener->stop();  // its established connections carry on
        log::info("listener_closed", {{"address", listener->config().address.to_string()}});
    }
    for (auto& [listener, tls] : rotated_) listener->set_tls_context(std::move(tls));
    for (auto& listener : opened_) listener->start();
    open_ = std::move(staged_);
    auto started = std::move(opened_);
    staged_.clear();
    opened_.clear();
    rotated_.clear();
    return started;
}

void ListenerSet::drop_staged() {
    for (auto& listener : opened_) listener->stop();
    staged_.clear();
    opened_.clear();
    rotated_.clear();
}

void ListenerSet::stop() {
    for (auto& listener : open_) listener->stop();
}

std::uint16_t ListenerSet::port(std::size_t index) const { return open_.at(index)->port(); }

}  // namespace canaryd::io
