#include "io/control/http_client.hpp"

#include "io/upstream/upstream_tls.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <type_traits>

namespace canaryd::io {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// Resolves, connects `tcp` (the lowest layer of `stream`), shakes hands when `stream` is TLS,
// sends and reads: all under the one deadline of the beast::tcp_stream.
template <class Stream, class Request, class Parser>
boost::system::error_code run_exchange(asio::io_context& ioc, beast::tcp_stream& tcp, Stream& stream, const HttpCall& call,
                                       Request& request, Parser& parser) {
    beast::flat_buffer buffer;
    boost::system::error_code result;
    tcp::resolver resolver(ioc);
    tcp.expires_after(call.timeout);
    auto send = [&] {
        bhttp::async_write(stream, request, [&](boost::system::error_code ec3, std::size_t) {
            if (ec3) {
                result = ec3;
                return;
            }
            bhttp::async_read(stream, buffer, parser, [&](boost::system::error_code ec4, std::size_t) { result = ec4; });
        });
    };
    resolver.async_resolve(call.host, std::to_string(call.port), [&](boost::system::error_code ec, tcp::resolver::results_type r) {
        if (ec) {
            result = ec;
            return;
        }
        tcp.async_connect(r, [&](boost::system::error_code ec2, const tcp::endpoint&) {
            if (ec2) {
                result = ec2;
                return;
            }
            if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
                send();
            } else {
                stream.async_handshake(asio::ssl::stream_base::client, [&](boost::system::error_code ec5) {
                    if (ec5) {
                        result = ec5;
                        return;
                    }
                    send();
                });
            }
        });
    });
    ioc.run();
    return result;
}

}  // namespace

Result<HttpReply> http_call(const HttpCall& call) {
    const std::string authority = call.host + ":" + std::to_string(call.port);
    const std::string where = std::string(call.https ? "https://" : "http://") + authority + call.target;
    asio::io_context ioc;
    bhttp::request<bhttp::string_body> request{bhttp::string_to_verb(call.method), call.target, 11};
    request.set(bhttp::field::host, authority);
    request.set(bhttp::field::user_agent, "canaryd");
    if (!call.accept.empty()) request.set(bhttp::field::accept, call.accept);
    for (const auto& [name, value] : call.headers) request.set(name, value);
    if (!call.body.empty()) {
        request.set(bhttp::field::content_type, call.content_type);
        request.body() = call.body;
    }
    request.keep_alive(false);
    request.prepare_payload();
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(call.body_limit);
    boost::system::error_code result;
    if (call.https) {
        asio::ssl::context context(asio::ssl::context::tls_client);
        context.set_default_verify_paths();
        context.set_verify_mode(asio::ssl::verify_peer);
        beast::ssl_stream<beast::tcp_stream> stream(ioc, context);
        prepare_upstream_ssl(stream.native_handle(), call.host, true);
        result = run_exchange(ioc, beast::get_lowest_layer(stream), stream, call, request, parser);
        if (result) {
            const auto reason = tls_failure_reason(stream.native_handle(), result);
            return Error{where + ": " + reason};
        }
    } else {
        beast::tcp_stream stream(ioc);
        result = run_exchange(ioc, stream, stream, call, request, parser);
    }
    if (result) return Error{where + ": " + result.message()};
    return HttpReply{parser.get().result_int(), std::move(parser.get().body())};
}

}  // namespace canaryd::io
