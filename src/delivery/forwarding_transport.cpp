#include "delivery/forwarding_transport.hpp"

#include <memory>
#include <mutex>

namespace ehlo::delivery {

namespace {

// The outcomes of the two halves of a split job, given to the queue once both are in.
struct Merge {
    std::mutex mutex;
    std::size_t pending = 2;
    RemoteOutcome outcome;
    bool dsn_passed_on = true;
    std::function<void(RemoteOutcome)> done;

    void add(RemoteOutcome part) {
        std::function<void(RemoteOutcome)> finish;
        {
            std::lock_guard lock(mutex);
            for (auto& r : part.recipients) outcome.recipients.push_back(std::move(r));
            if (!part.remote_mta.empty()) outcome.remote_mta = std::move(part.remote_mta);
            // A success DSN is the next hop's only when both transactions passed DSN on.
            dsn_passed_on = dsn_passed_on && part.dsn_passed_on;
            if (--pending != 0) return;
            outcome.dsn_passed_on = dsn_passed_on;
            finish = std::move(done);
        }
        finish(std::move(outcome));  // the last one in: nothing else touches `outcome` now
    }
};

}  // namespace

void ForwardingTransport::deliver(RemoteJob job, std::function<void(RemoteOutcome)> done) {
    std::vector<std::size_t> forwarded, others;
    for (std::size_t i : job.recipients) {
        const bool fwd = i < job.envelope.recipients.size() && job.envelope.recipients[i].forwarded;
        (fwd ? forwarded : others).push_back(i);
    }
    std::optional<smtp::Mailbox> sender;
    if (!forwarded.empty() && rewrite_) sender = rewrite_(job.envelope.sender);
    if (!sender) return inner_.deliver(std::move(job), std::move(done));
    if (others.empty()) {
        job.envelope.sender = std::move(sender);
        return inner_.deliver(std::move(job), std::move(done));
    }

    auto merge = std::make_shared<Merge>();
    merge->done = std::move(done);
    RemoteJob rewritten = job;
    rewritten.recipients = std::move(forwarded);
    rewritten.envelope.sender = std::move(sender);
    job.recipients = std::move(others);
    const std::vector<std::size_t> second = rewritten.recipients;
    // A refusal of the first half is the caller's to see (nothing was started); once it runs,
    // the second half reports through the merge whatever happens to it.
    inner_.deliver(std::move(job), [merge](RemoteOutcome o) { merge->add(std::move(o)); });
    try {
        inner_.deliver(std::move(rewritten), [merge](RemoteOutcome o) { merge->add(std::move(o)); });
    } catch (const std::exception& e) {
        RemoteOutcome refused;
        for (std::size_t i : second)
            refused.recipients.push_back(
                {i, smtp::Reply(451, "4.3.0", std::string("cannot start delivery: ") + e.what()), Outcome::Deferred, false});
        merge->add(std::move(refused));
    }
}

}  // namespace ehlo::delivery
