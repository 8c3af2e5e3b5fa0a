#include "core/text/hosts_file.hpp"

#include "core/text/trim.hpp"

#include <algorithm>

namespace canaryd::text {

namespace {

bool same_name(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

// Splits at spaces and tabs; empty fields are skipped.
std::vector<std::string_view> fields_of(std::string_view line) {
    std::vector<std::string_view> fields;
    while (true) {
        line = trim_ows(line);
        if (line.empty()) return fields;
        const auto end = std::min(line.find(' '), line.find('\t'));
        fields.push_back(line.substr(0, end));
        if (end == std::string_view::npos) return fields;
        line.remove_prefix(end);
    }
}

}  // namespace

std::vector<std::string> hosts_addresses(std::string_view table, std::string_view name) {
    std::vector<std::string> addresses;
    while (!table.empty()) {
        const auto end = table.find('\n');
        auto line = table.substr(0, end);
        table.remove_prefix(end == std::string_view::npos ? table.size() : end + 1);
        line = trim_space(line.substr(0, line.find('#')));
        const auto fields = fields_of(line);
        if (fields.size() < 2) continue;
        const bool listed = std::any_of(fields.begin() + 1, fields.end(), [&](std::string_view f) { return same_name(f, name); });
        if (listed && std::find(addresses.begin(), addresses.end(), fields[0]) == addresses.end())
            addresses.emplace_back(fields[0]);
    }
    return addresses;
}

}  // namespace canaryd::text
