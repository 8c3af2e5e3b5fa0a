// A thread of its own that samples every version's backend CPU and memory once a second
// (SPEC §5) and hands the readings to the control thread. Blocking file reads and scrapes
// happen here, never on an I/O thread; a failed sample marks the signal missing.
#pragma once

#include "core/signals/cpu_rate.hpp"
#include "io/control/snapshot.hpp"
#include "io/signals/signals_aggregator.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace canaryd::io {

class BackendSampler {
public:
    using Publish = std::function<void(const std::string& route, config::Role role, const std::string& source,
                                       BackendReading reading)>;

    BackendSampler(const SnapshotHolder& snapshots, Publish publish,
                   std::chrono::milliseconds interval = std::chrono::seconds(1));
    ~BackendSampler();

    void start();
    void stop();

private:
    void run();
    void sample_all();

    const SnapshotHolder& snapshots_;
    Publish publish_;
    std::chrono::milliseconds interval_;
    std::map<std::string, signals::CpuRate> cpu_rates_;  // by route/role/release
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace canaryd::io
