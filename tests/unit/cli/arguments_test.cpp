#include "core/cli/arguments.hpp"

#include <doctest/doctest.h>

using namespace canaryd::cli;

TEST_CASE("command line forms") {
    auto run = parse_arguments({"--config", "/etc/canaryd.yaml"});
    CHECK(run.ok());
    CHECK(run->mode == Mode::run);
    CHECK(run->config_path == "/etc/canaryd.yaml");

    auto check = parse_arguments({"--check-config", "x.yaml"});
    CHECK(check->mode == Mode::check_config);
    CHECK(check->config_path == "x.yaml");

    auto demo = parse_arguments({"--demo", "--listen", "127.0.0.1:9000"});
    CHECK(demo.ok());
    CHECK(demo->mode == Mode::demo);
    CHECK(demo->listen == "127.0.0.1:9000");
    CHECK(demo->demo_admin.empty());
    auto moved = parse_arguments({"--demo", "--admin", "127.0.0.1:9902"});
    REQUIRE(moved.ok());
    CHECK(moved->demo_admin == "127.0.0.1:9902");
    CHECK_FALSE(parse_arguments({"--config", "x", "--admin", "127.0.0.1:9902"}).ok());
    CHECK_FALSE(parse_arguments({"--demo", "--admin"}).ok());
    // The demo's admin may be guarded by a token, as the dashboard's buttons then need one.
    auto guarded = parse_arguments({"--demo", "--admin", "127.0.0.1:0", "--token-file", "/tmp/t"});
    REQUIRE(guarded.ok());
    CHECK(guarded->token_file == "/tmp/t");
    CHECK_FALSE(parse_arguments({"--config", "x", "--token-file", "/tmp/t"}).ok());
    CHECK_FALSE(parse_arguments({"--demo", "--token-file"}).ok());

    CHECK(parse_arguments({"--version"})->mode == Mode::version);
    CHECK(parse_arguments({"--help"})->mode == Mode::help);
}

TEST_CASE("command line errors") {
    CHECK_FALSE(parse_arguments({}).ok());
    CHECK(parse_arguments({"--config"}).message().find("needs a value") != std::string::npos);
    CHECK(parse_arguments({"--frobnicate"}).message().find("unknown argument") != std::string::npos);
    CHECK_FALSE(parse_arguments({"--demo", "--config", "x"}).ok());
    CHECK_FALSE(parse_arguments({"--config", "x", "--listen", "y"}).ok());
}

TEST_CASE("ctl command lines: status --fleet asks GET /fleet") {
    auto fleet = parse_arguments({"ctl", "status", "--fleet", "--admin", "http://10.0.0.1:9901"});
    REQUIRE(fleet.ok());
    CHECK(fleet->mode == Mode::ctl);
    CHECK(fleet->ctl.method == "GET");
    CHECK(fleet->ctl.path == "/fleet");
    CHECK(fleet->admin_url == "http://10.0.0.1:9901");
    CHECK(parse_arguments({"ctl", "status"})->ctl.path == "/status");
    CHECK_FALSE(parse_arguments({"ctl", "rollback", "--fleet"}).ok());  // --fleet is for status only
}
