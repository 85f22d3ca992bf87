// The parts of `ehlo sendmail` that its -bs mode (SMTP on standard input) shares with the
// plain one: the sender, the headers added, and the hand-over to the daemon.
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"
#include "queue/maildrop.hpp"
#include "smtp/local_submission.hpp"

namespace ehlo::cli {

struct LocalSender {
    std::string envelope;     // the envelope sender; empty = the null sender
    std::string header_from;  // for a missing From
    std::string full_name;
    std::string problem;      // -f was not an address
};
// The caller's account at the configured host name, or -f's address.
LocalSender local_sender(const config::Config& cfg, const std::optional<std::string>& given, const std::string& full_name);
smtp::LocalHeaders local_headers(const config::Config& cfg, const LocalSender& sender, bool extract);

struct Handover {
    int status = 0;        // sysexits.h: EX_OK once the message is durable
    bool refused = false;  // the daemon refused a recipient for good (the message is not sent)
    std::string queue_id;  // when the daemon took it at once
    std::string text;      // what happened, for -v or the error
};
// Writes the entry into the maildrop and tells the daemon.
Handover hand_to_daemon(const config::Config& cfg, const queue::MaildropEntry& entry);

// -bs: an SMTP dialog on standard input and output (the server engine of ehlo itself), each
// message handed over as above.
int sendmail_smtp_session(const config::Config& cfg, const LocalSender& sender);

}  // namespace ehlo::cli
