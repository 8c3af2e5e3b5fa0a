// TLS to upstreams (SPEC §11, a version's `tls:`): the client side of canaryd's connections
// to backends that speak HTTPS only.
//
// One context per version, built when a config loads (start-up, every reload — so rotated
// CA bundles and client certificates are re-read): TLS 1.2 and later, verification on unless
// `verify: false`, against `ca_file` or the system store, a client certificate when given
// (mTLS), ALPN http/1.1. Per connection, the name comes from `server_name` or the endpoint's
// host: sent as SNI (never for an IP literal, RFC 6066 §3) and checked against the
// certificate's names (RFC 6125 §6; an IP literal against its IP addresses). Sessions are
// resumed across a worker's pooled connections (UpstreamPools keeps the last one per
// endpoint), so a pool that grows does not pay a full handshake per connection.
#pragma once

#include "core/common/result.hpp"
#include "core/config/config.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace canaryd::io {

// The version's context, or an error naming the file that is wrong and why.
// `http2`: ALPN offers h2 only (the version's `protocol: http2`), else http/1.1 only.
Result<std::shared_ptr<boost::asio::ssl::context>> make_upstream_tls_context(const config::UpstreamTls& tls,
                                                                            bool http2 = false);

// Sets SNI and, when verifying, the name the certificate must carry, on a new connection.
void prepare_upstream_ssl(SSL* ssl, const std::string& name, bool verify);

// Why a handshake failed, for the log: the certificate verification result when that is
// what failed ("certificate has expired", "unable to get local issuer certificate", ...),
// else OpenSSL's reason (a client certificate the server refused shows as an alert).
std::string tls_failure_reason(SSL* ssl, const boost::system::error_code& ec);

}  // namespace canaryd::io
