#include "io/upstream/upstream_tls.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/x509v3.h>

namespace canaryd::io {

namespace ssl = boost::asio::ssl;

Result<std::shared_ptr<ssl::context>> make_upstream_tls_context(const config::UpstreamTls& tls, bool http2) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                             ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                         ec);
    if (tls.ca_file.empty()) {
        context->set_default_verify_paths(ec);
        if (ec) return Error{"tls: cannot load the system CA store: " + ec.message()};
    } else {
        context->load_verify_file(tls.ca_file, ec);
        if (ec) return Error{"tls.ca_file " + tls.ca_file + ": " + ec.message()};
    }
    if (!tls.cert_file.empty()) {
        context->use_certificate_chain_file(tls.cert_file, ec);
        if (ec) return Error{"tls.cert_file " + tls.cert_file + ": " + ec.message()};
        context->use_private_key_file(tls.key_file, ssl::context::pem, ec);
        if (ec) return Error{"tls.key_file " + tls.key_file + ": " + ec.message()};
        if (SSL_CTX_check_private_key(context->native_handle()) != 1)
            return Error{"tls: the key in " + tls.key_file + " does not match the certificate in " + tls.cert_file};
    }
    context->set_verify_mode(tls.verify ? ssl::verify_peer : ssl::verify_none);
    // The version's protocol, and only it: a server must not pick another (RFC 7301).
    static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    static const unsigned char h2[] = {2, 'h', '2'};
    if (http2) SSL_CTX_set_alpn_protos(context->native_handle(), h2, sizeof h2);
    else SSL_CTX_set_alpn_protos(context->native_handle(), http11, sizeof http11);
    return context;
}

void prepare_upstream_ssl(SSL* ssl, const std::string& name, bool verify) {
    boost::system::error_code ec;
    const auto literal = boost::asio::ip::make_address(name, ec);
    const bool is_ip = !ec;
    // SSL_set_tlsext_host_name, spelled out: the macro's C cast trips -Wold-style-cast.
    if (!is_ip)
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str()));
    if (!verify) return;
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    // No partial wildcards ("f*.example.com"): only a whole leftmost label (RFC 6125 §6.4.3).
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip) X509_VERIFY_PARAM_set1_ip_asc(param, literal.to_string().c_str());
    else X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
}

std::string tls_failure_reason(SSL* ssl, const boost::system::error_code& ec) {
    const long verify = SSL_get_verify_result(ssl);
    if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0 && verify != X509_V_OK) return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    if (ec == ssl::error::stream_truncated) return "the upstream closed the connection during the TLS handshake";
    return ec.message();
}

}  // namespace canaryd::io
