// Runs the analyzer and the rollout state machine of every route on the control thread
// (SPEC §6): feeds each second's signals to the analyzer, evaluates at each interval, and
// carries out decisions in the order the SPEC requires — the weight in force first (an
// atomic store every worker reads on its next request), then the state file (write, fsync,
// rename), then the announcement (JSON log line, metrics, /events, /status). Operator
// actions from the admin API take the same path.
#pragma once

#include "core/admin/dispatch.hpp"
#include "core/admin/status_view.hpp"
#include "core/analysis/analyzer.hpp"
#include "core/fleet/authority.hpp"
#include "core/fleet/fleet_blocks.hpp"
#include "core/fleet/fleet_record.hpp"
#include "core/rollout/operator_action.hpp"
#include "core/rollout/rollout_machine.hpp"
#include "core/rollout/route_loop.hpp"
#include "core/rollout/state_file.hpp"
#include "io/control/snapshot.hpp"
#include "io/signals/metrics.hpp"
#include "io/signals/signals_aggregator.hpp"

#include <boost/json/object.hpp>

#include <array>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace canaryd::io {

class FleetSignals;
class FleetState;
struct FleetReading;
struct FleetView;
struct EtcdKeyValue;

// Fleet mode's parts (SPEC §9), owned by the App; absent without `fleet:`.
struct FleetContext {
    config::Fleet config;
    std::string id;                    // this replica
    FleetState* state = nullptr;       // with fleet.etcd
    FleetSignals* signals = nullptr;   // with fleet.prometheus
};

class RolloutController {
public:
    RolloutController(Metrics& metrics, SignalsAggregator& signals);

    // Reads the state file named by the config. Throws StartupError when it is corrupt: a
    // forgotten rollback would send traffic back to a broken canary.
    void load_state(const std::string& state_file);
    // Before a snapshot is published (start-up and every reload): creates, keeps or resets
    // each route's machine and analyzer and sets the weight in force.
    void prepare(const Snapshot& snapshot, double now);
    // Once a second, after the signals tick.
    void tick(const Snapshot& snapshot, double now);

    // An operator's action from the admin API (decided by core/rollout/operator_action).
    admin::ActionReply act(const Snapshot& snapshot, const admin::ActionRequest& request, double now);

    void fill_status(admin::StatusView& view) const;

    // Fleet mode (rollout_controller_fleet.cpp). enable_fleet() before the first prepare().
    void enable_fleet(FleetContext context);
    // Start-up, before any listener accepts: every route's record read from etcd and applied.
    // False when etcd could not be read: canary weights stay at 0 until a round succeeds.
    bool read_fleet_state(double now);
    // A round of the etcd thread / a Prometheus reading, on the control thread.
    void on_fleet_view(const FleetView& view, double now);
    void on_fleet_reading(const FleetReading& reading, const Snapshot& snapshot, double now);
    // GET /fleet: nullopt without fleet mode.
    std::optional<std::string> fleet_json() const;
    // Asks a webhook gate's URL, off the control thread; `done(opened, why)` runs back on the
    // control thread (App wires it to its blocking-work thread).
    using GatePoll = std::function<void(const std::string& url, std::function<void(bool opened, std::string why)> done)>;
    void set_gate_poll(GatePoll poll) { gate_poll_ = std::move(poll); }
    // Called with each event once it is persisted and recorded (notifications).
    void on_event(std::function<void(const boost::json::object&)> sink) { event_sink_ = std::move(sink); }
    std::string events_json(std::size_t limit) const;

private:
    // One guardrail's exported series (canaryd_guardrail_evidence / _verdict).
    struct GuardrailSeries {
        prometheus::Gauge* evidence = nullptr;
        std::array<prometheus::Gauge*, 3> verdict{};  // indexed by analysis::Verdict
    };
    struct RouteControl {
        rollout::RouteLoop loop;  // machine, analyzer and the decision loop's counters (core)
        std::optional<config::Analysis> analysis_config;
        std::shared_ptr<rollout::RouteRuntime> runtime;
        std::optional<admin::DecisionSummary> last_decision;
        std::vector<admin::GuardrailStatus> guardrails;  // at the last evaluation
        bool gate_poll_in_flight = false;
        double gate_polled_at = -1e300;
        std::string gate_reply;  // what the webhook said last (for /status)
        std::uint64_t clamped_logged = 0;
        std::map<std::string, GuardrailSeries, std::less<>> series;
        // Fleet mode:
        rollout::RouteLoop fleet_loop;     // the fleet analysis (an analyzer, no machine), with fleet.prometheus
        std::int64_t fleet_revision = 0;   // mod revision of the etcd record applied or written last (0: none)
        bool pending_rollback = false;     // a local rollback etcd has not taken yet
    };
    // What a commit to the fleet's state came to.
    struct Committed {
        unsigned status = 200;  // 409: another replica changed the route first; 503: etcd unreachable
        std::string error;
    };
    struct FleetHealth {
        bool etcd_ok = false;
        bool state_read = false;  // a round has been applied: canary weights may be raised
        bool leader = false;
        std::string leader_id;
        std::int64_t term = 0;
        int replicas = 0;
        std::string etcd_error;
        bool prometheus_ok = false;
        std::string prometheus_error = "no reading yet";
        double last_reading_at = -1e300;
        int prometheus_replicas = 0;
        std::vector<std::string> replica_ids;  // etcd's presence keys, at the last round
        std::vector<std::pair<std::string, bool>> targets;  // Prometheus's: instance, up
    };

    void prepare_analysis(const config::Route& route, RouteControl& control, bool same_release);
    void export_evaluation(const std::string& route, RouteControl& control, const analysis::Evaluation& evaluation,
                           const analysis::RouteAnalyzer& analyzer);
    void drop_series(const std::string& route, RouteControl& control, const std::vector<std::string>& keep);
    void apply(const std::string& route, RouteControl& control, const rollout::Change& change,
               const analysis::Evaluation* evaluation);
    // A decision (the machine already changed from `before`): carried out at once alone; in a
    // fleet with etcd, a rollback at once and then written, anything else written first (on a
    // conflict or an unreachable etcd the machine goes back to `before`). `term` fences a
    // leader's own decisions.
    Committed commit(const std::string& route, RouteControl& control, const rollout::RouteState& before,
                     const rollout::Change& change, const analysis::Evaluation* evaluation, std::int64_t term, double now);
    // The evaluation an operator sees (/status, metrics, the analysis log line).
    void show_evaluation(const std::string& route, RouteControl& control, const rollout::SecondEffects& effects,
                         const analysis::RouteAnalyzer& analyzer);
    // Fleet helpers (rollout_controller_fleet.cpp).
    fleet::Authorities authorities() const;
    bool decides() const;  // this replica's analysis may move rollouts forward
    void store_weight(RouteControl& control) const;
    Result<std::int64_t> write_record(const std::string& route, RouteControl& control, const std::string& event,
                                      std::int64_t term);
    void publish_rollback(const std::string& route, RouteControl& control);
    void adopt(const std::string& route, RouteControl& control, const fleet::FleetRecord& record, std::int64_t revision,
               double now);
    void apply_records(const std::vector<EtcdKeyValue>& records, bool may_publish, double now);
    void set_etcd_health(bool ok, const std::string& error);
    void check_signals_fresh(double now);
    void persist();
    // Starts a poll of the route's webhook gate when one is due (every analysis interval).
    void poll_gate(const std::string& route, RouteControl& control, double now);
    void record_event(boost::json::object event);
    // The fields every rollout event has (SPEC §7 /events): time, route, event, actor, state,
    // release, weight, step, reason.
    static boost::json::object event_json(const std::string& route, const std::string& event,
                                           const rollout::RouteState& state, const std::string& time);

    Metrics& metrics_;
    SignalsAggregator& signals_;
    std::string state_file_;
    rollout::StateMap persisted_;
    std::map<std::string, RouteControl, std::less<>> routes_;
    std::deque<boost::json::object> events_;  // newest last, bounded
    std::function<void(const boost::json::object&)> event_sink_;
    GatePoll gate_poll_;
    std::optional<FleetContext> fleet_;
    FleetHealth fleet_health_;
    fleet::FleetBlockBuilder fleet_blocks_;
};

}  // namespace canaryd::io
