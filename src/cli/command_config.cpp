#include "cli/command_config.hpp"

#include <iostream>

namespace ehlo::cli {

std::optional<config::Config> command_config(const std::string& file) {
    if (file.empty()) return config::Config{};
    auto loaded = config::load_file(file);
    if (loaded.error) {
        std::cerr << loaded.error->str() << "\n";
        return std::nullopt;
    }
    return std::move(*loaded.config);
}

}  // namespace ehlo::cli
