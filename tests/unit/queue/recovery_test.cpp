// Recovery at start: what a crash (kill -9) can leave in the spool, and what becomes of it.
#include "queue/recovery.hpp"

#include <gtest/gtest.h>

#include "delivery/maildir.hpp"
#include "queue/checksum.hpp"
#include "queue/queue.hpp"
#include "queue/queue_id.hpp"
#include "queue/spool_file.hpp"
#include "queue/spool_record.hpp"
#include "test_support.hpp"

namespace ehlo::queue {
namespace {

using namespace testing;

const smtp::Mailbox kSender{"bob", "example.org"};
const smtp::Mailbox kAlice{"alice", "example.com"};
const smtp::Mailbox kCarol{"carol", "example.com"};

class Recovery : public ::testing::Test {
protected:
    QueueOptions options() const {
        QueueOptions o;
        o.spool_dir = spool();
        o.hostname = "mx.test";
        return o;
    }
    std::filesystem::path spool() const { return dir_.path() / "spool"; }
    std::filesystem::path queue_file(const std::string& id) const { return spool() / "queue" / id; }
    std::filesystem::path mail() const { return dir_.path() / "mail"; }
    std::size_t delivered_files(const std::string& user) const {
        return files_in(mail() / user / "new").size() + files_in(mail() / user / "cur").size();
    }

    // A message that stays queued, as a crash right after its 250 leaves it.
    std::string queue_held(const smtp::Envelope& env, std::string_view content) {
        Queue queue(options(), hold_router());
        queue.start();
        std::string id = receive(queue, env, content);
        queue.stop();
        // This queue tried the messages that were there (no route: deferred); a crash right
        // after the 250s would have left none of it.
        for (const auto& file : files_in(spool() / "queue")) forget_attempts(file);
        return id;
    }

    // Starts a queue that delivers everything to mail/<local part>, runs until `done`, stops.
    Queue::Stats run_delivering(const std::function<bool(const Queue::Stats&)>& done) {
        Queue queue(options(), maildir_router(mail()));
        queue.start();
        EXPECT_TRUE(eventually([&] { return done(queue.stats()); }));
        queue.stop();
        return queue.stats();
    }

private:
    TempDir dir_;
};

TEST_F(Recovery, ACompleteMessageIsDeliveredExactlyOnce) {
    const std::string id = queue_held(envelope(kSender, {kAlice}), "Subject: x\r\n\r\nhello\r\n");
    ASSERT_TRUE(std::filesystem::exists(queue_file(id)));

    auto stats = run_delivering([](const Queue::Stats& s) { return s.delivered == 1; });
    EXPECT_EQ(stats.recovered, 1u);
    EXPECT_FALSE(std::filesystem::exists(queue_file(id)));
    ASSERT_EQ(delivered_files("alice"), 1u);
    EXPECT_EQ(read_file(files_in(mail() / "alice" / "new")[0]), "Return-Path: <bob@example.org>\nSubject: x\n\nhello\n");

    // A second restart finds nothing left to do.
    Queue again(options(), maildir_router(mail()));
    again.start();
    again.stop();
    EXPECT_EQ(again.stats().recovered, 0u);
    EXPECT_EQ(again.stats().delivered, 0u);
    EXPECT_EQ(delivered_files("alice"), 1u);
}

TEST_F(Recovery, EveryTruncationOfAFileIsDiscardedNeverDelivered) {
    // kill -9 in mid-DATA or mid-commit leaves a prefix of the file: it was never acknowledged.
    const std::string id = queue_held(envelope(kSender, {kAlice, kCarol}), "Subject: x\r\n\r\nhello\r\n");
    const std::string whole = read_file(queue_file(id));
    for (std::size_t n = 0; n < whole.size(); ++n) {
        write_file(queue_file(id), whole.substr(0, n));
        Queue queue(options(), maildir_router(mail()));
        queue.start();
        queue.stop();
        ASSERT_EQ(queue.stats().discarded, 1u) << "prefix of " << n << " bytes";
        ASSERT_EQ(queue.stats().delivered, 0u) << "prefix of " << n << " bytes";
        ASSERT_FALSE(std::filesystem::exists(queue_file(id))) << n;
    }
    EXPECT_FALSE(std::filesystem::exists(mail()));
}

TEST_F(Recovery, ADeliveryWhoseRecordWasLostIsNotMadeTwice) {
    // A crash after the rename into new/ and before the "delivered" record: the next run
    // finds the file by its deterministic name.
    const std::string id = queue_held(envelope(kSender, {kAlice}), "x\r\n");
    auto spooled = read_spool_file(queue_file(id));
    ASSERT_EQ(spooled.status, SpoolFileStatus::Ok);
    const auto name = delivery::maildir_file_name(static_cast<std::int64_t>(spooled.contents.header.arrival_us / 1000000),
                                                  id, 0, "mx.test");
    ASSERT_FALSE(delivery::ensure_maildir(mail() / "alice"));
    write_file(mail() / "alice" / "new" / name, "Return-Path: <bob@example.org>\nx\n");

    auto stats = run_delivering([](const Queue::Stats& s) { return s.delivered == 1; });
    EXPECT_EQ(stats.recovered, 1u);
    EXPECT_EQ(delivered_files("alice"), 1u);
    EXPECT_FALSE(std::filesystem::exists(queue_file(id)));
}

TEST_F(Recovery, ADeliveryAlreadyReadIntoCurIsNotMadeTwice) {
    const std::string id = queue_held(envelope(kSender, {kAlice}), "x\r\n");
    auto spooled = read_spool_file(queue_file(id));
    const auto name = delivery::maildir_file_name(static_cast<std::int64_t>(spooled.contents.header.arrival_us / 1000000),
                                                  id, 0, "mx.test");
    ASSERT_FALSE(delivery::ensure_maildir(mail() / "alice"));
    write_file(mail() / "alice" / "cur" / (name + ":2,S"), "Return-Path: <bob@example.org>\nx\n");

    run_delivering([](const Queue::Stats& s) { return s.delivered == 1; });
    EXPECT_TRUE(files_in(mail() / "alice" / "new").empty());
    EXPECT_EQ(files_in(mail() / "alice" / "cur").size(), 1u);
    EXPECT_FALSE(std::filesystem::exists(queue_file(id)));
}

// A recipient without a route (its mailbox removed while the mail waited) is deferred like any
// other (RFC 3463 X.4.4), keeps its state across restarts and is delivered once it has a route.
TEST_F(Recovery, UnroutedRecipientsAreDeferredAcrossRestartsUntilTheyHaveARoute) {
    const std::string id = queue_held(envelope(kSender, {kAlice, kCarol}), "x\r\n");
    {
        Queue queue(options(), hold_router());
        queue.start();
        ASSERT_TRUE(eventually([&] { return queue.stats().deferred == 2; }));
        queue.stop();
        EXPECT_EQ(queue.stats().recovered, 1u);
    }
    ASSERT_TRUE(std::filesystem::exists(queue_file(id)));
    {
        auto spooled = read_spool_file(queue_file(id));
        ASSERT_EQ(spooled.status, SpoolFileStatus::Ok);
        for (const RecipientState& state : spooled.contents.recipients) {
            EXPECT_EQ(state.status, DeliveryStatus::Deferred);
            EXPECT_NE(state.text.find("451 4.4.4"), std::string::npos) << state.text;
            EXPECT_GT(state.next_attempt_us, state.updated_us) << "retried later, with back-off";
        }
    }

    // Alice gets a route; Carol has none yet: Alice's outcome is recorded, the file stays.
    auto alice_only = [this](const smtp::Mailbox& m) {
        return m.local_part == "alice" ? Route{Route::Kind::Maildir, mail() / "alice"} : Route{};
    };
    {
        Queue queue(options(), alice_only);
        queue.start();
        EXPECT_EQ(queue.flush(id), 2u);
        ASSERT_TRUE(eventually([&] { return queue.stats().delivered == 1 && queue.stats().deferred == 1; }));
        queue.stop();
    }
    auto spooled = read_spool_file(queue_file(id));
    ASSERT_EQ(spooled.status, SpoolFileStatus::Ok);
    EXPECT_EQ(spooled.contents.recipients[0].status, DeliveryStatus::Delivered);
    EXPECT_EQ(spooled.contents.recipients[1].status, DeliveryStatus::Deferred);
    EXPECT_EQ(spooled.contents.recipients[1].attempts, 2u);

    // Everyone routed: only Carol is delivered now, and the message leaves the queue.
    Queue queue(options(), maildir_router(mail()));
    queue.start();
    EXPECT_EQ(queue.flush(id), 1u);
    ASSERT_TRUE(eventually([&] { return queue.stats().delivered == 1; }));
    queue.stop();
    EXPECT_EQ(delivered_files("alice"), 1u);
    EXPECT_EQ(delivered_files("carol"), 1u);
    EXPECT_FALSE(std::filesystem::exists(queue_file(id)));
}

TEST_F(Recovery, ATornStateRecordIsCutOffBeforeNewOnesAreAppended) {
    const std::string id = queue_held(envelope(kSender, {kAlice, kCarol}), "x\r\n");
    const std::string torn = encode_state_record(1, {DeliveryStatus::Delivered, 1, 1, 0, "/x", {}, false}).substr(0, 9);
    {
        std::string bytes = read_file(queue_file(id));
        write_file(queue_file(id), bytes + torn);
    }
    auto alice_only = [this](const smtp::Mailbox& m) {
        return m.local_part == "alice" ? Route{Route::Kind::Maildir, mail() / "alice"} : Route{};
    };
    Queue queue(options(), alice_only);
    queue.start();
    ASSERT_TRUE(eventually([&] { return queue.stats().delivered == 1; }));
    queue.stop();
    auto spooled = read_spool_file(queue_file(id));
    ASSERT_EQ(spooled.status, SpoolFileStatus::Ok);
    EXPECT_EQ(spooled.contents.recipients[0].status, DeliveryStatus::Delivered) << "the new record is readable";
    // Carol has no route: deferred with the reason, in a record after the one cut off.
    EXPECT_EQ(spooled.contents.recipients[1].status, DeliveryStatus::Deferred);
    EXPECT_NE(spooled.contents.recipients[1].text.find("4.4.4"), std::string::npos);
    EXPECT_EQ(spooled.contents.intact_length, spooled.contents.file_length);
}

// A state append that fails part-way (ENOSPC after a few bytes) is cut back and written again
// with the next one: nothing recorded after it is lost at a restart, and nothing is delivered
// twice.
TEST_F(Recovery, AFailedStateAppendIsCutBackAndWrittenAgain) {
    auto alice_only = [this](const smtp::Mailbox& m) {
        return m.local_part == "alice" ? Route{Route::Kind::Maildir, mail() / "alice"} : Route{};
    };
    std::string id;
    {
        QueueOptions o = options();
        std::atomic<int> appends{0};
        o.state_write_fault = [&appends](std::size_t size) -> std::size_t {
            return appends.fetch_add(1) == 0 ? std::min<std::size_t>(size - 1, 7) : size;
        };
        Queue queue(o, alice_only);
        queue.start();
        id = receive(queue, envelope(kSender, {kAlice, kCarol}), "x\r\n");
        ASSERT_TRUE(eventually([&] { return queue.stats().delivered == 1 && queue.stats().deferred == 1; }));
        ASSERT_TRUE(eventually([&] { return appends.load() >= 2; })) << "written again";
        queue.stop();
    }
    auto spooled = read_spool_file(queue_file(id));
    ASSERT_EQ(spooled.status, SpoolFileStatus::Ok) << spooled.detail;
    EXPECT_EQ(spooled.contents.intact_length, spooled.contents.file_length) << "no partial record left";
    EXPECT_EQ(spooled.contents.recipients[0].status, DeliveryStatus::Delivered);
    EXPECT_EQ(spooled.contents.recipients[1].status, DeliveryStatus::Deferred);

    Queue queue(options(), alice_only);
    queue.start();
    EXPECT_EQ(queue.flush(id), 1u) << "only Carol is still to be tried";
    ASSERT_TRUE(eventually([&] { return queue.stats().deferred == 1; }));
    queue.stop();
    EXPECT_EQ(queue.stats().delivered, 0u);
    EXPECT_EQ(delivered_files("alice"), 1u);
}

// The disk stays full until the server stops: no record of the outcomes reaches the file, and
// none of a failed append's bytes stay in it. After the restart the delivered copy is found
// in the Maildir, not made again.
TEST_F(Recovery, AppendsThatKeepFailingLeaveAnIntactFileAndNoSecondCopy) {
    auto alice_only = [this](const smtp::Mailbox& m) {
        return m.local_part == "alice" ? Route{Route::Kind::Maildir, mail() / "alice"} : Route{};
    };
    std::string id;
    {
        QueueOptions o = options();
        o.state_write_fault = [](std::size_t size) -> std::size_t { return size / 2; };
        Queue queue(o, alice_only);
        queue.start();
        id = receive(queue, envelope(kSender, {kAlice, kCarol}), "x\r\n");
        ASSERT_TRUE(eventually([&] { return queue.stats().delivered == 1 && queue.stats().deferred == 1; }));
        queue.stop();
    }
    auto spooled = read_spool_file(queue_file(id));
    ASSERT_EQ(spooled.status, SpoolFileStatus::Ok) << spooled.detail;
    EXPECT_EQ(spooled.contents.intact_length, spooled.contents.file_length) << "no partial record left";
    EXPECT_EQ(spooled.contents.recipients[0].status, DeliveryStatus::Pending);

    run_delivering([](const Queue::Stats& s) { return s.delivered == 2; });
    EXPECT_EQ(delivered_files("alice"), 1u);
    EXPECT_EQ(delivered_files("carol"), 1u);
    EXPECT_FALSE(std::filesystem::exists(queue_file(id)));
}

TEST_F(Recovery, AMessageWhoseUnlinkWasLostIsRemoved) {
    const std::string id = queue_held(envelope(kSender, {kAlice}), "x\r\n");
    std::string bytes = read_file(queue_file(id));
    write_file(queue_file(id), bytes + encode_state_record(0, {DeliveryStatus::Delivered, 1, 1, 0, "/x", {}, false}));
    Queue queue(options(), maildir_router(mail()));
    queue.start();
    queue.stop();
    EXPECT_FALSE(std::filesystem::exists(queue_file(id)));
    EXPECT_EQ(queue.stats().delivered, 0u);
    EXPECT_FALSE(std::filesystem::exists(mail()));
}

TEST_F(Recovery, ACompleteButUnreadableFileIsMovedAsideNotDeleted) {
    // An acknowledged message is never deleted, even if it cannot be understood.
    SpoolHeader h;
    h.id = make_queue_id(1700000000000000ull, 9);
    h.arrival_us = 1700000000000000ull;
    h.envelope = envelope(kSender, {kAlice});
    std::string bytes = encode_spool_head(h);
    append_record(bytes, static_cast<RecordType>('Z'), "from the future");
    bytes += encode_end_record(0, crc32c(bytes));
    std::filesystem::create_directories(spool() / "queue");
    write_file(queue_file(h.id), bytes);

    Queue queue(options(), maildir_router(mail()));
    queue.start();
    queue.stop();
    EXPECT_FALSE(std::filesystem::exists(queue_file(h.id)));
    EXPECT_EQ(read_file(spool() / "corrupt" / h.id), bytes);
    EXPECT_EQ(queue.stats().discarded, 0u);
}

TEST_F(Recovery, FilesThatAreNotQueueFilesAreLeftAlone) {
    std::filesystem::create_directories(spool() / "queue");
    write_file(spool() / "queue" / "README", "not mail");
    Queue queue(options(), maildir_router(mail()));
    queue.start();
    queue.stop();
    EXPECT_TRUE(std::filesystem::exists(spool() / "queue" / "README"));
}

TEST_F(Recovery, RecoveredMessagesAreDeliveredOldestFirstInOneGo) {
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) {
        std::string content = std::to_string(i);
        content += "\r\n";
        ids.push_back(queue_held(envelope(kSender, {kAlice}), content));
    }
    auto stats = run_delivering([](const Queue::Stats& s) { return s.delivered == 20; });
    EXPECT_EQ(stats.recovered, 20u);
    EXPECT_EQ(delivered_files("alice"), 20u);
    EXPECT_TRUE(files_in(spool() / "queue").empty());
}

}  // namespace
}  // namespace ehlo::queue
