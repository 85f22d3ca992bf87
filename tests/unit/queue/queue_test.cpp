// The queue as a whole: group commit, delivery, abort. Recovery has its own file.
#include "queue/queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "delivery/maildir.hpp"
#include "queue/checksum.hpp"
#include "queue/queue_id.hpp"
#include "queue/spool_file.hpp"
#include "test_support.hpp"

namespace ehlo::queue {
namespace {

using namespace testing;

QueueOptions options_in(const TempDir& dir, SyncMode sync = SyncMode::Syncfs) {
    QueueOptions o;
    o.spool_dir = dir.path() / "spool";
    o.sync = sync;
    o.hostname = "mx.test";
    return o;
}

const smtp::Mailbox kSender{"bob", "example.org"};
const smtp::Mailbox kAlice{"alice", "example.com"};

TEST(Queue, CommitAnswersOnAQueueThreadOnlyOnceTheEndRecordIsOnDisk) {
    TempDir dir;
    Queue queue(options_in(dir), hold_router());
    queue.start();
    auto message = queue.begin(envelope(kSender, {kAlice}), Reception{"s1", "192.0.2.1", "c.example"});
    ASSERT_TRUE(message);
    const std::string id = message->id();
    EXPECT_TRUE(is_valid_queue_id(id));
    message->append("Subject: hi\r\n\r\nbody\r\n");
    EXPECT_EQ(message->size(), 21u);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "spool" / "queue" / id)) << "append only buffers";

    std::promise<std::thread::id> answered;
    std::promise<bool> verdict;
    queue.commit(std::move(message), [&](bool ok) {
        // When done(true) runs, the file must already be complete on disk.
        answered.set_value(std::this_thread::get_id());
        verdict.set_value(ok && read_spool_file(dir.path() / "spool" / "queue" / id).status == SpoolFileStatus::Ok);
    });
    EXPECT_TRUE(verdict.get_future().get());
    EXPECT_NE(answered.get_future().get(), std::this_thread::get_id());
    auto stats = queue.stats();
    EXPECT_EQ(stats.committed, 1u);
    EXPECT_GE(stats.syncs, 1u);
    EXPECT_EQ(stats.commit_batches, 1u);
}

TEST(Queue, DeliversASmallMessageAndForgetsIt) {
    TempDir dir;
    Queue queue(options_in(dir), maildir_router(dir.path() / "mail"));
    queue.start();
    const std::string id = receive(queue, envelope(kSender, {kAlice}), "Subject: hi\r\n\r\nbody\r\n");
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(eventually([&] { return !std::filesystem::exists(dir.path() / "spool" / "queue" / id); }));
    EXPECT_EQ(queue.stats().delivered, 1u);
    auto files = files_in(dir.path() / "mail" / "alice" / "new");
    ASSERT_EQ(files.size(), 1u);
    EXPECT_NE(files[0].filename().string().find("." + id + "_0.mx.test"), std::string::npos) << files[0];
    EXPECT_EQ(read_file(files[0]), "Return-Path: <bob@example.org>\nSubject: hi\n\nbody\n");
    EXPECT_TRUE(files_in(dir.path() / "mail" / "alice" / "tmp").empty());
}

TEST(Queue, EachRecipientGetsItsOwnCopy) {
    TempDir dir;
    Queue queue(options_in(dir), maildir_router(dir.path() / "mail"));
    queue.start();
    smtp::Envelope env = envelope(std::nullopt, {kAlice, {"carol", "example.com"}, {"alice", "example.net"}});
    ASSERT_FALSE(receive(queue, env, "x\r\n").empty());
    ASSERT_TRUE(eventually([&] { return queue.stats().delivered == 3; }));
    EXPECT_EQ(files_in(dir.path() / "mail" / "alice" / "new").size(), 2u);
    auto carol = files_in(dir.path() / "mail" / "carol" / "new");
    ASSERT_EQ(carol.size(), 1u);
    EXPECT_EQ(read_file(carol[0]), "Return-Path: <>\nx\n");
}

// RFC 5321 3.3: a recipient named twice in one transaction is delivered once (the domain's
// case does not make it another; the local part's does, 2.4).
TEST(Queue, ARecipientNamedTwiceGetsOneCopy_Rfc5321_3_3) {
    TempDir dir;
    Queue queue(options_in(dir), maildir_router(dir.path() / "mail"));
    queue.start();
    smtp::Envelope env = envelope(kSender, {kAlice, {"alice", "EXAMPLE.com"}, kAlice, {"carol", "example.com"}});
    const std::string id = receive(queue, env, "x\r\n");
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(eventually([&] { return !std::filesystem::exists(dir.path() / "spool" / "queue" / id); }));
    EXPECT_EQ(queue.stats().delivered, 2u);
    EXPECT_EQ(files_in(dir.path() / "mail" / "alice" / "new").size(), 1u);
    EXPECT_EQ(files_in(dir.path() / "mail" / "carol" / "new").size(), 1u);
}

TEST(Queue, ManyConcurrentCommitsShareFewSyncs) {
    // 8 receiving threads commit 200 messages each. Every one must be acknowledged, and the
    // group commit must make them durable with far fewer syncs than messages.
    TempDir dir;
    std::atomic<int> syncs{0};
    QueueOptions options = options_in(dir);
    // A sync that takes a moment, as on a real disk, so that work piles up behind it.
    options.sync_hook = [&] {
        syncs.fetch_add(1);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    };
    Queue queue(options, maildir_router(dir.path() / "mail"));
    queue.start();
    constexpr int kThreads = 8, kPerThread = 200, kTotal = kThreads * kPerThread;
    std::atomic<int> acknowledged{0}, refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            const std::string user = "user" + std::to_string(t);
            smtp::Envelope env = envelope(kSender, {{user, "example.com"}});
            for (int i = 0; i < kPerThread; ++i) {
                auto message = queue.begin(env, Reception{user, "192.0.2.1", "c"});
                std::string content = "Subject: ";
                content += std::to_string(i);
                content += "\r\n\r\nbody\r\n";
                message->append(content);
                queue.commit(std::move(message), [&](bool ok) { (ok ? acknowledged : refused).fetch_add(1); });
            }
        });
    for (auto& t : threads) t.join();
    ASSERT_TRUE(eventually([&] { return acknowledged + refused == kTotal; }));
    EXPECT_EQ(acknowledged.load(), kTotal);
    ASSERT_TRUE(eventually([&] { return queue.stats().delivered == kTotal; }));
    queue.stop();
    auto stats = queue.stats();
    EXPECT_EQ(stats.committed, static_cast<std::uint64_t>(kTotal));
    EXPECT_EQ(stats.syncs, static_cast<std::uint64_t>(syncs.load()));
    EXPECT_LT(syncs.load() * 4, kTotal) << "syncs for commits and deliveries together: " << syncs.load();
    std::size_t files = 0;
    for (int t = 0; t < kThreads; ++t) files += files_in(dir.path() / "mail" / ("user" + std::to_string(t)) / "new").size();
    EXPECT_EQ(files, static_cast<std::size_t>(kTotal));
    EXPECT_TRUE(files_in(dir.path() / "spool" / "queue").empty());
}

// Content of `size` bytes in CRLF lines, with every octet value but CR and LF in it.
std::string large_content(std::size_t size) {
    std::string content;
    content.reserve(size + 100);
    unsigned char c = 0;
    while (content.size() < size) {
        for (int i = 0; i < 70; ++i) {
            do ++c;
            while (c == '\r' || c == '\n');
            content += static_cast<char>(c);
        }
        content += "\r\n";
    }
    return content;
}

std::string with_lf(std::string_view crlf) {
    std::string out;
    for (std::size_t i = 0; i < crlf.size(); ++i)
        if (!(crlf[i] == '\r' && i + 1 < crlf.size() && crlf[i + 1] == '\n')) out += crlf[i];
    return out;
}

TEST(Queue, ALargeMessageIsSpooledInChunksByteExact) {
    TempDir dir;
    Queue queue(options_in(dir), hold_router());
    queue.start();
    const std::string content = large_content(5 << 20);
    const std::string id = receive(queue, envelope(kSender, {kAlice}), content, 65536);
    ASSERT_FALSE(id.empty());
    std::string read_back;
    auto path = dir.path() / "spool" / "queue" / id;
    ASSERT_FALSE(read_spool_content(path, [&](std::string_view p) { read_back += p; return true; }));
    EXPECT_TRUE(read_back == content) << "sizes " << read_back.size() << " and " << content.size();
    auto spooled = read_spool_file(path);
    ASSERT_EQ(spooled.status, SpoolFileStatus::Ok);
    EXPECT_EQ(spooled.contents.content_size, content.size());
}

TEST(Queue, ALargeMessageIsDeliveredByteExactFromTheSpool) {
    TempDir dir;
    Queue queue(options_in(dir), maildir_router(dir.path() / "mail"));
    queue.start();
    const std::string content = large_content(5 << 20);
    ASSERT_FALSE(receive(queue, envelope(kSender, {kAlice}), content, 100000).empty());
    ASSERT_TRUE(eventually([&] { return queue.stats().delivered == 1; }));
    auto files = files_in(dir.path() / "mail" / "alice" / "new");
    ASSERT_EQ(files.size(), 1u);
    const std::string delivered = read_file(files[0]);
    EXPECT_TRUE(delivered == "Return-Path: <bob@example.org>\n" + with_lf(content)) << delivered.size();
}

// Header fields decided once the content is in (Authentication-Results) go above all of it:
// in memory for a small message, in the spool file's Top record for one already spilled. Every
// reader gives them first, the delivery and the recovery alike, and the facts count them.
std::string receive_with_top(Queue& queue, const std::string& content, const std::string& top) {
    auto message = queue.begin(envelope(kSender, {kAlice}), Reception{"sess1", "192.0.2.1", "client.example"});
    for (std::size_t i = 0; i < content.size(); i += 65536) message->append(std::string_view(content).substr(i, 65536));
    message->prepend("X-Second: 2\r\n");
    message->prepend(top);
    const std::string id = message->id();
    EXPECT_EQ(message->size(), content.size() + top.size() + 13);
    std::promise<bool> verdict;
    queue.commit(std::move(message), [&](bool ok) { verdict.set_value(ok); });
    return verdict.get_future().get() ? id : std::string{};
}

TEST(Queue, PrependedFieldsGoOnTopOfSmallAndSpilledMessages) {
    for (const std::size_t size : {std::size_t{300}, std::size_t{3} << 20}) {
        SCOPED_TRACE(size);
        TempDir dir;
        const std::string content = "Received: from a\r\nSubject: s\r\n\r\n" + large_content(size);
        const std::string top = "Authentication-Results: mx.example; spf=pass\r\n";
        const std::string expected = top + "X-Second: 2\r\n" + content;
        std::string id;
        {
            Queue queue(options_in(dir), hold_router());
            queue.start();
            id = receive_with_top(queue, content, top);
            ASSERT_FALSE(id.empty());
            const auto path = dir.path() / "spool" / "queue" / id;
            std::string read_back;
            ASSERT_FALSE(read_spool_content(path, [&](std::string_view p) { read_back += p; return true; }));
            EXPECT_TRUE(read_back == expected) << read_back.substr(0, 200);
            const auto spooled = read_spool_file(path);
            ASSERT_EQ(spooled.status, SpoolFileStatus::Ok) << spooled.detail;
            EXPECT_EQ(spooled.contents.content_size, expected.size());
            EXPECT_EQ(spooled.contents.facts.received, 1u);
            queue.stop();
            forget_attempts(path);  // as a crash right after the 250 leaves it
        }
        // After a restart it is delivered from the spool, the fields still first.
        Queue again(options_in(dir), maildir_router(dir.path() / "mail"));
        again.start();
        ASSERT_TRUE(eventually([&] { return again.stats().delivered == 1; }));
        const auto files = files_in(dir.path() / "mail" / "alice" / "new");
        ASSERT_EQ(files.size(), 1u);
        EXPECT_TRUE(read_file(files[0]) == "Return-Path: <bob@example.org>\n" + with_lf(expected));
    }
}

// A Top record that is not whole header fields is damage: it would not read as it was written.
// (The first case is the control: whole fields read back Ok, first.)
TEST(SpoolFile, TopRecordMustHoldWholeFields) {
    for (const std::string top : {"X-Top: fine\r\n", "X: no line end", "\r\nX: y\r\n", "X: a\r\n\r\nbody\r\n",
                                  "X: a\n\nReceived: b\r\n", "X: a\rb\r\n"}) {
        SCOPED_TRACE(top);
        const std::string& bad = top;
        TempDir dir;
        SpoolHeader h;
        h.id = "1K1QC2520GR00000";
        h.envelope = envelope(kSender, {kAlice});
        h.reception = Reception{"s", "192.0.2.1", "c"};
        std::string file = encode_spool_head(h);
        append_content_records(file, "Subject: s\r\n\r\nbody\r\n");
        append_record(file, RecordType::Top, bad);
        file += encode_end_record(20 + bad.size(), crc32c(file));
        const auto path = dir.path() / h.id;
        write_file(path, file);
        const auto read = read_spool_file(path);
        if (top == "X-Top: fine\r\n") {
            ASSERT_EQ(read.status, SpoolFileStatus::Ok) << read.detail;
            std::string content;
            ASSERT_FALSE(read_spool_content(path, [&](std::string_view p) { content += p; return true; }));
            EXPECT_EQ(content, "X-Top: fine\r\nSubject: s\r\n\r\nbody\r\n");
            continue;
        }
        EXPECT_EQ(read.status, SpoolFileStatus::Damaged) << read.detail;
        EXPECT_NE(read.detail.find("malformed record"), std::string::npos) << read.detail;
    }
}

// A session stops reading while its chunks wait for the disk; the count drains as the spool
// thread writes them, so a message never stays held back once written.
TEST(Queue, BackloggedClearsOnceTheSpoolThreadHasWrittenTheChunks) {
    TempDir dir;
    Queue queue(options_in(dir), hold_router());
    queue.start();
    auto message = queue.begin(envelope(kSender, {kAlice}), {});
    ASSERT_TRUE(message);
    EXPECT_FALSE(message->backlogged());
    for (int i = 0; i < 32; ++i) message->append(large_content(256 * 1024));  // 8 MiB in spilled chunks
    EXPECT_TRUE(eventually([&] { return !message->backlogged(); }));
    queue.abort(std::move(message));
    queue.stop();
}

TEST(Queue, AbortLeavesNothingOnDisk) {
    TempDir dir;
    Queue queue(options_in(dir), maildir_router(dir.path() / "mail"));
    queue.start();
    auto small = queue.begin(envelope(kSender, {kAlice}), {});
    small->append("x\r\n");
    queue.abort(std::move(small));

    auto large = queue.begin(envelope(kSender, {kAlice}), {});
    large->append(large_content(1 << 20));  // spilled to the spool thread
    queue.abort(std::move(large));

    auto dropped = queue.begin(envelope(kSender, {kAlice}), {});
    dropped->append(large_content(1 << 20));
    dropped.reset();  // a session that goes away without a word

    queue.stop();  // the aborts are processed before stop returns
    EXPECT_TRUE(files_in(dir.path() / "spool" / "queue").empty());
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "mail"));
    EXPECT_EQ(queue.stats().committed, 0u);
}

TEST(Queue, StopIsIdempotentAndRefusesNewMessages) {
    TempDir dir;
    Queue queue(options_in(dir), hold_router());
    EXPECT_FALSE(queue.begin(envelope(kSender, {kAlice}), {})) << "not started";
    queue.start();
    queue.start();
    auto message = queue.begin(envelope(kSender, {kAlice}), {});
    ASSERT_TRUE(message);
    queue.stop();
    queue.stop();
    EXPECT_FALSE(queue.begin(envelope(kSender, {kAlice}), {}));
    bool answer = true;
    queue.commit(std::move(message), [&](bool ok) { answer = ok; });
    EXPECT_FALSE(answer) << "a commit after stop is refused at once (451)";
    queue.start();  // and it can start again
    EXPECT_FALSE(receive(queue, envelope(kSender, {kAlice}), "x\r\n").empty());
}

TEST(Queue, StopAnswersEveryPendingCommit) {
    TempDir dir;
    Queue queue(options_in(dir), maildir_router(dir.path() / "mail"));
    queue.start();
    std::atomic<int> answered{0};
    for (int i = 0; i < 50; ++i) {
        auto m = queue.begin(envelope(kSender, {kAlice}), {});
        m->append("x\r\n");
        queue.commit(std::move(m), [&](bool ok) { answered += ok ? 1 : 1000; });
    }
    queue.stop();
    EXPECT_EQ(answered.load(), 50);
    EXPECT_EQ(queue.stats().delivered, 50u) << "what was committed before stop is delivered";
}

TEST(Queue, OnlyOneQueueMayUseASpool) {
    TempDir dir;
    Queue first(options_in(dir), hold_router());
    first.start();
    Queue second(options_in(dir), hold_router());
    EXPECT_THROW(second.start(), std::system_error);
    first.stop();
    EXPECT_NO_THROW(second.start());
}

TEST(Queue, AnUnusableSpoolDirectoryThrows) {
    TempDir dir;
    write_file(dir.path() / "file", "x");
    QueueOptions options;
    options.spool_dir = dir.path() / "file" / "spool";
    Queue queue(options, hold_router());
    EXPECT_THROW(queue.start(), std::system_error);
}

TEST(Queue, FsyncModeCommitsAndDelivers) {
    TempDir dir;
    Queue queue(options_in(dir, SyncMode::Fsync), maildir_router(dir.path() / "mail"));
    queue.start();
    for (int i = 0; i < 5; ++i) ASSERT_FALSE(receive(queue, envelope(kSender, {kAlice}), "x\r\n").empty());
    ASSERT_TRUE(eventually([&] { return queue.stats().delivered == 5; }));
    EXPECT_EQ(files_in(dir.path() / "mail" / "alice" / "new").size(), 5u);
}

TEST(Queue, AFailedDeliveryIsDeferredAndRetried) {
    TempDir dir;
    QueueOptions options = options_in(dir);
    options.retry_delay = std::chrono::milliseconds(50);
    // A file where the Maildir root should be: every attempt fails until it is removed.
    write_file(dir.path() / "mail", "in the way");
    Queue queue(options, maildir_router(dir.path() / "mail"));
    queue.start();
    const std::string id = receive(queue, envelope(kSender, {kAlice}), "x\r\n");
    ASSERT_FALSE(id.empty());
    auto path = dir.path() / "spool" / "queue" / id;
    ASSERT_TRUE(eventually([&] {
        auto r = read_spool_file(path);
        return r.status == SpoolFileStatus::Ok && r.contents.recipients[0].status == DeliveryStatus::Deferred;
    }));
    auto r = read_spool_file(path);
    EXPECT_GE(r.contents.recipients[0].attempts, 1u);
    EXPECT_GT(r.contents.recipients[0].next_attempt_us, r.contents.recipients[0].updated_us);
    EXPECT_FALSE(r.contents.recipients[0].text.empty());
    EXPECT_EQ(queue.stats().delivered, 0u);

    std::filesystem::remove(dir.path() / "mail");
    ASSERT_TRUE(eventually([&] { return queue.stats().delivered == 1; }));
    EXPECT_GE(queue.stats().deferred, 1u);
    EXPECT_EQ(files_in(dir.path() / "mail" / "alice" / "new").size(), 1u);
    ASSERT_TRUE(eventually([&] { return !std::filesystem::exists(path); }));
}

// The free space the sessions read at MAIL is measured by the spool thread (no statvfs on an
// event loop): known once the queue runs, and below the reserve `low()` (452 4.3.1).
TEST(Queue, StorageIsMeasuredByTheSpoolThread) {
    TempDir dir;
    {
        Queue queue(options_in(dir), hold_router());
        EXPECT_FALSE(queue.storage().low()) << "unknown before start: not low";
        queue.start();
        const Queue::Storage s = queue.storage();
        EXPECT_LT(s.free, UINT64_MAX);
        EXPECT_GT(s.free, 0u);
        EXPECT_EQ(s.min_free, 0u);
        EXPECT_FALSE(s.low());
        EXPECT_EQ(s.room(), s.free);
    }
    QueueOptions options = options_in(dir);
    options.min_free = UINT64_MAX / 2;  // more than any disk has
    Queue queue(options, hold_router());
    queue.start();
    EXPECT_TRUE(queue.storage().low());
    EXPECT_EQ(queue.storage().room(), 0u);
}

// An attempt can fail after its file reached new/ (the sync of the rename failed); the mail
// reader may move that copy to cur/ before the retry. The retry of a message still in memory
// (not recovered) must find it there too and not deliver a second copy.
TEST(Queue, ARetryFindsAnEarlierCopyTheReaderMovedToCur) {
    TempDir dir;
    QueueOptions options = options_in(dir);
    options.retry_delay = std::chrono::seconds(2);  // short enough to wait in memory
    write_file(dir.path() / "mail", "in the way");
    Queue queue(options, maildir_router(dir.path() / "mail"));
    queue.start();
    const std::string id = receive(queue, envelope(kSender, {kAlice}), "x\r\n");
    ASSERT_FALSE(id.empty());
    auto path = dir.path() / "spool" / "queue" / id;
    ASSERT_TRUE(eventually([&] {
        auto r = read_spool_file(path);
        return r.status == SpoolFileStatus::Ok && r.contents.recipients[0].status == DeliveryStatus::Deferred;
    }));
    // What the failed attempt left, already read into cur/ by the reader.
    auto r = read_spool_file(path);
    const auto name = delivery::maildir_file_name(static_cast<std::int64_t>(r.contents.header.arrival_us / 1000000),
                                                  id, 0, "mx.test");
    std::filesystem::remove(dir.path() / "mail");
    ASSERT_FALSE(delivery::ensure_maildir(dir.path() / "mail" / "alice"));
    write_file(dir.path() / "mail" / "alice" / "cur" / (name + ":2,S"), "Return-Path: <bob@example.org>\nx\n");
    ASSERT_EQ(queue.stats().recovered, 0u);

    ASSERT_TRUE(eventually([&] { return queue.stats().delivered == 1; }, std::chrono::seconds(10)));
    EXPECT_TRUE(files_in(dir.path() / "mail" / "alice" / "new").empty()) << "delivered twice";
    EXPECT_EQ(files_in(dir.path() / "mail" / "alice" / "cur").size(), 1u);
    ASSERT_TRUE(eventually([&] { return !std::filesystem::exists(path); }));
}

}  // namespace
}  // namespace ehlo::queue
