// Turns a cumulative CPU-seconds counter into cores used (SPEC §5). Pure: the caller
// passes the time of each sample.
#pragma once

#include <optional>

namespace canaryd::signals {

class CpuRate {
public:
    // `cpu_seconds` is cumulative; `now_seconds` any monotonic clock in seconds. Returns the
    // cores used since the previous sample, or nullopt for the first sample and after the
    // counter went backwards (the process restarted: start over).
    std::optional<double> update(double cpu_seconds, double now_seconds) {
        std::optional<double> cores;
        if (previous_ && now_seconds > previous_time_ && cpu_seconds >= previous_cpu_)
            cores = (cpu_seconds - previous_cpu_) / (now_seconds - previous_time_);
        previous_ = true;
        previous_cpu_ = cpu_seconds;
        previous_time_ = now_seconds;
        return cores;
    }
    void reset() { previous_ = false; }

private:
    bool previous_ = false;
    double previous_cpu_ = 0;
    double previous_time_ = 0;
};

}  // namespace canaryd::signals
