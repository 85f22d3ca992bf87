// Helpers for the queue's tests: a fresh spool per test, envelopes, waiting for the queue's
// threads without long sleeps.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "delivery/content.hpp"
#include "delivery/file_io.hpp"
#include "queue/spool_record.hpp"
#include "queue/queue.hpp"

namespace ehlo::queue::testing {

class TempDir {
public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ehlo-queue-XXXXXX";
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void write_file(const std::filesystem::path& p, std::string_view data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) out.push_back(e.path());
    return out;
}

// The whole content a job would send ("" if it cannot be read).
inline std::string content_text(const std::shared_ptr<const delivery::ContentSource>& source) {
    std::string text;
    if (!source || source->write_to([&](std::string_view piece) {
            text.append(piece);
            return true;
        }))
        return {};
    return text;
}

inline smtp::Mailbox mailbox(const std::string& local, const std::string& domain) { return {local, domain}; }

inline smtp::Envelope envelope(std::optional<smtp::Mailbox> sender, const std::vector<smtp::Mailbox>& rcpts) {
    smtp::Envelope e;
    e.sender = std::move(sender);
    for (const auto& r : rcpts) e.recipients.push_back({r, "", 0});
    return e;
}

// Polls until `done` holds; the queue's threads usually take milliseconds.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

// Routes every recipient to <root>/<local part>, or holds them all.
inline Router maildir_router(std::filesystem::path root) {
    return [root](const smtp::Mailbox& m) { return Route{Route::Kind::Maildir, root / m.local_part}; };
}
// No route for anyone: every recipient is deferred (4.4.4) and tried again with back-off.
inline Router hold_router() {
    return [](const smtp::Mailbox&) { return Route{}; };
}

// The file as a crash right after the message's 250 leaves it: committed, never attempted
// (every record after End cut off).
inline void forget_attempts(const std::filesystem::path& path) {
    std::error_code ec;
    delivery::FileDescriptor fd = delivery::open_file(path, O_RDWR, 0, ec);
    ASSERT_FALSE(ec) << ec.message();
    RecordReader reader(fd.get());
    while (reader.next() == RecordReader::Status::Record)
        if (reader.type() == RecordType::End) break;
    ASSERT_EQ(reader.type(), RecordType::End);
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(reader.offset())), 0);
}

// Receives one message and waits for the commit's verdict; returns the id ("" if refused).
inline std::string receive(Queue& queue, const smtp::Envelope& env, std::string_view content,
                           std::size_t piece = 4096) {
    auto message = queue.begin(env, Reception{"sess1", "192.0.2.1", "client.example"});
    if (!message) return {};
    for (std::size_t i = 0; i < content.size(); i += piece) message->append(content.substr(i, piece));
    std::string id = message->id();
    std::promise<bool> verdict;
    queue.commit(std::move(message), [&](bool ok) { verdict.set_value(ok); });
    return verdict.get_future().get() ? id : std::string{};
}

}  // namespace ehlo::queue::testing
