// The subcommands of `ehlo`, each in its own file.
#pragma once

#include <cstddef>
#include <string>

namespace ehlo::cli {

struct ServeOptions {
    std::string config_file;  // empty: the embedded defaults
    bool dialog = false;
    // Without [tls] certificates: make (once) and use a self-signed certificate for the host
    // name in this folder, so that STARTTLS can be tried at once (`make run` does).
    std::string self_signed_dir;
};

struct QueueCommand {
    std::string config_file;  // empty: the embedded defaults
    std::string action;       // list, show, flush, hold, release, delete
    std::string argument;     // queue id (or domain for flush)
};

struct TraceCommand {
    std::string config_file;  // empty: the embedded defaults
    std::string target;       // queue id, address or Message-ID
    std::string since;        // "2h", "7d", "2024-05-01 14:00"; empty = the whole retention
    bool json = false;
    std::size_t limit = 20;   // messages, the newest
};

// ehlo dkim keygen|sign|verify, ehlo spf, ehlo dmarc: message authentication by hand, with
// the DNS of the configuration's [dns] section.
struct DkimCommand {
    std::string config_file;
    std::string action;            // keygen, sign, verify
    std::string domain, selector;  // keygen, sign
    bool ed25519 = false;          // keygen
    unsigned bits = 2048;          // keygen (RSA)
    std::string out;               // keygen: the key file
    std::string key;               // sign: PEM private key
    std::string file;              // sign, verify: the message
};

struct SpfCommand {
    std::string config_file;
    std::string ip, sender, helo;
};

struct DmarcCommand {
    std::string config_file;
    std::string file;
    std::string ip, mail_from, helo;  // for SPF; without --ip SPF is not checked
    // ehlo dmarc report: the day's aggregate report of one policy domain
    std::string domain;
    std::string day;  // YYYY-MM-DD (UTC); empty = yesterday
};

struct TutorOptions {
    std::string target;       // HOST[:PORT]; empty: the first listener of config_file, or 127.0.0.1:2525
    std::string config_file;
    bool explain = false;     // annotate a transcript from standard input instead
    unsigned timeout = 30;    // seconds to wait for a reply
    std::string client_name;  // example lines: EHLO name, MAIL FROM, RCPT TO (empty: the tutor's own)
    std::string sender;
    std::string recipient;
};

struct AliasesCommand {
    std::string config_file;  // empty: the embedded defaults
    std::string address;
    bool trusted = false;     // answer as for a client in relay.trusted_networks
};

int serve(const ServeOptions& options);               // ehlo serve
int check_config(const std::string& file);            // ehlo check-config FILE
int queue_command(const QueueCommand& command);       // ehlo queue ACTION [ARG]
int reload_command(const std::string& config_file);   // ehlo reload

struct UserCommand {
    std::string config_file;  // for [auth] users_file
    std::string file;         // or the file itself
    std::string action;       // add, del, passwd, list
    std::string name;
    std::string senders;      // "a@x.example,@y.example" (add, passwd)
};
int user_command(const UserCommand& command);         // ehlo user ACTION [NAME]
int trace_command(const TraceCommand& command);       // ehlo trace TARGET
int dkim_command(const DkimCommand& command);         // ehlo dkim keygen|sign|verify
int spf_command(const SpfCommand& command);           // ehlo spf IP SENDER [HELO]
int dmarc_command(const DmarcCommand& command);       // ehlo dmarc FILE
int dmarc_report_command(const DmarcCommand& command);  // ehlo dmarc report --domain D [--day DAY]
int tutor_command(const TutorOptions& options);       // ehlo tutor [HOST[:PORT]] | --explain
int aliases_command(const AliasesCommand& command);   // ehlo aliases ADDRESS
// ehlo sendmail ARGS (also run as `sendmail` or, with `as_mailq`, as `mailq`): sendmail(1)'s
// options, not CLI11's; argv holds only what follows the command's name.
int sendmail_main(int argc, char** argv, bool as_mailq);

}  // namespace ehlo::cli
