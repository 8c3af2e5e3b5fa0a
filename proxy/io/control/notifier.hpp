// Notifications of rollout events (SPEC §10, `notify:`): a team's chat learns that the canary
// was rolled back without anyone watching /status.
//
// publish() is called on the control thread after the state is persisted and never blocks:
// it renders the body once per target (the /events record with a dedup key, or a Slack
// message), signs it (X-Canaryd-Signature: sha256=HMAC-SHA256(secret, body), OpenSSL) and
// queues it. A thread of its own delivers: a 2xx ends it, anything else is retried with
// exponential backoff (1 s doubling, at most 1 min apart) for up to 10 minutes, with the same
// body (so a receiver that got it but failed to answer can drop the duplicate by its key).
// The queue is bounded: when full, new deliveries are dropped and counted, never waited for.
// canaryd_notifications_total{result}: sent, retried (an attempt that failed and will be tried
// again), expired (given up after 10 minutes), overflow (the queue was full).
#pragma once

#include "core/config/config.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace prometheus {
class Counter;
}

namespace canaryd::io {

struct Metrics;

class Notifier {
public:
    explicit Notifier(Metrics& metrics);
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    // Control thread: the targets of the config in force (start-up, reloads). Secret files are
    // read here; the errors say which file could not be read (that target then goes unsigned
    // is never an option: it is left out, and the error is logged by the caller).
    std::vector<std::string> configure(const std::vector<config::NotifyTarget>& targets);
    // Control thread: one rollout event, as recorded for /events.
    void publish(const boost::json::object& event);
    void stop();  // pending deliveries are dropped

private:
    struct Target {
        config::NotifyTarget config;
        std::string secret;  // empty: unsigned
    };
    struct Delivery {
        std::shared_ptr<const Target> target;
        std::string body;
        std::string signature;  // "sha256=HEX", or empty
        int attempts = 0;
        std::chrono::steady_clock::time_point first_try;
        std::chrono::steady_clock::time_point next_try;
    };
    void run();
    bool deliver(const Delivery& delivery);

    prometheus::Counter& sent_;
    prometheus::Counter& retried_;
    prometheus::Counter& expired_;
    prometheus::Counter& overflow_;
    std::vector<std::shared_ptr<const Target>> targets_;  // control thread only
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Delivery> queue_;  // guarded by mutex_
    bool stopping_ = false;       // guarded by mutex_
    std::thread thread_;
};

}  // namespace canaryd::io
