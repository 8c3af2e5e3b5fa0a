#include "io/config_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace canaryd::io {

config::LoadResult load_config_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        config::LoadResult result;
        result.errors.push_back({1, 1, "", std::string("cannot read the file: ") + std::strerror(errno)});
        return result;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return config::load_config(text.str());
}

std::string format_errors(const std::string& path, const config::LoadResult& result) {
    std::string out;
    for (const auto& error : result.errors) out += config::format_error(path, error) + "\n";
    return out;
}

}  // namespace canaryd::io
