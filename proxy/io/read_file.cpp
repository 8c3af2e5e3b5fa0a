#include "io/read_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace canaryd::io {

FileRead read_file(const std::string& path) {
    FileRead out;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        out.exists = errno != ENOENT;
        out.reason = std::strerror(errno);
        out.error = "cannot read " + path + ": " + out.reason;
        return out;
    }
    out.exists = true;
    char buffer[16 * 1024];
    while (true) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            out.content.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            out.reason = std::strerror(errno);
            out.error = "cannot read " + path + ": " + out.reason;
            out.content.clear();
            break;
        }
    }
    ::close(fd);
    return out;
}

}  // namespace canaryd::io
