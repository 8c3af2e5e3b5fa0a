// The analyzer and rollout end to end (SPEC §6, §7): a failing canary is rolled back and
// then gets nothing; the rollback is latched across reloads and a kill -9; a new release
// starts over; a healthy canary is left alone; steps advance and promote; operators act.
#include "core/config/loader.hpp"
#include "io/control/read_file.hpp"
#include "io/control/state_store.hpp"
#include "raw.hpp"
#include "support.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <atomic>
#include <fstream>
#include <random>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

using namespace canaryd::test;

namespace {

// A canary that fails `error_percent` % of requests once `failing` is set.
Upstream::Handler flaky(std::atomic<bool>& failing, double error_percent, std::atomic<std::uint64_t>& served) {
    auto rng = std::make_shared<std::mt19937_64>(99);
    auto mutex = std::make_shared<std::mutex>();
    return [&failing, error_percent, &served, rng, mutex](const http::request<http::string_body>&) {
        ++served;
        bool fail = false;
        if (failing) {
            std::lock_guard lock(*mutex);
            fail = std::uniform_real_distribution<double>(0, 100)(*rng) < error_percent;
        }
        http::response<http::string_body> response{fail ? http::status::internal_server_error : http::status::ok, 11};
        response.body() = fail ? "boom" : "canary";
        return response;
    };
}

std::string route_yaml(const Upstream& stable, const Upstream& canary, const std::string& release,
                       const std::string& weight_or_rollout, const std::string& extra_top = "") {
    return config_with_routes("  - name: api\n    stable: {version: v1, endpoints: [" + stable.address() +
                                  "]}\n    canary: {version: " + release + ", endpoints: [" + canary.address() + "]}\n" +
                                  weight_or_rollout +
                                  "    overrides: [{header: x-canary, value: always, to: canary}]\n"
                                  "    sticky: {header: x-user-id}\n"
                                  "    analysis:\n      min_requests: 50\n      guardrails:\n"
                                  "        - {metric: success_rate, max_drop: 0}\n",
                              extra_top);
}

const boost::json::value& route0(const boost::json::value& status) { return status.at("routes").at(0); }

std::string state_of(const boost::json::value& status) { return std::string(route0(status).at("state").as_string()); }

double weight_of(const boost::json::value& status) { return route0(status).at("canary_weight").to_number<double>(); }

std::string temp_path(const std::string& name) {
    return "/tmp/canaryd-test-" + std::to_string(getpid()) + "-" + name;
}

}  // namespace

TEST_CASE("a canary that starts failing 5 % of requests is rolled back and then gets nothing") {
    std::atomic<bool> failing{false};
    std::atomic<std::uint64_t> canary_served{0};
    Upstream stable("stable");
    Upstream canary("canary", flaky(failing, 5, canary_served));
    Proxy proxy(route_yaml(stable, canary, "v2", "    canary_weight: 30\n"));
    const auto admin = proxy.app().admin_port();
    std::optional<LoadLoop> load(std::in_place, proxy.port());
    // Healthy first: traffic flows to both and the analyzer passes.
    auto healthy = wait_for_status(admin, [](const boost::json::value& v) {
        return route0(v).at("last_decision").is_object() &&
               route0(v).at("last_decision").at("verdict").as_string() == "pass";
    });
    CHECK(state_of(healthy) == "steady");
    failing = true;
    auto rolled = wait_for_status(admin, [](const boost::json::value& v) { return state_of(v) == "rolled_back"; },
                                  std::chrono::seconds(60));
    REQUIRE(state_of(rolled) == "rolled_back");
    CHECK(weight_of(rolled) == 0);
    CHECK(route0(rolled).at("last_decision").at("verdict").as_string() == "fail");
    CHECK(route0(rolled).at("last_decision").at("guardrail").as_string() == "success_rate");
    load.reset();

    // After the decision no request reaches the canary: not by weight, not by override, not
    // by a sticky key that used to land there.
    const auto served_at_rollback = canary_served.load();
    Client client(proxy.port());
    for (int i = 0; i < 300; ++i) {
        CHECK(client.get("/", {{"x-user-id", "user-" + std::to_string(i)}}).body() == "stable");
        CHECK(client.get("/", {{"x-canary", "always"}}).body() == "stable");
    }
    CHECK(canary_served.load() == served_at_rollback);

    Client admin_client(admin);
    const auto events = boost::json::parse(admin_client.get("/events").body());
    const auto& last = events.at("events").as_array().back();
    CHECK(last.at("event").as_string() == "rollback");
    CHECK(last.at("actor").as_string() == "analyzer");
    CHECK(last.at("decision").at("canary_samples").as_int64() >= 50);
    CHECK(last.at("decision").at("statistic").to_number<double>() >= last.at("decision").at("threshold").to_number<double>());
    const auto metrics = admin_client.get("/metrics").body();
    CHECK(metrics.find("canaryd_rollbacks_total{guardrail=\"success_rate\",route=\"api\"} 1") != std::string::npos);
}

TEST_CASE("a rollback is latched across a reload of the same file, a new canary release starts over") {
    std::atomic<bool> failing{true};
    std::atomic<std::uint64_t> canary_served{0};
    Upstream stable("stable");
    Upstream canary("canary", flaky(failing, 50, canary_served));
    const auto yaml = route_yaml(stable, canary, "v2", "    canary_weight: 50\n");
    Proxy proxy(yaml);
    const auto admin = proxy.app().admin_port();
    {
        LoadLoop load(proxy.port());
        auto rolled = wait_for_status(admin, [](const boost::json::value& v) { return state_of(v) == "rolled_back"; },
                                      std::chrono::seconds(60));
        REQUIRE(state_of(rolled) == "rolled_back");
    }
    const auto generation = proxy.reload(yaml);  // SIGHUP with the unchanged file
    auto after = admin_status(admin);
    CHECK(after.at("config_generation").as_int64() == generation);
    CHECK(generation >= 2);
    CHECK(state_of(after) == "rolled_back");
    CHECK(weight_of(after) == 0);
    CHECK(route0(after).at("configured_weight").to_number<double>() == 50);  // the file still says 50 %

    failing = false;
    proxy.reload(route_yaml(stable, canary, "v3", "    canary_weight: 50\n"));  // a new canary release
    auto fresh = admin_status(admin);
    CHECK(state_of(fresh) == "steady");
    CHECK(weight_of(fresh) == 50);
    CHECK(route0(fresh).at("canary").at("release").as_string() == "v3");
    const auto before = canary_served.load();
    Client client(proxy.port());
    for (int i = 0; i < 100; ++i) client.get("/");
    CHECK(canary_served.load() > before);
}

TEST_CASE("a healthy canary at 10 % is not rolled back") {
    std::atomic<bool> failing{false};
    std::atomic<std::uint64_t> canary_served{0};
    Upstream stable("stable");
    Upstream canary("canary", flaky(failing, 0, canary_served));
    Proxy proxy(route_yaml(stable, canary, "v2", "    canary_weight: 10\n"));
    {
        // Until the analyzer has seen enough to pass (not a fixed sleep), then a few more
        // evaluations under load.
        LoadLoop load(proxy.port());
        wait_for_status(proxy.app().admin_port(), [](const boost::json::value& v) {
            const auto& decision = route0(v).at("last_decision");
            return decision.is_object() && decision.at("verdict").as_string() == "pass" &&
                   route0(v).at("canary").at("requests").as_int64() > 50;
        }, std::chrono::seconds(30));
        std::this_thread::sleep_for(std::chrono::seconds(3));
    }
    auto status = admin_status(proxy.app().admin_port());
    CHECK(state_of(status) == "steady");
    CHECK(weight_of(status) == 10);
    CHECK(route0(status).at("last_decision").at("verdict").as_string() == "pass");
    CHECK(route0(status).at("canary").at("requests").as_int64() > 50);
}

TEST_CASE("steps advance and promote with a healthy canary") {
    std::atomic<bool> failing{false};
    std::atomic<std::uint64_t> canary_served{0};
    Upstream stable("stable");
    Upstream canary("canary", flaky(failing, 0, canary_served));
    Proxy proxy(route_yaml(stable, canary, "v2",
                           "    rollout: {steps: [{weight: 10, pause: 1s}, {weight: 50, pause: 1s}, {weight: 100}]}\n"));
    const auto admin = proxy.app().admin_port();
    auto initial = admin_status(admin);
    CHECK(state_of(initial) == "progressing");
    CHECK(weight_of(initial) == 10);
    CHECK(route0(initial).at("step").as_int64() == 0);
    LoadLoop load(proxy.port());
    auto done = wait_for_status(admin, [](const boost::json::value& v) { return state_of(v) == "promoted"; },
                                std::chrono::seconds(60));
    CHECK(state_of(done) == "promoted");
    CHECK(weight_of(done) == 100);
    const auto events = boost::json::parse(Client(admin).get("/events").body()).at("events").as_array();
    std::vector<std::string> kinds;
    for (const auto& e : events) kinds.emplace_back(e.at("event").as_string());
    CHECK(kinds == std::vector<std::string>{"advance", "promote"});
}

TEST_CASE("a step's pause runs on the rollout clock: an hour passes when the clock says so, not before") {
    std::atomic<double> clock{0};
    Upstream stable("stable");
    Upstream canary("canary");
    Proxy proxy(route_yaml(stable, canary, "v2", "    rollout: {steps: [{weight: 10, pause: 1h}, {weight: 100}]}\n"),
                [&clock] { return clock.load(); });
    const auto admin = proxy.app().admin_port();
    LoadLoop load(proxy.port());
    // Real seconds go by and the analysis passes (healthy canary, traffic flows) while the
    // rollout's clock stands still: the hour has not passed.
    wait_for_status(admin, [](const boost::json::value& v) {
        const auto* decision = route0(v).as_object().if_contains("last_decision");
        return decision && decision->is_object() && decision->at("verdict") == "pass";
    }, std::chrono::seconds(30));
    auto waiting = admin_status(admin);
    CHECK(state_of(waiting) == "progressing");
    CHECK(weight_of(waiting) == 10);
    clock = 3601;
    auto done = wait_for_status(admin, [](const boost::json::value& v) { return state_of(v) == "promoted"; },
                                std::chrono::seconds(30));
    CHECK(state_of(done) == "promoted");
    CHECK(weight_of(done) == 100);
}

TEST_CASE("operators: rollback, resume, weight, pause, promote, with who and when in /events") {
    Upstream stable("stable");
    Upstream canary("canary");
    const std::string token_file = temp_path("token");
    std::ofstream(token_file) << "ops-token\n";
    Proxy proxy(route_yaml(stable, canary, "v2", "    canary_weight: 10\n",
                           "admin: {address: 127.0.0.1:0, token_file: " + token_file + "}\n"));
    Client admin(proxy.app().admin_port());
    const std::map<std::string, std::string> auth{{"authorization", "Bearer ops-token"}};
    CHECK(admin.request(http::verb::post, "/rollback?route=api").result_int() == 401);

    auto rollback = admin.request(http::verb::post, "/rollback?route=api", auth);
    CHECK(rollback.result_int() == 200);
    CHECK(boost::json::parse(rollback.body()).at("state").as_string() == "rolled_back");
    CHECK(weight_of(admin_status(proxy.app().admin_port())) == 0);
    Client client(proxy.port());
    for (int i = 0; i < 50; ++i) CHECK(client.get("/").body() == "stable");
    CHECK(admin.request(http::verb::post, "/weight?route=api&canary=12.5", auth).result_int() == 409);

    CHECK(admin.request(http::verb::post, "/resume", auth).result_int() == 200);  // one route: ?route is optional
    CHECK(weight_of(admin_status(proxy.app().admin_port())) == 10);
    auto weight = admin.request(http::verb::post, "/weight?route=api&canary=12.5", auth);
    CHECK(weight.result_int() == 200);
    auto status = admin_status(proxy.app().admin_port());
    CHECK(weight_of(status) == 12.5);
    CHECK(state_of(status) == "paused");
    CHECK(admin.request(http::verb::post, "/weight?route=api&canary=101", auth).result_int() == 400);
    CHECK(admin.request(http::verb::post, "/weight?route=api", auth).result_int() == 400);
    CHECK(admin.request(http::verb::post, "/pause?route=nope", auth).result_int() == 404);
    CHECK(admin.request(http::verb::post, "/promote?route=api", auth).result_int() == 200);
    CHECK(weight_of(admin_status(proxy.app().admin_port())) == 100);
    for (int i = 0; i < 20; ++i) CHECK(client.get("/").body() == "canary");

    const auto events = boost::json::parse(admin.get("/events").body()).at("events").as_array();
    REQUIRE(events.size() == 4);
    CHECK(events[0].at("event").as_string() == "rollback");
    CHECK(events[0].at("actor").as_string() == "admin@127.0.0.1");  // token_file is the operator "admin"
    CHECK(events[1].at("event").as_string() == "resume");
    CHECK(events[2].at("event").as_string() == "weight");
    CHECK(events[3].at("event").as_string() == "promote");
    CHECK_FALSE(std::string(events[3].at("time").as_string()).empty());
    std::remove(token_file.c_str());
}

TEST_CASE("named tokens: an operator acts under its name, a viewer is refused (403), files re-read on reload") {
    Upstream stable("stable");
    Upstream canary("canary");
    TempDir dir;
    const auto alice_file = (dir.path / "alice").string();
    const auto bob_file = (dir.path / "bob").string();
    std::ofstream(alice_file) << "alice-secret\n";
    std::ofstream(bob_file) << "bob-secret\n";
    const auto yaml = route_yaml(stable, canary, "v2", "    canary_weight: 10\n",
                                 "admin:\n  address: 127.0.0.1:0\n  tokens:\n"
                                 "    - {name: alice, file: " + alice_file + ", role: operator}\n"
                                 "    - {name: bob, file: " + bob_file + ", role: viewer}\n");
    Proxy proxy(yaml);
    Client admin(proxy.app().admin_port());
    auto bearer = [](const std::string& token) { return std::map<std::string, std::string>{{"authorization", "Bearer " + token}}; };

    CHECK(admin.request(http::verb::post, "/rollback?route=api").result_int() == 401);
    CHECK(admin.request(http::verb::post, "/rollback?route=api", bearer("guess")).result_int() == 401);
    auto refused = admin.request(http::verb::post, "/rollback?route=api", bearer("bob-secret"));
    CHECK(refused.result_int() == 403);
    CHECK(refused.body().find("'bob' is a viewer") != std::string::npos);
    CHECK(weight_of(admin_status(proxy.app().admin_port())) == 10);  // nothing happened
    CHECK(admin.get("/status", bearer("bob-secret")).result_int() == 200);  // a viewer reads
    CHECK(admin.request(http::verb::post, "/rollback?route=api", bearer("alice-secret")).result_int() == 200);
    auto events = boost::json::parse(admin.get("/events").body()).at("events").as_array();
    REQUIRE(events.size() == 1);
    CHECK(events[0].at("actor").as_string() == "alice@127.0.0.1");

    // alice's token is rotated on disk: the reload re-reads it; the old one stops working.
    std::ofstream(alice_file) << "alice-new\n";
    CHECK(proxy.reload(yaml) == 2);
    CHECK(admin.request(http::verb::post, "/resume?route=api", bearer("alice-secret")).result_int() == 401);
    CHECK(admin.request(http::verb::post, "/resume?route=api", bearer("alice-new")).result_int() == 200);

    // A token file that cannot be read fails the reload; the tokens in force stay.
    std::filesystem::remove(bob_file);
    CHECK(proxy.reload(yaml) == 2);
    CHECK(admin.request(http::verb::post, "/pause?route=api", bearer("bob-secret")).result_int() == 403);
    CHECK(admin.request(http::verb::post, "/pause?route=api", bearer("alice-new")).result_int() == 200);
}

TEST_CASE("gates: a webhook gate holds until its URL answers 2xx, a manual gate until an operator promotes") {
    Upstream stable("stable");
    Upstream canary("canary");
    std::atomic<bool> ready{false};
    Upstream ci("ci", [&](const http::request<http::string_body>&) {
        http::response<http::string_body> response{ready ? http::status::ok : http::status::service_unavailable, 11};
        response.body() = ready ? "go" : "not yet";
        return response;
    });
    Proxy proxy(route_yaml(stable, canary, "v2",
                           "    rollout: {steps: [{weight: 10, gate: {webhook: 'http://" + ci.address() +
                               "/gate'}}, {weight: 30, gate: manual}, {weight: 100}]}\n"));
    const auto admin_port = proxy.app().admin_port();
    auto route = [&] { return admin_status(admin_port).at("routes").at(0); };
    // The webhook says 503: the rollout waits at 10 % and says why.
    auto waiting = wait_for_status(admin_port, [](const boost::json::value& s) {
        return std::string(s.at("routes").at(0).at("state_reason").as_string()).find("HTTP 503") != std::string::npos;
    });
    CHECK(std::string(waiting.at("routes").at(0).at("state_reason").as_string()) == "waiting for webhook (last answer: HTTP 503)");
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(route().at("canary_weight").to_number<double>() == 10);
    CHECK(ci.requests() >= 2);  // polled every interval
    // The CI job passes: the gate opens; the next gate is manual.
    ready = true;
    auto manual = wait_for_status(admin_port, [](const boost::json::value& s) {
        return s.at("routes").at(0).at("canary_weight").to_number<double>() == 30;
    });
    CHECK(manual.at("routes").at(0).at("state_reason").as_string() == "waiting for approval");
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(route().at("canary_weight").to_number<double>() == 30);  // nobody approved
    CHECK(Client(admin_port).request(http::verb::post, "/promote?route=api").result_int() == 200);
    CHECK(route().at("state").as_string() == "promoted");
    CHECK(route().at("canary_weight").to_number<double>() == 100);
    const auto events = boost::json::parse(Client(admin_port).get("/events").body()).at("events").as_array();
    REQUIRE(events.size() == 2);
    CHECK(events[0].at("actor").as_string() == "webhook");
    CHECK(events[0].at("event").as_string() == "advance");
    CHECK(events[1].at("event").as_string() == "promote");
}

TEST_CASE("canaryd ctl talks to the admin API") {
    Upstream stable("stable");
    Upstream canary("canary");
    const std::string token_file = temp_path("ctl-token");
    std::ofstream(token_file) << "ctl-token\n";
    Proxy proxy(route_yaml(stable, canary, "v2", "    canary_weight: 10\n",
                           "admin: {address: 127.0.0.1:0, token_file: " + token_file + "}\n"));
    const std::string admin = "http://127.0.0.1:" + std::to_string(proxy.app().admin_port());
    auto run = [&](std::vector<std::string> args) {
        args.insert(args.begin(), CANARYD_BINARY);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_t pid = 0;
        REQUIRE(posix_spawn(&pid, CANARYD_BINARY, nullptr, nullptr, argv.data(), environ) == 0);
        int status = 0;
        waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    };
    CHECK(run({"ctl", "status", "--admin", admin}) == 0);
    CHECK(run({"ctl", "rollback", "--admin", admin}) == 1);  // no token: 401
    CHECK(weight_of(admin_status(proxy.app().admin_port())) == 10);
    CHECK(run({"ctl", "rollback", "--route", "api", "--admin", admin, "--token-file", token_file}) == 0);
    CHECK(weight_of(admin_status(proxy.app().admin_port())) == 0);
    CHECK(run({"ctl", "resume", "--admin", admin, "--token-file", token_file}) == 0);
    CHECK(run({"ctl", "weight", "7.5", "--admin", admin, "--token-file", token_file}) == 0);
    CHECK(weight_of(admin_status(proxy.app().admin_port())) == 7.5);
    CHECK(run({"ctl", "bogus"}) == 2);
    std::remove(token_file.c_str());
}

TEST_CASE("a corrupt state file refuses to start with a clear error") {
    const std::string state_file = temp_path("corrupt-state.json");
    std::ofstream(state_file) << "{\"format\": 1, \"routes\": {\"api\": {\"state\": \"rolled_ba";
    auto loaded = canaryd::config::load_config(
        "listeners: [{address: 127.0.0.1:0}]\nadmin: {address: 127.0.0.1:0}\nstate_file: " + state_file +
        "\nroutes:\n  - name: api\n    stable: {version: v1, endpoints: []}\n");
    REQUIRE(loaded.ok());
    canaryd::io::App app(loaded.config, {});
    try {
        app.start();
        FAIL("started with a corrupt state file");
    } catch (const canaryd::io::StartupError& e) {
        CHECK(std::string(e.what()).find("corrupt") != std::string::npos);
        CHECK(std::string(e.what()).find(state_file) != std::string::npos);
    }
    std::remove(state_file.c_str());
}

TEST_CASE("kill -9 then restart keeps the rollback (real process, state file)") {
    std::atomic<bool> failing{true};
    std::atomic<std::uint64_t> canary_served{0};
    Upstream stable("stable");
    Upstream canary("canary", flaky(failing, 50, canary_served));
    const std::string state_file = temp_path("state.json");
    const std::string config_file = temp_path("kill9.yaml");
    std::filesystem::remove(state_file);
    const auto proxy_port = closed_port();
    const auto admin_port = closed_port();
    std::ofstream(config_file) << "threads: 1\nlisteners:\n  - address: 127.0.0.1:" << proxy_port
                               << "\nadmin: {address: 127.0.0.1:" << admin_port << "}\nstate_file: " << state_file
                               << "\nroutes:\n  - name: api\n    stable: {version: v1, endpoints: [" << stable.address()
                               << "]}\n    canary: {version: v2, endpoints: [" << canary.address()
                               << "]}\n    canary_weight: 50\n    analysis:\n      min_requests: 30\n"
                                  "      guardrails: [{metric: success_rate, max_drop: 0}]\n";
    auto spawn = [&] {
        std::vector<std::string> args{CANARYD_BINARY, "--config", config_file};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_t pid = 0;
        REQUIRE(posix_spawn(&pid, CANARYD_BINARY, nullptr, nullptr, argv.data(), environ) == 0);
        for (int i = 0; i < 100; ++i) {  // until the admin API answers
            try {
                admin_status(admin_port);
                return pid;
            } catch (const std::exception&) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
        FAIL("canaryd did not start");
        return pid;
    };
    pid_t pid = spawn();
    {
        LoadLoop load(proxy_port);
        auto rolled = wait_for_status(admin_port, [](const boost::json::value& v) { return state_of(v) == "rolled_back"; },
                                      std::chrono::seconds(60));
        REQUIRE(state_of(rolled) == "rolled_back");
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    failing = false;  // even a canary that recovered stays out until an operator resumes
    pid = spawn();
    auto restarted = admin_status(admin_port);
    CHECK(state_of(restarted) == "rolled_back");
    CHECK(weight_of(restarted) == 0);
    const auto before = canary_served.load();
    Client client(proxy_port);
    for (int i = 0; i < 100; ++i) CHECK(client.get("/").body() == "stable");
    CHECK(canary_served.load() == before);
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    std::remove(config_file.c_str());
    std::remove(state_file.c_str());
}

TEST_CASE("the state file is replaced atomically and a failed write leaves the old one") {
    const std::string dir = temp_path("state-dir");
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/state.json";
    REQUIRE(canaryd::io::write_file_atomically(path, "first\n").ok());
    REQUIRE(canaryd::io::write_file_atomically(path, "second\n").ok());
    CHECK(canaryd::io::read_file(path).value() == "second\n");
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
    // A directory where the temporary file should go makes the write fail: the old file stays.
    std::filesystem::create_directories(path + ".tmp");
    const auto written = canaryd::io::write_file_atomically(path, "third\n");
    CHECK_FALSE(written.ok());
    CHECK(canaryd::io::read_file(path).value() == "second\n");
    CHECK(canaryd::io::write_file_atomically("/nonexistent-dir/state.json", "x").message().find("cannot create") != std::string::npos);
    std::filesystem::remove_all(dir);
}
