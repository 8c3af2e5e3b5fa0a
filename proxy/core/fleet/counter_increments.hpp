// Cumulative counters read from many replicas at successive times -> what happened in
// between (SPEC §9: fleet-wide blocks from Prometheus). Pure.
//
// A series is one replica's counter for one label set; its key holds every label (instance
// and job included), so two replicas never share one. Between two reads a series:
//   - grew: its increment is the growth;
//   - went down: the replica restarted and its counter began again at 0, so the new value
//     is what happened since (what it counted before dying since the last read is lost:
//     under-counting by a little beats inventing requests);
//   - appeared: the first read is a baseline and counts nothing; after that, a new series
//     is a replica that joined (or a status code seen for the first time), counted from 0;
//   - vanished: a replica that left, or a scrape that failed. Its last value is kept for
//     `forget_after` seconds so that a series coming back after a failed scrape continues
//     from where it was instead of being counted again from 0.
#pragma once

#include <map>
#include <string>

namespace canaryd::fleet {

// One sample of a labelled series (a Prometheus instant-vector element).
struct Series {
    std::map<std::string, std::string> labels;
    double value = 0;
};

// The identity of a series: its labels in order, "k=v" joined with '\x1f'.
std::string series_key(const std::map<std::string, std::string>& labels);

class CounterIncrements {
public:
    explicit CounterIncrements(double forget_after_seconds = 600) : forget_after_(forget_after_seconds) {}

    // The increments since the previous read, by series key. `now` orders the reads.
    std::map<std::string, double> advance(const std::map<std::string, double>& values, double now);
    bool has_baseline() const { return has_baseline_; }

private:
    struct Last {
        double value = 0;
        double seen_at = 0;
    };
    std::map<std::string, Last> last_;
    double forget_after_;
    bool has_baseline_ = false;
};

}  // namespace canaryd::fleet
