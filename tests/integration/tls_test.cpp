// TLS listeners (SPEC §2, §8): HTTPS end to end, X-Forwarded-Proto https, HTTP/1.1 by
// ALPN, clear errors for bad files, certificates rotated by a reload.
#include "core/config/loader.hpp"
#include "support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http.hpp>
#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <unistd.h>

using namespace canaryd::test;
namespace ssl = boost::asio::ssl;

namespace {

// A self-signed certificate and key for `common_name`, written as PEM files.
void write_self_signed(const std::string& cert_path, const std::string& key_path, const std::string& common_name) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    REQUIRE(key);
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                               -1, 0);
    X509_set_issuer_name(cert, name);
    REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
    FILE* c = std::fopen(cert_path.c_str(), "w");
    PEM_write_X509(c, cert);
    std::fclose(c);
    FILE* k = std::fopen(key_path.c_str(), "w");
    PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(k);
    X509_free(cert);
    EVP_PKEY_free(key);
}

struct HttpsResult {
    http::response<http::string_body> response;
    std::string peer_common_name;
    std::string alpn;
};

// One HTTPS request; no certificate verification (the certificates are self-signed).
HttpsResult https_get(std::uint16_t port, const std::string& target = "/") {
    boost::asio::io_context ioc;
    ssl::context context(ssl::context::tls_client);
    context.set_verify_mode(ssl::verify_none);
    // An HTTP/1.1 client (one that also offers h2 gets h2: tests/integration/http2_test.cpp).
    static const unsigned char protocols[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(context.native_handle(), protocols, sizeof protocols);
    ssl::stream<tcp::socket> stream(ioc, context);
    stream.next_layer().connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    stream.handshake(ssl::stream_base::client);
    HttpsResult result;
    if (X509* cert = SSL_get1_peer_certificate(stream.native_handle())) {
        char cn[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        result.peer_common_name = cn;
        X509_free(cert);
    }
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(stream.native_handle(), &alpn, &alpn_length);
    result.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_length);
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, "secure.test");
    http::write(stream, request);
    boost::beast::flat_buffer buffer;
    http::read(stream, buffer, result.response);
    return result;
}

std::string temp(const std::string& name) { return "/tmp/canaryd-tls-" + std::to_string(getpid()) + "-" + name; }

std::string tls_config(const Upstream& upstream, const std::string& cert, const std::string& key) {
    return "threads: 1\nlisteners:\n  - address: 127.0.0.1:0\n    tls: {cert_file: " + cert + ", key_file: " + key +
           "}\n  - address: 127.0.0.1:0\nroutes:\n  - name: api\n    stable: {version: v1, endpoints: [" +
           upstream.address() + "]}\n";
}

}  // namespace

TEST_CASE("a TLS listener serves HTTPS with HTTP/1.1 by ALPN, the plain listener beside it still works") {
    const auto cert = temp("a.crt");
    const auto key = temp("a.key");
    write_self_signed(cert, key, "first.test");
    Upstream stable("stable");
    Proxy proxy(tls_config(stable, cert, key));
    auto result = https_get(proxy.port(0), "/secure");
    CHECK(result.response.result_int() == 200);
    CHECK(result.response.body() == "stable");
    CHECK(result.peer_common_name == "first.test");
    CHECK(result.alpn == "http/1.1");
    CHECK(stable.recorded().back().header("x-forwarded-proto") == "https");
    Client plain(proxy.port(1));
    CHECK(plain.get("/").body() == "stable");
    CHECK(stable.recorded().back().header("x-forwarded-proto") == "http");
    std::remove(cert.c_str());
    std::remove(key.c_str());
}

TEST_CASE("plaintext sent to a TLS port closes that connection only") {
    const auto cert = temp("b.crt");
    const auto key = temp("b.key");
    write_self_signed(cert, key, "b.test");
    Upstream stable("stable");
    Proxy proxy(tls_config(stable, cert, key));
    {
        boost::asio::io_context ioc;
        tcp::socket socket(ioc);
        socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), proxy.port(0)));
        boost::asio::write(socket, boost::asio::buffer(std::string("GET / HTTP/1.1\r\nHost: a\r\n\r\n")));
        char byte;
        boost::system::error_code ec;
        socket.read_some(boost::asio::buffer(&byte, 1), ec);
        CHECK(ec);  // closed, not answered in clear text
    }
    CHECK(https_get(proxy.port(0)).response.result_int() == 200);
    CHECK(stable.requests() == 1);
    std::remove(cert.c_str());
    std::remove(key.c_str());
}

TEST_CASE("a missing or mismatched certificate is a clear start-up error") {
    Upstream stable("stable");
    const auto cert = temp("c.crt");
    const auto key = temp("c.key");
    const auto other_cert = temp("d.crt");
    const auto other_key = temp("d.key");
    write_self_signed(cert, key, "c.test");
    write_self_signed(other_cert, other_key, "d.test");
    auto start_fails = [&](const std::string& c, const std::string& k, const std::string& expected) {
        auto loaded = canaryd::config::load_config(tls_config(stable, c, k) + "admin: {address: 127.0.0.1:0}\n");
        REQUIRE(loaded.ok());
        canaryd::io::App app(loaded.config, {});
        try {
            app.start();
            FAIL("started with " << c << " and " << k);
        } catch (const canaryd::io::StartupError& e) {
            INFO(std::string(e.what()));
            CHECK(std::string(e.what()).find(expected) != std::string::npos);
        }
    };
    start_fails("/nonexistent/cert.pem", key, "tls.cert_file /nonexistent/cert.pem");
    start_fails(cert, "/nonexistent/key.pem", "tls.key_file /nonexistent/key.pem");
    start_fails(cert, other_key, "does not match");
    for (const auto& f : {cert, key, other_cert, other_key}) std::remove(f.c_str());
}

TEST_CASE("a reload picks up rotated certificates for new connections") {
    const auto cert = temp("r.crt");
    const auto key = temp("r.key");
    write_self_signed(cert, key, "before.test");
    Upstream stable("stable");
    const auto yaml = tls_config(stable, cert, key);
    Proxy proxy(yaml);
    CHECK(https_get(proxy.port(0)).peer_common_name == "before.test");
    write_self_signed(cert, key, "after.test");  // rotated in place, same paths
    proxy.reload(yaml);
    auto after = https_get(proxy.port(0));
    CHECK(after.peer_common_name == "after.test");
    CHECK(after.response.result_int() == 200);
    std::remove(cert.c_str());
    std::remove(key.c_str());
}
