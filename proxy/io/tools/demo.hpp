// `canaryd --demo`: an embedded config and two built-in backends, so a newcomer sees the
// split with nothing to write.
#pragma once

#include <cstdint>
#include <string>

namespace canaryd::io {

// The demo config with the backends' ports filled in.
std::string demo_config_yaml(const std::string& listen, const std::string& admin, std::uint16_t stable_port,
                             std::uint16_t canary_port);

// Runs the demo until SIGINT/SIGTERM. Returns the exit code.
int run_demo(const std::string& listen, const std::string& admin);

}  // namespace canaryd::io
