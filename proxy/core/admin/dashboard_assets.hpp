// The dashboard's files (proxy/dashboard/), embedded in the binary at build time by
// cmake/embed_files.cmake so that GET / needs nothing on disk and nothing from the network
// (SPEC §10). The definition is generated into the build tree.
#pragma once

#include <string_view>

namespace canaryd::admin {

struct DashboardAsset {
    std::string_view path;  // as requested: "/", "/dashboard.js", ...
    std::string_view content_type;
    std::string_view body;
};

// nullptr for a path that is not one of the dashboard's files.
const DashboardAsset* find_dashboard_asset(std::string_view path);

}  // namespace canaryd::admin
