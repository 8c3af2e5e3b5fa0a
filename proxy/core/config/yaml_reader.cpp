#include "core/config/yaml_reader.hpp"

#include "core/config/units.hpp"

#include <algorithm>
#include <charconv>
#include <set>

namespace canaryd::config {
namespace {

// Levenshtein distance, for "did you mean" hints on misspelt keys.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0u : 1u)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Null: return "nothing";
        case YAML::NodeType::Scalar: {
            // Echo a little of the value, not a whole file of junk (load_config escapes it).
            const std::string& value = node.Scalar();
            return "'" + (value.size() > 80 ? value.substr(0, 80) + "..." : value) + "'";
        }
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Map: return "a map";
        case YAML::NodeType::Undefined: break;
    }
    return "nothing";
}

}  // namespace

std::string format_error(std::string_view file, const ConfigError& error) {
    std::string out(file);
    out += ':' + std::to_string(error.line) + ':' + std::to_string(error.column) + ": ";
    if (!error.path.empty()) out += error.path + ": ";
    out += error.message;
    return out;
}

void YamlReader::error_at(const YAML::Mark& mark, const std::string& path, std::string message) {
    ConfigError e;
    // yaml-cpp marks are 0-based; a node without a position reports the file start.
    e.line = mark.line >= 0 ? mark.line + 1 : 1;
    e.column = mark.column >= 0 ? mark.column + 1 : 1;
    e.path = path;
    e.message = std::move(message);
    errors_.push_back(std::move(e));
}

void YamlReader::error(const YAML::Node& at, const std::string& path, std::string message) {
    error_at(at.IsDefined() ? at.Mark() : YAML::Mark::null_mark(), path, std::move(message));
}

std::optional<std::string> YamlReader::scalar(const YAML::Node& node, const std::string& path,
                                              const char* expected) {
    if (!node.IsScalar()) {
        error(node, path, std::string("expected ") + expected + ", got " + describe(node));
        return std::nullopt;
    }
    return node.Scalar();
}

std::optional<std::string> YamlReader::string(const YAML::Node& node, const std::string& path) {
    return scalar(node, path, "a string");
}

std::optional<std::string> YamlReader::non_empty_string(const YAML::Node& node, const std::string& path) {
    auto value = string(node, path);
    if (value && value->empty()) {
        error(node, path, "must not be empty");
        return std::nullopt;
    }
    return value;
}

std::optional<std::uint64_t> YamlReader::uint(const YAML::Node& node, const std::string& path,
                                              std::uint64_t min, std::uint64_t max) {
    auto text = scalar(node, path, "an integer");
    if (!text) return std::nullopt;
    std::uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (text->empty() || ec != std::errc{} || ptr != text->data() + text->size()) {
        error(node, path, "expected a non-negative integer, got '" + *text + "'");
        return std::nullopt;
    }
    if (value < min || value > max) {
        error(node, path, "value " + *text + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
        return std::nullopt;
    }
    return value;
}

std::optional<bool> YamlReader::boolean(const YAML::Node& node, const std::string& path) {
    auto text = scalar(node, path, "true or false");
    if (!text) return std::nullopt;
    if (*text == "true") return true;
    if (*text == "false") return false;
    error(node, path, "expected true or false, got '" + *text + "'");
    return std::nullopt;
}

std::optional<Duration> YamlReader::duration(const YAML::Node& node, const std::string& path) {
    auto text = scalar(node, path, "a duration");
    if (!text) return std::nullopt;
    auto parsed = parse_duration(*text);
    if (!parsed) {
        error(node, path, parsed.message());
        return std::nullopt;
    }
    return *parsed;
}

std::optional<std::uint64_t> YamlReader::size(const YAML::Node& node, const std::string& path, std::uint64_t min,
                                              std::uint64_t max) {
    auto text = scalar(node, path, "a size");
    if (!text) return std::nullopt;
    auto parsed = parse_size(*text);
    if (!parsed) {
        error(node, path, parsed.message());
        return std::nullopt;
    }
    if (*parsed < min || *parsed > max) {
        error(node, path, "size '" + *text + "' is out of range " + std::to_string(min) + ".." +
                              std::to_string(max) + " bytes");
        return std::nullopt;
    }
    return *parsed;
}

std::optional<std::uint32_t> YamlReader::weight_bp(const YAML::Node& node, const std::string& path) {
    auto text = scalar(node, path, "a weight in percent");
    if (!text) return std::nullopt;
    auto parsed = parse_weight_bp(*text);
    if (!parsed) {
        error(node, path, parsed.message());
        return std::nullopt;
    }
    return *parsed;
}

std::optional<HostPort> YamlReader::host_port(const YAML::Node& node, const std::string& path,
                                              bool allow_port_zero) {
    auto text = scalar(node, path, "an address host:port");
    if (!text) return std::nullopt;
    auto parsed = parse_host_port(*text, allow_port_zero);
    if (!parsed) {
        error(node, path, parsed.message());
        return std::nullopt;
    }
    return *parsed;
}

bool YamlReader::expect_sequence(const YAML::Node& node, const std::string& path) {
    if (node.IsSequence()) return true;
    error(node, path, "expected a list, got " + describe(node));
    return false;
}

MapFields::MapFields(YamlReader& reader, const YAML::Node& node, std::string path,
                     std::initializer_list<std::string_view> known_keys)
    : reader_(reader), node_(node), path_(std::move(path)) {
    if (!node.IsMap()) {
        reader_.error(node, path_, "expected a map, got " + describe(node));
        return;
    }
    valid_ = true;
    std::set<std::string, std::less<>> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
        const YAML::Node key = it->first;
        if (!key.IsScalar()) {
            reader_.error(key, path_, "keys must be plain strings");
            continue;
        }
        const std::string& name = key.Scalar();
        const std::string key_path = path_of(name);
        if (!seen.insert(name).second) {
            reader_.error(key, key_path, "duplicate key");
            continue;
        }
        if (std::find(known_keys.begin(), known_keys.end(), name) != known_keys.end()) continue;
        std::string message = "unknown key";
        std::string_view best;
        std::size_t best_distance = 3;
        for (auto candidate : known_keys) {
            const auto d = edit_distance(name, candidate);
            if (d < best_distance) {
                best_distance = d;
                best = candidate;
            }
        }
        if (!best.empty()) message += " (did you mean '" + std::string(best) + "'?)";
        reader_.error(key, key_path, std::move(message));
    }
}

YAML::Node MapFields::get(std::string_view key) const {
    if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
    for (auto it = node_.begin(); it != node_.end(); ++it)
        if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
    return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node MapFields::require(std::string_view key) const {
    YAML::Node value = get(key);
    if (valid_ && !value.IsDefined()) reader_.error(node_, path_of(key), "missing required key");
    return value;
}

std::string MapFields::path_of(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

}  // namespace canaryd::config
