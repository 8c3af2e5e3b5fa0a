// HTTP/2 on the client side (issue #16), with real HTTP/2 clients: curl, h2load (Debian's
// nghttp2-client) and a python3-h2 script (tests/integration/h2/h2_client.py). h2c by prior
// knowledge and h2 by ALPN on the listeners that serve HTTP/1.1; every stream gets its own
// version decision, signals and access-log line.
#include "process.hpp"
#include "support.hpp"
#include "tls_upstream.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <csignal>
#include <spawn.h>
#include <sys/wait.h>
#include <sstream>

using namespace canaryd::test;

extern char** environ;

namespace {

const std::string kH2Client = std::string(CANARYD_TESTS_DIR) + "/integration/h2/h2_client.py";
const std::string kAttacks = std::string(CANARYD_TESTS_DIR) + "/integration/h2/h2_attacks.py";
const std::string kH2Server = std::string(CANARYD_TESTS_DIR) + "/integration/h2/h2_server.py";

struct Output {
    int status = -1;
    std::string text;
};

// Runs a shell command; its standard output (and error) and exit status.
Output run(const std::string& command) {
    Output out;
    if (FILE* pipe = ::popen((command + " 2>&1").c_str(), "r")) {
        char buffer[4096];
        while (std::fgets(buffer, sizeof buffer, pipe)) out.text += buffer;
        out.status = ::pclose(pipe);
    }
    return out;
}

bool have(const char* tool) { return std::filesystem::exists(tool); }

std::string split_config(const Upstream& stable, const Upstream& canary, const std::string& weight,
                         const std::string& extra_listener = "", const std::string& top = "") {
    return "threads: 2\nlisteners:\n  - address: 127.0.0.1:0\n" + extra_listener + top +
           "routes:\n  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
           "]}\n    canary: {version: v2, endpoints: [" + canary.address() + "]}\n    canary_weight: " + weight + "\n";
}

std::int64_t version_requests(const boost::json::value& status, const char* version) {
    return status.at("routes").at(0).at(version).at("requests").as_int64();
}

}  // namespace

TEST_CASE("http2: h2c by prior knowledge on the plain listener that also serves HTTP/1.1") {
    REQUIRE_MESSAGE(have("/usr/bin/curl"), "curl is installed by docker/install-deps.sh");
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_config(stable, canary, "0"));
    const auto url = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/hello?x=1";
    auto h2 = run("curl -s --http2-prior-knowledge -w ' %{http_version} %{response_code}' " + url);
    CHECK(h2.text == "stable 2 200");
    auto h1 = run("curl -s --http1.1 -w ' %{http_version} %{response_code}' " + url);
    CHECK(h1.text == "stable 1.1 200");
    // The upstream got an ordinary HTTP/1.1 request, path and query intact, with the
    // forwarding fields every request gets.
    const auto seen = stable.recorded();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].method == "GET");
    CHECK(seen[0].target == "/hello?x=1");
    CHECK(seen[0].header("host") == "127.0.0.1:" + std::to_string(proxy.port()));
    CHECK(seen[0].header("x-forwarded-for") == "127.0.0.1");
    CHECK_FALSE(seen[0].header("x-request-id").empty());
}

TEST_CASE("http2: request bodies with and without content-length, a large response streamed intact, HEAD") {
    std::string received_body;
    std::mutex mutex;
    const std::string big(3 * 1024 * 1024 + 17, 'z');
    Upstream stable("stable", [&](const http::request<http::string_body>& request) {
        http::response<http::string_body> response{http::status::ok, 11};
        if (request.target() == "/big") {
            response.body() = big;
        } else {
            std::lock_guard lock(mutex);
            received_body = request.body();
            response.body() = "got " + std::to_string(request.body().size());
        }
        response.prepare_payload();
        return response;
    });
    auto last_body = [&] {
        std::lock_guard lock(mutex);
        return received_body;
    };
    Upstream canary("canary");
    Proxy proxy(split_config(stable, canary, "0"));
    TempDir dir;
    const auto body_file = (dir.path / "body.bin").string();
    std::string body;
    for (int i = 0; i < 200'000; ++i) body.push_back(static_cast<char>('a' + i % 26));
    std::ofstream(body_file) << body;
    const auto base = "http://127.0.0.1:" + std::to_string(proxy.port());
    CHECK(run("curl -s --http2-prior-knowledge --data-binary @" + body_file + " " + base + "/up").text == "got 200000");
    CHECK(last_body() == body);
    // No content-length: the stream's DATA goes upstream chunked, and arrives whole.
    CHECK(run("curl -s --http2-prior-knowledge -H 'content-length:' -H 'transfer-encoding: chunked' --data-binary @" +
              body_file + " " + base + "/chunked")
              .text == "got 200000");
    CHECK(last_body() == body);
    const auto out = (dir.path / "big.out").string();
    CHECK(run("curl -s --http2-prior-knowledge -o " + out + " -w '%{size_download}' " + base + "/big").text ==
          std::to_string(big.size()));
    std::ifstream in(out);
    std::stringstream downloaded;
    downloaded << in.rdbuf();
    CHECK(downloaded.str() == big);
    const auto head = run("curl -s --http2-prior-knowledge -I " + base + "/big");
    CHECK(head.text.find("HTTP/2 200") == 0);
    CHECK(head.text.find("content-length: " + std::to_string(big.size())) != std::string::npos);
    CHECK(head.text.find("connection:") == std::string::npos);  // no connection-specific field in HTTP/2
}

TEST_CASE("http2: h2 by ALPN on a TLS listener, http/1.1 for a client that offers only that") {
    TempDir dir;
    TestCa ca(dir.path, "canaryd-test-ca");
    const auto files = ca.issue("listener", cert_for("localhost", {"localhost"}, {"127.0.0.1"}));
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_config(stable, canary, "0",
                             "  - address: 127.0.0.1:0\n    tls: {cert_file: " + files.cert_file +
                                 ", key_file: " + files.key_file + "}\n"));
    const auto url = "https://localhost:" + std::to_string(proxy.port(1)) + "/";
    const auto resolve = " --resolve localhost:" + std::to_string(proxy.port(1)) + ":127.0.0.1 --cacert " + ca.ca_file() + " ";
    const auto h2 = run("curl -sS --http2" + resolve + "-w ' %{http_version}' " + url);
    CHECK_MESSAGE(h2.text == "stable 2", h2.text);
    CHECK(run("curl -s --http1.1" + resolve + "-w ' %{http_version}' " + url).text == "stable 1.1");
    REQUIRE_FALSE(stable.recorded().empty());
    CHECK(stable.recorded().front().header("x-forwarded-proto") == "https");
}

TEST_CASE("http2: every stream on one connection gets its own version decision, signals and access-log line") {
    REQUIRE_MESSAGE(have("/usr/bin/h2load"), "h2load (nghttp2-client) is installed by docker/install-deps.sh --tests");
    Upstream stable("stable");
    Upstream canary("canary");
    TempDir dir;
    const auto access = (dir.path / "access.log").string();
    Proxy proxy(split_config(stable, canary, "10", "", "access_log: " + access + "\n"));
    const int streams = 2000;
    auto load = run("/usr/bin/h2load -n " + std::to_string(streams) + " -c 1 -m 20 http://127.0.0.1:" +
                    std::to_string(proxy.port()) + "/");
    REQUIRE_MESSAGE(load.text.find(std::to_string(streams) + " succeeded") != std::string::npos, load.text);
    const auto to_canary = static_cast<double>(canary.requests());
    CHECK(stable.requests() + canary.requests() == streams);
    // 10 % of 2,000 per-stream decisions: 200 ± 13.4; five standard deviations either way.
    CHECK(to_canary > 200 - 5 * 13.4);
    CHECK(to_canary < 200 + 5 * 13.4);
    auto status = wait_for_status(proxy.app().admin_port(), [&](const boost::json::value& v) {
        return version_requests(v, "stable") + version_requests(v, "canary") == streams;
    });
    CHECK(version_requests(status, "canary") == static_cast<std::int64_t>(canary.requests()));
    // One access-log line per stream (the log is flushed at least once a second).
    std::size_t lines = 0;
    for (int i = 0; i < 50 && lines < static_cast<std::size_t>(streams); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        std::ifstream in(access);
        lines = 0;
        for (std::string line; std::getline(in, line);) lines += line.find("\"route\":\"api\"") != std::string::npos;
    }
    CHECK(lines == static_cast<std::size_t>(streams));
}

TEST_CASE("http2: a weight of 0 stops canary streams at once, on a connection that stays open") {
    REQUIRE_MESSAGE(std::filesystem::exists("/usr/bin/python3"), "python3-h2 is installed by docker/install-deps.sh --tests");
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_config(stable, canary, "50"));
    TempDir dir;
    const auto resume = (dir.path / "resume").string();
    const auto command = "/usr/bin/python3 " + kH2Client + " " + std::to_string(proxy.port()) +
                         " 200 --pause-after 100 --resume-file " + resume + " 2>&1";
    FILE* client = ::popen(command.c_str(), "r");
    REQUIRE(client);
    int canary_before = 0, canary_after = 0, answered = 0;
    bool paused = false;
    char line[512];
    while (std::fgets(line, sizeof line, client)) {
        const std::string text(line);
        if (text == "paused\n") {
            paused = true;
            Client admin(proxy.app().admin_port());
            REQUIRE(admin.request(http::verb::post, "/weight?canary=0").result_int() == 200);
            std::ofstream(resume) << "go";
            continue;
        }
        std::istringstream fields(text);
        int index = 0;
        std::string status, body;
        fields >> index >> status >> body;
        REQUIRE_MESSAGE(status == "200", text);
        ++answered;
        (paused ? canary_after : canary_before) += body == "canary";
    }
    CHECK(::pclose(client) == 0);
    CHECK(answered == 200);
    CHECK(canary_before > 20);  // about half of the first 100
    CHECK(canary_after == 0);   // every stream after the change, on the same connection
}

TEST_CASE("http2: a malformed stream is refused alone, the connection and its other streams live") {
    REQUIRE_MESSAGE(have("/usr/bin/curl"), "curl is installed by docker/install-deps.sh");
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_config(stable, canary, "0", "", "defaults: {limits: {header_bytes: 4KiB}}\n"));
    const auto url = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/";
    // A header list over the limit: 431 for that stream (RFC 9113 §6.5.2, RFC 6585).
    const std::string huge(6000, 'h');
    CHECK(run("curl -s --http2-prior-knowledge -o /dev/null -w '%{response_code}' -H 'x-big: " + huge + "' " + url).text ==
          "431");
    // On one connection: the oversized stream is answered 431, the next one is served.
    auto both = run("/usr/bin/python3 " + kH2Client + " " + std::to_string(proxy.port()) + " 2 --big-first 6000");
    CHECK_MESSAGE(both.text == "0 431 431 Request Header Fields Too Large: request header fields too large\n1 200 stable\n",
                  both.text);
}

TEST_CASE("http2: floods of recent years end the offending connection, and canaryd goes on serving the others") {
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_config(stable, canary, "0"));
    const auto port = std::to_string(proxy.port());
    auto attack = [&](const char* kind) { return run("/usr/bin/python3 " + kAttacks + " " + port + " " + kind).text; };
    // Rapid reset (CVE-2023-44487): 2,000 streams opened and cancelled at once.
    const auto reset = attack("rapid-reset");
    CHECK_MESSAGE(reset.starts_with("goaway"), reset);
    CHECK(stable.requests() < 400);  // the work it could start is bounded, far below 2,000
    // CONTINUATION flood (CVE-2024-27316): a header block that never ends.
    CHECK(attack("continuation-flood") == "goaway ENHANCE_YOUR_CALM\n");
    // A SETTINGS frame with more entries than any peer needs.
    CHECK(attack("settings-flood") == "goaway ENHANCE_YOUR_CALM\n");
    // PINGs whose acknowledgements are never read: the connection is closed, not queued without bound.
    const auto ping = attack("ping-flood");
    CHECK_MESSAGE((ping == "closed\n" || ping.starts_with("goaway ENHANCE_YOUR_CALM")), ping);
    // Other clients never noticed.
    CHECK(run("curl -s --http2-prior-knowledge http://127.0.0.1:" + port + "/").text == "stable");
    Client h1(proxy.port());
    CHECK(h1.get("/").body() == "stable");
}

namespace {

// tests/integration/h2/h2_server.py: an h2c upstream, started and stopped by the test.
class H2Upstream {
public:
    explicit H2Upstream(const std::string& name, const std::vector<std::string>& options = {}) {
        port_file_ = (dir_.path / "port").string();
        std::vector<std::string> args{"/usr/bin/python3", kH2Server, port_file_, name};
        args.insert(args.end(), options.begin(), options.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        REQUIRE(posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
        for (int i = 0; i < 200 && port_ == 0; ++i) {
            std::ifstream in(port_file_);
            in >> port_;
            if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        REQUIRE_MESSAGE(port_ != 0, "h2_server.py did not start");
    }
    ~H2Upstream() {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    // "connections N streams M" as the server counted them.
    std::pair<int, int> counts() const {
        std::ifstream in(port_file_ + ".stats");
        std::string word;
        int connections = 0, streams = 0;
        in >> word >> connections >> word >> streams;
        return {connections, streams};
    }

private:
    TempDir dir_;
    std::string port_file_;
    pid_t pid_ = 0;
    std::uint16_t port_ = 0;
};

std::string h2_upstream_config(const std::string& endpoint, unsigned threads = 1) {
    return "threads: " + std::to_string(threads) + "\nlisteners:\n  - address: 127.0.0.1:0\nroutes:\n  - name: api\n"
           "    stable: {version: v1, endpoints: [" + endpoint + "], protocol: http2}\n";
}

}  // namespace

TEST_CASE("upstream http2: HTTP/1.1 and HTTP/2 clients reach an h2c upstream, bodies intact, many streams on few connections") {
    H2Upstream upstream("up");
    Proxy proxy(h2_upstream_config(upstream.address(), 1));
    const auto base = "http://127.0.0.1:" + std::to_string(proxy.port());
    CHECK(run("curl -s " + base + "/one").text == "up GET /one 0");
    TempDir dir;
    const auto body = (dir.path / "body").string();
    std::ofstream(body) << std::string(100'000, 'b');
    CHECK(run("curl -s --data-binary @" + body + " " + base + "/up").text == "up POST /up 100000");
    CHECK(run("curl -s --http2-prior-knowledge --data-binary @" + body + " " + base + "/h2").text == "up POST /h2 100000");
    // 50 at a time from 2 client connections: one upstream connection carries them (the
    // server allows 100 concurrent streams).
    auto load = run("/usr/bin/h2load -n 400 -c 2 -m 25 " + base + "/many");
    CHECK_MESSAGE(load.text.find("400 succeeded") != std::string::npos, load.text);
    const auto [connections, streams] = upstream.counts();
    CHECK(streams == 403);
    CHECK(connections <= 2);
}

TEST_CASE("upstream http2: a GOAWAY fails none of the streams the upstream still answers, and refused ones go again") {
    // Every upstream connection says GOAWAY after its 100th stream: the streams up to it are
    // answered there, the later ones (refused, never processed: RFC 9113 §8.7) are sent again.
    H2Upstream upstream("up", {"--goaway-after", "100"});
    Proxy proxy(h2_upstream_config(upstream.address(), 1));
    auto load = run("/usr/bin/h2load -n 1000 -c 2 -m 20 http://127.0.0.1:" + std::to_string(proxy.port()) + "/");
    CHECK_MESSAGE(load.text.find("1000 succeeded") != std::string::npos, load.text);
    const auto [connections, streams] = upstream.counts();
    CHECK(connections >= 10);
    CHECK(streams == 1000);  // each answered once: a refused stream was never processed
}

TEST_CASE("upstream http2: the peer's SETTINGS_MAX_CONCURRENT_STREAMS is honoured by opening more connections") {
    H2Upstream upstream("up", {"--max-streams", "10", "--delay-ms", "300"});
    Proxy proxy(h2_upstream_config(upstream.address(), 1));
    auto load = run("/usr/bin/h2load -n 60 -c 1 -m 30 http://127.0.0.1:" + std::to_string(proxy.port()) + "/");
    CHECK_MESSAGE(load.text.find("60 succeeded") != std::string::npos, load.text);
    CHECK(upstream.counts().first >= 3);  // 30 at once, 10 per connection
}

TEST_CASE("upstream http2: an upstream that is not there is a 502 after the connect retry, like HTTP/1.1") {
    Proxy proxy(h2_upstream_config("127.0.0.1:" + std::to_string(closed_port()), 1));
    auto out = run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(proxy.port()) + "/");
    CHECK(out.text == "502");
    auto status = wait_for_status(proxy.app().admin_port(), [](const boost::json::value& v) {
        return v.at("routes").at(0).at("stable").at("requests").as_int64() == 1;
    });
    CHECK(status.at("routes").at(0).at("stable").at("success_rate").to_number<double>() == 0);
}

TEST_CASE("http2: a drain (SIGTERM) answers the streams in flight with a graceful GOAWAY and loses none") {
    Upstream slow("slow", {}, [] { return std::chrono::milliseconds(800); });
    Upstream canary("canary");
    Proxy proxy(split_config(slow, canary, "0", "", "defaults: {timeouts: {shutdown_grace: 0s, drain: 10s}}\n"));
    // Three streams in flight on one connection when the drain begins.
    Output out;
    std::thread request([&] {
        // nghttp (nghttp2's client) keeps reading its open streams after a GOAWAY, as RFC 9113
        // §6.8 asks (python3-h2 treats any GOAWAY as the end).
        const auto url = "http://127.0.0.1:" + std::to_string(proxy.port());
        out = run("/usr/bin/nghttp -n -s " + url + "/1 " + url + "/2 " + url + "/3");
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    proxy.app().shutdown();
    request.join();
    for (const char* path : {" /1", " /2", " /3"}) {
        const auto at = out.text.find(path);
        REQUIRE_MESSAGE(at != std::string::npos, out.text);
        const auto line_start = out.text.rfind('\n', at) + 1;
        CHECK_MESSAGE(out.text.substr(line_start, at - line_start).find(" 200 ") != std::string::npos, out.text);
    }
}

TEST_CASE("http2: more streams than the advertised 100 at once are refused, the others answered") {
    Upstream slow("slow", {}, [] { return std::chrono::milliseconds(500); });
    Upstream canary("canary");
    Proxy proxy(split_config(slow, canary, "0"));
    const auto out = run("/usr/bin/python3 " + kAttacks + " " + std::to_string(proxy.port()) + " too-many-streams").text;
    std::istringstream fields(out);
    std::string word;
    int refused = 0, answered = 0;
    fields >> word >> refused >> word >> answered;
    CHECK_MESSAGE(refused >= 50, out);   // SETTINGS_MAX_CONCURRENT_STREAMS enforced (RFC 9113 §5.1.2)
    CHECK_MESSAGE(answered >= 90, out);  // and the connection goes on serving the others
    CHECK(refused + answered == 150);
}

TEST_CASE("http2: a client that never reads holds back the upstream instead of filling canaryd's memory") {
    const std::string big(64 * 1024 * 1024, 'x');
    Upstream stable("stable", [&](const http::request<http::string_body>&) {
        http::response<http::string_body> response{http::status::ok, 11};
        response.body() = big;
        response.prepare_payload();
        return response;
    });
    Upstream canary("canary");
    const auto admin = closed_port();
    const auto port = closed_port();
    CanarydProcess process("threads: 1\nlisteners: [{address: 127.0.0.1:" + std::to_string(port) + "}]\nadmin: {address: 127.0.0.1:" +
                               std::to_string(admin) + "}\nwatch_config: false\nroutes:\n  - name: api\n    stable: {version: v1, endpoints: [" +
                               stable.address() + "]}\n",
                           admin);
    auto rss = [&] {
        const auto metrics = Client(admin).get("/metrics").body();
        const auto at = metrics.find("\nprocess_resident_memory_bytes ");
        REQUIRE(at != std::string::npos);
        return std::stod(metrics.substr(at + 31));
    };
    const double before = rss();
    const auto out = run("/usr/bin/python3 " + kAttacks + " " + std::to_string(port) + " slow-reader 3").text;
    const double during = rss();
    std::istringstream fields(out);
    std::string word;
    long received = -1;
    fields >> word >> received;
    CHECK_MESSAGE(received >= 0, out);
    CHECK(received < 1024 * 1024);  // the stream's window: nothing more was sent
    // 64 MiB went nowhere: canaryd held at most its bounded buffers of it.
    CHECK_MESSAGE(during - before < 16.0 * 1024 * 1024, "RSS grew by " << (during - before) / 1024 << " KiB");
}

TEST_CASE("http2: a reload between streams of an open connection loses none, and the next streams follow the new file") {
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(split_config(stable, canary, "0"));
    TempDir dir;
    const auto resume = (dir.path / "resume").string();
    const auto command = "/usr/bin/python3 " + kH2Client + " " + std::to_string(proxy.port()) +
                         " 100 --pause-after 50 --resume-file " + resume + " 2>&1";
    FILE* client = ::popen(command.c_str(), "r");
    REQUIRE(client);
    int before_canary = 0, after_canary = 0, answered = 0;
    bool paused = false;
    char line[512];
    while (std::fgets(line, sizeof line, client)) {
        const std::string text(line);
        if (text == "paused\n") {
            paused = true;
            CHECK(proxy.reload(split_config(stable, canary, "100")) == 2);
            std::ofstream(resume) << "go";
            continue;
        }
        std::istringstream fields(text);
        int index = 0;
        std::string status, body;
        fields >> index >> status >> body;
        REQUIRE_MESSAGE(status == "200", text);
        ++answered;
        (paused ? after_canary : before_canary) += body == "canary";
    }
    CHECK(::pclose(client) == 0);
    CHECK(answered == 100);
    CHECK(before_canary == 0);
    CHECK(after_canary == 50);  // the same connection, the new weight
}
