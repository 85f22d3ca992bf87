// Connects one SMTP session to policy and the queue: the engine asks, this answers.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "net/reception_auth.hpp"
#include "net/tls_context.hpp"
#include "net/session_recorder.hpp"
#include "observe/ehlo_metrics.hpp"
#include "policy/auth_service.hpp"
#include "policy/policy.hpp"
#include "policy/rate_limiter.hpp"
#include "queue/queue.hpp"
#include "smtp/session.hpp"

namespace ehlo::net {

// Final recipients one transaction may reach once its aliases are expanded (each RCPT reaches at
// most policy::kMaxExpansionDestinations).
inline constexpr std::size_t kMaxTransactionRecipients = 10 * policy::kMaxExpansionDestinations;

// MAIL commands from outside one session may check (each starts SPF); then 450 4.7.1.
inline constexpr std::size_t kMaxCheckedTransactions = 100;

class SessionHost final : public smtp::SessionHost {
public:
    // `on_committed` delivers the queue's verdict back to the connection's own event loop; it is
    // called from a queue thread and must only post.
    using CommitNotifier = std::function<void(smtp::Reply)>;
    // The same for an AUTH verdict, which must not be given before `not_before`.
    using AuthNotifier = std::function<void(smtp::AuthVerdict, std::chrono::steady_clock::time_point not_before)>;

    SessionHost(std::string session_id, const smtp::ClientInfo& client, std::string hostname,
                const policy::Policy& policy, queue::Queue& queue, CommitNotifier on_committed,
                policy::AuthService* auth = nullptr, AuthNotifier on_auth = {});
    ~SessionHost() override;

    // What makes two recipients one mailbox: the unquoted local part and the domain, ASCII
    // letters in lower case (the pickup of local submissions collapses duplicates the same way).
    static std::string recipient_key(const smtp::Mailbox& address);

    void attach(const smtp::Session& session) { session_ = &session; }
    // The server's per-client counters of MAIL and RCPT commands, and whom they count
    // (policy::rate_limit_key); not given for a client of the trusted networks.
    // The metrics this session counts into (commands, replies, refusals, messages accepted
    // and the time to their 250); none when null.
    void count_in(observe::EhloMetrics* metrics) { metrics_ = metrics; }
    // The client's name confirmed by forward DNS (empty: none, `no_name_reason` says why), for
    // Received and the history; given before record_in(), which records the connection.
    void client_named(std::string name, std::string no_name_reason) {
        client_.name = std::move(name);
        no_name_reason_ = std::move(no_name_reason);
    }
    // The history the session's own events go to (with its transcript); none when null.
    void record_in(observe::History* history, observe::TranscriptMode transcripts);
    // Message authentication of what this session receives (none when null). `post` runs a
    // step on the connection's own loop, and not at all once the connection is gone.
    using LoopPost = std::function<void(std::function<void()>)>;
    void verify_with(const MsgauthService* service, LoopPost post) {
        msgauth_ = service;
        loop_post_ = std::move(post);
    }
    void count_rates(policy::RateLimiter* messages, policy::RateLimiter* recipients, std::string key) {
        message_rate_ = messages;
        recipient_rate_ = recipients;
        rate_key_ = std::move(key);
    }
    const std::string& session_id() const { return session_id_; }
    bool client_trusted() const { return trusted_; }  // inside [relay] trusted_networks
    // The TLS handshake finished: logged, and named in the Received header of what follows.
    void tls_established(const TlsParameters& parameters);
    // "TLSv1.3 with cipher ... (256/256 bits)", or "none".
    std::string tls_summary() const { return tls_ ? tls_->describe() : "none"; }
    // How long the connection lets the end of DATA wait for message authentication's verdict;
    // then verification_overdue(): the message is put off (451 4.7.5), and the verdict,
    // should it come, is dropped.
    std::chrono::seconds verdict_wait() const { return msgauth_ ? msgauth_->verdict_wait : std::chrono::seconds{30}; }
    void verification_overdue();
    // The message being received has too much content waiting for the disk.
    bool backlogged() const { return message_ && message_->backlogged(); }

    smtp::Reply check_mail(const smtp::Envelope& envelope) override;
    smtp::Reply check_rcpt(const smtp::Envelope& envelope, const smtp::Recipient& rcpt) override;
    std::optional<smtp::Reply> begin_message(const smtp::Envelope& envelope) override;
    void message_data(std::string_view content) override;
    void end_message(const smtp::Envelope& envelope) override;
    void abort_message() override;
    void authenticate(const std::string& user, std::string password) override;
    smtp::Reply verify(const smtp::Mailbox& address) override;
    void trace(bool from_client, std::string_view line) override;
    void event(std::string_view what, std::string_view detail) override;

private:
    std::string session_id_;
    smtp::ClientInfo client_;
    std::string no_name_reason_;
    std::string hostname_;
    bool trusted_;
    const policy::Policy& policy_;
    queue::Queue& queue_;
    CommitNotifier on_committed_;
    policy::AuthService* auth_;
    AuthNotifier on_auth_;
    // The recipients of the transaction as the queue gets them: each accepted RCPT replaced by
    // its alias expansion (RFC 5321 3.9.1), duplicates left out, in the order first reached.
    smtp::Envelope queued_envelope(const smtp::Envelope& envelope) const;
    std::vector<smtp::Recipient> expanded_;
    std::unordered_set<std::string> expanded_keys_;

    bool over_rate(policy::RateLimiter* rate, const char* limit);
    void commit_message();
    void verified(ReceptionAuth::Outcome outcome);
    const MsgauthService* msgauth_ = nullptr;
    LoopPost loop_post_;
    std::unique_ptr<ReceptionAuth> reception_auth_;  // this transaction's checks, if any
    bool verifying_ = false;                         // a verdict is awaited
    std::size_t checked_transactions_ = 0;
    std::string scratch_;
    observe::EhloMetrics* metrics_ = nullptr;
    std::unique_ptr<SessionRecorder> recorder_;
    policy::RateLimiter* message_rate_ = nullptr;
    policy::RateLimiter* recipient_rate_ = nullptr;
    std::string rate_key_;

    const smtp::Session* session_ = nullptr;
    std::unique_ptr<queue::IncomingMessage> message_;
    std::optional<TlsParameters> tls_;
};

}  // namespace ehlo::net
