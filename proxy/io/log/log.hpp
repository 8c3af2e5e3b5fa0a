// Structured logs: one JSON object per line on stderr (SPEC §8), e.g.
//   {"time":"2026-11-26T10:50:07.123Z","level":"info","event":"listening","address":"0.0.0.0:8080"}
#pragma once

#include <boost/json/object.hpp>

#include <functional>
#include <string_view>

namespace canaryd::log {

enum class Level { debug, info, warn, error };

void write(Level level, std::string_view event, boost::json::object fields = {});

inline void info(std::string_view event, boost::json::object fields = {}) {
    write(Level::info, event, std::move(fields));
}
inline void warn(std::string_view event, boost::json::object fields = {}) {
    write(Level::warn, event, std::move(fields));
}
inline void error(std::string_view event, boost::json::object fields = {}) {
    write(Level::error, event, std::move(fields));
}

// Lines below this level are dropped (default: info). Tests raise it to keep output short.
void set_min_level(Level level);

// Where lines go instead of stderr (each one JSON text with its newline), or back to
// stderr when empty. For tests that check what an operator would read in the log.
using Sink = std::function<void(std::string_view line)>;
void set_sink(Sink sink);

// RFC 3339 UTC time with milliseconds, the format of the "time" field.
std::string now_rfc3339();

}  // namespace canaryd::log
