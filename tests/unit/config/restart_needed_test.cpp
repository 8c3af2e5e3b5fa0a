#include "core/config/restart_needed.hpp"

#include "core/config/loader.hpp"

#include <doctest/doctest.h>

using namespace canaryd;

namespace {

config::Config load(const std::string& extra) {
    auto loaded = config::load_config("listeners: [{address: 127.0.0.1:0}]\nroutes:\n  - name: api\n"
                                      "    stable: {version: v1, endpoints: [127.0.0.1:1]}\n" + extra);
    REQUIRE(loaded.ok());
    return *loaded.config;
}

}  // namespace

TEST_CASE("restart needed: only threads, the admin listener's address, and the state file") {
    const auto running = load("threads: 2\nstate_file: /tmp/a.json\n");
    CHECK(config::restart_needed(running, running).empty());
    // Everything else is applied by the reload itself.
    CHECK(config::restart_needed(running, load("threads: 2\nstate_file: /tmp/a.json\naccess_log: stderr\n")).empty());
    // Tokens are re-read by the reload (SPEC §10).
    CHECK(config::restart_needed(running, load("threads: 2\nstate_file: /tmp/a.json\nadmin: {token_file: /t, tokens: "
                                               "[{name: bob, file: /b, role: viewer}]}\n"))
              .empty());

    const auto changed = config::restart_needed(
        running, load("threads: 4\nstate_file: /tmp/b.json\nadmin: {address: 127.0.0.1:9999}\n"));
    REQUIRE(changed.size() == 3);
    CHECK(changed[0].key == "threads");
    CHECK(changed[1].key == "admin");
    CHECK(changed[2].key == "state_file");
}
