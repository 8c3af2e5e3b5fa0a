// TLS to upstreams (SPEC §11, a version's `tls:`), against a real HTTPS server with
// certificates made at test time: a valid one (by name and by IP), the wrong host, an
// unknown CA, an expired one, mTLS required with and without a client certificate,
// session resumption across pooled connections, certificate files re-read on reload, and a
// bad file refused when the config loads.
#include "support.hpp"
#include "tls_upstream.hpp"

#include "core/config/loader.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <fstream>

using namespace canaryd;
using namespace canaryd::test;

namespace {

struct Pki {
    TempDir dir;
    TestCa ca{dir.path, "test-ca"};
    TestCa other_ca{dir.path, "other-ca"};
    CertFiles server = ca.issue("server", cert_for("backend.test", {"backend.test"}, {"127.0.0.1"}));
};

// One route whose stable version is `endpoint` over TLS with `tls` (the YAML flow map's body).
std::string tls_config(const std::string& endpoint, const std::string& tls, const std::string& extra = "") {
    return config_with_routes("  - name: secure\n    stable: {version: v1, endpoints: [" + endpoint + "], tls: {" + tls +
                                  "}}\n",
                              extra);
}

std::uint64_t tls_errors(std::uint16_t admin_port) {
    const auto status = admin_status(admin_port);
    return status.at("routes").at(0).at("stable").at("upstream_errors").at("tls").to_number<std::uint64_t>();
}

}  // namespace

TEST_CASE("upstream tls: a valid certificate, SNI from server_name, resumed sessions") {
    Pki pki;
    TlsUpstream upstream("secure", pki.server);
    // No upstream keep-alive: every request is a new connection, so resumption shows.
    Proxy proxy(tls_config(upstream.address(), "ca_file: " + pki.ca.ca_file() + ", server_name: backend.test",
                           "defaults: {upstream: {max_idle_per_endpoint: 0}}\n"));
    Client client(proxy.port());
    for (int i = 0; i < 10; ++i) {
        auto response = client.get("/");
        REQUIRE(response.result_int() == 200);
        CHECK(response.body() == "secure");
    }
    CHECK(upstream.last_server_name() == "backend.test");
    CHECK(upstream.handshakes() == 10);
    CHECK(upstream.resumed() >= 8);  // all but the first (a worker's first connection may race)
    CHECK(tls_errors(proxy.app().admin_port()) == 0);
}

TEST_CASE("upstream tls: an IP endpoint is checked against the certificate's IP, with no SNI (RFC 6066)") {
    Pki pki;
    TlsUpstream upstream("secure", pki.server);
    Proxy proxy(tls_config(upstream.address(), "ca_file: " + pki.ca.ca_file()));
    Client client(proxy.port());
    auto response = client.get("/");
    CHECK(response.result_int() == 200);
    CHECK(response.body() == "secure");
    CHECK(upstream.last_server_name().empty());
    // Keep-alive upstream (the default): ten more requests, no new handshake.
    for (int i = 0; i < 10; ++i) CHECK(client.get("/").result_int() == 200);
    CHECK(upstream.handshakes() == 1);
}

TEST_CASE("upstream tls: the wrong host, an unknown CA and an expired certificate are 502 kind=tls") {
    Pki pki;
    const auto unknown = pki.other_ca.issue("unknown", cert_for("backend.test", {"backend.test"}));
    auto expired_request = cert_for("backend.test", {"backend.test"});
    expired_request.valid_from = -7200;
    expired_request.valid_until = -3600;
    const auto expired = pki.ca.issue("expired", expired_request);
    struct Case {
        const char* what;
        CertFiles server;
        std::string server_name;
        const char* reason;  // what the log says
    };
    for (const auto& c : {Case{"wrong host", pki.server, "other.test", "hostname mismatch"},
                          Case{"unknown CA", unknown, "backend.test", "unable to get local issuer certificate"},
                          Case{"expired", expired, "backend.test", "certificate has expired"}}) {
        CAPTURE(c.what);
        TlsUpstream upstream("secure", c.server);
        Proxy proxy(tls_config(upstream.address(), "ca_file: " + pki.ca.ca_file() + ", server_name: " + c.server_name));
        LogCapture log;
        Client client(proxy.port());
        for (int i = 0; i < 3; ++i) {
            auto response = client.get("/");
            CHECK(response.result_int() == 502);
            CHECK(response.body().find("upstream TLS handshake failed") != std::string::npos);
        }
        wait_for_status(proxy.app().admin_port(), [](const boost::json::value& s) {
            return s.at("routes").at(0).at("stable").at("upstream_errors").at("tls").to_number<std::uint64_t>() == 3;
        });
        CHECK(tls_errors(proxy.app().admin_port()) == 3);
        const auto metrics = Client(proxy.app().admin_port()).get("/metrics").body();
        CHECK(metrics.find("canaryd_upstream_errors_total{kind=\"tls\",release=\"v1\",route=\"secure\",version=\"stable\"} 3") !=
              std::string::npos);
        // The reason is in the log, once for the three requests.
        const auto failed = log.events("upstream_tls_failed");
        REQUIRE(failed.size() == 1);
        CHECK(failed[0].at("server_name").as_string() == c.server_name);
        const std::string error(failed[0].at("error").as_string());
        CHECK_MESSAGE(error.find(std::string("certificate verify failed: ") + c.reason) != std::string::npos, error);
    }
}

TEST_CASE("upstream tls: verify: false accepts a certificate from an unknown CA") {
    Pki pki;
    const auto unknown = pki.other_ca.issue("unknown", cert_for("elsewhere", {"elsewhere.test"}));
    TlsUpstream upstream("secure", unknown);
    Proxy proxy(tls_config(upstream.address(), "verify: false"));
    CHECK(Client(proxy.port()).get("/").result_int() == 200);
}

TEST_CASE("upstream tls: mTLS: a server that requires a client certificate gets canaryd's, and refuses none") {
    Pki pki;
    auto client_request = cert_for("canaryd-gateway");
    client_request.client = true;
    const auto client_cert = pki.ca.issue("client", client_request);
    TlsUpstream upstream("secure", pki.server, pki.ca.ca_file());

    Proxy without(tls_config(upstream.address(), "ca_file: " + pki.ca.ca_file()));
    auto refused = Client(without.port()).get("/");
    CHECK(refused.result_int() == 502);
    CHECK(refused.body().find("upstream TLS") != std::string::npos);
    wait_for_status(without.app().admin_port(), [](const boost::json::value& s) {
        return s.at("routes").at(0).at("stable").at("upstream_errors").at("tls").to_number<std::uint64_t>() == 1;
    });
    CHECK(tls_errors(without.app().admin_port()) == 1);

    Proxy with(tls_config(upstream.address(), "ca_file: " + pki.ca.ca_file() + ", cert_file: " + client_cert.cert_file +
                                                  ", key_file: " + client_cert.key_file));
    auto response = Client(with.port()).get("/");
    CHECK(response.result_int() == 200);
    CHECK(upstream.last_client_name() == "canaryd-gateway");
}

TEST_CASE("upstream tls: certificate files are re-read on reload") {
    Pki pki;
    TlsUpstream upstream("secure", pki.server);
    // The CA bundle at first holds the wrong CA; then the operator fixes the file and reloads.
    const auto bundle = (pki.dir.path / "bundle.crt").string();
    std::filesystem::copy_file(pki.other_ca.ca_file(), bundle);
    const auto yaml = tls_config(upstream.address(), "ca_file: " + bundle);
    Proxy proxy(yaml);
    CHECK(Client(proxy.port()).get("/").result_int() == 502);
    std::filesystem::copy_file(pki.ca.ca_file(), bundle, std::filesystem::copy_options::overwrite_existing);
    CHECK(proxy.reload(yaml) == 2);
    CHECK(Client(proxy.port()).get("/").result_int() == 200);

    // A file that cannot be read fails the reload and keeps the config in force.
    std::filesystem::remove(bundle);
    CHECK(proxy.reload(yaml) == 2);
    CHECK(Client(proxy.port()).get("/").result_int() == 200);
}

TEST_CASE("upstream tls: a bad file stops start-up with a message that names it") {
    Pki pki;
    auto loaded = config::load_config(tls_config("127.0.0.1:9", "ca_file: /nonexistent/ca.crt") + "admin: {address: 127.0.0.1:0}\n");
    REQUIRE(loaded.ok());
    io::App app(loaded.config, io::AppOptions{});
    try {
        app.start();
        FAIL("start() succeeded");
    } catch (const io::StartupError& e) {
        CHECK(std::string(e.what()).find("routes.secure.stable.tls.ca_file /nonexistent/ca.crt") != std::string::npos);
    }
}
