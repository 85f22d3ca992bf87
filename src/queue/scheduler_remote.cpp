// Remote recipients on the delivery scheduler: a pass hands them to the RemoteTransport, one
// job per next hop, and their outcomes come back as events on the delivery thread.
#include <algorithm>
#include <chrono>

#include "delivery/dsn.hpp"
#include "delivery/file_io.hpp"
#include "queue/outcome_text.hpp"
#include "queue/remote_jobs.hpp"
#include "queue/scheduler_pass.hpp"

namespace ehlo::queue {
namespace {

// A peer's reply for the history: as it was sent, one line of it per line.
std::string reply_lines(const smtp::Reply& reply) {
    std::string text = reply.wire(true);
    std::string out;
    for (std::size_t at = 0, crlf; (crlf = text.find("\r\n", at)) != std::string::npos; at = crlf + 2) {
        if (!out.empty()) out += '\n';
        out.append(text, at, crlf - at);
    }
    return out;
}

}  // namespace

void DeliveryScheduler::start_remote(Pass& pass, std::vector<Result>& results) {
    QueuedMessage& message = *pass.message;

    // RFC 5321 6.3: a message that has passed this many MTAs is going round in circles.
    const std::size_t received = message.facts.received;
    if (received > max_received_) {
        const smtp::Reply loop(kLoopReplyCode, kLoopStatus,
                               "Too many Received header fields (" + std::to_string(received) + "): mail loop");
        for (const auto& routed : pass.remote) {
            Result failed;
            failed.kind = Result::Kind::Failed;
            failed.recipient = routed.first;
            failed.text = loop.one_line();
            results.push_back(std::move(failed));
        }
        return;
    }

    // The content is read only when a connection is ready for it: from memory for a message
    // just received (its first attempt), else from the spool file a piece at a time.
    SharedContent shared;
    if (pass.content)
        shared.content = std::make_shared<delivery::MemoryContent>(pass.content);
    else
        shared.content = std::make_shared<SpoolContent>(message.path);
    shared.size = message.content_size;
    shared.facts = message.facts;
    const std::vector<RemoteGroup> groups = group_by_target(pass.remote);
    {
        std::lock_guard lock(core_->mutex);
        message.jobs_in_flight += groups.size();
        jobs_in_flight_ += groups.size();
    }
    for (const RemoteGroup& group : groups) {
        // The outcome comes on a transport thread: it is only handed over to this one.
        auto done = [core = core_, run = run_, owner = pass.message, recipients = group.recipients,
                     next_hop = next_hop_of(group.target),
                     started = std::chrono::steady_clock::now()](delivery::RemoteOutcome outcome) {
            SchedulerEvent event;
            event.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            event.next_hop = next_hop;
            event.kind = SchedulerEvent::Kind::RemoteDone;
            event.message = owner;
            event.recipients = recipients;
            event.outcome = std::move(outcome);
            core->post(run, std::move(event));
        };
        try {
            remote_->deliver(make_job(message.header.id, message.header.envelope, group, shared), std::move(done));
        } catch (const std::exception& e) {
            // The transport could not take the job: as if it had answered "try later".
            SchedulerEvent event;
            event.kind = SchedulerEvent::Kind::RemoteDone;
            event.message = pass.message;
            event.recipients = group.recipients;
            for (std::size_t i : group.recipients)
                event.outcome.recipients.push_back(
                    {i, smtp::Reply(451, "4.3.0", std::string("cannot start delivery: ") + e.what()),
                     delivery::Outcome::Deferred, false});
            core_->post(run_, std::move(event));
        }
    }
}

void DeliveryScheduler::on_remote_done(SchedulerEvent& event) {
    QueuedMessage& message = *event.message;
    {
        std::lock_guard lock(core_->mutex);
        message.jobs_in_flight -= 1;
        jobs_in_flight_ -= 1;
        if (!registered(message)) return;  // removed meanwhile
    }
    std::vector<Result> results;
    std::vector<bool> answered(message.recipients.size());
    for (const delivery::RecipientResult& rr : event.outcome.recipients) {
        // Only the job's own recipients, each once: the transport is trusted with no more.
        if (std::find(event.recipients.begin(), event.recipients.end(), rr.index) == event.recipients.end() ||
            answered[rr.index])
            continue;
        answered[rr.index] = true;
        Result r;
        r.recipient = rr.index;
        r.seconds = event.seconds;
        if (event.outcome.connected)
            r.tls = event.outcome.tls ? event.outcome.tls->describe() + (event.outcome.tls->verified ? ", verified" : ", not verified")
                                      : std::string(delivery::kNoTls);
        r.peer = event.outcome.remote_mta;
        r.from_peer = rr.remote;
        r.text = rr.reply.one_line();
        r.next_hop = event.next_hop;
        r.host = event.outcome.host;
        r.address = event.outcome.address;
        if (rr.remote) r.reply = reply_lines(rr.reply);
        switch (rr.outcome) {
            case delivery::Outcome::Delivered:
                r.kind = Result::Kind::Delivered;
                r.text = std::string(event.outcome.dsn_passed_on ? kPassedOnPrefix : kRelayedPrefix) + r.text;
                break;
            case delivery::Outcome::Failed: r.kind = Result::Kind::Failed; break;
            case delivery::Outcome::Deferred: r.kind = Result::Kind::Deferred; break;
        }
        results.push_back(std::move(r));
    }
    for (std::size_t i : event.recipients) {
        if (i >= answered.size() || answered[i]) continue;
        Result r;
        r.recipient = i;
        r.text = smtp::Reply(451, "4.3.0", "no outcome from the remote delivery").one_line();
        results.push_back(std::move(r));
    }
    record(message, results);
    settle(event.message);
}

}  // namespace ehlo::queue
