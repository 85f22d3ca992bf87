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

struct TutorOptions {
    std::string target;       // HOST[:PORT]; empty: the first listener of config_file, or 127.0.0.1:2525
    std::string config_file;
    bool explain = false;     // annotate a transcript from standard input instead
    unsigned timeout = 30;    // seconds to wait for a reply
    std::string client_name;  // example lines: EHLO name, MAIL FROM, RCPT TO (empty: the tutor's own)
    std::string sender;
    std::string recipient;
};

int serve(const ServeOptions& options);               // ehlo serve
int check_config(const std::string& file);            // ehlo check-config FILE
int queue_command(const QueueCommand& command);       // ehlo queue ACTION [ARG]
int tutor_command(const TutorOptions& options);       // ehlo tutor [HOST[:PORT]] | --explain

}  // namespace ehlo::cli
