#include "core/admin/dispatch.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace canaryd;
using admin::Credentials;

namespace {

// The process as the admin API sees it, in memory; records what it was asked to do.
struct FakeProcess final : admin::AdminBackend {
    bool is_draining = false;
    bool demo_mode = false;
    admin::ActionReply reply{200, "{\"changed\":true}\n"};
    std::vector<admin::ActionRequest> actions;
    std::vector<std::size_t> event_limits;
    std::vector<std::string> series_routes;

    bool draining() const override { return is_draining; }
    std::string status_json() override { return "{\"routes\":[]}"; }
    std::string metrics_text() override { return "canaryd_up 1\n"; }
    std::string events_json(std::size_t limit) override {
        event_limits.push_back(limit);
        return "[]";
    }
    admin::ActionReply series_json(std::string_view route) override {
        series_routes.emplace_back(route);
        if (route == "nope") return {404, "404 Not Found: no route nope\n"};
        return {200, "{\"route\":\"api\"}\n"};
    }
    std::optional<std::string> demo(const std::map<std::string, std::string>& query) override {
        if (!demo_mode) return std::nullopt;
        return "{\"error_rate\":\"" + query.at("error_rate") + "\"}";
    }
    admin::ActionReply act(const admin::ActionRequest& request) override {
        actions.push_back(request);
        return reply;
    }
};

admin::AdminResponse call(FakeProcess& process, std::string_view method, std::string_view target,
                          Credentials credentials = Credentials::not_required, std::string_view token_name = "") {
    return admin::dispatch({method, target, credentials, "10.0.0.7", token_name, "", "", ""}, process);
}

// A call as a browser makes it: with its Origin, Host and Sec-Fetch-Site.
admin::AdminResponse browser_call(FakeProcess& process, std::string_view target, std::string_view origin,
                                  std::string_view fetch_site, Credentials credentials = Credentials::operator_token) {
    return admin::dispatch({"POST", target, credentials, "127.0.0.1", "admin", origin, "127.0.0.1:9901", fetch_site},
                           process);
}

std::string header(const admin::AdminResponse& response, const std::string& name) {
    for (const auto& [n, v] : response.headers)
        if (n == name) return v;
    return "";
}

}  // namespace

TEST_CASE("admin dispatch: a mutating call without the token is refused before its path is looked at") {
    FakeProcess process;
    for (auto target : {"/rollback", "/no-such-endpoint", "/healthz"}) {
        const auto response = call(process, "POST", target, Credentials::invalid);
        CHECK(response.status == 401);
        CHECK(header(response, "WWW-Authenticate") == "Bearer realm=\"canaryd\"");
    }
    CHECK(process.actions.empty());
    // Reading needs no token.
    CHECK(call(process, "GET", "/status", Credentials::invalid).status == 200);
}

TEST_CASE("admin dispatch: read endpoints answer with their content types") {
    FakeProcess process;
    CHECK(call(process, "GET", "/healthz").body == "ok\n");
    CHECK(call(process, "GET", "/readyz").status == 200);
    process.is_draining = true;
    const auto draining = call(process, "GET", "/readyz");
    CHECK(draining.status == 503);
    CHECK(draining.body == "draining\n");
    const auto status = call(process, "GET", "/status");
    CHECK(status.content_type == "application/json");
    CHECK(status.body == "{\"routes\":[]}");
    CHECK(call(process, "GET", "/metrics").content_type == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("admin dispatch: /events?limit= is clamped to 1..256, 100 when absent") {
    FakeProcess process;
    for (auto target : {"/events", "/events?limit=5", "/events?limit=0", "/events?limit=100000",
                        "/events?limit=99999999999999999999", "/events?limit=-3", "/events?limit=abc", "/events?limit=7x"})
        CHECK(call(process, "GET", target).status == 200);
    CHECK(process.event_limits == std::vector<std::size_t>{100, 5, 1, 256, 256, 1, 1, 7});
}

TEST_CASE("admin dispatch: wrong methods and paths") {
    FakeProcess process;
    const auto wrong_method = call(process, "GET", "/rollback");
    CHECK(wrong_method.status == 405);
    CHECK(header(wrong_method, "Allow") == "POST");
    const auto unknown = call(process, "GET", "/nope");
    CHECK(unknown.status == 404);
    CHECK(unknown.body == "404 Not Found: no admin endpoint /nope\n");
    CHECK(call(process, "POST", "/demo?error_rate=5").status == 404);
    process.demo_mode = true;
    const auto demo = call(process, "POST", "/demo?error_rate=5");
    CHECK(demo.status == 200);
    CHECK(demo.body == "{\"error_rate\":\"5\"}");
}

TEST_CASE("admin dispatch: a viewer token reads but never mutates (403), no token is 401") {
    FakeProcess process;
    for (const char* target : {"/rollback?route=api", "/resume", "/weight?canary=5", "/nope"}) {
        CAPTURE(target);
        const auto refused = call(process, "POST", target, Credentials::viewer_token, "bob");
        CHECK(refused.status == 403);
        CHECK(refused.body.find("'bob' is a viewer") != std::string::npos);
        CHECK(call(process, "POST", target, Credentials::invalid).status == 401);
    }
    CHECK(process.actions.empty());
    CHECK(call(process, "GET", "/status", Credentials::viewer_token, "bob").status == 200);
    CHECK(call(process, "GET", "/events", Credentials::viewer_token, "bob").status == 200);
}

TEST_CASE("admin dispatch: operator actions carry the route, the weight and who acted") {
    FakeProcess process;
    const auto rollback = call(process, "POST", "/rollback?route=api", Credentials::operator_token, "alice");
    CHECK(rollback.status == 200);
    CHECK(rollback.content_type == "application/json");
    REQUIRE(process.actions.size() == 1);
    CHECK(process.actions[0].action == rollout::OperatorAction::rollback);
    CHECK(process.actions[0].route == "api");
    CHECK(process.actions[0].actor == "alice@10.0.0.7");  // the token's name (SPEC §10)

    CHECK(call(process, "POST", "/weight?canary=12.5").status == 200);
    REQUIRE(process.actions.size() == 2);
    CHECK(process.actions[1].action == rollout::OperatorAction::weight);
    CHECK(process.actions[1].weight_bp == 1250u);
    CHECK(process.actions[1].route.empty());
    CHECK(process.actions[1].actor == "operator@10.0.0.7");

    // A weight that is missing or out of range never reaches the process.
    CHECK(call(process, "POST", "/weight").status == 400);
    const auto bad = call(process, "POST", "/weight?canary=150");
    CHECK(bad.status == 400);
    CHECK(bad.body.starts_with("400 Bad Request: canary: "));
    CHECK(process.actions.size() == 2);

    // The process's refusal is passed on as it is, as text.
    process.reply = {409, "409 Conflict: route api is rolled back; resume it before setting a weight\n"};
    const auto refused = call(process, "POST", "/weight?canary=5");
    CHECK(refused.status == 409);
    CHECK(refused.content_type == "text/plain; charset=utf-8");
    CHECK(refused.body == process.reply.body);
}

TEST_CASE("admin dispatch: the dashboard's page and files come from the binary with their types") {
    FakeProcess process;
    const auto page = call(process, "GET", "/");
    CHECK(page.status == 200);
    CHECK(page.content_type == "text/html; charset=utf-8");
    CHECK(page.body.find("<script src=\"/dashboard.js\" defer></script>") != std::string::npos);
    // The policy forbids inline code, so the page must not carry any.
    CHECK(page.body.find("<script>") == std::string::npos);
    CHECK(page.body.find(" onclick=") == std::string::npos);
    CHECK(page.body.find(" style=") == std::string::npos);
    CHECK(call(process, "GET", "/?from=bookmark").status == 200);
    const auto script = call(process, "GET", "/dashboard.js");
    CHECK(script.content_type == "text/javascript; charset=utf-8");
    CHECK(script.body.find("fetch(") != std::string::npos);
    CHECK(call(process, "GET", "/dashboard.css").content_type == "text/css; charset=utf-8");
    CHECK(call(process, "GET", "/favicon.svg").content_type == "image/svg+xml");
    CHECK(call(process, "HEAD", "/").status == 200);
    CHECK(call(process, "POST", "/").status == 405);
}

TEST_CASE("admin dispatch: every answer forbids sniffing, framing and any source but the listener") {
    FakeProcess process;
    for (auto target : {"/", "/status", "/nope", "/dashboard.js"}) {
        CAPTURE(target);
        const auto response = call(process, "GET", target);
        CHECK(header(response, "X-Content-Type-Options") == "nosniff");
        const auto policy = header(response, "Content-Security-Policy");
        CHECK(policy.find("default-src 'none'") != std::string::npos);
        CHECK(policy.find("script-src 'self'") != std::string::npos);
        CHECK(policy.find("frame-ancestors 'none'") != std::string::npos);
        CHECK(policy.find("unsafe-inline") == std::string::npos);
        CHECK(header(response, "X-Frame-Options") == "DENY");
    }
    CHECK(header(call(process, "POST", "/rollback", Credentials::invalid), "X-Content-Type-Options") == "nosniff");
}

TEST_CASE("admin dispatch: /series passes the route on and the process's answer back") {
    FakeProcess process;
    const auto series = call(process, "GET", "/series?route=api");
    CHECK(series.status == 200);
    CHECK(series.content_type == "application/json");
    CHECK(call(process, "GET", "/series").status == 200);
    const auto unknown = call(process, "GET", "/series?route=nope");
    CHECK(unknown.status == 404);
    CHECK(unknown.content_type == "text/plain; charset=utf-8");
    CHECK(process.series_routes == std::vector<std::string>{"api", "", "nope"});
}

TEST_CASE("admin dispatch: another site cannot drive the operator's browser into an action (CSRF)") {
    FakeProcess process;
    // Refused whatever the credentials: the browser would have attached them for the attacker.
    for (auto credentials : {Credentials::operator_token, Credentials::not_required}) {
        const auto cross = browser_call(process, "/rollback", "https://evil.example", "cross-site", credentials);
        CHECK(cross.status == 403);
        CHECK(cross.body.find("cross-site") != std::string::npos);
        CHECK(browser_call(process, "/rollback", "http://127.0.0.1:8080", "same-site", credentials).status == 403);
        // An old browser without Fetch Metadata still sends Origin.
        CHECK(browser_call(process, "/pause", "http://evil.example", "", credentials).status == 403);
        CHECK(browser_call(process, "/pause", "null", "", credentials).status == 403);
    }
    CHECK(process.actions.empty());
    // The dashboard itself, and a call typed by the user, go through.
    CHECK(browser_call(process, "/rollback", "http://127.0.0.1:9901", "same-origin").status == 200);
    CHECK(browser_call(process, "/resume", "", "none").status == 200);
    CHECK(browser_call(process, "/resume", "HTTP://127.0.0.1:9901", "").status == 200);
    CHECK(process.actions.size() == 3);
    // The cross-site check comes before the token check: no hint whether a token was right.
    CHECK(browser_call(process, "/rollback", "https://evil.example", "cross-site", Credentials::invalid).status == 403);
    // Reading is not an action; the policy headers keep other sites from framing the page.
    CHECK(admin::dispatch({"GET", "/status", Credentials::not_required, "127.0.0.1", "", "https://evil.example",
                           "127.0.0.1:9901", "cross-site"},
                          process)
              .status == 200);
}

TEST_CASE("admin dispatch: GET /fleet exists in fleet mode only") {
    FakeProcess process;
    auto none = call(process, "GET", "/fleet");
    CHECK(none.status == 404);
    CHECK(none.body.find("fleet mode") != std::string::npos);
    struct FleetProcess final : admin::AdminBackend {
        bool draining() const override { return false; }
        std::string status_json() override { return "{}"; }
        std::string metrics_text() override { return ""; }
        std::string events_json(std::size_t) override { return "[]"; }
        admin::ActionReply series_json(std::string_view) override { return {404, ""}; }
        std::optional<std::string> demo(const std::map<std::string, std::string>&) override { return std::nullopt; }
        admin::ActionReply act(const admin::ActionRequest&) override { return {200, "{}"}; }
        std::optional<std::string> fleet_json() override { return "{\"fleet\":{}}"; }
    } fleet;
    auto ok = admin::dispatch({"GET", "/fleet", Credentials::viewer_token, "10.0.0.7", "ro", "", "", ""}, fleet);
    CHECK(ok.status == 200);
    CHECK(ok.content_type == "application/json");
    CHECK(admin::dispatch({"POST", "/fleet", Credentials::operator_token, "10.0.0.7", "op", "", "", ""}, fleet).status == 405);
}
