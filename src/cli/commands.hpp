// The subcommands of `ehlo`, each in its own file.
#pragma once

#include <string>

namespace ehlo::cli {

struct ServeOptions {
    std::string config_file;  // empty: the embedded defaults
    bool dialog = false;
};

int serve(const ServeOptions& options);               // ehlo serve
int check_config(const std::string& file);            // ehlo check-config FILE

}  // namespace ehlo::cli
