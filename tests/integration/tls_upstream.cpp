#include "tls_upstream.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>

namespace canaryd::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
    FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f != nullptr);
    if (cert) PEM_write_X509(f, cert);
    if (key) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    REQUIRE(ext != nullptr);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

X509* new_certificate(EVP_PKEY* key, const std::string& common_name, long from, long until) {
    static std::atomic<long> serial{1};
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert), from);
    X509_gmtime_adj(X509_getm_notAfter(cert), until);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
    return cert;
}

}  // namespace

struct TestCa::Keys {
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    ~Keys() {
        X509_free(cert);
        EVP_PKEY_free(key);
    }
};

TestCa::TestCa(std::filesystem::path dir, const std::string& name) : dir_(std::move(dir)), keys_(std::make_unique<Keys>()) {
    keys_->key = EVP_EC_gen("P-256");
    REQUIRE(keys_->key != nullptr);
    keys_->cert = new_certificate(keys_->key, name, -3600, 86400);
    X509_set_issuer_name(keys_->cert, X509_get_subject_name(keys_->cert));
    add_extension(keys_->cert, keys_->cert, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(keys_->cert, keys_->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(keys_->cert, keys_->cert, NID_subject_key_identifier, "hash");
    REQUIRE(X509_sign(keys_->cert, keys_->key, EVP_sha256()) > 0);
    ca_file_ = (dir_ / (name + ".crt")).string();
    write_pem(ca_file_, keys_->cert, nullptr);
}

TestCa::~TestCa() = default;

CertFiles TestCa::issue(const std::string& file_stem, const CertRequest& request) const {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    REQUIRE(key != nullptr);
    X509* cert = new_certificate(key, request.common_name, request.valid_from, request.valid_until);
    X509_set_issuer_name(cert, X509_get_subject_name(keys_->cert));
    std::string san;
    for (const auto& d : request.dns_names) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
    for (const auto& ip : request.ips) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
    if (!san.empty()) add_extension(cert, keys_->cert, NID_subject_alt_name, san);
    add_extension(cert, keys_->cert, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert, keys_->cert, NID_ext_key_usage, request.client ? "clientAuth" : "serverAuth");
    add_extension(cert, keys_->cert, NID_authority_key_identifier, "keyid:always");
    REQUIRE(X509_sign(cert, keys_->key, EVP_sha256()) > 0);
    CertFiles files{(dir_ / (file_stem + ".crt")).string(), (dir_ / (file_stem + ".key")).string()};
    write_pem(files.cert_file, cert, nullptr);
    write_pem(files.key_file, nullptr, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    return files;
}

// One accepted connection: handshake, then request/response until the client closes.
struct TlsUpstream::Connection : std::enable_shared_from_this<Connection> {
    TlsUpstream& server;
    ssl::stream<tcp::socket> stream;
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;

    Connection(TlsUpstream& s, tcp::socket socket) : server(s), stream(std::move(socket), s.tls_) {}

    void start() {
        stream.async_handshake(ssl::stream_base::server, [self = shared_from_this()](boost::system::error_code ec) {
            if (ec) return;
            SSL* ssl = self->stream.native_handle();
            ++self->server.handshakes_;
            if (SSL_session_reused(ssl)) ++self->server.resumed_;
            std::lock_guard lock(self->server.mutex_);
            const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
            self->server.last_server_name_ = sni ? sni : "";
            self->server.last_client_name_.clear();
            if (X509* peer = SSL_get1_peer_certificate(ssl)) {
                char cn[256] = {};
                X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
                self->server.last_client_name_ = cn;
                X509_free(peer);
            }
            self->read();
        });
    }

    void read() {
        request = {};
        http::async_read(stream, buffer, request, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
            if (ec) return;
            self->response = http::response<http::string_body>{http::status::ok, 11};
            self->response.body() = self->server.name_;
            self->response.keep_alive(self->request.keep_alive());
            self->response.prepare_payload();
            http::async_write(self->stream, self->response, [self](boost::system::error_code e, std::size_t) {
                if (!e && self->request.keep_alive()) self->read();
            });
        });
    }
};

TlsUpstream::TlsUpstream(std::string name, const CertFiles& server, const std::string& client_ca) : name_(std::move(name)) {
    tls_.use_certificate_chain_file(server.cert_file);
    tls_.use_private_key_file(server.key_file, ssl::context::pem);
    // Resumption needs a session id context once client certificates are verified.
    static const unsigned char id[] = "canaryd-test";
    SSL_CTX_set_session_id_context(tls_.native_handle(), id, sizeof id - 1);
    if (!client_ca.empty()) {
        tls_.load_verify_file(client_ca);
        tls_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] {
        auto guard = asio::make_work_guard(context_);
        context_.run();
    });
}

TlsUpstream::~TlsUpstream() {
    asio::post(context_, [this] { acceptor_.close(); });
    context_.stop();
    thread_.join();
}

void TlsUpstream::accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
        if (ec) return;
        std::make_shared<Connection>(*this, std::move(socket))->start();
        accept();
    });
}

std::string TlsUpstream::last_server_name() const {
    std::lock_guard lock(mutex_);
    return last_server_name_;
}

std::string TlsUpstream::last_client_name() const {
    std::lock_guard lock(mutex_);
    return last_client_name_;
}

}  // namespace canaryd::test
