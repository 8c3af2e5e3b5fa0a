#include "io/server/commands.hpp"

#include "io/control/config_file.hpp"
#include "io/server/app.hpp"
#include "io/tools/ctl.hpp"
#include "io/tools/demo.hpp"

#include <iostream>

namespace canaryd::io {

namespace {

int check_config(const std::string& path) {
    auto result = load_config_file(path);
    if (!result.ok()) {
        std::cerr << format_errors(path, result);
        return 1;
    }
    std::cout << path << ": ok (" << result.config->routes.size() << " route"
              << (result.config->routes.size() == 1 ? "" : "s") << ")\n";
    return 0;
}

int run_proxy(const std::string& path) {
    AppOptions options;
    auto result = load_config_file(path, &options.config_text);
    if (!result.ok()) throw StartupError("invalid configuration:\n" + format_errors(path, result));
    options.config_path = path;
    options.handle_signals = true;
    App app(result.config, options);
    app.start();
    return app.run();
}

}  // namespace

int run_command(const cli::Arguments& arguments) {
    switch (arguments.mode) {
        case cli::Mode::check_config: return check_config(arguments.config_path);
        case cli::Mode::run: return run_proxy(arguments.config_path);
        case cli::Mode::demo: return run_demo({arguments.listen, arguments.demo_admin, arguments.token_file});
        case cli::Mode::ctl: return run_ctl(arguments);
        case cli::Mode::version: std::cout << "canaryd " << CANARYD_VERSION << "\n"; return 0;
        case cli::Mode::help: std::cout << cli::usage(); return 0;
    }
    return 2;
}

}  // namespace canaryd::io
