#include <iostream>

#include "cli/commands.hpp"
#include "config/config.hpp"

namespace ehlo::cli {

int check_config(const std::string& file) {
    auto result = config::load_file(file);
    if (result.error) {
        std::cerr << result.error->str() << "\n";
        return 1;
    }
    std::cout << file << ": ok\n";
    return 0;
}

}  // namespace ehlo::cli
