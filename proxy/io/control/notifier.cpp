#include "io/control/notifier.hpp"

#include "core/config/units.hpp"
#include "core/json/json_text.hpp"
#include "core/text/trim.hpp"
#include "io/control/http_client.hpp"
#include "io/control/read_file.hpp"
#include "io/log/log.hpp"
#include "io/signals/metrics.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

namespace canaryd::io {

namespace {

constexpr std::size_t kQueueLimit = 1000;
constexpr auto kGiveUpAfter = std::chrono::minutes(10);
constexpr auto kFirstBackoff = std::chrono::seconds(1);
constexpr auto kLongestBackoff = std::chrono::seconds(60);

std::string hmac_sha256_hex(const std::string& key, const std::string& body) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(body.data()),
         body.size(), digest, &length);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

std::string text_of(const boost::json::object& event, const char* key) {
    const auto* v = event.if_contains(key);
    if (!v) return "";
    if (v->is_string()) return std::string(v->as_string());
    return json::to_text(*v);
}

// The one line a chat shows, e.g. "canaryd: api rolled back (canary v42 at 0 %): success_rate
// fell ... — by analyzer".
std::string slack_text(const boost::json::object& event) {
    std::string what = text_of(event, "event");
    // Not about one route: a replica lost the fleet's shared state (SPEC §9).
    if (what == "fleet_degraded")
        return "canaryd: replica " + text_of(event, "actor") + " is degraded: " + text_of(event, "reason");
    if (what == "rollback") what = "rolled back";
    else if (what == "advance") what = "advanced";
    else if (what == "promote") what = "promoted";
    else if (what == "pause") what = "paused";
    else if (what == "resume") what = "resumed";
    else if (what == "hold_timeout") what = "held too long";
    return "canaryd: " + text_of(event, "route") + " " + what + " (canary " + text_of(event, "canary_release") + " at " +
           text_of(event, "canary_weight") + " %): " + text_of(event, "reason") + " — by " + text_of(event, "actor");
}

}  // namespace

Notifier::Notifier(Metrics& metrics)
    : sent_(metrics.notifications.Add({{"result", "sent"}})),
      retried_(metrics.notifications.Add({{"result", "retried"}})),
      expired_(metrics.notifications.Add({{"result", "expired"}})),
      overflow_(metrics.notifications.Add({{"result", "overflow"}})),
      thread_([this] { run(); }) {}

Notifier::~Notifier() { stop(); }

void Notifier::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
        queue_.clear();
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::vector<std::string> Notifier::configure(const std::vector<config::NotifyTarget>& targets) {
    std::vector<std::string> errors;
    std::vector<std::shared_ptr<const Target>> next;
    for (const auto& t : targets) {
        auto target = std::make_shared<Target>();
        target->config = t;
        if (!t.secret_file.empty()) {
            auto secret = read_file(t.secret_file);
            if (!secret) {
                errors.push_back("notify " + t.url + ": secret_file: " + secret.message());
                continue;
            }
            target->secret = std::string(text::trim_space(*secret));
        }
        next.push_back(std::move(target));
    }
    targets_ = std::move(next);
    return errors;
}

void Notifier::publish(const boost::json::object& event) {
    const std::string name = text_of(event, "event");
    std::vector<Delivery> deliveries;
    for (const auto& target : targets_) {
        const auto& wanted = target->config.events;
        if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
        Delivery d;
        d.target = target;
        if (target->config.format == config::NotifyTarget::Format::slack) {
            d.body = json::to_text(boost::json::object{{"text", slack_text(event)}});
        } else {
            auto body = event;
            // The same key on every attempt: a receiver drops what it already has.
            body["dedup_key"] = text_of(event, "route") + "/" + name + "/" + text_of(event, "canary_release") + "/" +
                                text_of(event, "time");
            d.body = json::to_text(body);
        }
        if (!target->secret.empty()) d.signature = "sha256=" + hmac_sha256_hex(target->secret, d.body);
        d.first_try = d.next_try = std::chrono::steady_clock::now();
        deliveries.push_back(std::move(d));
    }
    if (deliveries.empty()) return;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        for (auto& d : deliveries) {
            if (queue_.size() >= kQueueLimit) {
                overflow_.Increment();
                continue;
            }
            queue_.push_back(std::move(d));
        }
    }
    wake_.notify_all();
}

bool Notifier::deliver(const Delivery& delivery) {
    auto url = config::parse_http_url(delivery.target->config.url, true);
    if (!url) return false;  // validated at load: cannot happen
    HttpCall call;
    call.host = url->host;
    call.port = url->port;
    call.https = url->https;
    call.method = "POST";
    call.target = url->target;
    call.body = delivery.body;
    call.timeout = std::chrono::seconds(5);
    if (!delivery.signature.empty()) call.headers.emplace_back("X-Canaryd-Signature", delivery.signature);
    auto reply = http_call(call);
    const bool ok = reply && reply->status >= 200 && reply->status < 300;
    if (!ok && delivery.attempts == 0)
        log::warn("notify_failed", {{"url", delivery.target->config.url},
                                    {"error", reply ? "HTTP " + std::to_string(reply->status) : reply.message()},
                                    {"retrying_for_seconds", std::chrono::duration_cast<std::chrono::seconds>(kGiveUpAfter).count()}});
    return ok;
}

void Notifier::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (queue_.empty()) {
            wake_.wait(lock);
            continue;
        }
        // The delivery due first; the queue is small, a scan is cheap.
        auto due = std::min_element(queue_.begin(), queue_.end(),
                                    [](const Delivery& a, const Delivery& b) { return a.next_try < b.next_try; });
        const auto now = std::chrono::steady_clock::now();
        if (due->next_try > now) {
            wake_.wait_until(lock, due->next_try);
            continue;
        }
        Delivery delivery = std::move(*due);
        queue_.erase(due);
        lock.unlock();
        const bool ok = deliver(delivery);
        lock.lock();
        if (ok) {
            sent_.Increment();
            continue;
        }
        ++delivery.attempts;
        const auto after = std::chrono::steady_clock::now();
        if (after - delivery.first_try >= kGiveUpAfter) {
            expired_.Increment();
            log::error("notify_expired", {{"url", delivery.target->config.url}, {"attempts", delivery.attempts}});
            continue;
        }
        retried_.Increment();
        auto backoff = kFirstBackoff * (1 << std::min(delivery.attempts - 1, 6));
        delivery.next_try = after + std::min<std::chrono::steady_clock::duration>(backoff, kLongestBackoff);
        if (!stopping_) queue_.push_back(std::move(delivery));
    }
}

}  // namespace canaryd::io
