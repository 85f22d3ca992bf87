// The `ehlo` command: one binary, one subcommand per job.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
    CLI::App app{"ehlo: an SMTP mail server"};
    app.require_subcommand(1);
    app.set_version_flag("--version", EHLO_VERSION);

    ehlo::cli::ServeOptions serve;
    auto* serve_cmd = app.add_subcommand("serve", "Receive and deliver mail (runs in the foreground)");
    serve_cmd->add_option("-c,--config", serve.config_file, "TOML configuration file (default: embedded defaults)");
    serve_cmd->add_flag("--dialog", serve.dialog, "Log every SMTP command and reply (never message content)");

    std::string check_file;
    auto* check_cmd = app.add_subcommand("check-config", "Validate a configuration file and exit");
    check_cmd->add_option("file", check_file, "TOML configuration file")->required();

    ehlo::cli::QueueCommand queue;
    auto* queue_cmd = app.add_subcommand("queue", "Show and steer the queue of the running daemon");
    queue_cmd->add_option("-c,--config", queue.config_file, "TOML configuration file (default: embedded defaults)");
    queue_cmd->require_subcommand(1);
    struct Action { const char* name; const char* help; bool argument; bool required; };
    const Action actions[] = {
        {"list", "Every queued message: id, age, size, sender, recipients, state, next attempt, last error (also works read-only when the daemon is down)", false, false},
        {"show", "One message: envelope, headers and every delivery attempt with the peer's reply", true, true},
        {"flush", "Try deferred mail now: all, one message (ID) or one recipient domain", true, false},
        {"hold", "Stop delivery attempts for a message until released", true, true},
        {"release", "Let a held message be delivered again", true, true},
        {"delete", "Remove a message from the queue without a bounce", true, true},
    };
    for (const auto& a : actions) {
        auto* sub = queue_cmd->add_subcommand(a.name, a.help);
        sub->callback([&queue, name = a.name] { queue.action = name; });
        if (a.argument) {
            auto* opt = sub->add_option("target", queue.argument, "queue id (or, for flush, a domain)");
            if (a.required) opt->required();
        }
    }

    ehlo::cli::AliasesCommand aliases;
    auto* aliases_cmd = app.add_subcommand("aliases", "Show what an address expands to and where each result is delivered");
    aliases_cmd->add_option("address", aliases.address, "the address, as in RCPT TO")->required();
    aliases_cmd->add_option("-c,--config", aliases.config_file, "TOML configuration file (default: embedded defaults)");
    aliases_cmd->add_flag("--trusted", aliases.trusted, "Answer as for a client in relay.trusted_networks");

    CLI11_PARSE(app, argc, argv);

    if (serve_cmd->parsed()) return ehlo::cli::serve(serve);
    if (check_cmd->parsed()) return ehlo::cli::check_config(check_file);
    if (queue_cmd->parsed()) return ehlo::cli::queue_command(queue);
    if (aliases_cmd->parsed()) return ehlo::cli::aliases_command(aliases);
    return 2;
}
