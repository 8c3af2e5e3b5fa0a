#include "io/control/read_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace canaryd::io {

namespace {

Error read_error(const std::string& path, int code) {
    return Error{"cannot read " + path + ": " + std::strerror(code), code};
}

}  // namespace

Result<std::string> read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return read_error(path, errno);
    std::string content;
    char buffer[16 * 1024];
    while (true) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            content.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            const int code = errno;
            ::close(fd);
            return read_error(path, code);
        }
    }
    ::close(fd);
    return content;
}

}  // namespace canaryd::io
