#include "io/control/config_watch.hpp"

#include "io/log/log.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace canaryd::io {

namespace fs = std::filesystem;

namespace {

// Renames (editors, the kubelet's `..data` swap), finished writes, creations and removals.
constexpr std::uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE;

}  // namespace

ConfigWatch::ConfigWatch(boost::asio::io_context& control, std::string path, std::function<void()> changed,
                         std::chrono::milliseconds debounce)
    : path_(std::move(path)), changed_(std::move(changed)), debounce_(debounce), events_(control), settle_(control) {}

ConfigWatch::~ConfigWatch() { stop(); }

Status ConfigWatch::start() {
    const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return Error{std::string("inotify_init1: ") + std::strerror(errno), errno};
    events_.assign(fd);
    watch_directories();
    if (watches_.empty()) return Error{"no directory of " + path_ + " could be watched", ENOENT};
    read_events();
    return {};
}

void ConfigWatch::stop() {
    if (stopped_) return;
    stopped_ = true;
    settle_.cancel();
    boost::system::error_code ignored;
    events_.close(ignored);  // closing the inotify descriptor removes its watches
}

void ConfigWatch::watch_directories() {
    const int fd = events_.native_handle();
    for (int wd : watches_) inotify_rm_watch(fd, wd);
    watches_.clear();
    directories_.clear();
    names_ = {"..data"};
    std::error_code ec;
    const fs::path given = fs::absolute(path_, ec);
    std::vector<fs::path> files{given};
    if (const auto real = fs::canonical(given, ec); !ec && real != given) files.push_back(real);
    for (const auto& file : files) {
        names_.push_back(file.filename().string());
        const std::string directory = file.parent_path().string();
        if (std::find(directories_.begin(), directories_.end(), directory) != directories_.end()) continue;
        const int wd = inotify_add_watch(fd, directory.c_str(), kMask);
        if (wd < 0) {
            log::warn("config_watch_failed", {{"directory", directory}, {"error", std::strerror(errno)}});
            continue;
        }
        watches_.push_back(wd);
        directories_.push_back(directory);
    }
}

bool ConfigWatch::concerns_the_file(const std::string& name) const {
    return std::find(names_.begin(), names_.end(), name) != names_.end();
}

void ConfigWatch::read_events() {
    events_.async_read_some(boost::asio::buffer(buffer_), [this, self = shared_from_this()](
                                                              const boost::system::error_code& ec, std::size_t n) {
        if (ec || stopped_) return;
        bool relevant = false;
        for (std::size_t at = 0; at + sizeof(inotify_event) <= n;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer_.data() + at);
            // A lost queue (IN_Q_OVERFLOW) may have held the change: treat it as one.
            if (event->mask & IN_Q_OVERFLOW) relevant = true;
            if (event->len > 0 && concerns_the_file(event->name)) relevant = true;
            at += sizeof(inotify_event) + event->len;
        }
        if (relevant) {
            // Every event of a burst pushes the report back: one report per burst.
            settle_.expires_after(debounce_);
            settle_.async_wait([this, self](const boost::system::error_code& wait_ec) {
                if (wait_ec || stopped_) return;
                watch_directories();  // the symlinks may resolve elsewhere now
                changed_();
            });
        }
        read_events();
    });
}

}  // namespace canaryd::io
