// The metrics ehlo exposes at /metrics, as named objects that the session, queue and delivery
// code update. Names follow Prometheus' conventions: prefix ehlo_, base units (_seconds,
// _bytes), counters end in _total, labels have a small fixed set of values (a verb or reply
// class from the network is mapped onto that set, never used as it came).
//
//   ehlo_smtp_connections_total{result}          accepted | refused (over a connection limit)
//   ehlo_smtp_open_connections                   gauge
//   ehlo_smtp_commands_total{verb}               HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY
//                                                EXPN HELP STARTTLS AUTH other
//   ehlo_smtp_replies_total{class}               2xx 3xx 4xx 5xx
//   ehlo_messages_accepted_total
//   ehlo_messages_refused_total{reason}          see RefusalReason
//   ehlo_network_receive_bytes_total{side}       inbound (from SMTP clients) | outbound (from peers)
//   ehlo_network_transmit_bytes_total{side}
//   ehlo_smtp_accept_duration_seconds            end of data to the 250, the sync included
//   ehlo_queue_recipients{state}                 gauge: pending | deferred | held
//   ehlo_queue_duration_seconds                  arrival to a recipient's final outcome
//   ehlo_delivery_attempts_total{transport,outcome}  local | smtp; delivered | deferred | failed
//   ehlo_delivery_attempt_duration_seconds{transport}
//   ehlo_history_events_total{result}            written | dropped_queue_full | dropped_write_failed
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "observe/metrics.hpp"

namespace ehlo::observe {

class History;

enum class RefusalReason : std::uint8_t {
    RelayDenied,        // X.7.1 with no local recipient (RFC 5321 3.6.2)
    UnknownRecipient,   // X.1.1
    TooLarge,           // X.3.4 (RFC 1870)
    TooManyRecipients,  // X.5.3
    Syntax,             // X.5.2, X.5.4, X.1.3, X.1.7
    Content,            // X.6.x: bad content, a loop, bare LF
    Temporary,          // any other 4xx: the client will try again
    Other,
};
enum class Transport : std::uint8_t { Local, Smtp };
enum class AttemptOutcome : std::uint8_t { Delivered, Deferred, Failed };
enum class QueuedState : std::uint8_t { Pending, Deferred, Held };

// The reason label for a refusal, from its reply's code and enhanced code (RFC 3463).
RefusalReason refusal_reason(int code, std::string_view enhanced_code);

class EhloMetrics {
    // First: the families the public members below are series of.
    metrics::Registry& registry_;
    metrics::Family<metrics::Counter>& connections_;
    metrics::Family<metrics::Counter>& received_;
    metrics::Family<metrics::Counter>& transmitted_;

public:
    // Registers every metric above in `registry`, which must outlive this.
    explicit EhloMetrics(metrics::Registry& registry);

    metrics::Counter& connections_accepted;
    metrics::Counter& connections_refused;
    metrics::Gauge& open_connections;
    metrics::Counter& messages_accepted;
    metrics::Counter& inbound_received_bytes;
    metrics::Counter& inbound_sent_bytes;
    metrics::Counter& outbound_received_bytes;
    metrics::Counter& outbound_sent_bytes;
    metrics::Histogram& accept_duration;  // seconds
    metrics::Histogram& queue_duration;   // seconds

    void command(std::string_view verb);  // any case; unknown verbs count as "other"
    void reply(int code);                 // 200..599; others are ignored
    void message_refused(RefusalReason reason);
    void delivery_attempt(Transport transport, AttemptOutcome outcome, double seconds);
    metrics::Gauge& queued_recipients(QueuedState state);

    // ehlo_history_events_total, read from the history's counters at each scrape; `history`
    // must outlive the registry's use.
    void watch(const History& history);

    // The buckets (seconds), fixed so that series from different ehlo instances aggregate.
    static const std::vector<double>& accept_buckets();
    static const std::vector<double>& queue_buckets();
    static const std::vector<double>& attempt_buckets();

private:
    std::array<metrics::Counter*, 15> commands_{};
    std::array<metrics::Counter*, 4> replies_{};
    std::array<metrics::Counter*, 8> refused_{};
    std::array<metrics::Counter*, 6> attempts_{};
    std::array<metrics::Histogram*, 2> attempt_durations_{};
    std::array<metrics::Gauge*, 3> queued_{};
};

}  // namespace ehlo::observe
