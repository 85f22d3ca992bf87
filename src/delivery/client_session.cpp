#include "delivery/client_session.hpp"

#include <deque>
#include <stdexcept>
#include <utility>

#include "delivery/command_params.hpp"

namespace ehlo::delivery {

namespace {

// What a reply in the queue of awaited replies answers. With PIPELINING several are awaited at
// once and answered strictly in order (RFC 2920 3.1).
enum class Step { Greeting, Ehlo, Helo, StartTls, Mail, Rcpt, Data, Dot, Rset, Quit };

struct Awaited {
    Step step;
    std::size_t slot = 0;  // for Rcpt: which recipient of the transaction
};

int reply_class(const smtp::Reply& r) { return r.code / 100; }

// Replies we make ourselves. 421 ends a conversation; the enhanced codes are RFC 3463's.
smtp::Reply connection_lost(std::string_view reason) { return {421, "4.4.2", std::string(reason)}; }
smtp::Reply protocol_error(std::string_view what) {
    return {421, "4.5.0", "Invalid reply from the next hop: " + std::string(what)};
}
// A connection the TLS policy does not let us use: deferred, never bounced (another MX host,
// or this one later, may do better). RFC 3463 / RFC 5248: X.7.10 encryption needed, X.7.5
// cryptographic failure.
smtp::Reply encryption_needed(TlsPolicy policy, std::string_view why) {
    return {451, "4.7.10",
            std::string("TLS required by policy ") + tls_policy_name(policy) + ", but " + std::string(why)};
}
smtp::Reply tls_failure(std::string_view why) { return {451, "4.7.5", std::string(why)}; }

}  // namespace

std::chrono::seconds timeout_of(ClientWait wait) {
    using std::chrono::minutes;
    switch (wait) {
    case ClientWait::Nothing: return std::chrono::seconds{0};
    case ClientWait::Greeting: return minutes{5};
    case ClientWait::Command: return minutes{5};
    case ClientWait::Mail: return minutes{5};
    case ClientWait::Rcpt: return minutes{5};
    case ClientWait::DataInitiation: return minutes{2};
    case ClientWait::DataTermination: return minutes{10};
    }
    return minutes{5};
}

struct ClientSession::Impl {
    // The transaction of one message: given by send(), started once the connection is ready.
    struct Transaction {
        OutboundMessage message;
        std::vector<RecipientResult> results;  // one per slot (recipient_indexes entry)
        std::vector<bool> settled;             // the slot's outcome is final
        std::vector<bool> accepted;            // RCPT got 2xx; settled by the final reply
        bool started = false;                  // MAIL was sent
        bool pipelined = false;
        bool mail_accepted = false;
        bool mail_refused = false;
        bool discard_dot = false;  // DATA got 354 though no RCPT was accepted: send "." alone
        bool content_wanted = false;  // 354 came: the caller gives the content, then its end
        DotStuffer stuffer;
        std::size_t number = 0;       // of the message, in the order given to send()
        std::size_t next_rcpt = 0;
        std::optional<smtp::Reply> data_reply;
        bool dsn = false;
    };

    std::string helo_name;
    ClientOptions options;
    ReplyReader reader;
    Capabilities caps;
    std::string out;
    std::deque<Awaited> awaited;
    std::optional<Transaction> tx;
    std::deque<MessageResult> results;
    std::size_t messages_given = 0;  // by send()
    bool ready = false;  // the greeting and EHLO/HELO are done (after STARTTLS: the EHLO over TLS)
    bool tls_pending = false;       // STARTTLS got 220: the caller's handshake is under way
    bool handshake_failed = false;  // tls_failed() ended the session
    std::optional<TlsHandshake> tls;
    std::optional<smtp::Reply> starttls_refused;
    bool quit_wanted = false;
    bool quit_sent = false;
    bool done = false;
    bool failed = false;
    smtp::Reply error;
    bool error_remote = false;

    void command(std::string line, Step step, std::size_t slot = 0) {
        out += line;
        out += "\r\n";
        awaited.push_back({step, slot});
    }

    // ---- replies --------------------------------------------------------------------------

    void on_reply(const smtp::Reply& r) {
        if (awaited.empty()) {
            // A server may announce its shutdown at any time (RFC 5321 3.8); anything else
            // unasked for means we no longer know which reply answers which command.
            if (r.code == 421) return fail(r, true, false);
            return fail(protocol_error("a reply nothing asked for"), false, false);
        }
        const Awaited a = awaited.front();
        awaited.pop_front();
        // 421: the server is closing the connection (3.8); it will answer nothing more.
        if (r.code == 421 && a.step != Step::Quit) return fail(r, true, false);
        switch (a.step) {
        case Step::Greeting: return on_greeting(r);
        case Step::Ehlo: return on_ehlo(r);
        case Step::Helo: return on_helo(r);
        case Step::StartTls: return on_starttls(r);
        case Step::Mail: return on_mail(r);
        case Step::Rcpt: return on_rcpt(r, a.slot);
        case Step::Data: return on_data(r);
        case Step::Dot: return on_dot(r);
        case Step::Rset: return on_rset(r);
        case Step::Quit:
            done = true;
            awaited.clear();
            return;
        }
    }

    void on_greeting(const smtp::Reply& r) {
        // RFC 5321 3.1 and 4.3.2: 220, or 554 (the server will not talk to us; it waits for
        // our QUIT). Anything but 220 ends this connection; the caller tries the next MX.
        if (r.code != 220) return fail(r, true, true);
        command("EHLO " + helo_name, Step::Ehlo);
    }

    void on_ehlo(const smtp::Reply& r) {
        if (r.code == 250) {
            caps = parse_ehlo(r);
            if (tls) return become_ready();  // RFC 3207 4.2: STARTTLS is not said twice
            if (caps.starttls && options.tls != TlsPolicy::None) return command("STARTTLS", Step::StartTls);
            if (tls_required(options.tls)) return fail(encryption_needed(options.tls, "the next hop does not offer STARTTLS"), false, true);
            return become_ready();
        }
        // RFC 5321 4.1.4 (and 3.2): a server that does not know EHLO answers 5xx; a client
        // then falls back to HELO, without any service extension; STARTTLS is one of them.
        if (r.permanent() && !tls && tls_required(options.tls))
            return fail(encryption_needed(options.tls, "the next hop refused EHLO (so no STARTTLS): " + r.one_line()), false, true);
        if (r.permanent()) return command("HELO " + helo_name, Step::Helo);
        fail(r, true, true);
    }

    void on_helo(const smtp::Reply& r) {
        if (r.code != 250) return fail(r, true, true);
        caps = Capabilities{};
        become_ready();
    }

    // RFC 3207 4: 220 go ahead; 454 (TLS not available now), 501, or a 5xx from a server that
    // offered it after all. The server's state is as before STARTTLS, so under May the
    // conversation goes on in plaintext with what the EHLO reply offered.
    void on_starttls(const smtp::Reply& r) {
        if (r.code == 220) {
            tls_pending = true;
            return;
        }
        if (tls_required(options.tls))
            return fail(encryption_needed(options.tls, "the next hop refused STARTTLS: " + r.one_line()), false, true);
        starttls_refused = r;
        become_ready();
    }

    void on_mail(const smtp::Reply& r) {
        Transaction& t = *tx;
        if (reply_class(r) == 2) {
            t.mail_accepted = true;
            if (!t.pipelined) send_next_rcpt();
            return;
        }
        // No transaction was opened (RFC 5321 4.1.1.2): the refusal is every recipient's.
        t.mail_refused = true;
        settle_all(r, r.permanent() ? Outcome::Failed : Outcome::Deferred, true);
        // Pipelined RCPTs and DATA are still to be answered (most likely 503) and consumed.
        if (!t.pipelined) finish_transaction();
    }

    void on_rcpt(const smtp::Reply& r, std::size_t slot) {
        Transaction& t = *tx;
        if (!t.mail_refused) {
            if (reply_class(r) == 2)
                t.accepted[slot] = true;
            else if (r.code == 552)
                // RFC 5321 4.5.3.1.10: old servers say 552 for "too many recipients"; a
                // client SHOULD treat it as temporary and try those recipients again later.
                settle(slot, r, Outcome::Deferred, true);
            else
                settle(slot, r, r.permanent() ? Outcome::Failed : Outcome::Deferred, true);
        }
        if (!t.pipelined) send_next_rcpt();
    }

    void on_data(const smtp::Reply& r) {
        Transaction& t = *tx;
        const bool any_accepted = accepted_count() > 0;
        if (reply_class(r) == 3) {
            if (t.mail_refused || !any_accepted) {
                // RFC 2920 3.1: the DATA of a pipeline whose recipients were all refused may
                // still be accepted; the client then sends a single "." (an empty message that
                // no one receives) rather than the content.
                t.discard_dot = true;
                out += ".\r\n";
                awaited.push_back({Step::Dot});
            } else {
                t.content_wanted = true;  // the Dot is awaited once end_content() has sent it
            }
            return;
        }
        t.data_reply = r;
        // DATA refused: the accepted recipients take that reply. A 2xx here answers nothing
        // we asked; it is no delivery.
        if (!t.mail_refused) settle_accepted(r, r.permanent() ? Outcome::Failed : Outcome::Deferred);
        // The server still holds the transaction MAIL opened (RFC 2920 3.1: "issue RSET").
        if (t.mail_accepted) command("RSET", Step::Rset);
        finish_transaction();
    }

    void on_dot(const smtp::Reply& r) {
        Transaction& t = *tx;
        if (!t.discard_dot) {
            t.data_reply = r;
            // RFC 5321 4.1.1.4: the reply to "." is the reply for the whole message, and so
            // for every recipient RCPT accepted.
            const int c = reply_class(r);
            settle_accepted(r, c == 2 ? Outcome::Delivered : c == 5 ? Outcome::Failed : Outcome::Deferred);
        }
        finish_transaction();
    }

    void on_rset(const smtp::Reply& r) {
        // After a refused RSET we cannot tell what state the server is in: end politely.
        if (reply_class(r) != 2) return fail(r, true, true);
        advance();
    }

    // ---- transactions ---------------------------------------------------------------------

    void become_ready() {
        ready = true;
        advance();
    }

    // Start what waits once nothing is awaited: the next message, else QUIT if asked for.
    void advance() {
        if (done || failed || !ready || !awaited.empty()) return;
        if (tx && !tx->started) return start_transaction();
        if (!tx && quit_wanted && !quit_sent) {
            quit_sent = true;
            command("QUIT", Step::Quit);
        }
    }

    // Refusals we can decide before sending anything, then MAIL (and with PIPELINING the RCPTs
    // and DATA in the same write: RFC 2920 3.1 allows DATA as the last command of a group).
    void start_transaction() {
        Transaction& t = *tx;
        const OutboundMessage& m = t.message;
        t.dsn = caps.dsn;
        if (m.needs_smtputf8 && !caps.smtputf8) {
            // RFC 6531 3.2: a message that needs SMTPUTF8 must not go to a server without it.
            settle_all({553, "5.6.7", "Non-ASCII addresses not permitted: the next hop does not offer SMTPUTF8"},
                       Outcome::Failed, false);
            return finish_transaction();
        }
        if (m.eight_bit && !caps.eight_bit_mime) {
            // RFC 6152 3: 8-bit content must not be sent to a server that does not offer
            // 8BITMIME. It could be converted to 7-bit MIME (quoted-printable), but that rewrites
            // the message and breaks its signatures (DKIM, S/MIME); we refuse instead, and the
            // sender learns why from the DSN.
            settle_all({554, "5.6.3", "Conversion required but not supported: the next hop does not offer 8BITMIME"},
                       Outcome::Failed, false);
            return finish_transaction();
        }
        if (caps.size && caps.max_size != 0 && m.content_size > caps.max_size) {
            // RFC 1870 4: the server would refuse a message larger than its declared maximum
            // with a permanent 552; sending it first would only waste the transfer.
            settle_all({552, "5.3.4",
                        "Message too big for the next hop (its limit is " + std::to_string(caps.max_size) + " octets)"},
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

        t.started = true;
        t.pipelined = caps.pipelining && options.pipelining;
        command(mail_command(), Step::Mail);
        if (!t.pipelined) return;
        for (std::size_t slot = 0; slot < m.recipient_indexes.size(); ++slot)
            if (!t.settled[slot]) command(rcpt_command(slot), Step::Rcpt, slot);
        command("DATA", Step::Data);
    }

    // Without PIPELINING: the next RCPT, then DATA, or RSET when no recipient was accepted.
    void send_next_rcpt() {
        Transaction& t = *tx;
        // Slots before next_rcpt have had their RCPT; later ones are settled only when they
        // were refused before sending.
        while (t.next_rcpt < t.settled.size() && t.settled[t.next_rcpt]) ++t.next_rcpt;
        if (t.next_rcpt < t.settled.size()) {
            const std::size_t slot = t.next_rcpt++;
            return command(rcpt_command(slot), Step::Rcpt, slot);
        }
        if (accepted_count() > 0) return command("DATA", Step::Data);
        // RFC 5321 4.1.1.5: close the transaction MAIL opened.
        command("RSET", Step::Rset);
        finish_transaction();
    }

    std::string mail_command() const {
        const OutboundMessage& m = tx->message;
        std::string line = "MAIL FROM:<" + m.envelope.sender_str() + ">";
        if (caps.size) line += " SIZE=" + std::to_string(m.content_size);  // RFC 1870 6
        if (m.eight_bit) line += " BODY=8BITMIME";                              // RFC 6152 2
        if (m.needs_smtputf8) line += " SMTPUTF8";                              // RFC 6531 3.4
        if (caps.dsn) {
            // RFC 3461 5.2: a relay passes the sender's DSN requests on (RET 4.3, ENVID 4.4).
            if (m.envelope.ret == smtp::DsnRet::Full) line += " RET=FULL";
            if (m.envelope.ret == smtp::DsnRet::Headers) line += " RET=HDRS";
            if (!m.envelope.envid.empty()) line += " ENVID=" + xtext(m.envelope.envid);
        }
        return line;
    }

    std::string rcpt_command(std::size_t slot) const {
        const OutboundMessage& m = tx->message;
        const smtp::Recipient& rcpt = m.envelope.recipients[m.recipient_indexes[slot]];
        std::string line = "RCPT TO:<" + rcpt.address.str() + ">";
        if (caps.dsn) {
            line += notify_param(rcpt.notify);  // RFC 3461 4.1
            if (!rcpt.orcpt.empty()) line += orcpt_param(rcpt.orcpt);  // RFC 3461 4.2
        }
        return line;
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
        if (t.settled[slot]) return;
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
        results.push_back(MessageResult{std::move(t.results), std::move(t.data_reply), t.dsn});
        tx.reset();
        advance();
    }

    // The conversation cannot go on: every recipient not settled is Deferred with `r` (never
    // Delivered: we do not know that the message arrived). With `send_quit` the server still
    // listens, so we say QUIT (RFC 5321 3.1: a 554 greeting waits for it) and await its reply.
    void fail(const smtp::Reply& r, bool remote, bool send_quit) {
        if (!failed) {
            failed = true;
            error = r;
            error_remote = remote;
        }
        tls_pending = false;
        awaited.clear();
        if (tx) {
            settle_all(r, Outcome::Deferred, remote);
            finish_transaction();  // advance() starts nothing once failed
        }
        if (send_quit && !quit_sent && !reader.failed()) {
            quit_sent = true;
            command("QUIT", Step::Quit);
        } else {
            done = true;
        }
    }
};

ClientSession::ClientSession(std::string helo_name, ClientOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->helo_name = std::move(helo_name);
    impl_->options = options;
    impl_->awaited.push_back({Step::Greeting});
}

ClientSession::~ClientSession() = default;

void ClientSession::feed(std::string_view bytes) {
    Impl& s = *impl_;
    // RFC 3207 4.2 (the client's side of CVE-2011-0411): whatever came after the 220 to STARTTLS
    // and before the handshake was not protected by it, and may be an attacker's; it is dropped.
    if (s.tls_pending) return;
    while (!bytes.empty() && !s.done) {
        bytes.remove_prefix(s.reader.feed(bytes));
        if (s.reader.failed()) {
            // Garbage where only QUIT's reply was due loses nothing; anywhere else it does.
            if (s.quit_sent && !s.tx) {
                s.done = true;
                return;
            }
            return s.fail(protocol_error(s.reader.error()), false, false);
        }
        if (auto reply = s.reader.take()) s.on_reply(*reply);
        if (s.tls_pending) {
            s.reader = ReplyReader{};
            return;
        }
    }
}

std::string ClientSession::take_output() { return std::exchange(impl_->out, {}); }

bool ClientSession::wants_tls() const { return impl_->tls_pending && !impl_->done; }

void ClientSession::tls_established(const TlsHandshake& handshake) {
    Impl& s = *impl_;
    if (!wants_tls()) throw std::logic_error("ClientSession::tls_established: no handshake was asked for");
    s.tls_pending = false;
    s.tls = handshake;
    if (s.options.tls == TlsPolicy::Verify && !handshake.verified) {
        const std::string why = handshake.verify_error.empty() ? std::string("not trusted") : handshake.verify_error;
        return s.fail(tls_failure("TLS required by policy verify, but the next hop's certificate did not verify: " + why +
                                  " (" + handshake.describe() + ")"),
                      false, true);
    }
    // RFC 3207 4.2: all knowledge from before TLS is discarded; the EHLO reply is asked again.
    s.caps = Capabilities{};
    s.reader = ReplyReader{};
    s.command("EHLO " + s.helo_name, Step::Ehlo);
}

void ClientSession::tls_failed(std::string_view reason) {
    Impl& s = *impl_;
    if (!wants_tls()) throw std::logic_error("ClientSession::tls_failed: no handshake was asked for");
    s.handshake_failed = true;
    // The TLS layer is broken: nothing more can be said on this connection, not even QUIT.
    s.fail(tls_failure("TLS handshake with the next hop failed: " + std::string(reason)), false, false);
}

const std::optional<TlsHandshake>& ClientSession::tls() const { return impl_->tls; }

bool ClientSession::retry_in_plaintext() const {
    return impl_->handshake_failed && impl_->options.tls == TlsPolicy::May;
}

const std::optional<smtp::Reply>& ClientSession::starttls_refused() const { return impl_->starttls_refused; }

bool ClientSession::connection_error_remote() const { return impl_->error_remote; }

void ClientSession::abort(std::string_view reason) {
    Impl& s = *impl_;
    if (s.done) return;
    if (s.quit_sent) {
        // Only QUIT's reply was outstanding: nothing is lost with it.
        s.done = true;
        s.awaited.clear();
        return;
    }
    s.fail(connection_lost(reason), false, false);
}

bool ClientSession::wants_message() const {
    const Impl& s = *impl_;
    return !s.done && !s.failed && !s.quit_wanted && !s.tx;
}

void ClientSession::send(OutboundMessage message) {
    Impl& s = *impl_;
    if (!wants_message()) throw std::logic_error("ClientSession::send: the session takes no message now");
    for (std::size_t index : message.recipient_indexes)
        if (index >= message.envelope.recipients.size())
            throw std::logic_error("ClientSession::send: recipient index out of range");
    Impl::Transaction t;
    const std::size_t n = message.recipient_indexes.size();
    t.results.resize(n);
    for (std::size_t slot = 0; slot < n; ++slot) t.results[slot].index = message.recipient_indexes[slot];
    t.settled.assign(n, false);
    t.accepted.assign(n, false);
    t.message = std::move(message);
    t.number = s.messages_given++;
    s.tx = std::move(t);
    s.advance();
}

std::optional<std::size_t> ClientSession::wants_content() const {
    const Impl& s = *impl_;
    if (s.done || !s.tx || !s.tx->content_wanted) return std::nullopt;
    return s.tx->number;
}

void ClientSession::send_content(std::string_view piece) {
    Impl& s = *impl_;
    if (!wants_content()) throw std::logic_error("ClientSession::send_content: no content is wanted now");
    s.tx->stuffer.feed(piece, s.out);
}

void ClientSession::end_content() {
    Impl& s = *impl_;
    if (!wants_content()) throw std::logic_error("ClientSession::end_content: no content is wanted now");
    s.tx->stuffer.finish(s.out);
    s.tx->content_wanted = false;
    s.awaited.push_back({Step::Dot});
}

std::optional<MessageResult> ClientSession::take_result() {
    Impl& s = *impl_;
    if (s.results.empty()) return std::nullopt;
    MessageResult r = std::move(s.results.front());
    s.results.pop_front();
    return r;
}

void ClientSession::quit() {
    impl_->quit_wanted = true;
    impl_->advance();
}

bool ClientSession::finished() const { return impl_->done; }
bool ClientSession::failed() const { return impl_->failed; }
const smtp::Reply& ClientSession::connection_error() const { return impl_->error; }
const Capabilities& ClientSession::peer() const { return impl_->caps; }

ClientWait ClientSession::awaiting() const {
    const Impl& s = *impl_;
    if (s.done || s.awaited.empty()) return ClientWait::Nothing;
    switch (s.awaited.front().step) {
    case Step::Greeting: return ClientWait::Greeting;
    case Step::Ehlo:
    case Step::Helo:
    case Step::StartTls:
    case Step::Rset:
    case Step::Quit: return ClientWait::Command;
    case Step::Mail: return ClientWait::Mail;
    case Step::Rcpt: return ClientWait::Rcpt;
    case Step::Data: return ClientWait::DataInitiation;
    case Step::Dot: return ClientWait::DataTermination;
    }
    return ClientWait::Command;
}

}  // namespace ehlo::delivery
