// The optional JSON access log (SPEC §8): one object per line per request, to a file or to
// stderr. Off by default. Reopened on every reload, so log rotation needs only a SIGHUP.
#pragma once

#include "core/common/result.hpp"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <vector>
#include <string>
#include <string_view>

namespace canaryd::io {

struct AccessRecord {
    std::string_view route;       // "-" before a route was chosen
    std::string_view version;     // stable | canary | "-"
    std::string_view reason;      // why that version: override | sticky | weighted | no_canary | all_canary | "-"
    std::string_view release;
    std::string_view method;
    std::string_view path;
    std::string_view request_id;
    std::string_view peer;
    unsigned status = 0;          // what the client got (0: the connection was aborted)
    std::string_view source;      // upstream | canaryd | aborted
    double duration_ms = 0;       // request head received -> exchange finished
    double upstream_ms = 0;       // request head received -> upstream response header
    std::uint64_t bytes_in = 0;   // request body bytes forwarded
    std::uint64_t bytes_out = 0;  // response body bytes sent
};

// Lines are buffered per writer (one per worker thread, so the request path takes no lock
// another worker holds, and no flush per request) and written when a buffer passes 32 KiB,
// on flush() — the control thread calls it every second — on reopen() and on destruction.
class AccessLog {
public:
    // `path` is a file (appended to) or "stderr". Throws std::runtime_error when the file
    // cannot be opened (at start-up; a reload reports it and keeps the old file).
    explicit AccessLog(std::string path, std::size_t writers = 1);
    ~AccessLog();
    AccessLog(const AccessLog&) = delete;
    AccessLog& operator=(const AccessLog&) = delete;

    // `writer` is the calling worker's index (< writers); a writer calls from one thread.
    void write(std::size_t writer, const AccessRecord& record);
    // Writes every buffered line to the file and flushes it.
    void flush();
    // Reopens the file (after rotation), after writing what is buffered to the old one.
    Status reopen();
    const std::string& path() const { return path_; }

private:
    struct Writer {
        std::mutex mutex;  // taken by its worker per line, and by flush() once a second
        std::string buffer;
    };
    void write_out(std::string& lines);  // under file_mutex_
    Status open_locked();                // under file_mutex_

    std::string path_;
    std::vector<std::unique_ptr<Writer>> writers_;
    std::mutex file_mutex_;
    std::FILE* file_ = nullptr;
};

}  // namespace canaryd::io
