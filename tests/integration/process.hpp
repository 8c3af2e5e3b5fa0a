// canaryd as a real child process, for the tests that need real signals and restarts.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace canaryd::test {

class CanarydProcess {
public:
    // Writes `yaml` to a config file and starts `canaryd --config` with stderr captured.
    // Waits until the admin API at `admin_port` answers.
    CanarydProcess(const std::string& yaml, std::uint16_t admin_port);
    // `canaryd ARGS...` (e.g. --demo with its flags), with no config file of the test's.
    CanarydProcess(std::vector<std::string> args, std::uint16_t admin_port);
    ~CanarydProcess();

    // Replaces the config file atomically (so a reload never reads half a file).
    void write_config(const std::string& yaml);
    void signal(int signal_number);
    // The exit code, or nullopt if it did not exit within `limit`.
    std::optional<int> wait_exit(std::chrono::milliseconds limit);
    std::string log() const;  // everything written to stderr so far
    pid_t pid() const { return pid_; }
    const std::string& config_path() const { return config_path_; }

private:
    void spawn(std::vector<std::string> args, std::uint16_t admin_port);

    std::string config_path_;
    std::string log_path_;
    pid_t pid_ = 0;
    bool exited_ = false;
};

}  // namespace canaryd::test
