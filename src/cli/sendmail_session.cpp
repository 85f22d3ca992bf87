// `ehlo sendmail -bs`: ehlo's own SMTP engine (smtp/session.hpp) on standard input and output.
// The dialog is the program's (MUAs such as mutt and git send-email can speak it); each
// message goes into the maildrop when its DATA ends, and the 250 says so only then.
#include "cli/sendmail_session.hpp"

#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "delivery/file_io.hpp"
#include "smtp/session.hpp"

namespace ehlo::cli {
namespace {

class LocalHost final : public smtp::SessionHost {
public:
    LocalHost(const config::Config& cfg, const LocalSender& sender) : cfg_(cfg), sender_(sender) {}

    smtp::Reply check_mail(const smtp::Envelope&) override { return {250, "2.1.0", "Ok"}; }
    // Recipients are judged by the daemon's policy when it takes the message.
    smtp::Reply check_rcpt(const smtp::Envelope&, const smtp::Recipient&) override { return {250, "2.1.5", "Ok"}; }
    std::optional<smtp::Reply> begin_message(const smtp::Envelope&) override {
        content_.clear();
        return std::nullopt;
    }
    void message_data(std::string_view content) override { content_.append(content); }
    void end_message(const smtp::Envelope& envelope) override {
        smtp::LocalMessage message = smtp::complete_local_message(std::move(content_), local_headers(cfg_, sender_, false));
        content_.clear();
        // The fields added may take it past the limit the daemon checks again: refused now, for
        // good (RFC 1870 / RFC 3463 X.3.4), rather than a retried 451 that never fits.
        if (message.content.size() > cfg_.limits.message_size) {
            verdict_ = smtp::Reply(552, "5.3.4", "Message too big for system");
            return;
        }
        queue::MaildropEntry entry;
        entry.sender = envelope.sender_str();
        for (const auto& r : envelope.recipients) entry.recipients.push_back(r.address.str());
        entry.content = std::move(message.content);
        const Handover h = hand_to_daemon(cfg_, entry);
        if (h.status == EX_OK)
            verdict_ = smtp::Reply(250, "2.0.0", "Ok: " + h.text);
        else if (h.refused)
            verdict_ = smtp::Reply(h.status == EX_NOUSER ? 550 : 554, h.status == EX_NOUSER ? "5.1.1" : "5.7.1", h.text);
        else
            verdict_ = smtp::Reply(451, "4.3.0", h.text);
    }
    void abort_message() override { content_.clear(); }

    std::optional<smtp::Reply> take_verdict() { return std::exchange(verdict_, std::nullopt); }

private:
    const config::Config& cfg_;
    const LocalSender& sender_;
    std::string content_;
    std::optional<smtp::Reply> verdict_;
};

bool write_out(const std::string& bytes) { return !delivery::write_all(STDOUT_FILENO, bytes); }

}  // namespace

int sendmail_smtp_session(const config::Config& cfg, const LocalSender& sender) {
    smtp::SessionConfig sc;
    sc.hostname = cfg.server.hostname;
    sc.max_message_size = cfg.limits.message_size;
    sc.max_recipients = cfg.limits.recipients;
    sc.max_errors = cfg.limits.errors;
    sc.max_junk_commands = cfg.limits.junk_commands;
    LocalHost host(cfg, sender);
    smtp::Session session(sc, smtp::ClientInfo{"127.0.0.1", 0, false, {}}, host);
    session.start();
    char buf[16384];
    while (true) {
        while (auto verdict = host.take_verdict()) session.message_done(*verdict);
        if (!write_out(session.take_output())) return EX_IOERR;
        if (session.wants_close()) return EX_OK;
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            session.peer_closed();
            (void)write_out(session.take_output());
            return EX_OK;
        }
        session.receive(std::string_view(buf, static_cast<std::size_t>(n)));
    }
}

}  // namespace ehlo::cli
