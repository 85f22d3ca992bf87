// The subcommands of `ehlo`, each in its own file.
#pragma once

#include <string>

namespace ehlo::cli {

struct ServeOptions {
    std::string config_file;  // empty: the embedded defaults
    bool dialog = false;
};

struct QueueCommand {
    std::string config_file;  // empty: the embedded defaults
    std::string action;       // list, show, flush, hold, release, delete
    std::string argument;     // queue id (or domain for flush)
};

struct AliasesCommand {
    std::string config_file;  // empty: the embedded defaults
    std::string address;
    bool trusted = false;     // answer as for a client in relay.trusted_networks
};

int serve(const ServeOptions& options);               // ehlo serve
int check_config(const std::string& file);            // ehlo check-config FILE
int queue_command(const QueueCommand& command);       // ehlo queue ACTION [ARG]
int aliases_command(const AliasesCommand& command);   // ehlo aliases ADDRESS

}  // namespace ehlo::cli
