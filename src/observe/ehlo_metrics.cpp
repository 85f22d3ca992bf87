#include "observe/ehlo_metrics.hpp"

#include "observe/history.hpp"

namespace ehlo::observe {
namespace {

using metrics::Registry;

// Index i of kVerbs is commands_[i]; the last is "other".
constexpr std::array<std::string_view, 15> kVerbs{"HELO", "EHLO", "MAIL", "RCPT",     "DATA", "BDAT", "RSET", "NOOP",
                                                  "QUIT", "VRFY", "EXPN", "HELP", "STARTTLS", "AUTH", "other"};
constexpr std::array<std::string_view, 4> kClasses{"2xx", "3xx", "4xx", "5xx"};
constexpr std::array<std::string_view, 8> kReasons{"relay_denied", "unknown_recipient", "too_large",
                                                   "too_many_recipients", "syntax", "content", "temporary", "other"};
constexpr std::array<std::string_view, 2> kTransports{"local", "smtp"};
constexpr std::array<std::string_view, 3> kOutcomes{"delivered", "deferred", "failed"};
constexpr std::array<std::string_view, 3> kStates{"pending", "deferred", "held"};

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char c = a[i];
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        if (c != b[i]) return false;
    }
    return true;
}

}  // namespace

RefusalReason refusal_reason(int code, std::string_view enhanced) {
    // The subject and detail of "C.S.D" (RFC 3463 section 3).
    const std::size_t dot = enhanced.find('.');
    const std::string_view rest = dot == std::string_view::npos ? std::string_view{} : enhanced.substr(dot + 1);
    if (rest == "7.1" && code >= 500) return RefusalReason::RelayDenied;
    if (rest == "1.1") return RefusalReason::UnknownRecipient;
    if (rest == "3.4") return RefusalReason::TooLarge;
    if (rest == "5.3") return RefusalReason::TooManyRecipients;
    if (rest == "5.2" || rest == "5.4" || rest == "1.3" || rest == "1.7") return RefusalReason::Syntax;
    if (rest.substr(0, 2) == "6." || rest == "4.6") return RefusalReason::Content;
    if (code >= 400 && code < 500) return RefusalReason::Temporary;
    return RefusalReason::Other;
}

const std::vector<double>& EhloMetrics::accept_buckets() {
    static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    return b;
}

const std::vector<double>& EhloMetrics::queue_buckets() {
    static const std::vector<double> b{0.01, 0.1, 1, 10, 60, 300, 900, 3600, 4 * 3600, 86400, 5 * 86400};
    return b;
}

const std::vector<double>& EhloMetrics::attempt_buckets() {
    static const std::vector<double> b{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600};
    return b;
}

EhloMetrics::EhloMetrics(Registry& r)
    : registry_(r),
      connections_(r.counter_family("ehlo_smtp_connections_total",
                                    "SMTP connections from clients, accepted or refused over a connection limit.",
                                    {"result"})),
      received_(r.counter_family("ehlo_network_receive_bytes_total",
                                 "Octets received: from SMTP clients (inbound) and from the servers mail is "
                                 "delivered to (outbound).",
                                 {"side"})),
      transmitted_(r.counter_family("ehlo_network_transmit_bytes_total",
                                    "Octets sent: to SMTP clients (inbound) and to the servers mail is delivered "
                                    "to (outbound).",
                                    {"side"})),
      connections_accepted(connections_.with({"accepted"})),
      connections_refused(connections_.with({"refused"})),
      open_connections(r.gauge("ehlo_smtp_open_connections", "SMTP connections from clients open now.")),
      messages_accepted(r.counter("ehlo_messages_accepted_total", "Messages accepted into the queue (250 sent).")),
      inbound_received_bytes(received_.with({"inbound"})),
      inbound_sent_bytes(transmitted_.with({"inbound"})),
      outbound_received_bytes(received_.with({"outbound"})),
      outbound_sent_bytes(transmitted_.with({"outbound"})),
      accept_duration(r.histogram("ehlo_smtp_accept_duration_seconds",
                                  "Seconds from the end of a message's data to its 250 reply, the sync to disk "
                                  "included.",
                                  accept_buckets())),
      queue_duration(r.histogram("ehlo_queue_duration_seconds",
                                 "Seconds from a message's arrival to a recipient's final outcome (delivered or "
                                 "bounced).",
                                 queue_buckets())) {
    auto& commands = r.counter_family("ehlo_smtp_commands_total", "SMTP commands received, by verb.", {"verb"});
    for (std::size_t i = 0; i < kVerbs.size(); ++i) commands_[i] = &commands.with({kVerbs[i]});
    auto& replies = r.counter_family("ehlo_smtp_replies_total", "SMTP replies sent to clients, by class.", {"class"});
    for (std::size_t i = 0; i < kClasses.size(); ++i) replies_[i] = &replies.with({kClasses[i]});
    auto& refused = r.counter_family("ehlo_messages_refused_total",
                                     "Messages or recipients refused before a message was queued, by reason.",
                                     {"reason"});
    for (std::size_t i = 0; i < kReasons.size(); ++i) refused_[i] = &refused.with({kReasons[i]});
    auto& attempts = r.counter_family("ehlo_delivery_attempts_total",
                                      "Delivery attempts of a recipient, by transport and outcome.",
                                      {"transport", "outcome"});
    auto& durations = r.histogram_family("ehlo_delivery_attempt_duration_seconds",
                                         "Seconds one delivery attempt took, by transport.", {"transport"},
                                         attempt_buckets());
    for (std::size_t t = 0; t < kTransports.size(); ++t) {
        for (std::size_t o = 0; o < kOutcomes.size(); ++o)
            attempts_[t * kOutcomes.size() + o] = &attempts.with({kTransports[t], kOutcomes[o]});
        attempt_durations_[t] = &durations.with({kTransports[t]});
    }
    auto& queued = r.gauge_family("ehlo_queue_recipients", "Recipients in the queue now, by state.", {"state"});
    for (std::size_t i = 0; i < kStates.size(); ++i) queued_[i] = &queued.with({kStates[i]});
}

void EhloMetrics::command(std::string_view verb) {
    for (std::size_t i = 0; i + 1 < kVerbs.size(); ++i) {
        if (iequals(verb, kVerbs[i])) {
            commands_[i]->inc();
            return;
        }
    }
    commands_.back()->inc();
}

void EhloMetrics::reply(int code) {
    if (code < 200 || code > 599) return;
    replies_[static_cast<std::size_t>(code / 100 - 2)]->inc();
}

void EhloMetrics::message_refused(RefusalReason reason) { refused_[static_cast<std::size_t>(reason)]->inc(); }

void EhloMetrics::delivery_attempt(Transport transport, AttemptOutcome outcome, double seconds) {
    const auto t = static_cast<std::size_t>(transport);
    attempts_[t * kOutcomes.size() + static_cast<std::size_t>(outcome)]->inc();
    attempt_durations_[t]->observe(seconds);
}

metrics::Gauge& EhloMetrics::queued_recipients(QueuedState state) { return *queued_[static_cast<std::size_t>(state)]; }

void EhloMetrics::watch(const History& history) {
    registry_.callback("ehlo_history_events_total",
                       "Events of the message history: written to its database, or dropped (its queue was full, "
                       "or the database could not be written).",
                       metrics::Type::Counter, {"result"}, [&history] {
                           const HistoryStats s = history.stats();
                           return std::vector<metrics::Sample>{
                               {{"written"}, static_cast<double>(s.written)},
                               {{"dropped_queue_full"}, static_cast<double>(s.dropped_full)},
                               {{"dropped_write_failed"}, static_cast<double>(s.dropped_failed)},
                           };
                       });
}

}  // namespace ehlo::observe
