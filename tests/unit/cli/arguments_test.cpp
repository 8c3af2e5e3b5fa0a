#include "cli/arguments.hpp"

#include <doctest/doctest.h>

using namespace canaryd::cli;

TEST_CASE("command line forms") {
    auto run = parse_arguments({"--config", "/etc/canaryd.yaml"});
    CHECK(run.error.empty());
    CHECK(run.arguments.mode == Mode::run);
    CHECK(run.arguments.config_path == "/etc/canaryd.yaml");

    auto check = parse_arguments({"--check-config", "x.yaml"});
    CHECK(check.arguments.mode == Mode::check_config);
    CHECK(check.arguments.config_path == "x.yaml");

    auto demo = parse_arguments({"--demo", "--listen", "127.0.0.1:9000"});
    CHECK(demo.error.empty());
    CHECK(demo.arguments.mode == Mode::demo);
    CHECK(demo.arguments.listen == "127.0.0.1:9000");

    CHECK(parse_arguments({"--version"}).arguments.mode == Mode::version);
    CHECK(parse_arguments({"--help"}).arguments.mode == Mode::help);
}

TEST_CASE("command line errors") {
    CHECK_FALSE(parse_arguments({}).error.empty());
    CHECK(parse_arguments({"--config"}).error.find("needs a value") != std::string::npos);
    CHECK(parse_arguments({"--frobnicate"}).error.find("unknown argument") != std::string::npos);
    CHECK_FALSE(parse_arguments({"--demo", "--config", "x"}).error.empty());
    CHECK_FALSE(parse_arguments({"--config", "x", "--listen", "y"}).error.empty());
}
