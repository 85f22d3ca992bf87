// How much message content the queue keeps in memory after its commit, in all.
//
// A small message is kept in memory from its 250 to its first delivery attempt, so that the
// attempt needs no read of the spool file. But an attempt may wait (for a connection slot, for
// a destination that is slow), and every waiting message would then hold its content: under a
// backlog, memory would grow with the queue. The budget caps the bytes held that way across the
// whole queue; content beyond it is simply read from the spool file when its turn comes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace ehlo::queue {

class ContentBudget {
public:
    explicit ContentBudget(std::uint64_t limit) : state_(std::make_shared<State>(limit)) {}

    // `content` as a shared string counted against the budget until its last reference is
    // gone (whichever thread drops it); empty when the budget has no room for it.
    std::shared_ptr<const std::string> keep(std::string&& content) const;
    std::uint64_t used() const { return state_->used.load(std::memory_order_relaxed); }

private:
    struct State {
        explicit State(std::uint64_t l) : limit(l) {}
        const std::uint64_t limit;
        std::atomic<std::uint64_t> used{0};
    };
    std::shared_ptr<State> state_;  // shared with the strings it counts, which may outlive the queue
};

}  // namespace ehlo::queue
