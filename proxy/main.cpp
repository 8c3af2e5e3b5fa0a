// canaryd entry point: argv -> command; start-up exceptions end here with a clear message.
#include "cli/arguments.hpp"
#include "io/app.hpp"
#include "io/commands.hpp"

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    const auto parsed = canaryd::cli::parse_arguments(args);
    if (!parsed.error.empty()) {
        std::cerr << "canaryd: " << parsed.error << "\n" << canaryd::cli::usage();
        return 2;
    }
    try {
        return canaryd::io::run_command(parsed.arguments);
    } catch (const canaryd::io::StartupError& e) {
        std::cerr << "canaryd: " << e.what() << "\n";
    } catch (const std::exception& e) {
        std::cerr << "canaryd: fatal: " << e.what() << "\n";
    }
    return 1;
}
