#include "io/server/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace canaryd::io {

namespace {

namespace ssl = boost::asio::ssl;

// ALPN (RFC 7301): h2 when the client offers it (RFC 9113 §3.2; the connection then speaks
// HTTP/2), else http/1.1; a client that offers neither gets no ALPN and speaks HTTP/1.1.
int select_protocol(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                    unsigned int in_length, void*) {
    static const unsigned char ours[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, ours, sizeof ours, in, in_length) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_tls_context(const config::TlsFiles& files) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                             ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                         ec);
    if (!ec) context->use_certificate_chain_file(files.cert_file, ec);
    if (ec) return Error{"tls.cert_file " + files.cert_file + ": " + ec.message()};
    context->use_private_key_file(files.key_file, ssl::context::pem, ec);
    if (ec || SSL_CTX_check_private_key(context->native_handle()) != 1) {
        // OpenSSL says "key values mismatch"; say which files do not belong together.
        const bool mismatch = !ec || ec.message().find("mismatch") != std::string::npos;
        return Error{mismatch ? "tls: the key in " + files.key_file + " does not match the certificate in " + files.cert_file
                              : "tls.key_file " + files.key_file + ": " + ec.message()};
    }
    SSL_CTX_set_alpn_select_cb(context->native_handle(), select_protocol, nullptr);
    return context;
}

}  // namespace canaryd::io
