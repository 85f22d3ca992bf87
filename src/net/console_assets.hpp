// The console's style sheet and script, served from memory under /static/ (no build step,
// nothing from elsewhere).
#pragma once

#include <optional>
#include <string_view>

namespace ehlo::net {

struct StaticAsset {
    std::string_view content_type;
    std::string_view body;
};

// "/static/console.js", "/static/console.css", "/static/icon.svg" (and "/favicon.ico");
// nothing for any other path.
std::optional<StaticAsset> static_asset(std::string_view path);

}  // namespace ehlo::net
