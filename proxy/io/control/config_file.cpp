#include "io/control/config_file.hpp"

#include "io/control/read_file.hpp"

#include <cstring>


namespace canaryd::io {

config::LoadResult load_config_file(const std::string& path, std::string* text) {
    const auto file = read_file(path);
    if (text) *text = file.ok() ? *file : std::string();
    if (!file.ok()) {
        config::LoadResult result;
        result.errors.push_back({1, 1, "", "cannot read the file: " + std::string(std::strerror(file.error().code))});
        return result;
    }
    return config::load_config(*file);
}

std::string format_errors(const std::string& path, const config::LoadResult& result) {
    std::string out;
    for (const auto& error : result.errors) out += config::format_error(path, error) + "\n";
    return out;
}

}  // namespace canaryd::io
