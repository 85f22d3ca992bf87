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

    CLI11_PARSE(app, argc, argv);

    if (serve_cmd->parsed()) return ehlo::cli::serve(serve);
    if (check_cmd->parsed()) return ehlo::cli::check_config(check_file);
    return 2;
}
