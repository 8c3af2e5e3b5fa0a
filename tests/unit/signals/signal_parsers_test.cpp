#include "core/signals/cpu_rate.hpp"
#include "core/signals/proc_parsers.hpp"
#include "core/signals/prometheus_text.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace canaryd::signals;

TEST_CASE("Prometheus text: every syntax feature") {
    const char* text =
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\n"
        "process_cpu_seconds_total 12.47\n"
        "# A free-form comment\n"
        "\n"
        "process_resident_memory_bytes 1.234e+08\n"
        "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
        "http_requests_total{method=\"get\", code=\"400\" , } 3\r\n"
        "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
        "metric_without_timestamp_and_labels 12.47\n"
        "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
        "neg_inf -Inf\n"
        "not_a_number NaN\n"
        "rpc_duration_seconds{quantile=\"0.99\"} 76656\n"
        "  indented_metric 1\n";
    auto parsed = parse_prometheus_text(text);
    REQUIRE(parsed.ok());
    CHECK((*parsed).size() == 11);
    CHECK(sum_of((*parsed), "process_cpu_seconds_total") == doctest::Approx(12.47));
    CHECK(sum_of((*parsed), "process_resident_memory_bytes") == doctest::Approx(123'400'000));
    CHECK(sum_of((*parsed), "http_requests_total") == doctest::Approx(1030));
    const auto& post = (*parsed)[2];
    REQUIRE(post.labels.size() == 2);
    CHECK(post.labels[0] == std::pair<std::string, std::string>{"method", "post"});
    CHECK(post.timestamp_ms == 1395066363000);
    const auto& msdos = (*parsed)[4];
    CHECK(msdos.labels[0].second == "C:\\DIR\\FILE.TXT");
    CHECK(msdos.labels[1].second == "Cannot find file:\n\"FILE.TXT\"");
    CHECK(std::isinf((*parsed)[6].value));
    CHECK((*parsed)[6].value > 0);
    CHECK((*parsed)[6].timestamp_ms == -3982045);
    CHECK(std::isinf((*parsed)[7].value));
    CHECK((*parsed)[7].value < 0);
    CHECK(std::isnan((*parsed)[8].value));
    CHECK_FALSE(sum_of((*parsed), "absent"));
}

TEST_CASE("Prometheus text: garbage is rejected with a line number, never a crash") {
    for (const char* bad : {
             "1metric 5\n",
             "metric\n",
             "metric five\n",
             "metric{label=\"unterminated} 1\n",
             "metric{label=unquoted} 1\n",
             "metric{label=\"x\" 1\n",
             "metric{=\"x\"} 1\n",
             "metric{l=\"\\q\"} 1\n",
             "metric 1 notatimestamp\n",
             "metric 1 2 3\n",
             "metric inf\n",
             "metric 0x10\n",
             "ok 1\nmetric{\n",
             "\x01\x02\x03",
         }) {
        INFO(bad);
        auto parsed = parse_prometheus_text(bad);
        CHECK_FALSE(parsed.ok());  // and so no samples: a failure carries none
        CHECK(parsed.message().starts_with("line "));
    }
    CHECK(parse_prometheus_text("ok 1\nmetric{\n").message().starts_with("line 2:"));
    CHECK(parse_prometheus_text("").ok());
}

TEST_CASE("/proc/PID/stat: utime + stime, with a command name holding spaces and parentheses") {
    const char* stat = "4242 (my (weird) cmd) S 1 4242 4242 0 -1 4194560 1234 0 5 0 150 75 0 0 20 0 4 0 "
                       "12345 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 4096 17922 0 0 0 17 1 0 0 0 0 0\n";
    CHECK(proc_stat_cpu_ticks(stat) == 225u);
    CHECK_FALSE(proc_stat_cpu_ticks("4242 no parens"));
    CHECK_FALSE(proc_stat_cpu_ticks("4242 (x) S 1 2"));
    CHECK_FALSE(proc_stat_cpu_ticks("4242 (x) S 1 4242 4242 0 -1 4194560 1234 0 5 0 abc 75 0"));
    CHECK(proc_stat_start_ticks(stat) == 12345u);
    CHECK_FALSE(proc_stat_start_ticks("4242 (x) S 1 4242 4242 0 -1 4194560 1234 0 5 0 150 75 0"));
}

TEST_CASE("/proc/stat: the boot time") {
    CHECK(proc_boot_time_seconds("cpu  1 2 3\nintr 5 6\nctxt 99\nbtime 1764800000\nprocesses 7\n") == 1'764'800'000u);
    CHECK_FALSE(proc_boot_time_seconds("cpu  1 2 3\nbtimex 5\n"));
    CHECK_FALSE(proc_boot_time_seconds("btime soon\n"));
}

TEST_CASE("/proc/PID/status VmRSS, cgroup files and pid files") {
    const char* status = "Name:\tnginx\nVmPeak:\t  20000 kB\nVmRSS:\t   10240 kB\nThreads:\t1\n";
    CHECK(proc_status_rss_bytes(status) == 10'485'760u);
    CHECK(proc_status_bytes(status, "VmPeak") == 20'480'000u);
    CHECK_FALSE(proc_status_bytes(status, "VmSize"));
    CHECK_FALSE(proc_status_rss_bytes("Name:\tx\n"));
    CHECK_FALSE(proc_status_rss_bytes("VmRSS:\t10 MB\n"));
    CHECK(cgroup_cpu_usage_usec("usage_usec 5000000\nuser_usec 4000000\nsystem_usec 1000000\n") == 5'000'000u);
    CHECK_FALSE(cgroup_cpu_usage_usec("user_usec 1\n"));
    CHECK(cgroup_memory_current("536870912\n") == 536'870'912u);
    CHECK_FALSE(cgroup_memory_current("max\n"));
    CHECK(parse_pid_file(" 4242\n") == 4242);
    CHECK_FALSE(parse_pid_file("-1"));
    CHECK_FALSE(parse_pid_file("abc"));
    CHECK_FALSE(parse_pid_file(""));
}

TEST_CASE("CPU counter to cores") {
    CpuRate rate;
    CHECK_FALSE(rate.update(10.0, 100.0));  // first sample: no rate yet
    CHECK(rate.update(11.5, 101.0) == doctest::Approx(1.5));
    CHECK(rate.update(11.5, 102.0) == doctest::Approx(0.0));
    CHECK_FALSE(rate.update(1.0, 103.0));  // counter reset: the process restarted
    CHECK(rate.update(1.25, 103.5) == doctest::Approx(0.5));
}
