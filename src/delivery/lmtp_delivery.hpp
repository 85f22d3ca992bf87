// Delivery to the local mailbox server by LMTP (RFC 2033): Dovecot's lmtp, Cyrus, ... The
// RemoteTransport for jobs whose target says `lmtp`, so that the queue treats them as it
// treats onward SMTP (one job per server, each recipient's outcome recorded on its own, the
// same retries and bounces) without knowing the difference.
//
// One thread runs one event loop. A connection (a Unix socket, or TCP to host:port) carries
// the jobs of its server one after another and waits idle_keep for more before it says QUIT;
// up to max_connections_per_destination run side by side. The sans-I/O LmtpSession speaks the
// protocol; content is read off the loop, a piece at a time, as onward SMTP reads it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "delivery/remote_transport.hpp"

namespace ehlo::delivery {

struct LmtpOptions {
    std::string lhlo_name;                             // our name in LHLO
    std::size_t max_connections_per_destination = 4;   // per LMTP server
    std::size_t max_messages_per_connection = 100;     // then QUIT and reconnect
    std::chrono::milliseconds connect_timeout{30000};
    double timeout_scale = 1.0;                        // multiplies the RFC 5321 4.5.3.2 timeouts
    std::chrono::seconds idle_keep = std::chrono::seconds(5);
};

class LmtpDelivery final : public RemoteTransport {
public:
    explicit LmtpDelivery(LmtpOptions options);
    ~LmtpDelivery() override;  // stop()
    LmtpDelivery(const LmtpDelivery&) = delete;
    LmtpDelivery& operator=(const LmtpDelivery&) = delete;

    // Any thread; `done` runs once, on the delivery thread (after stop(): at once, on the
    // caller's). Throws std::invalid_argument for a job that cannot be sent at all (no content,
    // no callback, a recipient index out of range) or whose target is not `lmtp`.
    void deliver(RemoteJob job, std::function<void(RemoteOutcome)> done) override;
    // Every job not finished is Deferred ("shutting down"); then the thread is joined. Idempotent.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Jobs for an LMTP target to `lmtp`, every other to `smtp`. Both must outlive it.
class TransportSwitch final : public RemoteTransport {
public:
    TransportSwitch(RemoteTransport& smtp, RemoteTransport& lmtp) : smtp_(smtp), lmtp_(lmtp) {}
    void deliver(RemoteJob job, std::function<void(RemoteOutcome)> done) override {
        RemoteTransport& t = job.target.lmtp ? lmtp_ : smtp_;
        t.deliver(std::move(job), std::move(done));
    }

private:
    RemoteTransport& smtp_;
    RemoteTransport& lmtp_;
};

}  // namespace ehlo::delivery
