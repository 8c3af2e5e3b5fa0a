// Server-side TLS for a listener (SPEC §2): a context built from the listener's cert_file
// and key_file, TLS 1.2 and later only, ALPN fixed to http/1.1 (canaryd speaks HTTP/1.1 to
// clients). Rebuilt on every reload, so rotated certificates are picked up by new
// connections while established ones keep theirs.
#pragma once

#include "core/common/result.hpp"
#include "core/config/config.hpp"

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

namespace canaryd::io {

// The context, or null with `error` saying which file was wrong and why.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const config::TlsFiles& files);

}  // namespace canaryd::io
