// A bounded multi-producer queue that never blocks: push() either takes the value at once or
// says the queue is full. The history's event loops push, its writer thread pops.
//
// The algorithm is Dmitry Vyukov's bounded MPMC queue: a ring of cells, each with a sequence
// number that says whose turn the cell is (a producer's for lap n, or the consumer's). A
// producer claims a position with one compare-and-swap on the tail and publishes the value by
// storing the cell's sequence; no locks, no system calls, and no allocation after
// construction. A producer preempted between claiming and publishing only delays the
// consumer at that cell; other producers carry on.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>

namespace ehlo::observe {

template <typename T>
class BoundedQueue {
public:
    // `capacity` is rounded up to a power of two (at least 2).
    explicit BoundedQueue(std::size_t capacity) {
        std::size_t n = 2;
        while (n < capacity) n <<= 1;
        mask_ = n - 1;
        cells_ = std::make_unique<Cell[]>(n);
        for (std::size_t i = 0; i < n; ++i) cells_[i].sequence.store(i, std::memory_order_relaxed);
    }
    BoundedQueue(const BoundedQueue&) = delete;
    BoundedQueue& operator=(const BoundedQueue&) = delete;

    std::size_t capacity() const { return mask_ + 1; }
    // Positions handed out to producers so far; each is popped in this order. A consumer that
    // has popped this many has seen every value pushed before the call.
    std::uint64_t pushed() const { return tail_.load(std::memory_order_acquire); }

    // False when full; `value` is then left as it was.
    bool push(T& value) {
        std::size_t pos = tail_.load(std::memory_order_relaxed);
        Cell* cell = nullptr;
        for (;;) {
            cell = &cells_[pos & mask_];
            const std::size_t seq = cell->sequence.load(std::memory_order_acquire);
            const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
            if (diff == 0) {
                if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
            } else if (diff < 0) {
                return false;  // the cell still holds a value of the previous lap: full
            } else {
                pos = tail_.load(std::memory_order_relaxed);
            }
        }
        cell->value = std::move(value);
        cell->sequence.store(pos + 1, std::memory_order_release);
        return true;
    }

    // Empty when nothing is ready (a value being pushed right now may not be yet).
    std::optional<T> pop() {
        std::size_t pos = head_.load(std::memory_order_relaxed);
        Cell* cell = nullptr;
        for (;;) {
            cell = &cells_[pos & mask_];
            const std::size_t seq = cell->sequence.load(std::memory_order_acquire);
            const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos + 1);
            if (diff == 0) {
                if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
            } else if (diff < 0) {
                return std::nullopt;
            } else {
                pos = head_.load(std::memory_order_relaxed);
            }
        }
        std::optional<T> out(std::move(cell->value));
        cell->value = T{};
        cell->sequence.store(pos + mask_ + 1, std::memory_order_release);
        return out;
    }

private:
    struct Cell {
        std::atomic<std::size_t> sequence{0};
        T value{};
    };
    // Producers and the consumer each touch their own cache line.
    static constexpr std::size_t kLine = 64;
    std::unique_ptr<Cell[]> cells_;
    std::size_t mask_ = 0;
    alignas(kLine) std::atomic<std::size_t> tail_{0};
    alignas(kLine) std::atomic<std::size_t> head_{0};
};

}  // namespace ehlo::observe
