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

    ehlo::cli::DkimCommand dkim;
    auto* dkim_cmd = app.add_subcommand("dkim", "DKIM keys, signing and verification (RFC 6376, RFC 8463)");
    dkim_cmd->require_subcommand(1);
    auto* keygen_cmd = dkim_cmd->add_subcommand("keygen", "Make a signing key and print the DNS TXT record to publish");
    keygen_cmd->add_option("domain", dkim.domain, "signing domain (d=)")->required();
    keygen_cmd->add_option("selector", dkim.selector, "selector (s=)")->required();
    keygen_cmd->add_flag("--ed25519", dkim.ed25519, "an Ed25519 key (RFC 8463) instead of RSA");
    keygen_cmd->add_option("--bits", dkim.bits, "RSA key size (at least 2048)");
    keygen_cmd->add_option("--out", dkim.out, "key file to create, mode 0600 (default SELECTOR.DOMAIN.pem)");
    keygen_cmd->callback([&dkim] { dkim.action = "keygen"; });
    auto* sign_cmd = dkim_cmd->add_subcommand("sign", "Write FILE to standard output with a DKIM-Signature");
    sign_cmd->add_option("--domain", dkim.domain, "signing domain (d=)")->required();
    sign_cmd->add_option("--selector", dkim.selector, "selector (s=)")->required();
    sign_cmd->add_option("--key", dkim.key, "PEM private key, RSA or Ed25519")->required();
    sign_cmd->add_option("file", dkim.file, "the message")->required();
    sign_cmd->callback([&dkim] { dkim.action = "sign"; });
    auto* verify_cmd = dkim_cmd->add_subcommand("verify", "Each signature's verdict and why; exit 0 only if one passes");
    verify_cmd->add_option("file", dkim.file, "the message")->required();
    verify_cmd->callback([&dkim] { dkim.action = "verify"; });
    for (auto* sub : {keygen_cmd, sign_cmd, verify_cmd})
        sub->add_option("-c,--config", dkim.config_file, "TOML configuration file: its [dns] settings");

    ehlo::cli::SpfCommand spf;
    auto* spf_cmd = app.add_subcommand("spf", "SPF verdict (RFC 7208) and its path of evaluation");
    spf_cmd->add_option("ip", spf.ip, "client address")->required();
    spf_cmd->add_option("sender", spf.sender, "MAIL FROM address (\"<>\" for the null sender)")->required();
    spf_cmd->add_option("helo", spf.helo, "EHLO name");
    spf_cmd->add_option("-c,--config", spf.config_file, "TOML configuration file: its [dns] settings");

    ehlo::cli::DmarcCommand dmarc;
    auto* dmarc_cmd = app.add_subcommand("dmarc", "DMARC verdict for a stored message (RFC 7489), with the reasons");
    dmarc_cmd->add_option("file", dmarc.file, "the message")->required();
    dmarc_cmd->add_option("--ip", dmarc.ip, "client address, to check SPF");
    dmarc_cmd->add_option("--mail-from", dmarc.mail_from, "MAIL FROM address");
    dmarc_cmd->add_option("--helo", dmarc.helo, "EHLO name");
    dmarc_cmd->add_option("-c,--config", dmarc.config_file, "TOML configuration file: its [dns] settings");

    CLI11_PARSE(app, argc, argv);

    if (serve_cmd->parsed()) return ehlo::cli::serve(serve);
    if (check_cmd->parsed()) return ehlo::cli::check_config(check_file);
    if (queue_cmd->parsed()) return ehlo::cli::queue_command(queue);
    if (dkim_cmd->parsed()) return ehlo::cli::dkim_command(dkim);
    if (spf_cmd->parsed()) return ehlo::cli::spf_command(spf);
    if (dmarc_cmd->parsed()) return ehlo::cli::dmarc_command(dmarc);
    return 2;
}
