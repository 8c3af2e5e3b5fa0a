#include "io/log/log.hpp"

#include "core/json/json_text.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace canaryd::log {
namespace {

std::atomic<int> min_level{static_cast<int>(Level::info)};
std::atomic<bool> has_sink{false};
std::mutex sink_mutex;
Sink sink;  // guarded by sink_mutex

const char* level_name(Level level) {
    switch (level) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warn: return "warn";
        case Level::error: return "error";
    }
    return "info";
}

}  // namespace

void set_min_level(Level level) { min_level.store(static_cast<int>(level), std::memory_order_relaxed); }

void set_sink(Sink s) {
    std::lock_guard lock(sink_mutex);
    sink = std::move(s);
    has_sink.store(static_cast<bool>(sink), std::memory_order_release);
}

std::string now_rfc3339() {
    const auto now = std::chrono::system_clock::now();
    const auto seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
    return text;
}

void write(Level level, std::string_view event, boost::json::object fields) {
    if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) return;
    boost::json::object line;
    line.reserve(fields.size() + 3);
    line["time"] = now_rfc3339();
    line["level"] = level_name(level);
    line["event"] = event;
    for (auto& field : fields) line[field.key()] = std::move(field.value());
    std::string text = json::to_text(line);
    text += '\n';
    if (has_sink.load(std::memory_order_acquire)) {
        std::lock_guard lock(sink_mutex);
        if (sink) return sink(text);
    }
    // One fwrite per line: stdio locks the stream, so lines from threads never interleave.
    std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace canaryd::log
