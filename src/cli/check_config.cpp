// `ehlo check-config FILE`: the configuration, then the files it names (alias files, the SRS
// secret), each problem as FILE:LINE: message.
#include <iostream>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "policy/policy.hpp"

namespace ehlo::cli {

int check_config(const std::string& file) {
    auto result = config::load_file(file);
    if (result.error) {
        std::cerr << result.error->str() << "\n";
        return 1;
    }
    const auto problems = policy::check_policy_files(*result.config);
    for (const auto& problem : problems) std::cerr << problem << "\n";
    if (!problems.empty()) return 1;
    std::cout << file << ": ok\n";
    return 0;
}

}  // namespace ehlo::cli
