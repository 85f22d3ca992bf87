// The history's lock-free queue: bounded, FIFO, and nothing lost or doubled under contention.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "observe/bounded_queue.hpp"

namespace ehlo::observe {
namespace {

TEST(BoundedQueue, HoldsUpToItsCapacityInOrder) {
    BoundedQueue<int> q(4);
    EXPECT_EQ(q.capacity(), 4u);
    for (int i = 0; i < 4; ++i) {
        int v = i;
        EXPECT_TRUE(q.push(v));
    }
    int extra = 99;
    EXPECT_FALSE(q.push(extra));
    EXPECT_EQ(extra, 99);  // a refused value stays with the caller
    for (int i = 0; i < 4; ++i) EXPECT_EQ(q.pop(), i);
    EXPECT_FALSE(q.pop());
    EXPECT_EQ(q.pushed(), 4u);
}

TEST(BoundedQueue, CapacityIsRoundedUpToAPowerOfTwo) {
    EXPECT_EQ(BoundedQueue<int>(5).capacity(), 8u);
    EXPECT_EQ(BoundedQueue<int>(0).capacity(), 2u);
}

TEST(BoundedQueue, KeepsGoingRoundTheRing) {
    BoundedQueue<std::unique_ptr<int>> q(2);
    for (int i = 0; i < 1000; ++i) {
        auto p = std::make_unique<int>(i);
        ASSERT_TRUE(q.push(p));
        EXPECT_EQ(p, nullptr);  // moved in
        auto out = q.pop();
        ASSERT_TRUE(out);
        EXPECT_EQ(**out, i);
    }
}

TEST(BoundedQueue, ManyProducersOneConsumerLoseAndDoubleNothing) {
    BoundedQueue<int> q(1024);
    constexpr int kThreads = 8, kEach = 20000;
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t)
        producers.emplace_back([&q, t] {
            for (int i = 0; i < kEach; ++i) {
                int v = t * kEach + i;
                while (!q.push(v)) std::this_thread::yield();
            }
        });
    std::vector<int> last(kThreads, -1);
    std::set<int> seen;
    while (seen.size() < static_cast<std::size_t>(kThreads * kEach)) {
        auto v = q.pop();
        if (!v) continue;
        EXPECT_TRUE(seen.insert(*v).second) << *v;
        const int t = *v / kEach;
        EXPECT_GT(*v % kEach, last[t]);  // each producer's values in its order
        last[t] = *v % kEach;
    }
    for (auto& p : producers) p.join();
    EXPECT_FALSE(q.pop());
}

}  // namespace
}  // namespace ehlo::observe
