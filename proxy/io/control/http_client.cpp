#include "io/control/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace canaryd::io {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

Result<HttpReply> http_call(const HttpCall& call) {
    const std::string authority = call.host + ":" + std::to_string(call.port);
    const std::string where = "http://" + authority + call.target;
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    beast::flat_buffer buffer;
    bhttp::request<bhttp::string_body> request{bhttp::string_to_verb(call.method), call.target, 11};
    request.set(bhttp::field::host, authority);
    request.set(bhttp::field::user_agent, "canaryd");
    if (!call.accept.empty()) request.set(bhttp::field::accept, call.accept);
    if (!call.body.empty()) {
        request.set(bhttp::field::content_type, call.content_type);
        request.body() = call.body;
    }
    request.keep_alive(false);
    request.prepare_payload();
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(call.body_limit);
    boost::system::error_code result;
    tcp::resolver resolver(ioc);
    stream.expires_after(call.timeout);
    resolver.async_resolve(call.host, std::to_string(call.port), [&](boost::system::error_code ec, tcp::resolver::results_type r) {
        if (ec) {
            result = ec;
            return;
        }
        stream.async_connect(r, [&](boost::system::error_code ec2, const tcp::endpoint&) {
            if (ec2) {
                result = ec2;
                return;
            }
            bhttp::async_write(stream, request, [&](boost::system::error_code ec3, std::size_t) {
                if (ec3) {
                    result = ec3;
                    return;
                }
                bhttp::async_read(stream, buffer, parser, [&](boost::system::error_code ec4, std::size_t) { result = ec4; });
            });
        });
    });
    ioc.run();
    if (result) return Error{where + ": " + result.message()};
    return HttpReply{parser.get().result_int(), std::move(parser.get().body())};
}

}  // namespace canaryd::io
