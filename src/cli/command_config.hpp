// The configuration a command runs with: FILE's, or the embedded defaults when none is named.
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"

namespace ehlo::cli {

// nullopt, with the problem and its line on standard error, when FILE cannot be used.
std::optional<config::Config> command_config(const std::string& file);

}  // namespace ehlo::cli
