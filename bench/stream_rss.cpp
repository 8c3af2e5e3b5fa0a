// Streams a large body through a real canaryd process in each direction and prints how
// much canaryd's resident memory grew (SPEC §4: memory does not grow with body size).
//
//   bench/stream_rss [--canaryd ./build/canaryd] [--mib 1024]
//
// It starts canaryd with a temporary config, an in-process upstream and an in-process
// client on 127.0.0.1, sends one upload and one download of --mib MiB, checks both bodies
// end to end with a checksum, and samples /proc/PID/status (VmRSS) every 20 ms. It reports
// figures; it asserts nothing. STREAM_RSS_DIRECT=1 connects the client straight to the
// upstream, to calibrate what the machine can do without canaryd in the path.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

constexpr std::size_t kBlock = 256 * 1024;

// A deterministic byte stream and an order-sensitive checksum over it.
void fill_block(std::vector<char>& block, std::uint64_t index) {
    std::uint64_t x = 0x9E3779B97F4A7C15ull * (index + 1);
    for (std::size_t i = 0; i < block.size(); i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(block.data() + i, &x, 8);
    }
}

struct Checksum {
    std::uint64_t value = 0;
    std::uint64_t position = 0;
    void add(const char* data, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i)
            value = value * 1099511628211ull + static_cast<unsigned char>(data[i]) + (position++ & 0xff);
    }
};

int listen_on_loopback(std::uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd, 16);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    return fd;
}

int connect_to(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 100; ++i) {
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
}

bool send_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
        const auto sent = ::send(fd, data, n, MSG_NOSIGNAL);
        if (sent <= 0) return false;
        data += sent;
        n -= static_cast<std::size_t>(sent);
    }
    return true;
}

// Reads up to the end of a head; returns it and leaves the rest in `spill`.
std::string read_head(int fd, std::string& spill) {
    char buffer[4096];
    while (spill.find("\r\n\r\n") == std::string::npos) {
        const auto n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return "";
        spill.append(buffer, static_cast<std::size_t>(n));
    }
    const auto end = spill.find("\r\n\r\n") + 4;
    std::string head = spill.substr(0, end);
    spill.erase(0, end);
    return head;
}

std::uint64_t content_length(const std::string& head) {
    std::string lower = head;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto at = lower.find("content-length:");
    return at == std::string::npos ? 0 : std::stoull(lower.substr(at + 15));
}

// Reads `length` body bytes into a checksum.
bool read_body(int fd, std::string& spill, std::uint64_t length, Checksum& sum) {
    const auto from_spill = std::min<std::uint64_t>(spill.size(), length);
    sum.add(spill.data(), from_spill);
    spill.erase(0, from_spill);
    length -= from_spill;
    std::vector<char> buffer(kBlock);
    while (length > 0) {
        const auto n = ::recv(fd, buffer.data(), std::min<std::uint64_t>(buffer.size(), length), 0);
        if (n <= 0) return false;
        sum.add(buffer.data(), static_cast<std::size_t>(n));
        length -= static_cast<std::uint64_t>(n);
    }
    return true;
}

bool send_pattern(int fd, std::uint64_t bytes, Checksum& sum) {
    std::vector<char> block(kBlock);
    for (std::uint64_t i = 0; bytes > 0; ++i) {
        fill_block(block, i);
        const auto n = std::min<std::uint64_t>(block.size(), bytes);
        sum.add(block.data(), n);
        if (!send_all(fd, block.data(), n)) return false;
        bytes -= n;
    }
    return true;
}

long rss_kib(pid_t pid, const char* key = "VmRSS:") {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    std::string canaryd = "./build/canaryd";
    std::uint64_t mib = 1024;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::string(argv[i]) == "--canaryd") canaryd = argv[i + 1];
        if (std::string(argv[i]) == "--mib") mib = std::stoull(argv[i + 1]);
    }
    const std::uint64_t bytes = mib << 20;

    // The upstream: PUT sinks and checks the body; GET sources the pattern.
    std::uint16_t upstream_port = 0;
    const int upstream_fd = listen_on_loopback(upstream_port);
    std::atomic<std::uint64_t> upload_sum_at_upstream{0};
    Checksum download_sum_at_upstream;
    std::thread upstream([&] {
        for (int served = 0; served < 1; ++served) {  // canaryd reuses one upstream connection
            const int fd = ::accept(upstream_fd, nullptr, nullptr);
            std::string spill;
            while (true) {
                const auto head = read_head(fd, spill);
                if (head.empty()) break;
                if (head.rfind("PUT", 0) == 0) {
                    Checksum sum;
                    read_body(fd, spill, content_length(head), sum);
                    upload_sum_at_upstream = sum.value;
                    const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                    send_all(fd, response.data(), response.size());
                } else {
                    const std::string response =
                        "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(bytes) + "\r\n\r\n";
                    send_all(fd, response.data(), response.size());
                    send_pattern(fd, bytes, download_sum_at_upstream);
                }
            }
            ::close(fd);
        }
    });

    // canaryd itself, as a separate process.
    std::uint16_t proxy_port = 0;
    ::close(listen_on_loopback(proxy_port));  // pick a free port
    const std::string config_path = "/tmp/canaryd-stream-rss.yaml";
    std::ofstream(config_path) << "threads: 1\nlisteners:\n  - address: 127.0.0.1:" << proxy_port
                               << "\nroutes:\n  - name: stream\n    stable: {version: v1, endpoints: [127.0.0.1:"
                               << upstream_port << "]}\ndefaults: {limits: {body_bytes: 64GiB}}\n";
    pid_t pid = 0;
    std::vector<char*> args{canaryd.data(), const_cast<char*>("--config"), const_cast<char*>(config_path.c_str()),
                            nullptr};
    if (posix_spawn(&pid, canaryd.c_str(), nullptr, nullptr, args.data(), environ) != 0) {
        std::fprintf(stderr, "cannot start %s\n", canaryd.c_str());
        return 1;
    }
    const bool direct = std::getenv("STREAM_RSS_DIRECT") != nullptr;  // calibration: bypass canaryd
    const int client = connect_to(direct ? upstream_port : proxy_port);
    if (client < 0) {
        std::fprintf(stderr, "canaryd did not come up\n");
        kill(pid, SIGKILL);
        return 1;
    }
    // One small request warms up the pools and allocator before the baseline.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const long baseline = rss_kib(pid);

    std::atomic<bool> sampling{true};
    std::atomic<long> peak{baseline};
    std::thread sampler([&] {
        while (sampling) {
            peak = std::max(peak.load(), rss_kib(pid));
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });

    using clock = std::chrono::steady_clock;
    // Upload.
    auto started = clock::now();
    Checksum upload_sum;
    const std::string put = "PUT /upload HTTP/1.1\r\nHost: bench\r\nContent-Length: " + std::to_string(bytes) + "\r\n\r\n";
    send_all(client, put.data(), put.size());
    send_pattern(client, bytes, upload_sum);
    std::string spill;
    read_head(client, spill);
    const double upload_seconds = std::chrono::duration<double>(clock::now() - started).count();
    const long peak_after_upload = peak.load();

    // Download.
    started = clock::now();
    const std::string get = "GET /download HTTP/1.1\r\nHost: bench\r\n\r\n";
    send_all(client, get.data(), get.size());
    const auto head = read_head(client, spill);
    Checksum download_sum;
    const bool complete = read_body(client, spill, content_length(head), download_sum);
    const double download_seconds = std::chrono::duration<double>(clock::now() - started).count();

    sampling = false;
    sampler.join();
    const long hwm = rss_kib(pid, "VmHWM:");
    ::close(client);
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    upstream.join();
    ::close(upstream_fd);

    std::printf("canaryd streaming memory, %llu MiB each way, 1 worker thread\n",
                static_cast<unsigned long long>(mib));
    std::printf("  %-28s %8ld KiB\n", "RSS before", baseline);
    std::printf("  %-28s %8ld KiB  (+%ld KiB)   %.0f MiB/s   intact: %s\n", "RSS peak during upload",
                peak_after_upload, peak_after_upload - baseline, static_cast<double>(mib) / upload_seconds,
                upload_sum.value == upload_sum_at_upstream.load() ? "yes" : "NO");
    std::printf("  %-28s %8ld KiB  (+%ld KiB)   %.0f MiB/s   intact: %s\n", "RSS peak during download",
                peak.load(), peak.load() - baseline, static_cast<double>(mib) / download_seconds,
                complete && download_sum.value == download_sum_at_upstream.value ? "yes" : "NO");
    std::printf("  %-28s %8ld KiB\n", "VmHWM (lifetime peak)", hwm);
    return 0;
}
