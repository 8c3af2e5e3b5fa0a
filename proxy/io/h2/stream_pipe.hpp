// One HTTP/2 stream seen by canaryd's HTTP/1.1 engine as a connection of its own (issue
// #16): the stream's request arrives as the bytes of an HTTP/1.1 request (core/h2), which a
// ClientSession reads exactly as it reads a socket — so routing, the version decision, the
// signals, the upstream pool, retries, error responses and the access log are the same code
// for every request, per stream. What the ClientSession writes back is parsed as an
// HTTP/1.1 response and handed to the stream as HTTP/2 fields and data.
//
// Bounded both ways: the request side holds what the stream's flow-control window allowed
// (the window is only reopened as the engine reads, StreamSink::consumed); a response write
// completes only while less than kResponseQueue bytes wait for the client to read, so a slow
// reader holds back the upstream instead of filling memory. Single-threaded: the stream's
// connection and its ClientSession run on one worker.
#pragma once

#include "core/h2/h1_translate.hpp"
#include "core/http/chunked_decoder.hpp"
#include "core/http/response_parser.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace canaryd::io {

// What a pipe tells its HTTP/2 connection about its stream.
class StreamSink {
public:
    virtual ~StreamSink() = default;
    virtual void response_head(std::int32_t stream, h2::HeaderList fields, bool ends_stream) = 0;
    virtual void response_data(std::int32_t stream) = 0;  // more bytes in pipe.response_body(), or its end
    virtual void consumed(std::int32_t stream, std::size_t request_bytes) = 0;  // reopen the window
    // The engine gave up on the stream (an abort, or a response that does not parse).
    virtual void reset(std::int32_t stream) = 0;
};

class StreamPipe {
public:
    using IoHandler = boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;
    static constexpr std::size_t kResponseQueue = 64 * 1024;

    StreamPipe(boost::asio::io_context& ioc, StreamSink& sink, std::int32_t stream, bool request_was_head,
               std::size_t max_head_bytes)
        : ioc_(ioc), sink_(&sink), stream_(stream), request_was_head_(request_was_head), max_head_bytes_(max_head_bytes) {}

    // ------------------------------------------------ the HTTP/2 side
    void push_request(std::string_view bytes, std::size_t window_bytes);
    void end_request();
    // Body bytes waiting to go out as DATA; take() removes what was framed.
    const std::string& response_body() const { return body_; }
    // The response's trailer fields (a chunked body's trailer section), once complete.
    const h2::HeaderList& response_trailers() const { return trailers_; }
    void take_response(std::size_t n);
    bool response_complete() const { return state_ == State::done; }
    // The stream is gone (reset by the client, or the connection closed): the engine's
    // pending and future I/O fails.
    void detach();

    // ------------------------------------------------ the engine side (ClientSession)
    template <class MutableBuffers, class Handler>
    void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
        read_into_ = boost::asio::buffer(*boost::asio::buffer_sequence_begin(buffers));
        read_handler_.emplace(IoHandler(std::forward<Handler>(handler)));
        serve_read();
    }
    template <class ConstBuffers, class Handler>
    void async_write(const ConstBuffers& buffers, Handler&& handler) {
        const auto n = boost::asio::buffer_size(buffers);
        std::string bytes(n, '\0');
        boost::asio::buffer_copy(boost::asio::buffer(bytes), buffers);
        write_handler_.emplace(IoHandler(std::forward<Handler>(handler)));
        write_size_ = n;
        on_response_bytes(bytes);
    }
    void cancel_read();   // a read deadline: the pending read completes with operation_aborted
    void end_response();  // the engine shut its sending side: the response is complete
    void close();         // the engine aborted the exchange

private:
    enum class State : std::uint8_t { head, body_length, body_chunked, body_until_close, done, failed };
    void serve_read();
    void complete_read(boost::system::error_code ec, std::size_t n);
    void on_response_bytes(std::string_view bytes);
    void parse_head();
    void parse_body();
    void finish_body();
    void fail();
    void maybe_complete_write();

    boost::asio::io_context& ioc_;
    StreamSink* sink_;  // null once detached
    std::int32_t stream_;
    bool request_was_head_;
    std::size_t max_head_bytes_;

    // Request side.
    std::string request_;             // bytes not read yet
    std::size_t window_owed_ = 0;     // DATA bytes in `request_` whose window is not reopened yet
    bool request_ended_ = false;
    boost::asio::mutable_buffer read_into_;
    std::optional<IoHandler> read_handler_;

    // Response side.
    State state_ = State::head;
    std::string pending_;  // response bytes not parsed yet
    http::ResponseParse head_;
    std::uint64_t remaining_ = 0;  // content-length still owed
    http::ChunkedDecoder chunked_;
    std::string body_;     // decoded body bytes for DATA
    h2::HeaderList trailers_;
    std::optional<IoHandler> write_handler_;
    std::size_t write_size_ = 0;
};

}  // namespace canaryd::io
