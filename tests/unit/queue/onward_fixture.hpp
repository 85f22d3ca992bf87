// A queue with a fake transport and a fake clock, for the tests of onward delivery, bounces
// and queue control. example.org is local (Maildir under mail/<local part>); every other
// domain is remote.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fake_transport.hpp"
#include "queue/queue.hpp"
#include "queue/spool_file.hpp"
#include "test_support.hpp"

namespace ehlo::queue::testing {

inline const std::string kLocalDomain = "example.org";
inline const std::string kContent = "Received: from c.example\r\nSubject: test\r\n\r\nbody\r\n";

class Onward : public ::testing::Test {
protected:
    QueueOptions options() {
        QueueOptions o;
        o.spool_dir = spool();
        o.hostname = "mx.test";
        o.clock = clock.function();
        o.retry_min = std::chrono::seconds(60);
        o.retry_max = std::chrono::seconds(240);
        o.lifetime = std::chrono::seconds(3600);
        o.remote_stop_grace = std::chrono::milliseconds(200);
        return o;
    }

    Router router() {
        return [root = mail_root()](const smtp::Mailbox& m) {
            if (m.domain == kLocalDomain || m.domain.empty()) return Route{Route::Kind::Maildir, root / m.local_part};
            std::string domain = m.domain;
            for (char& c : domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            return Route(delivery::RemoteTarget{domain, std::nullopt, 25});
        };
    }

    Queue& start(const QueueOptions& o) {
        queue_ = std::make_unique<Queue>(o, router(), &transport);
        queue_->start();
        return *queue_;
    }
    Queue& start() { return start(options()); }
    void stop() {
        if (queue_) queue_->stop();
    }
    Queue& queue() { return *queue_; }

    std::string send(const smtp::Envelope& env, std::string_view content = kContent) {
        std::string id = receive(*queue_, env, content);
        EXPECT_FALSE(id.empty());
        return id;
    }

    std::filesystem::path spool() const { return dir_.path() / "spool"; }
    std::filesystem::path mail_root() const { return dir_.path() / "mail"; }
    std::filesystem::path queue_file(const std::string& id) const { return spool() / "queue" / id; }
    bool queued(const std::string& id) const { return std::filesystem::exists(queue_file(id)); }

    // The messages in a local mailbox, oldest name first.
    std::vector<std::string> mailbox(const std::string& user) const {
        auto files = files_in(mail_root() / user / "new");
        std::sort(files.begin(), files.end());
        std::vector<std::string> out;
        for (const auto& f : files) out.push_back(read_file(f));
        return out;
    }

    SpoolFileContents spooled(const std::string& id) const {
        auto r = read_spool_file(queue_file(id));
        EXPECT_EQ(r.status, SpoolFileStatus::Ok) << r.detail;
        return r.contents;
    }

    // Waits until the transport has seen `n` jobs.
    bool jobs_reach(std::size_t n) {
        return eventually([&] { return transport.job_count() >= n; });
    }
    // Gives the queue's threads a moment, to show that something does NOT happen.
    static void settle_briefly() { std::this_thread::sleep_for(std::chrono::milliseconds(60)); }

    FakeClock clock;
    FakeTransport transport;

private:
    TempDir dir_;
    std::unique_ptr<Queue> queue_;  // last: stopped before the transport and the clock go
};

inline smtp::Envelope with_notify(smtp::Envelope env, unsigned notify) {
    for (auto& r : env.recipients) r.notify = notify;
    return env;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace ehlo::queue::testing
