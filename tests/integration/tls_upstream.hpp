// HTTPS upstreams for the upstream TLS tests: a test CA that issues server and client
// certificates at test time (OpenSSL's API; valid, expired, for other names), and an HTTPS
// server on 127.0.0.1 that answers its name and reports what the handshakes looked like
// (SNI received, sessions resumed, the client certificate presented).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace canaryd::test {

struct CertFiles {
    std::string cert_file;
    std::string key_file;
};

struct CertRequest {
    std::string common_name;
    std::vector<std::string> dns_names;  // subjectAltName DNS entries
    std::vector<std::string> ips;        // subjectAltName IP entries
    long valid_from = -60;               // seconds from now
    long valid_until = 3600;
    bool client = false;                 // extendedKeyUsage clientAuth instead of serverAuth
};

inline CertRequest cert_for(std::string common_name, std::vector<std::string> dns_names = {},
                            std::vector<std::string> ips = {}) {
    CertRequest r;
    r.common_name = std::move(common_name);
    r.dns_names = std::move(dns_names);
    r.ips = std::move(ips);
    return r;
}

// A certificate authority whose files live in `dir`.
class TestCa {
public:
    TestCa(std::filesystem::path dir, const std::string& name);
    ~TestCa();
    TestCa(const TestCa&) = delete;
    TestCa& operator=(const TestCa&) = delete;

    const std::string& ca_file() const { return ca_file_; }
    // A certificate signed by this CA, written as `<file_stem>.crt` and `.key`.
    CertFiles issue(const std::string& file_stem, const CertRequest& request) const;

private:
    std::filesystem::path dir_;
    std::string ca_file_;
    struct Keys;
    std::unique_ptr<Keys> keys_;
};

// An HTTPS/1.1 keep-alive server answering `name` to every request.
class TlsUpstream {
public:
    // `client_ca` non-empty: a client certificate signed by it is required (mTLS).
    TlsUpstream(std::string name, const CertFiles& server, const std::string& client_ca = "");
    ~TlsUpstream();

    std::uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    int handshakes() const { return handshakes_.load(); }
    int resumed() const { return resumed_.load(); }
    std::string last_server_name() const;  // SNI of the last handshake ("" when none)
    std::string last_client_name() const;  // CN of the last client certificate ("" when none)

private:
    struct Connection;
    void accept();

    std::string name_;
    boost::asio::io_context context_{1};
    boost::asio::ssl::context tls_{boost::asio::ssl::context::tls_server};
    boost::asio::ip::tcp::acceptor acceptor_{context_};
    std::uint16_t port_ = 0;
    std::atomic<int> handshakes_{0};
    std::atomic<int> resumed_{0};
    mutable std::mutex mutex_;
    std::string last_server_name_;
    std::string last_client_name_;
    std::thread thread_;
};

}  // namespace canaryd::test
