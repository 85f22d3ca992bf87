#include "delivery/lmtp_session.hpp"

#include <deque>
#include <stdexcept>
#include <utility>
#include <vector>

namespace ehlo::delivery {

namespace {

enum class Step { Greeting, Lhlo, Mail, Rcpt, Data, Dot, DiscardDot, Rset, Quit };

struct Awaited {
    Step step;
    std::size_t slot = 0;  // Rcpt and Dot: which recipient of the message
};

int reply_class(const smtp::Reply& r) { return r.code / 100; }

smtp::Reply connection_lost(std::string_view reason) { return {421, "4.4.2", std::string(reason)}; }
smtp::Reply protocol_error(std::string_view what) {
    return {421, "4.5.0", "Invalid reply from the LMTP server: " + std::string(what)};
}

// A CR, LF or other control octet in a command line would end it early (see ClientSession).
bool safe_in_command(std::string_view s) {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return false;
    }
    return true;
}

Outcome outcome_of(const smtp::Reply& r) {
    const int c = reply_class(r);
    return c == 2 ? Outcome::Delivered : c == 5 ? Outcome::Failed : Outcome::Deferred;
}

}  // namespace

struct LmtpSession::Impl {
    struct Transaction {
        OutboundMessage message;
        std::vector<RecipientResult> results;  // one per slot
        std::vector<bool> settled;
        std::vector<bool> accepted;  // RCPT got 2xx
        bool mail_accepted = false;
        bool mail_refused = false;
        bool content_wanted = false;
        DotStuffer stuffer;
        std::optional<smtp::Reply> data_reply;
    };

    std::string name;
    ReplyReader reader;
    Capabilities caps;
    std::string out;
    std::deque<Awaited> awaited;
    std::optional<Transaction> tx;
    std::optional<MessageResult> result;
    bool ready = false;
    bool quit_wanted = false;
    bool quit_sent = false;
    bool done = false;
    bool failed = false;
    smtp::Reply error;

    void command(const std::string& line, Step step, std::size_t slot = 0) {
        out += line;
        out += "\r\n";
        awaited.push_back({step, slot});
    }

    void on_reply(const smtp::Reply& r) {
        if (awaited.empty()) {
            if (r.code == 421) return fail(r, true, false);
            return fail(protocol_error("a reply nothing asked for"), false, false);
        }
        const Awaited a = awaited.front();
        awaited.pop_front();
        // 421 after the final "." is that recipient's (RFC 2033 4.2 lets the server answer
        // each with 421 as it closes); anywhere it ends the connection (RFC 5321 3.8).
        if (r.code == 421 && a.step != Step::Quit) {
            if (a.step == Step::Dot && tx) settle(a.slot, r, Outcome::Deferred, true);
            return fail(r, true, false);
        }
        switch (a.step) {
        case Step::Greeting:
            if (r.code != 220) return fail(r, true, true);
            return command("LHLO " + name, Step::Lhlo);
        case Step::Lhlo:
            // RFC 2033 4.1: no fallback to HELO; a refusal means this is no LMTP server.
            if (r.code != 250) return fail(r, true, true);
            caps = parse_ehlo(r);
            ready = true;
            return advance();
        case Step::Mail: return on_mail(r);
        case Step::Rcpt: return on_rcpt(r, a.slot);
        case Step::Data: return on_data(r);
        case Step::Dot: return on_dot(r, a.slot);
        case Step::DiscardDot: return finish_transaction();
        case Step::Rset:
            if (reply_class(r) != 2) return fail(r, true, true);
            return advance();
        case Step::Quit:
            done = true;
            awaited.clear();
            return;
        }
    }

    void on_mail(const smtp::Reply& r) {
        if (reply_class(r) == 2) {
            tx->mail_accepted = true;
            return;
        }
        tx->mail_refused = true;
        settle_all(r, r.permanent() ? Outcome::Failed : Outcome::Deferred, true);
    }

    void on_rcpt(const smtp::Reply& r, std::size_t slot) {
        if (tx->mail_refused) return;
        // RFC 2033 4.2 and RFC 3463 X.2.2: a full mailbox answers for itself here (or after
        // the "."); in LMTP every reply is taken at face value, one recipient's alone.
        if (reply_class(r) == 2)
            tx->accepted[slot] = true;
        else
            settle(slot, r, r.permanent() ? Outcome::Failed : Outcome::Deferred, true);
    }

    void on_data(const smtp::Reply& r) {
        Transaction& t = *tx;
        if (reply_class(r) == 3) {
            if (t.mail_refused || accepted_count() == 0) {
                // RFC 2033 4.2 wants 503 here; a server that says 354 anyway gets an empty
                // message, which nobody receives, and its one reply.
                out += ".\r\n";
                awaited.push_back({Step::DiscardDot});
            } else {
                t.content_wanted = true;
            }
            return;
        }
        t.data_reply = r;
        if (!t.mail_refused) settle_accepted(r, r.permanent() ? Outcome::Failed : Outcome::Deferred);
        if (t.mail_accepted) command("RSET", Step::Rset);
        finish_transaction();
    }

    void on_dot(const smtp::Reply& r, std::size_t slot) {
        tx->data_reply = r;
        settle(slot, r, outcome_of(r), true);
        // The last of the per-recipient replies ends the transaction.
        for (const Awaited& a : awaited)
            if (a.step == Step::Dot) return;
        finish_transaction();
    }

    void advance() {
        if (done || failed || !ready || !awaited.empty()) return;
        if (tx && !tx->mail_accepted && !tx->mail_refused && !started) return start_transaction();
        if (!tx && quit_wanted && !quit_sent) {
            quit_sent = true;
            command("QUIT", Step::Quit);
        }
    }
    bool started = false;  // MAIL of the current transaction was sent

    void start_transaction() {
        Transaction& t = *tx;
        const OutboundMessage& m = t.message;
        if (m.needs_smtputf8 && !caps.smtputf8) {
            settle_all({553, "5.6.7", "Non-ASCII addresses not permitted: the LMTP server does not offer SMTPUTF8"},
                       Outcome::Failed, false);
            return finish_transaction();
        }
        if (m.eight_bit && !caps.eight_bit_mime) {
            settle_all({554, "5.6.3", "Conversion required but not supported: the LMTP server does not offer 8BITMIME"},
                       Outcome::Failed, false);
            return finish_transaction();
        }
        if (caps.size && caps.max_size != 0 && m.content_size > caps.max_size) {
            settle_all({552, "5.3.4",
                        "Message too big for the LMTP server (its limit is " + std::to_string(caps.max_size) + " octets)"},
                       Outcome::Failed, false);
            return finish_transaction();
        }
        const std::string sender = m.envelope.sender_str();
        if (!safe_in_command(sender)) {
            settle_all({553, "5.1.7", "Bad sender address syntax"}, Outcome::Failed, false);
            return finish_transaction();
        }
        for (std::size_t slot = 0; slot < m.recipient_indexes.size(); ++slot) {
            const smtp::Recipient& rcpt = m.envelope.recipients[m.recipient_indexes[slot]];
            if (!safe_in_command(rcpt.address.str()))
                settle(slot, {553, "5.1.3", "Bad recipient address syntax"}, Outcome::Failed, false);
        }
        if (unsettled_count() == 0) return finish_transaction();

        started = true;
        std::string mail = "MAIL FROM:<" + sender + ">";
        if (caps.size) mail += " SIZE=" + std::to_string(m.content_size);
        if (m.eight_bit) mail += " BODY=8BITMIME";
        if (m.needs_smtputf8) mail += " SMTPUTF8";
        command(mail, Step::Mail);
        for (std::size_t slot = 0; slot < m.recipient_indexes.size(); ++slot)
            if (!t.settled[slot])
                command("RCPT TO:<" + m.envelope.recipients[m.recipient_indexes[slot]].address.str() + ">", Step::Rcpt,
                        slot);
        command("DATA", Step::Data);
    }

    std::size_t accepted_count() const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < tx->accepted.size(); ++i) n += (tx->accepted[i] && !tx->settled[i]) ? 1 : 0;
        return n;
    }
    std::size_t unsettled_count() const {
        std::size_t n = 0;
        for (bool s : tx->settled) n += s ? 0 : 1;
        return n;
    }
    void settle(std::size_t slot, const smtp::Reply& r, Outcome outcome, bool remote) {
        Transaction& t = *tx;
        if (slot >= t.settled.size() || t.settled[slot]) return;
        t.settled[slot] = true;
        t.results[slot].reply = r;
        t.results[slot].outcome = outcome;
        t.results[slot].remote = remote;
    }
    void settle_all(const smtp::Reply& r, Outcome outcome, bool remote) {
        for (std::size_t slot = 0; slot < tx->settled.size(); ++slot) settle(slot, r, outcome, remote);
    }
    void settle_accepted(const smtp::Reply& r, Outcome outcome) {
        for (std::size_t slot = 0; slot < tx->settled.size(); ++slot)
            if (tx->accepted[slot]) settle(slot, r, outcome, true);
    }

    void finish_transaction() {
        Transaction& t = *tx;
        result = MessageResult{std::move(t.results), std::move(t.data_reply), false};
        tx.reset();
        started = false;
        advance();
    }

    void fail(const smtp::Reply& r, bool remote, bool send_quit) {
        if (!failed) {
            failed = true;
            error = r;
        }
        awaited.clear();
        if (tx) {
            settle_all(r, Outcome::Deferred, remote);
            finish_transaction();
        }
        if (send_quit && !quit_sent && !reader.failed()) {
            quit_sent = true;
            command("QUIT", Step::Quit);
        } else {
            done = true;
        }
    }
};

LmtpSession::LmtpSession(std::string lhlo_name) : impl_(std::make_unique<Impl>()) {
    impl_->name = std::move(lhlo_name);
    impl_->awaited.push_back({Step::Greeting});
}

LmtpSession::~LmtpSession() = default;

void LmtpSession::feed(std::string_view bytes) {
    Impl& s = *impl_;
    while (!bytes.empty() && !s.done) {
        bytes.remove_prefix(s.reader.feed(bytes));
        if (s.reader.failed()) {
            if (s.quit_sent && !s.tx) {
                s.done = true;
                return;
            }
            return s.fail(protocol_error(s.reader.error()), false, false);
        }
        if (auto reply = s.reader.take()) s.on_reply(*reply);
    }
}

std::string LmtpSession::take_output() { return std::exchange(impl_->out, {}); }

void LmtpSession::abort(std::string_view reason) {
    Impl& s = *impl_;
    if (s.done) return;
    if (s.quit_sent) {
        s.done = true;
        s.awaited.clear();
        return;
    }
    s.fail(connection_lost(reason), false, false);
}

bool LmtpSession::wants_message() const {
    const Impl& s = *impl_;
    return !s.done && !s.failed && !s.quit_wanted && !s.tx && !s.result;
}

void LmtpSession::send(OutboundMessage message) {
    Impl& s = *impl_;
    if (!wants_message()) throw std::logic_error("LmtpSession::send: the session takes no message now");
    for (std::size_t index : message.recipient_indexes)
        if (index >= message.envelope.recipients.size())
            throw std::logic_error("LmtpSession::send: recipient index out of range");
    Impl::Transaction t;
    const std::size_t n = message.recipient_indexes.size();
    t.results.resize(n);
    for (std::size_t slot = 0; slot < n; ++slot) t.results[slot].index = message.recipient_indexes[slot];
    t.settled.assign(n, false);
    t.accepted.assign(n, false);
    t.message = std::move(message);
    s.tx = std::move(t);
    s.advance();
}

bool LmtpSession::wants_content() const {
    const Impl& s = *impl_;
    return !s.done && s.tx && s.tx->content_wanted;
}

void LmtpSession::send_content(std::string_view piece) {
    Impl& s = *impl_;
    if (!wants_content()) throw std::logic_error("LmtpSession::send_content: no content is wanted now");
    s.tx->stuffer.feed(piece, s.out);
}

void LmtpSession::end_content() {
    Impl& s = *impl_;
    if (!wants_content()) throw std::logic_error("LmtpSession::end_content: no content is wanted now");
    s.tx->stuffer.finish(s.out);
    s.tx->content_wanted = false;
    // RFC 2033 4.2: one reply for each RCPT that was accepted, in the order of the RCPTs.
    for (std::size_t slot = 0; slot < s.tx->accepted.size(); ++slot)
        if (s.tx->accepted[slot] && !s.tx->settled[slot]) s.awaited.push_back({Step::Dot, slot});
}

std::optional<MessageResult> LmtpSession::take_result() { return std::exchange(impl_->result, std::nullopt); }

void LmtpSession::quit() {
    impl_->quit_wanted = true;
    impl_->advance();
}

bool LmtpSession::finished() const { return impl_->done; }
bool LmtpSession::failed() const { return impl_->failed; }
const smtp::Reply& LmtpSession::connection_error() const { return impl_->error; }
const Capabilities& LmtpSession::peer() const { return impl_->caps; }

ClientWait LmtpSession::awaiting() const {
    const Impl& s = *impl_;
    if (s.done || s.awaited.empty()) return ClientWait::Nothing;
    switch (s.awaited.front().step) {
    case Step::Greeting: return ClientWait::Greeting;
    case Step::Lhlo:
    case Step::Rset:
    case Step::Quit: return ClientWait::Command;
    case Step::Mail: return ClientWait::Mail;
    case Step::Rcpt: return ClientWait::Rcpt;
    case Step::Data: return ClientWait::DataInitiation;
    case Step::Dot:
    case Step::DiscardDot: return ClientWait::DataTermination;
    }
    return ClientWait::Command;
}

}  // namespace ehlo::delivery
