// Notifications (SPEC §10, notify:): a local HTTP receiver that fails the first attempts gets
// the /events record once it answers 2xx — the same body and dedup key on every attempt,
// signed with HMAC-SHA256 when a secret is set — and nothing more; a Slack-format target gets
// one line and only the events it asked for; an HTTPS receiver is verified like any TLS peer.
#include "support.hpp"
#include "tls_upstream.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>

using namespace canaryd;
using namespace canaryd::test;

namespace {

std::string hmac_hex(const std::string& key, const std::string& body) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(body.data()),
         body.size(), digest, &length);
    std::string hex;
    char two[3];
    for (unsigned int i = 0; i < length; ++i) {
        std::snprintf(two, sizeof two, "%02x", digest[i]);
        hex += two;
    }
    return hex;
}

double counter(std::uint16_t admin, const std::string& result) {
    const auto metrics = Client(admin).get("/metrics").body();
    std::smatch m;
    if (std::regex_search(metrics, m, std::regex("canaryd_notifications_total\\{result=\"" + result + "\"\\} ([0-9.e+]+)")))
        return std::stod(m[1].str());
    return -1;
}

// Waits (up to `limit`) for `ready`.
template <class Ready>
bool eventually(Ready ready, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!ready()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
}

std::string split_config(const Upstream& stable, const Upstream& canary, const std::string& token_file,
                         const std::string& notify) {
    return config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                                  "]}\n    canary: {version: v2, endpoints: [" + canary.address() +
                                  "]}\n    canary_weight: 10\n",
                              "admin: {address: 127.0.0.1:0, token_file: " + token_file + "}\nnotify:\n" + notify);
}

}  // namespace

TEST_CASE("notify: retried until the receiver takes it, once, the same signed body every time") {
    TempDir dir;
    const auto token = (dir.path / "token").string();
    const auto secret = (dir.path / "secret").string();
    std::ofstream(token) << "ops\n";
    std::ofstream(secret) << "s3cret\n";
    std::atomic<int> attempts{0};
    Upstream receiver("receiver", [&](const http::request<http::string_body>&) {
        // The first two attempts fail: an outage of the receiver.
        const bool fail = ++attempts <= 2;
        http::response<http::string_body> response{fail ? http::status::service_unavailable : http::status::ok, 11};
        response.body() = fail ? "down" : "ok";
        return response;
    });
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_config(stable, canary, token,
                             "  - {url: 'http://" + receiver.address() + "/hooks/canaryd', secret_file: " + secret + "}\n"));
    const auto admin = proxy.app().admin_port();
    const std::map<std::string, std::string> auth{{"authorization", "Bearer ops"}};
    REQUIRE(Client(admin).request(http::verb::post, "/rollback?route=api", auth).result_int() == 200);

    // 1 s and 2 s of backoff: delivered at the third attempt.
    REQUIRE(eventually([&] { return counter(admin, "sent") == 1; }));
    CHECK(counter(admin, "retried") == 2);
    const auto received = receiver.recorded();
    REQUIRE(received.size() == 3);
    for (const auto& r : received) {
        CHECK(r.method == "POST");
        CHECK(r.target == "/hooks/canaryd");
        CHECK(r.header("content-type") == "application/json");
        CHECK(r.body == received[0].body);  // the same body, so the same dedup key
        CHECK(r.header("x-canaryd-signature") == "sha256=" + hmac_hex("s3cret", r.body));
    }
    const auto event = boost::json::parse(received[0].body).as_object();
    CHECK(event.at("event").as_string() == "rollback");
    CHECK(event.at("route").as_string() == "api");
    CHECK(event.at("canary_release").as_string() == "v2");
    CHECK(event.at("canary_weight").to_number<double>() == 0);
    CHECK(event.at("actor").as_string() == "admin@127.0.0.1");  // who acted, as /events says
    CHECK(event.at("dedup_key").as_string().starts_with("api/rollback/v2/"));

    // Once per event: nothing more arrives for it; the next event is its own delivery.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    CHECK(receiver.recorded().size() == 3);
    REQUIRE(Client(admin).request(http::verb::post, "/resume?route=api", auth).result_int() == 200);
    REQUIRE(eventually([&] { return counter(admin, "sent") == 2; }));
    const auto resumed = boost::json::parse(receiver.recorded().back().body).as_object();
    CHECK(resumed.at("event").as_string() == "resume");
    CHECK(resumed.at("dedup_key") != event.at("dedup_key"));
}

TEST_CASE("notify: a Slack-format target gets one line, only for the events it asked for, unsigned") {
    TempDir dir;
    const auto token = (dir.path / "token").string();
    std::ofstream(token) << "ops\n";
    Upstream receiver("receiver");
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_config(stable, canary, token,
                             "  - {url: 'http://" + receiver.address() + "/slack', format: slack, events: [rollback]}\n"));
    const auto admin = proxy.app().admin_port();
    const std::map<std::string, std::string> auth{{"authorization", "Bearer ops"}};
    REQUIRE(Client(admin).request(http::verb::post, "/pause?route=api", auth).result_int() == 200);
    REQUIRE(Client(admin).request(http::verb::post, "/rollback?route=api", auth).result_int() == 200);
    REQUIRE(eventually([&] { return counter(admin, "sent") == 1; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto received = receiver.recorded();
    REQUIRE(received.size() == 1);  // the pause was not asked for
    const auto body = boost::json::parse(received[0].body).as_object();
    REQUIRE(body.size() == 1);
    const std::string text(body.at("text").as_string());
    CHECK(text.find("canaryd: api rolled back (canary v2 at 0 %)") == 0);
    CHECK(text.find("— by admin@127.0.0.1") != std::string::npos);
    CHECK(received[0].header("x-canaryd-signature").empty());
}

TEST_CASE("notify: an HTTPS receiver is verified: trusted it gets the event, unknown it is retried") {
    TempDir dir;
    const auto token = (dir.path / "token").string();
    std::ofstream(token) << "ops\n";
    TestCa ca(dir.path, "hooks-ca");
    TlsUpstream receiver("hooks", ca.issue("hooks", cert_for("localhost", {"localhost"}, {"127.0.0.1"})));
    // The system store, as OpenSSL reads it, with this test's CA in it.
    ::setenv("SSL_CERT_FILE", ca.ca_file().c_str(), 1);
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_config(stable, canary, token,
                             "  - {url: 'https://127.0.0.1:" + std::to_string(receiver.port()) + "/hook'}\n"));
    const auto admin = proxy.app().admin_port();
    const std::map<std::string, std::string> auth{{"authorization", "Bearer ops"}};
    REQUIRE(Client(admin).request(http::verb::post, "/rollback?route=api", auth).result_int() == 200);
    REQUIRE(eventually([&] { return counter(admin, "sent") == 1; }));
    CHECK(receiver.handshakes() == 1);

    // A store that does not hold the receiver's CA: the handshake fails, the delivery waits.
    TestCa other(dir.path, "other-ca");
    ::setenv("SSL_CERT_FILE", other.ca_file().c_str(), 1);
    LogCapture log;
    REQUIRE(Client(admin).request(http::verb::post, "/resume?route=api", auth).result_int() == 200);
    REQUIRE(eventually([&] { return counter(admin, "retried") >= 1; }));
    CHECK(counter(admin, "sent") == 1);
    const auto failed = log.events("notify_failed");
    REQUIRE(failed.size() == 1);
    CHECK(std::string(failed[0].at("error").as_string()).find("certificate verify failed") != std::string::npos);
    ::unsetenv("SSL_CERT_FILE");
}
