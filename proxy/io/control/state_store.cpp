#include "io/control/state_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace canaryd::io {

namespace {

Error failure(const std::string& what, const std::string& path) {
    const int code = errno;
    return Error{what + " " + path + ": " + std::strerror(code), code};
}

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

}  // namespace

Status write_file_atomically(const std::string& path, const std::string& content) {
    const std::string temporary = path + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return failure("cannot create", temporary);
    const char* data = content.data();
    std::size_t left = content.size();
    while (left > 0) {
        const auto n = ::write(fd, data, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            auto error = failure("cannot write", temporary);
            ::close(fd);
            return error;
        }
        data += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        auto error = failure("cannot fsync", temporary);
        ::close(fd);
        return error;
    }
    ::close(fd);
    if (::rename(temporary.c_str(), path.c_str()) != 0) return failure("cannot rename over", path);
    // The rename itself is durable only once the directory entry is.
    const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
    return {};
}

}  // namespace canaryd::io
