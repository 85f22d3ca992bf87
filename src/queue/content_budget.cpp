#include "queue/content_budget.hpp"

namespace ehlo::queue {

std::shared_ptr<const std::string> ContentBudget::keep(std::string&& content) const {
    const std::uint64_t size = content.size();
    std::uint64_t used = state_->used.load(std::memory_order_relaxed);
    do {
        if (used + size > state_->limit) return nullptr;
    } while (!state_->used.compare_exchange_weak(used, used + size, std::memory_order_relaxed));
    return std::shared_ptr<const std::string>(new std::string(std::move(content)),
                                              [state = state_, size](const std::string* s) {
                                                  state->used.fetch_sub(size, std::memory_order_relaxed);
                                                  delete s;
                                              });
}

}  // namespace ehlo::queue
