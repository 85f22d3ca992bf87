// A session's part of the message history (ehlo trace, the console): the connection, HELO,
// TLS, AUTH, each MAIL and RCPT with the reply that decided it, a refused DATA, and the end
// with the session's transcript. Fed the session's trace lines and events by its SessionHost;
// it pairs each command with its reply. No I/O: History::record() only queues.
#pragma once

#include <string>
#include <string_view>

#include "observe/history.hpp"
#include "observe/transcript.hpp"

namespace ehlo::net {

// "MAIL FROM:<a@b> SIZE=1" or "RCPT TO:<c@d>" as the history keeps it: the address ("" for
// <>) and the ESMTP parameters after it. Read with the session's own path grammar, so a quoted
// local part holding ">" stays whole; a path the grammar refused, as the client wrote it.
struct CommandPath {
    std::string path;
    std::string parameters;
};
CommandPath command_path(std::string_view command);

class SessionRecorder {
public:
    // Records the connection now, with the client's confirmed name or why there is none (both
    // empty: not looked up). `history` must outlive this.
    SessionRecorder(observe::History& history, observe::TranscriptMode transcripts, std::string session_id,
                    std::string client_address, std::string client_name = {}, std::string no_name_reason = {});
    ~SessionRecorder();  // the SessionEnd event, with the transcript if one is kept
    SessionRecorder(const SessionRecorder&) = delete;
    SessionRecorder& operator=(const SessionRecorder&) = delete;

    // A command line received or a reply line sent (SessionHost::trace).
    void line(bool from_client, std::string_view text);
    void tls(const std::string& description);
    // The AUTH under way succeeded for `user`: recorded with its reply, which follows.
    void authenticated(const std::string& user);
    // The message authentication verdicts of a message accepted as `queue_id` (or refused:
    // no queue id), with its row for the day's DMARC report if its domain has a policy.
    void verified(const std::string& queue_id, std::string verdicts, std::string dmarc_row);

private:
    observe::Event event(observe::EventKind kind) const;
    void replied(const std::string& reply);

    observe::History& history_;
    observe::Transcript transcript_;
    std::string session_id_;
    std::string client_address_;
    std::string command_;     // the last command line, whose reply is awaited
    std::string reply_;       // the lines of the reply being sent
    std::string auth_user_;   // authenticated, its AUTH's reply not yet recorded
};

}  // namespace ehlo::net
