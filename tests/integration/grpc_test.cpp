// gRPC through canaryd (issue #16), with Debian's python3-grpcio as the clients and the
// stable and canary servers (tests/integration/h2/grpc_peer.py): unary, server-streaming and
// bidi calls, metadata and trailers, the per-call split on one channel, grpc-status as the
// outcome (signals, metrics, rollback), canaryd's own errors as gRPC errors, grpc-timeout.
#include "support.hpp"
#include "tls_upstream.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>

using namespace canaryd::test;

extern char** environ;

namespace {

const std::string kPeer = std::string(CANARYD_TESTS_DIR) + "/integration/h2/grpc_peer.py";

// A gRPC server (grpc_peer.py server), started and stopped by the test.
class GrpcServer {
public:
    explicit GrpcServer(const std::string& name, const std::vector<std::string>& options = {}) {
        port_file_ = (dir_.path / "port").string();
        std::vector<std::string> args{"/usr/bin/python3", kPeer, "server", port_file_, name};
        args.insert(args.end(), options.begin(), options.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        REQUIRE(posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
        for (int i = 0; i < 400 && port_ == 0; ++i) {
            std::ifstream in(port_file_);
            in >> port_;
            if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        REQUIRE_MESSAGE(port_ != 0, "grpc_peer.py server did not start (python3-grpcio: docker/install-deps.sh --tests)");
    }
    ~GrpcServer() {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    TempDir dir_;
    std::string port_file_;
    pid_t pid_ = 0;
    std::uint16_t port_ = 0;
};

// grpc_peer.py client ...: its output lines.
std::vector<std::string> client(std::uint16_t port, const std::string& arguments) {
    std::vector<std::string> lines;
    const auto command = "/usr/bin/python3 " + kPeer + " client " + std::to_string(port) + " " + arguments + " 2>&1";
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
        char buffer[1024];
        while (std::fgets(buffer, sizeof buffer, pipe)) {
            std::string line(buffer);
            if (!line.empty() && line.back() == '\n') line.pop_back();
            lines.push_back(line);
        }
        ::pclose(pipe);
    }
    return lines;
}

std::string grpc_config(const std::string& stable, const std::string& canary, const std::string& weight,
                        const std::string& extra = "") {
    return "threads: 2\nlisteners:\n  - address: 127.0.0.1:0\nroutes:\n  - name: grpc\n"
           "    stable: {version: v1, endpoints: [" + stable + "], protocol: http2}\n"
           "    canary: {version: v2, endpoints: [" + canary + "], protocol: http2}\n"
           "    canary_weight: " + weight + "\n" + extra;
}

}  // namespace

TEST_CASE("grpc: unary, server-streaming and bidi calls through canaryd, metadata and trailers intact") {
    GrpcServer stable("stable");
    GrpcServer canary("canary");
    Proxy proxy(grpc_config(stable.address(), canary.address(), "0"));
    const auto port = proxy.port();
    const auto unary = client(port, "unary 20 --user alice");
    REQUIRE(unary.size() == 20);
    for (const auto& line : unary) {
        CHECK_MESSAGE(line.starts_with("OK stable:m"), line);
        CHECK_MESSAGE(line.ends_with(" stable alice stable"), line);  // served by, user seen, trailer
    }
    // Server streaming: five messages, then the server's trailers and status.
    const auto stream = client(port, "stream");
    REQUIRE(stream.size() == 6);
    CHECK(stream[0] == "OK stable:0");
    CHECK(stream[4] == "OK stable:4");
    CHECK(stream[5] == "trailer stable OK");
    const auto bidi = client(port, "bidi");
    REQUIRE(bidi.size() == 4);
    CHECK(bidi[2] == "OK stable:c");
    CHECK(bidi[3] == "trailer stable OK");
    // Each call counted by its grpc-status, and only gRPC series carry that label.
    auto status = wait_for_status(proxy.app().admin_port(), [](const boost::json::value& v) {
        return v.at("routes").at(0).at("stable").at("requests").as_int64() == 22;
    });
    CHECK(status.at("routes").at(0).at("stable").at("success_rate").to_number<double>() == 1.0);
    Client admin(proxy.app().admin_port());
    const auto metrics = admin.get("/metrics").body();
    CHECK(metrics.find("canaryd_requests_total{code=\"200\",grpc_status=\"OK\",release=\"v1\",route=\"grpc\",version=\"stable\"} 22") !=
          std::string::npos);
}

TEST_CASE("grpc: on one channel (one HTTP/2 connection) each call gets its own version, about 10 % the canary") {
    GrpcServer stable("stable");
    GrpcServer canary("canary");
    Proxy proxy(grpc_config(stable.address(), canary.address(), "10"));
    const auto lines = client(proxy.port(), "unary 1000");
    REQUIRE(lines.size() == 1000);
    int to_canary = 0;
    for (const auto& line : lines) to_canary += line.starts_with("OK canary:");
    // 1,000 calls at 10 %: 100 ± 9.5; five standard deviations either way.
    CHECK(to_canary > 100 - 5 * 9.5);
    CHECK(to_canary < 100 + 5 * 9.5);
}

TEST_CASE("grpc: a canary answering 2 % UNAVAILABLE is rolled back, judged by grpc-status under HTTP 200") {
    GrpcServer stable("stable");
    GrpcServer canary("canary", {"--fail-every", "50"});
    Proxy proxy(grpc_config(stable.address(), canary.address(), "50",
                            "    analysis:\n      min_requests: 50\n      guardrails:\n        - {metric: success_rate, max_drop: 0}\n"));
    const auto admin = proxy.app().admin_port();
    std::atomic<bool> done{false};
    std::thread load([&] {
        while (!done) client(proxy.port(), "unary 200");
    });
    auto rolled_back = wait_for_status(
        admin, [](const boost::json::value& v) { return v.at("routes").at(0).at("state").as_string() == "rolled_back"; },
        std::chrono::seconds(90));
    done = true;
    load.join();
    const auto& route = rolled_back.at("routes").at(0);
    REQUIRE(route.at("state").as_string() == "rolled_back");
    CHECK(route.at("canary_weight").to_number<double>() == 0);
    CHECK(route.at("state_reason").as_string().find("success_rate") != std::string::npos);
    CHECK(Client(admin).get("/metrics").body().find("grpc_status=\"UNAVAILABLE\"") != std::string::npos);
}

TEST_CASE("grpc: canaryd's own errors reach a gRPC client as gRPC errors, and grpc-timeout is honoured") {
    GrpcServer slow("slow", {"--delay-ms", "3000"});
    // The canary is not there: a gRPC client is told UNAVAILABLE (HTTP 200 + grpc-status 14),
    // never an HTML or text page it cannot read.
    Proxy down(grpc_config(slow.address(), "127.0.0.1:" + std::to_string(closed_port()), "100"));
    const auto unavailable = client(down.port(), "unary 3");
    REQUIRE(unavailable.size() == 3);
    for (const auto& line : unavailable) CHECK_MESSAGE(line.starts_with("UNAVAILABLE "), line);
    // A call with a 300 ms deadline to a server that takes 3 s: DEADLINE_EXCEEDED well
    // before canaryd's own 30 s upstream_response timeout.
    Proxy proxy(grpc_config(slow.address(), slow.address(), "0"));
    const auto started = std::chrono::steady_clock::now();
    const auto late = client(proxy.port(), "unary 1 --timeout 0.3");
    const auto took = std::chrono::steady_clock::now() - started;
    REQUIRE(late.size() == 1);
    CHECK_MESSAGE(late[0].starts_with("DEADLINE_EXCEEDED"), late[0]);
    CHECK(took < std::chrono::seconds(3));
}

TEST_CASE("grpc: an HTTP/2 upstream over TLS (ALPN h2, verified against its CA) serves the calls") {
    TempDir dir;
    TestCa ca(dir.path, "canaryd-grpc-ca");
    const auto files = ca.issue("grpc-server", cert_for("localhost", {"localhost"}, {"127.0.0.1"}));
    GrpcServer secure("secure", {"--tls", files.cert_file, files.key_file});
    Proxy proxy("threads: 1\nlisteners:\n  - address: 127.0.0.1:0\nroutes:\n  - name: grpc\n"
                "    stable: {version: v1, endpoints: [" + secure.address() + "], protocol: http2, tls: {ca_file: " +
                ca.ca_file() + "}}\n");
    const auto lines = client(proxy.port(), "unary 5");
    REQUIRE(lines.size() == 5);
    for (const auto& line : lines) CHECK_MESSAGE(line.starts_with("OK secure:m"), line);
}
