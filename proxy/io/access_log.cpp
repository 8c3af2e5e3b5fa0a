#include "io/access_log.hpp"

#include "io/log.hpp"
#include "json/json_text.hpp"

#include <boost/json/object.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace canaryd::io {

namespace {

double round3(double value) { return std::round(value * 1000.0) / 1000.0; }

}  // namespace

AccessLog::AccessLog(std::string path) : path_(std::move(path)) {
    if (auto error = reopen(); !error.empty()) throw std::runtime_error(error);
}

AccessLog::~AccessLog() {
    if (file_ && file_ != stderr) std::fclose(file_);
}

std::string AccessLog::reopen() {
    if (path_ == "stderr") {
        std::lock_guard lock(mutex_);
        file_ = stderr;
        return {};
    }
    std::FILE* fresh = std::fopen(path_.c_str(), "a");
    if (!fresh) return "access_log " + path_ + ": " + std::strerror(errno);
    std::lock_guard lock(mutex_);
    if (file_ && file_ != stderr) std::fclose(file_);
    file_ = fresh;
    return {};
}

void AccessLog::write(const AccessRecord& r) {
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
    std::lock_guard lock(mutex_);
    if (!file_) return;
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
}

}  // namespace canaryd::io
