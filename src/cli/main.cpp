// The `ehlo` command: one binary, one subcommand per job.
#include <CLI/CLI.hpp>

#include <signal.h>

#include <iostream>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
    // Every command writes to sockets or pipes whose reader may be gone: that is an error to
    // report (EPIPE), not a reason to die.
    ::signal(SIGPIPE, SIG_IGN);
    // sendmail(1) and mailq(1) keep their own options, which CLI11 would not take: installed
    // under those names (`make install`) or called as `ehlo sendmail`.
    const std::string_view self = argc > 0 ? std::string_view(argv[0]) : std::string_view();
    const std::string_view called = self.substr(self.rfind('/') == std::string_view::npos ? 0 : self.rfind('/') + 1);
    if (called == "sendmail" || called == "mailq") return ehlo::cli::sendmail_main(argc - 1, argv + 1, called == "mailq");
    if (argc > 1 && (std::string_view(argv[1]) == "sendmail" || std::string_view(argv[1]) == "mailq"))
        return ehlo::cli::sendmail_main(argc - 2, argv + 2, std::string_view(argv[1]) == "mailq");
    CLI::App app{"ehlo: an SMTP mail server"};
    app.require_subcommand(1);
    app.set_version_flag("--version", EHLO_VERSION);

    ehlo::cli::ServeOptions serve;
    auto* serve_cmd = app.add_subcommand("serve", "Receive and deliver mail (runs in the foreground)");
    serve_cmd->add_option("-c,--config", serve.config_file, "TOML configuration file (default: embedded defaults)");
    serve_cmd->add_flag("--dialog", serve.dialog, "Log every SMTP command and reply (never message content)");
    serve_cmd->add_option("--self-signed", serve.self_signed_dir,
                          "Without [tls] certificates: create (once) and use a self-signed certificate in this folder");

    // Listed for --help only: main() hands these to sendmail_main before CLI11 sees them.
    app.add_subcommand("sendmail", "sendmail(1) for local programs: -t -f -F -i/-oi -bm -bp -bs -q; see docs/sendmail.md");
    app.add_subcommand("mailq", "The queue, as sendmail -bp");

    std::string reload_config;
    auto* reload_cmd = app.add_subcommand("reload", "Make the running daemon read its certificates and keys again (as SIGHUP)");
    reload_cmd->add_option("-c,--config", reload_config, "TOML configuration file (default: embedded defaults)");

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
        {"bounce", "Return a message to its sender now: its recipients not yet done fail, and the sender gets a DSN", true, true},
    };
    for (const auto& a : actions) {
        auto* sub = queue_cmd->add_subcommand(a.name, a.help);
        sub->callback([&queue, name = a.name] { queue.action = name; });
        if (a.argument) {
            auto* opt = sub->add_option("target", queue.argument, "queue id (or, for flush, a domain)");
            if (a.required) opt->required();
        }
    }

    ehlo::cli::UserCommand user;
    auto* user_cmd = app.add_subcommand("user", "Manage the users of AUTH ([auth] users_file); passwords from a prompt or stdin");
    user_cmd->add_option("-c,--config", user.config_file, "TOML configuration file naming [auth] users_file");
    user_cmd->add_option("-f,--file", user.file, "The credentials file itself");
    user_cmd->require_subcommand(1);
    for (const char* name : {"add", "del", "passwd", "list"}) {
        auto* sub = user_cmd->add_subcommand(name, std::string(name) == "list" ? "List users and their hash schemes"
                                                   : std::string(name) == "del" ? "Remove a user"
                                                   : std::string(name) == "add" ? "Add a user (password read, not given)"
                                                                                 : "Change a user's password");
        sub->callback([&user, name] { user.action = name; });
        if (std::string(name) != "list") sub->add_option("name", user.name, "user name")->required();
        if (std::string(name) == "add" || std::string(name) == "passwd")
            sub->add_option("--senders", user.senders, "envelope senders the user may use: addresses or @domain, comma-separated");
    }
    ehlo::cli::TraceCommand trace;
    auto* trace_cmd = app.add_subcommand("trace", "The whole life of a message, from the history: where it is now and why");
    trace_cmd->add_option("target", trace.target, "A queue id, an address (sender or recipient) or a Message-ID")
        ->required();
    trace_cmd->add_option("--since", trace.since, "Only messages with events since then: 30m, 2h, 7d, 2024-05-01, \"2024-05-01 14:00\"");
    trace_cmd->add_flag("--json", trace.json, "Print the same as JSON");
    trace_cmd->add_option("--limit", trace.limit, "At most this many messages, the newest (default 20)")
        ->check(CLI::PositiveNumber);
    trace_cmd->add_option("-c,--config", trace.config_file, "TOML configuration file (default: embedded defaults)");
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
    dmarc_cmd->add_option("file", dmarc.file, "the message");
    auto* dmarc_report_cmd = dmarc_cmd->add_subcommand("report", "RFC 7489 aggregate report (XML) of one day, from the history");
    dmarc_report_cmd->add_option("--domain", dmarc.domain, "the policy domain the report is about")->required();
    dmarc_report_cmd->add_option("--day", dmarc.day, "the UTC day, YYYY-MM-DD (default: yesterday)");
    dmarc_report_cmd->add_option("-c,--config", dmarc.config_file, "TOML configuration file: where the history is");
    dmarc_cmd->add_option("--ip", dmarc.ip, "client address, to check SPF");
    dmarc_cmd->add_option("--mail-from", dmarc.mail_from, "MAIL FROM address");
    dmarc_cmd->add_option("--helo", dmarc.helo, "EHLO name");
    dmarc_cmd->add_option("-c,--config", dmarc.config_file, "TOML configuration file: its [dns] settings");
    ehlo::cli::TutorOptions tutor;
    auto* tutor_cmd = app.add_subcommand("tutor", "Learn SMTP by typing it: a client to any server that explains every reply");
    tutor_cmd->add_option("target", tutor.target, "HOST[:PORT] to talk to (default: the local ehlo, 127.0.0.1:2525)");
    tutor_cmd->add_option("-c,--config", tutor.config_file, "Talk to the first listener of this configuration");
    tutor_cmd->add_flag("--explain", tutor.explain, "Annotate a dialog read from standard input (a pasted transcript)");
    tutor_cmd->add_option("--timeout", tutor.timeout, "Seconds to wait for each reply")->check(CLI::Range(1, 3600));
    tutor_cmd->add_option("--name", tutor.client_name, "Host name in the example EHLO line");
    tutor_cmd->add_option("--from", tutor.sender, "Address in the example MAIL FROM line");
    tutor_cmd->add_option("--to", tutor.recipient, "Address in the example RCPT TO line");
    ehlo::cli::AliasesCommand aliases;
    auto* aliases_cmd = app.add_subcommand("aliases", "Show what an address expands to and where each result is delivered");
    aliases_cmd->add_option("address", aliases.address, "the address, as in RCPT TO")->required();
    aliases_cmd->add_option("-c,--config", aliases.config_file, "TOML configuration file (default: embedded defaults)");
    aliases_cmd->add_flag("--trusted", aliases.trusted, "Answer as for a client in relay.trusted_networks");

    CLI11_PARSE(app, argc, argv);

    if (serve_cmd->parsed()) return ehlo::cli::serve(serve);
    if (check_cmd->parsed()) return ehlo::cli::check_config(check_file);
    if (queue_cmd->parsed()) return ehlo::cli::queue_command(queue);
    if (reload_cmd->parsed()) return ehlo::cli::reload_command(reload_config);
    if (user_cmd->parsed()) return ehlo::cli::user_command(user);
    if (trace_cmd->parsed()) return ehlo::cli::trace_command(trace);
    if (dkim_cmd->parsed()) return ehlo::cli::dkim_command(dkim);
    if (spf_cmd->parsed()) return ehlo::cli::spf_command(spf);
    if (dmarc_report_cmd->parsed()) return ehlo::cli::dmarc_report_command(dmarc);
    if (dmarc_cmd->parsed()) {
        if (dmarc.file.empty()) {
            std::cerr << "ehlo dmarc: a FILE to check, or `report --domain D`\n";
            return 2;
        }
        return ehlo::cli::dmarc_command(dmarc);
    }
    if (tutor_cmd->parsed()) return ehlo::cli::tutor_command(tutor);
    if (aliases_cmd->parsed()) return ehlo::cli::aliases_command(aliases);
    return 2;
}
