// The optional JSON access log (SPEC §8): one object per line per request, to a file or to
// stderr. Off by default. Reopened on every reload, so log rotation needs only a SIGHUP.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
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

class AccessLog {
public:
    // `path` is a file (appended to) or "stderr". Throws std::runtime_error when the file
    // cannot be opened (at start-up; a reload reports it and keeps the old file).
    explicit AccessLog(std::string path);
    ~AccessLog();
    AccessLog(const AccessLog&) = delete;
    AccessLog& operator=(const AccessLog&) = delete;

    void write(const AccessRecord& record);
    // Reopens the file (after rotation). Returns an error message, empty on success.
    std::string reopen();
    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::mutex mutex_;
    std::FILE* file_ = nullptr;
};

}  // namespace canaryd::io
