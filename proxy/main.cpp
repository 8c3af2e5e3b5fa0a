// canaryd entry point: argv -> command; start-up exceptions end here with a clear message.
#include "core/cli/arguments.hpp"
#include "io/server/app.hpp"
#include "io/server/commands.hpp"

#include <malloc.h>

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
    // Per-exchange buffers are freed and reallocated constantly; without this, glibc hands
    // freed memory back to the kernel (madvise) and faults it in again on the next request.
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    const std::vector<std::string> args(argv + 1, argv + argc);
    const auto parsed = canaryd::cli::parse_arguments(args);
    if (!parsed) {
        std::cerr << "canaryd: " << parsed.message() << "\n" << canaryd::cli::usage();
        return 2;
    }
    try {
        return canaryd::io::run_command(*parsed);
    } catch (const canaryd::io::StartupError& e) {
        std::cerr << "canaryd: " << e.what() << "\n";
    } catch (const std::exception& e) {
        std::cerr << "canaryd: fatal: " << e.what() << "\n";
    }
    return 1;
}
