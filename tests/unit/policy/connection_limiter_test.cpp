#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "policy/connection_limiter.hpp"

namespace ehlo::policy {
namespace {

using V = ConnectionLimiter::Verdict;

TEST(ConnectionLimiter, AdmitsUpToTheTotal) {
    ConnectionLimiter l(2, 0);
    EXPECT_EQ(l.admit("192.0.2.1"), V::Admitted);
    EXPECT_EQ(l.admit("192.0.2.2"), V::Admitted);
    EXPECT_EQ(l.admit("192.0.2.3"), V::TooManyTotal);
    EXPECT_EQ(l.total(), 2u);
    l.release("192.0.2.1");
    EXPECT_EQ(l.admit("192.0.2.3"), V::Admitted);
}

TEST(ConnectionLimiter, AdmitsUpToThePerClientLimit) {
    ConnectionLimiter l(0, 2);
    EXPECT_EQ(l.admit("192.0.2.1"), V::Admitted);
    EXPECT_EQ(l.admit("192.0.2.1"), V::Admitted);
    EXPECT_EQ(l.admit("192.0.2.1"), V::TooManyFromClient);
    EXPECT_EQ(l.admit("192.0.2.2"), V::Admitted);
    EXPECT_EQ(l.from_client("192.0.2.1"), 2u);
    EXPECT_EQ(l.total(), 3u);
    l.release("192.0.2.1");
    EXPECT_EQ(l.admit("192.0.2.1"), V::Admitted);
}

TEST(ConnectionLimiter, TotalIsCheckedFirst) {
    ConnectionLimiter l(1, 1);
    EXPECT_EQ(l.admit("a"), V::Admitted);
    EXPECT_EQ(l.admit("a"), V::TooManyTotal);
}

TEST(ConnectionLimiter, ZeroMeansNoLimit) {
    ConnectionLimiter l(0, 0);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(l.admit("192.0.2.1"), V::Admitted);
    EXPECT_EQ(l.total(), 1000u);
}

TEST(ConnectionLimiter, ReleaseErasesClientsAtZero) {
    ConnectionLimiter l(0, 0);
    for (int i = 0; i < 100; ++i) {
        const std::string a = "10.0.0." + std::to_string(i);
        ASSERT_EQ(l.admit(a), V::Admitted);
        ASSERT_EQ(l.admit(a), V::Admitted);
    }
    EXPECT_EQ(l.clients(), 100u);
    for (int i = 0; i < 100; ++i) l.release("10.0.0." + std::to_string(i));
    EXPECT_EQ(l.clients(), 100u);  // one still open each
    for (int i = 0; i < 100; ++i) l.release("10.0.0." + std::to_string(i));
    EXPECT_EQ(l.clients(), 0u);
    EXPECT_EQ(l.total(), 0u);
}

TEST(ConnectionLimiter, RefusedClientsLeaveNoEntry) {
    ConnectionLimiter l(1, 0);
    ASSERT_EQ(l.admit("a"), V::Admitted);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(l.admit("b" + std::to_string(i)), V::TooManyTotal);
    EXPECT_EQ(l.clients(), 1u);
}

TEST(ConnectionLimiter, ReleaseOfUnknownClientIsIgnored) {
    ConnectionLimiter l(1, 0);
    l.release("never-admitted");
    EXPECT_EQ(l.total(), 0u);
    EXPECT_EQ(l.clients(), 0u);
    EXPECT_EQ(l.admit("a"), V::Admitted);
    EXPECT_EQ(l.admit("b"), V::TooManyTotal);
}

TEST(ConnectionLimiter, CountsStayExactUnderConcurrentUse) {
    constexpr int kThreads = 8, kRounds = 2000;
    ConnectionLimiter l(kThreads * 2, 3);
    std::atomic<int> over_limit{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            const std::string client = "client" + std::to_string(t % 3);
            for (int i = 0; i < kRounds; ++i) {
                if (l.admit(client) == V::Admitted) {
                    if (l.from_client(client) > 3 || l.total() > kThreads * 2) ++over_limit;
                    l.release(client);
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(over_limit.load(), 0);
    EXPECT_EQ(l.total(), 0u);
    EXPECT_EQ(l.clients(), 0u);
}

}  // namespace
}  // namespace ehlo::policy
