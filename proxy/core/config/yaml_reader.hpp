// Strict typed reads from a yaml-cpp tree that collect every problem with its position
// instead of stopping at the first. Used only by the loader; yaml-cpp stays inside it.
#pragma once

#include "core/config/config.hpp"
#include "core/config/config_error.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace canaryd::config {

class YamlReader {
public:
    explicit YamlReader(std::vector<ConfigError>& errors) : errors_(errors) {}

    void error(const YAML::Node& at, const std::string& path, std::string message);
    void error_at(const YAML::Mark& mark, const std::string& path, std::string message);

    std::optional<std::string> string(const YAML::Node& node, const std::string& path);
    std::optional<std::string> non_empty_string(const YAML::Node& node, const std::string& path);
    std::optional<std::uint64_t> uint(const YAML::Node& node, const std::string& path, std::uint64_t min,
                                      std::uint64_t max);
    std::optional<bool> boolean(const YAML::Node& node, const std::string& path);
    std::optional<Duration> duration(const YAML::Node& node, const std::string& path);
    std::optional<std::uint64_t> size(const YAML::Node& node, const std::string& path, std::uint64_t min,
                                      std::uint64_t max);
    std::optional<std::uint32_t> weight_bp(const YAML::Node& node, const std::string& path);
    std::optional<HostPort> host_port(const YAML::Node& node, const std::string& path, bool allow_port_zero);

    // False (and an error) unless the node is a sequence.
    bool expect_sequence(const YAML::Node& node, const std::string& path);

private:
    std::optional<std::string> scalar(const YAML::Node& node, const std::string& path, const char* expected);

    std::vector<ConfigError>& errors_;
};

// The keys of one YAML mapping, checked against the keys it may hold. Construction reports
// a non-map node, unknown keys (with a "did you mean" hint) and duplicate keys.
class MapFields {
public:
    MapFields(YamlReader& reader, const YAML::Node& node, std::string path,
              std::initializer_list<std::string_view> known_keys);

    bool valid() const { return valid_; }
    // The value under `key`, or an undefined node when absent.
    YAML::Node get(std::string_view key) const;
    bool has(std::string_view key) const { return get(key).IsDefined(); }
    // Reports "missing required key" at the map itself when absent.
    YAML::Node require(std::string_view key) const;
    std::string path_of(std::string_view key) const;
    const std::string& path() const { return path_; }
    const YAML::Node& node() const { return node_; }

private:
    YamlReader& reader_;
    YAML::Node node_;
    std::string path_;
    bool valid_ = false;
};

}  // namespace canaryd::config
