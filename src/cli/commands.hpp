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
};

int serve(const ServeOptions& options);               // ehlo serve
int check_config(const std::string& file);            // ehlo check-config FILE
int queue_command(const QueueCommand& command);       // ehlo queue ACTION [ARG]
int dkim_command(const DkimCommand& command);         // ehlo dkim keygen|sign|verify
int spf_command(const SpfCommand& command);           // ehlo spf IP SENDER [HELO]
int dmarc_command(const DmarcCommand& command);       // ehlo dmarc FILE

}  // namespace ehlo::cli
