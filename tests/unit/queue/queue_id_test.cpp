#include "queue/queue_id.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

namespace ehlo::queue {
namespace {

TEST(QueueId, IsSixteenCrockfordBase32Characters) {
    auto id = make_queue_id(1700000000123456ull, 42);
    EXPECT_EQ(id.size(), 16u);
    EXPECT_TRUE(is_valid_queue_id(id));
    for (char c : id) EXPECT_EQ(std::string("ILOU").find(c), std::string::npos) << id;
}

TEST(QueueId, SortsByArrivalTime) {
    EXPECT_LT(make_queue_id(1700000000000000ull, 999), make_queue_id(1700000000000001ull, 0));
    EXPECT_LT(make_queue_id(999999, 5), make_queue_id(1700000000000000ull, 0));
    EXPECT_EQ(queue_id_time(make_queue_id(1700000000123456ull, 7)), 1700000000123456ull);
}

TEST(QueueId, RejectsWhatIsNotAnId) {
    EXPECT_FALSE(is_valid_queue_id(""));
    EXPECT_FALSE(is_valid_queue_id("0123456789ABCDE"));
    EXPECT_FALSE(is_valid_queue_id("0123456789ABCDEI"));
    EXPECT_FALSE(is_valid_queue_id("0123456789abcdef"));
    EXPECT_FALSE(is_valid_queue_id("../../etc/passwd"));
}

TEST(QueueId, IsUniqueAcrossThreadsWithinOneMicrosecond) {
    QueueIdGenerator generator;
    std::set<std::string> ids;
    std::mutex mutex;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) {
                auto id = generator.next(1700000000000000ull);  // the same instant everywhere
                std::lock_guard lock(mutex);
                ids.insert(id);
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(ids.size(), 4000u);
}

}  // namespace
}  // namespace ehlo::queue
