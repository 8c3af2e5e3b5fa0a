// `canaryd --demo`: an embedded config and two built-in backends, so a newcomer sees the
// split with nothing to write.
#pragma once

#include <cstdint>
#include <string>

namespace canaryd::io {

struct DemoOptions {
    std::string listen;      // empty: 127.0.0.1:8080
    std::string admin;       // empty: 127.0.0.1:9901
    std::string token_file;  // empty: actions need no token (the admin listener is loopback)
};

// The demo config with the backends' ports filled in.
std::string demo_config_yaml(const DemoOptions& options, std::uint16_t stable_port, std::uint16_t canary_port);

// Runs the demo until SIGINT/SIGTERM. Returns the exit code.
int run_demo(const DemoOptions& options);

}  // namespace canaryd::io
