#include "io/log/access_log.hpp"

#include "core/json/json_text.hpp"
#include "io/log/log.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace canaryd::io {

namespace {

double round3(double value) { return std::round(value * 1000.0) / 1000.0; }

}  // namespace

constexpr std::size_t kWriterBufferBytes = 32 * 1024;

AccessLog::AccessLog(std::string path, std::size_t writers) : path_(std::move(path)) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, writers); ++i) writers_.push_back(std::make_unique<Writer>());
    std::lock_guard lock(file_mutex_);
    if (auto opened = open_locked(); !opened) throw std::runtime_error(opened.message());
}

AccessLog::~AccessLog() {
    flush();
    if (file_ && file_ != stderr) std::fclose(file_);
}

void AccessLog::write_out(std::string& lines) {
    if (file_ && !lines.empty()) std::fwrite(lines.data(), 1, lines.size(), file_);
    lines.clear();
}

void AccessLog::flush() {
    std::string lines;
    for (auto& writer : writers_) {
        {
            std::lock_guard lock(writer->mutex);
            lines.swap(writer->buffer);
        }
        std::lock_guard lock(file_mutex_);
        write_out(lines);
    }
    std::lock_guard lock(file_mutex_);
    if (file_) std::fflush(file_);
}

Status AccessLog::reopen() {
    flush();
    std::lock_guard lock(file_mutex_);
    return open_locked();
}

Status AccessLog::open_locked() {
    if (path_ == "stderr") {
        file_ = stderr;
        return {};
    }
    std::FILE* fresh = std::fopen(path_.c_str(), "a");
    if (!fresh) return Error{"access_log " + path_ + ": " + std::strerror(errno), errno};
    if (file_ && file_ != stderr) std::fclose(file_);
    file_ = fresh;
    return {};
}

void AccessLog::write(std::size_t writer, const AccessRecord& r) {
    boost::json::object o;
    o["time"] = log::now_rfc3339();
    o["route"] = r.route;
    o["version"] = r.version;
    o["release"] = r.release;
    o["reason"] = r.reason;
    o["method"] = r.method;
    o["path"] = r.path;
    o["status"] = r.status;
    o["source"] = r.source;
    o["duration_ms"] = round3(r.duration_ms);
    o["upstream_ms"] = round3(r.upstream_ms);
    o["bytes_in"] = r.bytes_in;
    o["bytes_out"] = r.bytes_out;
    o["request_id"] = r.request_id;
    o["peer"] = r.peer;
    std::string line = json::to_text(o);
    line += '\n';
    Writer& w = *writers_[writer < writers_.size() ? writer : 0];
    std::string full;
    {
        std::lock_guard lock(w.mutex);
        w.buffer += line;
        if (w.buffer.size() < kWriterBufferBytes) return;
        full.swap(w.buffer);
    }
    std::lock_guard lock(file_mutex_);
    write_out(full);
}

}  // namespace canaryd::io
