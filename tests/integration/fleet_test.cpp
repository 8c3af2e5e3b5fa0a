// Fleet mode (SPEC §9) end to end: real canaryd processes, a real etcd and a real Prometheus
// (Debian's packages), all on 127.0.0.1 free ports with temporary data, started and stopped
// by the tests. Every wait is bounded.
#include "etcd_server.hpp"
#include "process.hpp"
#include "prometheus_server.hpp"
#include "support.hpp"

#include "core/fleet/fleet_record.hpp"
#include "io/fleet/etcd_client.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

using namespace canaryd;
using namespace canaryd::test;
using namespace std::chrono_literals;

namespace {

// Stable and canary backends; the canary fails every `error_every`-th request when set.
struct Backends {
    std::atomic<int> error_every{0};
    std::atomic<std::uint64_t> canary_seen{0};
    Upstream stable{"stable"};
    Upstream canary{"canary", [this](const http::request<http::string_body>&) {
                        http::response<http::string_body> response{http::status::ok, 11};
                        const auto n = ++canary_seen;
                        const int every = error_every.load();
                        if (every > 0 && n % static_cast<std::uint64_t>(every) == 0)
                            response.result(http::status::internal_server_error);
                        response.body() = "canary";
                        response.prepare_payload();
                        return response;
                    }};
};

struct FleetSetup {
    std::string etcd;        // endpoint URL
    std::string prometheus;  // URL, "" for none
    std::string route_extra;  // rollout/analysis lines under the route (with steps: no canary_weight)
    std::string lease = "3s";
};

class Replica {
public:
    Replica(const FleetSetup& setup, const Backends& backends, const TempDir& dir, int index)
        : port_(closed_port()), admin_(closed_port()), state_file_((dir.path / ("state-" + std::to_string(index) + ".json")).string()) {
        std::string yaml = "threads: 1\nlisteners: [{address: 127.0.0.1:" + std::to_string(port_) + "}]\n" +
                           "admin: {address: 127.0.0.1:" + std::to_string(admin_) + "}\n" + "state_file: " + state_file_ +
                           "\nwatch_config: false\nfleet:\n  name: checkout\n  etcd: {endpoints: [" + setup.etcd +
                           "], lease: " + setup.lease + "}\n";
        if (!setup.prometheus.empty())
            yaml += "  prometheus: {url: '" + setup.prometheus + "', selector: '{job=\"canaryd\"}', timeout: 1s}\n";
        yaml += "routes:\n  - name: api\n    stable: {version: v1, endpoints: [" + backends.stable.address() +
                "]}\n    canary: {version: v2, endpoints: [" + backends.canary.address() + "]}\n" +
                (setup.route_extra.find("rollout:") == std::string::npos ? "    canary_weight: 20\n" : "") + setup.route_extra;
        process_ = std::make_unique<CanarydProcess>(yaml, admin_);
    }

    std::uint16_t port() const { return port_; }
    std::uint16_t admin() const { return admin_; }
    std::string admin_address() const { return "127.0.0.1:" + std::to_string(admin_); }
    CanarydProcess& process() { return *process_; }
    boost::json::value status() const { return admin_status(admin_); }
    const boost::json::object& fleet(const boost::json::value& status) const { return status.at("fleet").as_object(); }
    std::string id() const { return std::string(status().at("fleet").at("id").as_string()); }
    double weight() const { return status().at("routes").at(0).at("canary_weight").to_number<double>(); }
    std::string state() const { return std::string(status().at("routes").at(0).at("state").as_string()); }
    std::string state_file_text() const {
        std::ifstream in(state_file_);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }
    boost::json::array events() const {
        Client client(admin_);
        return boost::json::parse(client.get("/events").body()).at("events").as_array();
    }
    void kill_hard() {
        process_->signal(SIGKILL);
        (void)process_->wait_exit(5s);
    }

private:
    std::uint16_t port_;
    std::uint16_t admin_;
    std::string state_file_;
    std::unique_ptr<CanarydProcess> process_;
};

// Polls `ready` every 100 ms until it holds or `limit` passes; returns how long it took.
std::optional<std::chrono::milliseconds> within(std::chrono::milliseconds limit, const std::function<bool()>& ready) {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < limit) {
        try {
            if (ready()) return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        } catch (const std::exception&) {
            // a replica between two states (restarting, busy): ask again
        }
        std::this_thread::sleep_for(100ms);
    }
    return std::nullopt;
}

int leaders(const std::vector<Replica*>& replicas) {
    int n = 0;
    for (auto* r : replicas) n += r->status().at("fleet").at("role").as_string() == "leader";
    return n;
}

Replica* the_leader(const std::vector<Replica*>& replicas) {
    for (auto* r : replicas)
        if (r->status().at("fleet").at("role").as_string() == "leader") return r;
    return nullptr;
}

std::optional<fleet::FleetRecord> etcd_record(const EtcdServer& etcd) {
    io::EtcdClient client("127.0.0.1", etcd.client_port());
    auto kv = client.get(fleet::route_key("/canaryd/", "checkout", "api"));
    if (!kv || !kv->has_value()) return std::nullopt;
    auto record = fleet::parse_fleet_record((*kv)->value);
    if (!record) return std::nullopt;
    return *record;
}

int count_events(const boost::json::array& events, const std::string& name) {
    int n = 0;
    for (const auto& e : events) n += e.at("event").as_string() == name;
    return n;
}

// `canaryd ctl ARGS --admin ADDR` as an operator runs it; its standard output.
std::string ctl(const std::vector<std::string>& args, const std::string& admin) {
    std::string command = std::string(CANARYD_BINARY) + " ctl";
    for (const auto& a : args) command += " " + a;
    command += " --admin http://" + admin + " 2>&1";
    std::string out;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
        char buffer[4096];
        while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
        ::pclose(pipe);
    }
    return out;
}

}  // namespace

TEST_CASE("fleet: operator actions on any replica reach every replica within 2 s, and say who decided") {
    EtcdServer etcd;
    Backends backends;
    TempDir dir;
    FleetSetup setup{etcd.endpoint(), "", ""};
    Replica r1(setup, backends, dir, 1), r2(setup, backends, dir, 2), r3(setup, backends, dir, 3);
    const std::vector<Replica*> all{&r1, &r2, &r3};
    REQUIRE(within(10s, [&] { return leaders(all) == 1; }));
    CHECK(within(5s, [&] {
        for (auto* r : all)
            if (r->status().at("fleet").at("replicas").as_int64() != 3) return false;
        return true;
    }));
    for (auto* r : all) {
        const auto status = r->status();
        CHECK(r->fleet(status).at("state").as_string() == "ok");
        CHECK(r->weight() == doctest::Approx(20));
    }
    const auto ids = std::set<std::string>{r1.id(), r2.id(), r3.id()};
    CHECK(ids.size() == 3);  // unique per process, though all share one host

    auto all_at = [&](const std::string& state, double weight) {
        return [&, state, weight] {
            for (auto* r : all)
                if (r->state() != state || r->weight() != doctest::Approx(weight)) return false;
            return true;
        };
    };
    const auto rollback = ctl({"rollback"}, r2.admin_address());
    CHECK(rollback.find("rolled_back") != std::string::npos);
    CHECK(rollback.find(r2.id()) != std::string::npos);  // ctl says which replica decided
    auto took = within(2s, all_at("rolled_back", 0));
    REQUIRE_MESSAGE(took, "a rollback on replica 2 did not reach every replica within 2 s");
    MESSAGE("rollback applied everywhere in " << took->count() << " ms");
    // The others applied replica 2's decision, and their events say so.
    for (auto* r : {&r1, &r3}) {
        const auto events = r->events();
        REQUIRE(count_events(events, "rollback") == 1);
        CHECK(events.back().at("decided_by").as_string() == r2.id());
        CHECK(r->state_file_text().find("rolled_back") != std::string::npos);  // latched locally too
    }

    CHECK(ctl({"resume"}, r2.admin_address()).find(r2.id()) != std::string::npos);
    REQUIRE_MESSAGE(within(2s, all_at("steady", 20)), "resume did not reach every replica within 2 s");
    ctl({"weight", "35"}, r2.admin_address());
    // An explicit weight holds the rollout (paused) until a resume.
    REQUIRE_MESSAGE(within(2s, all_at("paused", 35)), "weight 35 did not reach every replica within 2 s");

    // Two operators racing on two replicas: one consistent outcome everywhere.
    std::thread a([&] { ctl({"weight", "5"}, r1.admin_address()); });
    std::thread b([&] { ctl({"weight", "45"}, r3.admin_address()); });
    a.join();
    b.join();
    const auto record = etcd_record(etcd);
    REQUIRE(record);
    const double agreed = record->state.weight_bp / 100.0;
    CHECK((agreed == doctest::Approx(5) || agreed == doctest::Approx(45)));
    CHECK(within(2s, all_at("paused", agreed)));
}

TEST_CASE("fleet: a leader killed during a step is replaced within the lease, and the step is neither lost nor taken twice") {
    EtcdServer etcd;
    Backends backends;
    TempDir dir;
    // No guardrails: the steps advance on time, on the leader's clock only.
    FleetSetup setup{etcd.endpoint(), "", "    rollout: {steps: [{weight: 10, pause: 3s}, {weight: 30, pause: 1h}, {weight: 100}]}\n"};
    auto r1 = std::make_unique<Replica>(setup, backends, dir, 1);
    Replica r2(setup, backends, dir, 2), r3(setup, backends, dir, 3);
    std::vector<Replica*> all{r1.get(), &r2, &r3};
    REQUIRE(within(10s, [&] { return leaders(all) == 1; }));
    auto at_step_1 = [&](const std::vector<Replica*>& replicas) {
        return [&, replicas] {
            for (auto* r : replicas)
                if (r->status().at("routes").at(0).at("step").as_int64() != 1 || r->weight() != doctest::Approx(30)) return false;
            return true;
        };
    };
    REQUIRE_MESSAGE(within(15s, at_step_1(all)), "the fleet did not reach step 1 (30 %)");
    auto* leader = the_leader(all);
    REQUIRE(leader);
    const auto old_leader = leader->id();
    std::vector<Replica*> survivors;
    for (auto* r : all)
        if (r != leader) survivors.push_back(r);
    const auto killed_at = std::chrono::steady_clock::now();
    leader->kill_hard();
    auto took = within(8s, [&] {
        auto* next = the_leader(survivors);
        return next && next->id() != old_leader;
    });
    REQUIRE_MESSAGE(took, "no new leader within the lease (3 s) and a margin");
    const auto handover = std::chrono::steady_clock::now() - killed_at;
    MESSAGE("new leader after " << std::chrono::duration_cast<std::chrono::milliseconds>(handover).count() << " ms");
    CHECK(handover < 6s);  // lease 3 s + etcd's expiry check + a 500 ms round
    // A few more seconds: still step 1 everywhere (not lost, not advanced: its pause is 1 h).
    std::this_thread::sleep_for(3s);
    CHECK(at_step_1(survivors)());
    const auto record = etcd_record(etcd);
    REQUIRE(record);
    CHECK(record->state.step == 1);
    CHECK(record->state.state == rollout::State::progressing);
    for (auto* r : survivors) CHECK(count_events(r->events(), "advance") == 1);
}

TEST_CASE("fleet: with etcd down replicas keep their state, no step advances, a local breach still rolls back and reaches etcd after") {
    EtcdServer etcd;
    Backends backends;
    TempDir dir;
    FleetSetup setup{etcd.endpoint(), "",
                     "    rollout: {steps: [{weight: 20, pause: 2s}, {weight: 50, pause: 1h}, {weight: 100}]}\n"
                     "    analysis:\n      min_requests: 20\n      guardrails:\n        - {metric: success_rate, max_drop: 0}\n"};
    Replica r1(setup, backends, dir, 1), r2(setup, backends, dir, 2);
    const std::vector<Replica*> all{&r1, &r2};
    REQUIRE(within(10s, [&] { return leaders(all) == 1; }));
    REQUIRE(within(5s, [&] { return etcd_record(etcd).has_value(); }));
    etcd.stop();
    REQUIRE(within(5s, [&] {
        for (auto* r : all)
            if (r->status().at("fleet").at("state").as_string() != "degraded") return false;
        return true;
    }));
    LoadLoop load1(r1.port(), {}, 60), load2(r2.port(), {}, 60);
    // The step's pause (2 s) passes and the analysis passes, but nobody advances.
    std::this_thread::sleep_for(6s);
    for (auto* r : all) {
        const auto status = r->status();
        CHECK(r->weight() == doctest::Approx(20));
        CHECK(status.at("routes").at(0).at("step").as_int64() == 0);
        CHECK(r->fleet(status).at("error").as_string().find("etcd") != std::string::npos);
        CHECK(Client(r->admin()).get("/readyz").result_int() == 200);
    }
    CHECK(load1.not_ok() + load2.not_ok() == 0);  // serving throughout
    // Raising actions are refused while degraded; a rollback is not.
    const auto refused = ctl({"weight", "60"}, r1.admin_address());
    CHECK(refused.find("503") != std::string::npos);
    // The canary breaks: each replica's own analysis rolls it back locally.
    backends.error_every = 2;
    REQUIRE_MESSAGE(within(30s, [&] { return r1.weight() == 0 && r2.weight() == 0; }), "no local rollback while etcd is down");
    CHECK_FALSE(etcd_record(etcd).has_value());  // (etcd is down: nothing to read)
    etcd.start();
    auto written = within(10s, [&] {
        auto record = etcd_record(etcd);
        return record && record->state.state == rollout::State::rolled_back;
    });
    REQUIRE_MESSAGE(written, "the local rollback did not reach etcd after it came back");
    CHECK(within(5s, [&] { return r1.status().at("fleet").at("state").as_string() == "ok"; }));
    for (auto* r : all) CHECK(r->state() == "rolled_back");
}

TEST_CASE("fleet: three replicas judged on Prometheus's fleet-wide numbers hold while it is down, roll back together, and a fourth started after sends the canary nothing") {
    EtcdServer etcd;
    Backends backends;
    TempDir dir;
    FleetSetup setup{etcd.endpoint(), "", "    analysis:\n      min_requests: 20\n      guardrails:\n        - {metric: success_rate, max_drop: 0}\n"};
    // The replicas start first (on a Prometheus port reserved for it), then Prometheus with
    // their admin ports as its targets.
    const auto prometheus_port = closed_port();
    setup.prometheus = "http://127.0.0.1:" + std::to_string(prometheus_port);
    Replica r1(setup, backends, dir, 1), r2(setup, backends, dir, 2), r3(setup, backends, dir, 3);
    const std::vector<Replica*> all{&r1, &r2, &r3};
    PrometheusServer prometheus({r1.admin_address(), r2.admin_address(), r3.admin_address()}, prometheus_port);
    REQUIRE(within(10s, [&] { return leaders(all) == 1; }));
    std::vector<std::unique_ptr<LoadLoop>> load;
    for (auto* r : all) load.push_back(std::make_unique<LoadLoop>(r->port(), std::map<std::string, std::string>{}, 50));
    auto* leader = the_leader(all);
    REQUIRE(leader);
    REQUIRE_MESSAGE(within(20s, [&] {
                        const auto status = leader->status();
                        const auto& decision = status.at("routes").at(0).at("last_decision");
                        return leader->fleet(status).at("signals").as_string() == "ok" && decision.is_object() &&
                               decision.at("verdict").as_string() == "pass";
                    }),
                    "the leader's fleet analysis never passed on Prometheus's numbers: " << prometheus.log());
    CHECK(leader->fleet(leader->status()).at("replicas").as_int64() == 3);
    for (auto* r : all) CHECK(r->weight() == doctest::Approx(20));

    // Prometheus stops: the fleet analysis holds and /status says why; nothing is rolled back.
    prometheus.stop();
    auto holding = within(15s, [&] {
        const auto status = leader->status();
        return leader->fleet(status).at("signals").as_string() == "holding" &&
               !leader->fleet(status).at("signals_error").as_string().empty();
    });
    CHECK_MESSAGE(holding, "no 'holding' in /status after Prometheus stopped");
    std::this_thread::sleep_for(3s);
    for (auto* r : all) CHECK(r->weight() == doctest::Approx(20));
    prometheus.start();
    REQUIRE_MESSAGE(within(20s, [&] { return leader->fleet(leader->status()).at("signals").as_string() == "ok"; }),
                    "the fleet analysis did not resume when Prometheus came back");

    // The canary turns to 5 % errors: every replica sees only a third of them.
    backends.error_every = 20;
    REQUIRE_MESSAGE(within(60s, [&] { return leader->weight() == 0; }), "the fleet analysis did not roll back");
    auto everywhere = within(3s, [&] {
        for (auto* r : all)
            if (r->weight() != 0) return false;
        return true;
    });
    REQUIRE_MESSAGE(everywhere, "the leader's rollback did not reach every replica within 3 s");
    const auto record = etcd_record(etcd);
    REQUIRE(record);
    CHECK(record->state.state == rollout::State::rolled_back);
    CHECK(record->decided_by == leader->id());
    CHECK(record->event == "rollback");
    for (auto* r : all) {
        const auto events = r->events();
        CHECK(count_events(events, "rollback") == 1);
        CHECK(r->state_file_text().find("rolled_back") != std::string::npos);
    }
    load.clear();

    // A replica started after the rollback sends nothing to the canary, from its first request.
    const auto canary_before = backends.canary.requests();
    Replica r4(setup, backends, dir, 4);
    Client client(r4.port());
    for (int i = 0; i < 100; ++i) CHECK(client.get("/").result_int() == 200);
    CHECK(backends.canary.requests() == canary_before);
    CHECK(r4.state() == "rolled_back");
}
