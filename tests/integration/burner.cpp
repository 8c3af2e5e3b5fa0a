// A stand-in backend process for the signal tests: touches --mib MiB of memory, writes its
// pid to --pid-file, then burns one core until it is killed.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

int main(int argc, char** argv) {
    std::size_t mib = 64;
    std::string pid_file;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--mib") == 0) mib = std::strtoul(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--pid-file") == 0) pid_file = argv[i + 1];
    }
    std::vector<char> memory(mib << 20);
    for (std::size_t i = 0; i < memory.size(); i += 4096) memory[i] = static_cast<char>(i);
    if (!pid_file.empty()) {
        if (FILE* f = std::fopen(pid_file.c_str(), "w")) {
            std::fprintf(f, "%d\n", static_cast<int>(getpid()));
            std::fclose(f);
        }
    }
    volatile unsigned long spin = 0;
    while (true) spin = spin + memory[spin % memory.size()];
}
