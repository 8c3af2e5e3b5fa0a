// Reloads the config when its file changes, without a signal (SPEC §11): on Kubernetes nothing
// sends SIGHUP when a ConfigMap is edited.
//
// inotify watches the directories, not the file: editors write a temporary file and rename it
// over the old one, and the kubelet never touches the file at all — it writes a new
// `..2026_…` directory and renames a `..data_tmp` symlink over `..data`, which the file is a
// symlink through. So the watch covers the file's directory and the directory its symlinks
// resolve to (re-resolved after every change), reacts to names that can change what the path
// reads (the file's name, `..data`, the resolved file's name), and waits for the burst to end
// (`debounce`) before it reports one change. Whether the text really changed is the caller's
// question: writes that leave it as it was reload nothing.
#pragma once

#include "core/common/result.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace canaryd::io {

// Owned through a shared_ptr: its pending handlers keep it alive after stop().
class ConfigWatch : public std::enable_shared_from_this<ConfigWatch> {
public:
    ConfigWatch(boost::asio::io_context& control, std::string path, std::function<void()> changed,
                std::chrono::milliseconds debounce = std::chrono::milliseconds(300));
    ~ConfigWatch();
    ConfigWatch(const ConfigWatch&) = delete;
    ConfigWatch& operator=(const ConfigWatch&) = delete;

    // Sets up inotify and starts reading its events on the control context.
    Status start();
    void stop();
    // The directories watched now (for the log and tests).
    const std::vector<std::string>& directories() const { return directories_; }

private:
    void watch_directories();
    void read_events();
    bool concerns_the_file(const std::string& name) const;

    std::string path_;
    std::function<void()> changed_;
    std::chrono::milliseconds debounce_;
    boost::asio::posix::stream_descriptor events_;
    boost::asio::steady_timer settle_;
    std::vector<int> watches_;
    std::vector<std::string> directories_;
    std::vector<std::string> names_;  // the names in them that can change what `path_` reads
    std::array<char, 8192> buffer_{};
    bool stopped_ = false;
};

}  // namespace canaryd::io
