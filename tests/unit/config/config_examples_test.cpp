// Every example in config/ must load, so the samples operators copy never rot.
#include "core/config/loader.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace canaryd::config;

namespace {

LoadResult load_example(const std::string& name) {
    std::ifstream in(std::string(CANARYD_CONFIG_DIR) + "/" + name);
    REQUIRE(in.good());
    std::ostringstream text;
    text << in.rdbuf();
    return load_config(text.str());
}

}  // namespace

TEST_CASE("config/sidecar.yaml loads") {
    auto result = load_example("sidecar.yaml");
    for (const auto& e : result.errors) INFO(format_error("sidecar.yaml", e));
    REQUIRE(result.ok());
    REQUIRE(result.config->routes.size() == 1);
    CHECK(result.config->routes[0].match.host.empty());  // a sidecar matches everything
    CHECK(result.config->routes[0].canary);
}

TEST_CASE("config/edge-gateway.yaml loads") {
    auto result = load_example("edge-gateway.yaml");
    for (const auto& e : result.errors) INFO(format_error("edge-gateway.yaml", e));
    REQUIRE(result.ok());
    CHECK(result.config->routes.size() >= 3);
    CHECK(result.config->listeners.size() >= 1);
}

TEST_CASE("every file in config/ loads") {
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(CANARYD_CONFIG_DIR)) {
        if (entry.path().extension() != ".yaml") continue;
        ++files;
        auto result = load_example(entry.path().filename().string());
        for (const auto& e : result.errors) INFO(format_error(entry.path().string(), e));
        CHECK(result.ok());
    }
    CHECK(files >= 2);
}

TEST_CASE("config/fleet.yaml loads, with both fleet engines") {
    auto result = load_example("fleet.yaml");
    for (const auto& e : result.errors) INFO(format_error("fleet.yaml", e));
    REQUIRE(result.ok());
    REQUIRE(result.config->fleet);
    CHECK(result.config->fleet->prometheus);
    REQUIRE(result.config->fleet->etcd);
    CHECK(result.config->fleet->etcd->endpoints.size() == 3);
}
