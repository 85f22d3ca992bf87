#include "net/session_host.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <random>

#include "observe/history_event.hpp"
#include "observe/log.hpp"
#include "smtp/received.hpp"

namespace ehlo::net {

SessionHost::SessionHost(std::string session_id, const smtp::ClientInfo& client, std::string hostname,
                         const policy::Policy& policy, queue::Queue& queue, CommitNotifier on_committed,
                         policy::AuthService* auth, AuthNotifier on_auth)
    : session_id_(std::move(session_id)),
      client_(client),
      hostname_(std::move(hostname)),
      trusted_(policy.trusted(client.address)),
      policy_(policy),
      queue_(queue),
      on_committed_(std::move(on_committed)),
      auth_(auth),
      on_auth_(std::move(on_auth)) {}

SessionHost::~SessionHost() { abort_message(); }

void SessionHost::record_in(observe::History* history, observe::TranscriptMode transcripts) {
    if (history)
        recorder_ = std::make_unique<SessionRecorder>(*history, transcripts, session_id_, client_.address, client_.name,
                                                      no_name_reason_);
}

bool SessionHost::over_rate(policy::RateLimiter* rate, const char* limit) {
    if (!rate || rate->hit(rate_key_, policy::RateLimiter::Clock::now())) return false;
    observe::warn("rate-limited", {{"session", session_id_}, {"client", client_.address}, {"limit", limit}});
    return true;
}

smtp::Reply SessionHost::check_mail(const smtp::Envelope& envelope) {
    // A new transaction: nothing of an earlier one's recipients is carried into it.
    expanded_.clear();
    expanded_keys_.clear();
    // An authenticated user sends as itself (or the senders listed for it), never as anyone.
    if (session_ && auth_ && !session_->authenticated_user().empty()) {
        const std::string sender = envelope.sender_str();
        if (!auth_->credentials().may_send_as(session_->authenticated_user(), sender)) {
            std::string shown = sender;
            for (char& c : shown)
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
            return {553, "5.7.1", "<" + shown + ">: Sender address not owned by the authenticated user"};
        }
    }
    // RFC 5321 4.5.3.1.10 / RFC 3463 X.3.1: no new mail while the spool is short of space, and
    // none whose declared SIZE= would not fit (RFC 1870 6.1). What the spool thread measured
    // last: no statvfs here, on the event loop.
    const queue::Queue::Storage storage = queue_.storage();
    if (storage.low() || (envelope.declared_size && *envelope.declared_size > storage.room()))
        return {452, "4.3.1", "Insufficient system storage"};
    // As Postfix's anvil: a 4xx (RFC 5321 4.2.5, X.7.1 RFC 3463), so the client comes back later.
    if (over_rate(message_rate_, "message_rate")) return {450, "4.7.1", "Error: too much mail from your address, try again later"};
    // Mail from outside is checked (SPF starts now, while RCPT goes on); an authenticated
    // client's is marked as such. Our own networks' mail is neither.
    reception_auth_.reset();
    if (msgauth_) {
        const std::string user = session_ ? session_->authenticated_user() : std::string{};
        const bool outside = user.empty() && !trusted_;
        const bool checked = outside && msgauth_->settings.verify;
        const bool marked = !user.empty() && msgauth_->settings.verify;
        const bool signable = !outside && !msgauth_->signing_keys.empty();
        // Each checked MAIL starts DNS work nobody cancels: a session gets a bounded number.
        if (checked && ++checked_transactions_ > kMaxCheckedTransactions)
            return {450, "4.7.1", "Too many transactions in one session, connect again"};
        if (checked || marked || signable)
            reception_auth_ = std::make_unique<ReceptionAuth>(*msgauth_, user.empty() ? std::nullopt : std::optional(user), checked);
        if (reception_auth_)
            reception_auth_->mail(client_.address, envelope.sender_str(), session_ ? session_->helo_name() : std::string{},
                                  static_cast<std::int64_t>(std::time(nullptr)));
    }
    return {250, "2.1.0", "Ok"};
}

smtp::Reply SessionHost::check_rcpt(const smtp::Envelope& envelope, const smtp::Recipient& rcpt) {
    // RFC 6409 / RFC 4954: an authenticated client may relay, as a trusted network may.
    const bool authenticated = session_ && !session_->authenticated_user().empty();
    if (over_rate(recipient_rate_, "recipient_rate"))
        return {450, "4.7.1", "Error: too many recipients from your address, try again later"};
    if (reception_auth_)
        if (auto refusal = reception_auth_->check_rcpt()) return *refusal;
    // RFC 1870 6: SIZE= lets a full mailbox be refused now (552 5.2.2) rather than after DATA.
    const policy::RcptVerdict verdict =
        policy_.resolve_rcpt(rcpt.address, trusted_ || authenticated, envelope.declared_size.value_or(0));
    if (!verdict.accepted()) return verdict.reply;
    // RFC 5321 3.9.1: the alias is replaced by what it expands to, now, so that the queue gets
    // the final recipients and what the client was told is what is delivered. A mailbox
    // reached twice in one transaction (an alias and its member, two aliases sharing one) is
    // given one copy: duplicates collapse across RCPTs as they do inside one expansion.
    std::vector<smtp::Recipient> fresh;
    std::unordered_set<std::string> fresh_keys;
    for (auto& r : policy::expanded_recipients(rcpt, verdict)) {
        std::string key = recipient_key(r.address);
        if (expanded_keys_.count(key) || !fresh_keys.insert(std::move(key)).second) continue;
        fresh.push_back(std::move(r));
    }
    // Bounded memory: each RCPT reaches at most kMaxExpansionDestinations, and the whole
    // transaction at most kMaxTransactionRecipients; beyond, this RCPT is put off
    // (RFC 5321 4.5.3.1.10: 452, the client sends the rest in another transaction).
    if (expanded_.size() + fresh.size() > kMaxTransactionRecipients)
        return {452, "4.5.3", "Too many recipients"};
    for (auto& r : fresh) expanded_.push_back(std::move(r));
    expanded_keys_.merge(fresh_keys);
    // A bounce to an SRS address of ours goes back to the address it was made from.
    if (!verdict.srs_original.empty()) event("srs-reversed", "<" + verdict.srs_original + ">");
    return verdict.reply;
}

std::string SessionHost::recipient_key(const smtp::Mailbox& address) {
    std::string key = address.unquoted_local_part();
    key += '@';
    key += address.domain;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return c < 0x80 ? static_cast<char>(std::tolower(c)) : static_cast<char>(c); });
    return key;
}

smtp::Envelope SessionHost::queued_envelope(const smtp::Envelope& envelope) const {
    smtp::Envelope queued = envelope;
    // Every recipient the session holds had its verdict from check_rcpt, which kept what it
    // stands for; the session refuses the others itself and never adds them.
    if (!expanded_.empty()) queued.recipients = expanded_;
    return queued;
}

void SessionHost::authenticate(const std::string& user, std::string password) {
    if (!auth_ || !on_auth_) {
        std::fill(password.begin(), password.end(), '\0');
        if (on_auth_) on_auth_(smtp::AuthVerdict::Unavailable, std::chrono::steady_clock::now());
        return;
    }
    auto notify = on_auth_;
    auth_->verify(client_.address, user, std::move(password), [notify](policy::AuthResult r, policy::AuthService::Clock::time_point not_before) {
        smtp::AuthVerdict v = smtp::AuthVerdict::Failed;
        switch (r) {
            case policy::AuthResult::Ok: v = smtp::AuthVerdict::Ok; break;
            case policy::AuthResult::Failed: v = smtp::AuthVerdict::Failed; break;
            case policy::AuthResult::Locked: v = smtp::AuthVerdict::Locked; break;
            case policy::AuthResult::Unavailable: v = smtp::AuthVerdict::Unavailable; break;
        }
        notify(v, not_before);
    });
}

std::optional<smtp::Reply> SessionHost::begin_message(const smtp::Envelope& envelope) {
    const std::string helo = session_ ? session_->helo_name() : std::string{};
    message_ = queue_.begin(queued_envelope(envelope), queue::Reception{session_id_, client_.address, helo});
    if (!message_) return smtp::Reply{451, "4.3.0", "Queue unavailable, try again later"};

    // RFC 5321 4.4: the trace header goes first; "for" only when it names the one recipient,
    // so that a message to many does not disclose the others.
    smtp::ReceivedFields fields;
    fields.helo = helo;
    fields.client_address = client_.address;
    fields.client_name = client_.name;
    fields.by_host = hostname_;
    fields.protocol = session_ ? session_->protocol() : "ESMTP";
    if (tls_) fields.tls = tls_->describe();  // RFC 3848 ESMTPS, and what it was, as Postfix writes
    fields.queue_id = message_->id();
    if (envelope.recipients.size() == 1) fields.for_recipient = envelope.recipients.front().address.str();
    fields.date = smtp::rfc5322_date(static_cast<std::int64_t>(std::time(nullptr)), 0);
    message_->append(smtp::received_header(fields));
    if (reception_auth_) reception_auth_->begin_content();
    return std::nullopt;
}

void SessionHost::message_data(std::string_view content) {
    if (!message_) return;
    if (!reception_auth_) {
        message_->append(content);
        return;
    }
    scratch_.clear();
    reception_auth_->content(content, scratch_);
    if (!scratch_.empty()) message_->append(scratch_);
}

void SessionHost::end_message(const smtp::Envelope& envelope) {
    if (!message_) {
        on_committed_({451, "4.3.0", "Message lost, try again later"});
        return;
    }
    (void)envelope;
    if (!reception_auth_) return commit_message();
    scratch_.clear();
    reception_auth_->end_content(scratch_);
    if (!scratch_.empty()) message_->append(scratch_);
    if (!loop_post_) return commit_message();
    // RFC 7489 6.6.4: pct= is applied by a random draw.
    thread_local std::minstd_rand random{std::random_device{}()};
    const unsigned draw = std::uniform_int_distribution<unsigned>(0, 99)(random);
    const bool forwarded = std::any_of(expanded_.begin(), expanded_.end(), [](const smtp::Recipient& r) { return r.forwarded; });
    auto post = loop_post_;
    verifying_ = true;
    reception_auth_->finish(static_cast<std::int64_t>(std::time(nullptr)), draw, forwarded, [post, this](ReceptionAuth::Outcome o) {
        post([this, o = std::move(o)]() mutable {
            if (!verifying_) return;  // overdue, answered already
            verifying_ = false;
            verified(std::move(o));
        });
    });
}

void SessionHost::verification_overdue() {
    if (!verifying_) return;
    verifying_ = false;
    ReceptionAuth::Outcome o;
    o.refusal = smtp::Reply{451, "4.7.5", "Message authentication took too long (DNS), try again later"};
    o.verdicts = "not decided within " + std::to_string(verdict_wait().count()) + " s";
    verified(std::move(o));
}

void SessionHost::verified(ReceptionAuth::Outcome outcome) {
    if (!message_) {
        on_committed_({451, "4.3.0", "Message lost, try again later"});
        return;
    }
    observe::info("msgauth", {{"session", session_id_}, {"id", message_->id()}, {"verdicts", outcome.verdicts},
                              {"result", outcome.refusal ? outcome.refusal->one_line() : std::string("accepted")}});
    if (outcome.refusal) {
        // A refused message has no queue id to be found by; its DMARC row still counts.
        if (recorder_ && !outcome.dmarc_row.empty()) recorder_->verified({}, outcome.verdicts, std::move(outcome.dmarc_row));
        queue_.abort(std::move(message_));
        on_committed_(*outcome.refusal);
        return;
    }
    message_->prepend(outcome.top);
    if (recorder_) recorder_->verified(message_->id(), outcome.verdicts, std::move(outcome.dmarc_row));
    commit_message();
}

void SessionHost::commit_message() {
    auto id = message_->id();
    auto notify = on_committed_;
    queue_.commit(std::move(message_), [notify, id, metrics = metrics_, ended = std::chrono::steady_clock::now()](bool ok) {
        if (ok && metrics) {
            metrics->messages_accepted.inc();
            metrics->accept_duration.observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - ended).count());
        }
        if (ok)
            notify({250, "2.0.0", "Ok: queued as " + id});
        else
            notify({451, "4.3.0", "Could not store message, try again later"});
    });
}

void SessionHost::abort_message() {
    if (message_) queue_.abort(std::move(message_));
}

void SessionHost::tls_established(const TlsParameters& parameters) {
    tls_ = parameters;
    if (recorder_) recorder_->tls(parameters.describe());
    observe::info("tls", {{"session", session_id_}, {"client", client_.address}, {"version", parameters.version},
                          {"cipher", parameters.cipher}, {"bits", parameters.bits}, {"sni", parameters.sni}});
}

smtp::Reply SessionHost::verify(const smtp::Mailbox& address) { return policy_.verify(address); }

void SessionHost::trace(bool from_client, std::string_view line) {
    if (recorder_) recorder_->line(from_client, line);
    if (metrics_) {
        if (from_client) {
            // AUTH's later lines are "(authentication data)": not commands.
            if (!line.starts_with('(')) metrics_->command(line.substr(0, line.find(' ')));
        } else if (line.size() == 3 || (line.size() > 3 && line[3] == ' ')) {
            // The last line of a reply: one reply, however many lines it has.
            metrics_->reply(observe::reply_code(line));
        }
    }
    if (!observe::dialog_enabled()) return;
    observe::info("dialog", {{"session", session_id_}, {"dir", from_client ? "in" : "out"}, {"line", line}});
}

void SessionHost::event(std::string_view what, std::string_view detail) {
    if (recorder_ && what == "auth") recorder_->authenticated(std::string(detail));
    if (metrics_ && what == "rejected") {
        // "550 5.1.1 <x@example.org>: ..." (an enhanced code only after EHLO)
        const int code = observe::reply_code(detail);
        std::string_view rest = detail.size() > 4 ? detail.substr(4) : std::string_view{};
        const std::string_view enhanced = rest.substr(0, rest.find(' '));
        metrics_->message_refused(observe::refusal_reason(code, enhanced));
    }
    observe::info(what, {{"session", session_id_}, {"detail", detail}});
}

}  // namespace ehlo::net
