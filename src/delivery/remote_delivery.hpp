// Onward delivery by SMTP (RFC 5321): the RemoteTransport the queue hands remote recipients to.
//
// One thread runs one event loop. Per job: find the next hops (a configured host, else the
// domain's MX hosts, RFC 5321 5.1), connect to their addresses in order until one greets us and
// takes EHLO/HELO, then let the sans-I/O ClientSession speak the protocol on that connection.
// Connections to a destination are reused for its later jobs and capped per destination and in
// all; jobs beyond a cap wait their turn, first come first served. No call on the loop blocks:
// DNS answers come from the Resolver's own thread and are posted in. STARTTLS follows each
// job's RemoteTarget::tls policy (delivery/outbound_tls.hpp); every attempt's outcome says
// whether it was encrypted and how.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "delivery/remote_transport.hpp"

namespace ehlo::observe {
class EhloMetrics;
}

namespace ehlo::delivery {

class Resolver;

struct RemoteOptions {
    std::string helo_name;                              // our name in EHLO (RFC 5321 4.1.1.1)
    std::size_t max_connections = 100;                  // outbound connections in all
    std::size_t max_connections_per_destination = 10;   // per RemoteTarget::key()
    std::size_t max_messages_per_connection = 100;      // then QUIT and reconnect
    std::chrono::milliseconds connect_timeout{30000};   // per address tried
    double timeout_scale = 1.0;                         // multiplies every RFC 5321 4.5.3.2 timeout
    std::chrono::seconds idle_keep = std::chrono::seconds(5);  // an idle connection waits this long for a job
    // The CA files destinations may name (RemoteTarget::tls_ca_file), read when the delivery
    // starts rather than on its event loop; a file that cannot be read throws from the
    // constructor.
    std::vector<std::string> tls_ca_files;
    std::size_t tls_sessions = 1000;  // TLS sessions kept for resumption, in all
    // Octets to and from peers are counted here (ehlo_network_*_bytes_total{side="outbound"});
    // none when null. Must outlive the delivery.
    observe::EhloMetrics* metrics = nullptr;
};

class RemoteDelivery final : public RemoteTransport {
public:
    // Starts the delivery thread. `resolver` must outlive this object.
    RemoteDelivery(RemoteOptions options, Resolver& resolver);
    ~RemoteDelivery() override;  // stop()
    RemoteDelivery(const RemoteDelivery&) = delete;
    RemoteDelivery& operator=(const RemoteDelivery&) = delete;

    // Any thread. `done` runs exactly once, on the delivery thread (or, after stop(), at once on
    // the caller's thread), with one result per job recipient. Throws std::invalid_argument for
    // a job that cannot be sent at all (a recipient index out of range, no content, no `done`):
    // that is a mistake of the caller.
    void deliver(RemoteJob job, std::function<void(RemoteOutcome)> done) override;

    // Every job not yet finished ends with its recipients Deferred ("shutting down"); idle
    // connections are closed with QUIT; then the thread is joined. Idempotent. Not to be called
    // from a `done` callback.
    // Any thread: let transactions under way finish, defer every job not yet on the wire and
    // any given from now on. For a stopping server, before the queue waits for its jobs.
    void drain();
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::delivery
