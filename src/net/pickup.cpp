#include "net/pickup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "delivery/file_io.hpp"
#include "net/control_server.hpp"
#include "net/session_host.hpp"
#include "observe/log.hpp"
#include "policy/policy.hpp"
#include "queue/maildrop.hpp"
#include "queue/queue.hpp"
#include "smtp/received.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::net {
namespace {

constexpr std::string_view kSessionPrefix = "maildrop:";
// What nobody named is looked for this often, and taken once it is this old (a sendmail that
// has just renamed its file is about to name it itself).
constexpr auto kRescan = std::chrono::seconds(60);
constexpr auto kUnnamedAge = std::chrono::seconds(10);
// A temporary file this old belongs to a sendmail that died before its message was durable
// (and so before it said it was): nobody was told it is queued.
constexpr auto kStaleTemporary = std::chrono::hours(1);
// The envelope lines a file may hold besides its content.
constexpr std::uint64_t kEnvelopeRoom = 1 << 20;

std::string reply_text(const smtp::Reply& r) {
    std::string text = std::to_string(r.code);
    if (!r.enhanced.empty()) text += " " + r.enhanced;
    for (const auto& line : r.lines) text += " " + line;
    return text;
}

std::vector<std::string> entries_in(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return names;
    while (const dirent* e = ::readdir(d.get())) names.emplace_back(e->d_name);
    std::sort(names.begin(), names.end());
    return names;
}

void sync_directory(const std::filesystem::path& dir) {
    std::error_code ec;
    delivery::FileDescriptor fd = delivery::open_directory(dir, ec);
    if (fd) ::fsync(fd.get());
}

}  // namespace

PickupOptions pickup_options(const config::Config& config) {
    PickupOptions o;
    o.maildrop = config::maildrop_path(config);
    o.socket = config::pickup_socket_path(config);
    o.hostname = config.server.hostname;
    o.max_message = config.limits.message_size;
    o.max_recipients = config.limits.recipients;
    return o;
}

std::size_t settle_maildrop(const std::filesystem::path& maildrop, const std::filesystem::path& spool) {
    bool any = false;
    for (const std::string& name : entries_in(maildrop)) any = any || queue::is_maildrop_name(name);
    if (!any) return 0;
    std::size_t removed = 0;
    for (const std::string& session : queue::spool_sessions_with_prefix(spool, kSessionPrefix)) {
        const std::string name = session.substr(kSessionPrefix.size());
        if (!queue::is_maildrop_name(name)) continue;
        if (::unlink((maildrop / name).c_str()) == 0) {
            ++removed;
            observe::info("maildrop-settled", {{"file", name}, {"note", "queued before the last stop; not taken twice"}});
        }
    }
    if (removed) sync_directory(maildrop);
    return removed;
}

struct Pickup::Impl {
    PickupOptions options;
    queue::Queue& queue;
    const policy::Policy& policy;
    std::mutex taking;  // one file at a time, whoever asks
    std::mutex m;
    std::condition_variable cv;
    bool stopping = false;
    std::thread rescans;
    std::unique_ptr<RequestSocket> socket;

    Impl(PickupOptions o, queue::Queue& q, const policy::Policy& p) : options(std::move(o)), queue(q), policy(p) {}

    // Keeps a damaged file for a person, under a name nothing takes again.
    std::string keep_damaged(const std::string& name, const std::string& why) {
        const auto from = options.maildrop / name;
        const auto to = options.maildrop / ("bad." + name);
        ::rename(from.c_str(), to.c_str());
        observe::warn("maildrop-damaged", {{"file", name}, {"kept-as", to.string()}, {"problem", why}});
        return "error: " + why + " (kept as bad." + name + ")\n";
    }

    // Whatever a file holds, the pickup goes on: a file that makes the reading throw is
    // damaged, kept, and never read again.
    std::string take(const std::string& name, bool waits) {
        if (!queue::is_maildrop_name(name)) return "error: not a maildrop file name\n";
        std::lock_guard lock(taking);
        try {
            return take_locked(name, waits);
        } catch (const std::exception& e) {
            return keep_damaged(name, std::string("could not be read: ") + e.what());
        }
    }

    std::string take_locked(const std::string& name, bool waits) {
        const auto path = options.maildrop / name;
        std::error_code ec;
        // O_NONBLOCK: a FIFO put there must not hang the pickup; O_NOFOLLOW: no symbolic link
        // to a file of the daemon's own.
        delivery::FileDescriptor fd = delivery::open_file(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0, ec);
        if (!fd) return ec == std::errc::no_such_file_or_directory ? "error: no such maildrop file\n"
                                                                    : keep_damaged(name, "cannot open: " + ec.message());
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return keep_damaged(name, "not a regular file");
        // A second link would be a name for someone else's file.
        if (st.st_nlink != 1) return keep_damaged(name, "a file with more than one link");
        if (static_cast<std::uint64_t>(st.st_size) > options.max_message + kEnvelopeRoom)
            return keep_damaged(name, "larger than limits.message_size");
        std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
        std::size_t got = 0;
        while (got < bytes.size()) {
            long n = delivery::read_some(fd.get(), bytes.data() + got, bytes.size() - got, ec);
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        if (got != bytes.size()) return keep_damaged(name, "shorter than its size (changed while read)");
        fd = delivery::FileDescriptor();

        queue::MaildropLimits limits{options.max_message, options.max_recipients};
        auto parsed = queue::parse_maildrop(bytes, limits);
        if (auto* why = std::get_if<std::string>(&parsed)) return keep_damaged(name, *why);
        queue::MaildropEntry& entry = std::get<queue::MaildropEntry>(parsed);
        std::string().swap(bytes);

        smtp::Envelope envelope;
        if (!entry.sender.empty()) {
            const std::string path_text = "<" + entry.sender + ">";
            auto p = smtp::parse_path(path_text, false, true);
            if (!p.mailbox || p.consumed != path_text.size()) return keep_damaged(name, "the sender is not an address");
            envelope.sender = *p.mailbox;
        }
        std::unordered_set<std::string> keys;
        for (const std::string& r : entry.recipients) {
            const std::string path_text = "<" + r + ">";
            auto p = smtp::parse_forward_path(path_text, true);
            if (!p.mailbox || p.consumed != path_text.size()) return keep_damaged(name, "a recipient is not an address: " + r);
            smtp::Recipient rcpt{*p.mailbox, {}, 0, false};
            const policy::RcptVerdict verdict = policy.resolve_rcpt(rcpt.address, true, entry.content.size());
            if (verdict.reply.transient()) return later(name, verdict.reply);
            if (!verdict.accepted()) return refused(name, r, verdict.reply, waits);
            for (auto& final_rcpt : policy::expanded_recipients(rcpt, verdict))
                if (keys.insert(SessionHost::recipient_key(final_rcpt.address)).second)
                    envelope.recipients.push_back(std::move(final_rcpt));
        }
        envelope.smtputf8 = envelope.sender && envelope.sender->needs_smtputf8();
        for (const auto& r : envelope.recipients) envelope.smtputf8 = envelope.smtputf8 || r.address.needs_smtputf8();
        if (std::any_of(entry.content.begin(), entry.content.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
            envelope.body = smtp::BodyType::EightBitMime;

        auto message = queue.begin(envelope, queue::Reception{std::string(kSessionPrefix) + name, "local", ""});
        if (!message) return later(name, {451, "4.3.0", "Queue unavailable"});
        const queue::QueueId id = message->id();
        message->append(smtp::local_received_header(options.hostname, st.st_uid, id,
                                                    smtp::rfc5322_date(static_cast<std::int64_t>(std::time(nullptr)), 0)));
        message->append(entry.content);
        std::promise<bool> committed;
        queue.commit(std::move(message), [&committed](bool ok) { committed.set_value(ok); });
        if (!committed.get_future().get()) return later(name, {451, "4.3.0", "Could not store message"});
        // Queued: the file goes. Should the daemon stop before this is durable, settle_maildrop
        // finds the message by its session id at the next start.
        ::unlink(path.c_str());
        sync_directory(options.maildrop);
        observe::info("pickup", {{"id", id}, {"file", name}, {"uid", std::to_string(st.st_uid)},
                                 {"from", "<" + envelope.sender_str() + ">"},
                                 {"recipients", std::to_string(envelope.recipients.size())},
                                 {"size", std::to_string(entry.content.size())}});
        return "ok " + id + "\n";
    }

    std::string later(const std::string& name, const smtp::Reply& reply) {
        observe::warn("pickup-later", {{"file", name}, {"reply", reply_text(reply)}, {"note", "tried again within a minute"}});
        return "later: " + reply_text(reply) + "\n";
    }

    // A recipient refused for good: a sender waiting for the answer is told and the file goes;
    // with nobody waiting it is kept ("refused.NAME") and logged for a person to decide.
    std::string refused(const std::string& name, const std::string& rcpt, const smtp::Reply& reply, bool waits) {
        const auto path = options.maildrop / name;
        if (waits) {
            ::unlink(path.c_str());
        } else {
            ::rename(path.c_str(), (options.maildrop / ("refused." + name)).c_str());
        }
        observe::warn("pickup-refused", {{"file", name}, {"to", "<" + rcpt + ">"}, {"reply", reply_text(reply)},
                                         {"kept", waits ? "no: the sender was told" : "as refused." + name}});
        return "refused: <" + rcpt + ">: " + reply_text(reply) + "\n";
    }

    // What nobody named: every entry at start, then those older than kUnnamedAge.
    void take_waiting(bool all) {
        const auto now = std::chrono::system_clock::now();
        for (const std::string& name : entries_in(options.maildrop)) {
            struct stat st {};
            if (::lstat((options.maildrop / name).c_str(), &st) != 0) continue;
            const auto mtime = std::chrono::system_clock::from_time_t(st.st_mtime);
            if (name.rfind("tmp.", 0) == 0) {
                if (now - mtime > kStaleTemporary && ::unlink((options.maildrop / name).c_str()) == 0)
                    observe::info("maildrop-stale", {{"file", name}, {"note", "a sendmail died before its message was durable"}});
                continue;
            }
            if (!queue::is_maildrop_name(name)) continue;
            if (!all && now - mtime < kUnnamedAge) continue;
            take(name, false);
            std::lock_guard lock(m);
            if (stopping) return;
        }
    }

    void rescan_loop() {
        std::unique_lock lock(m);
        while (!cv.wait_for(lock, kRescan, [this] { return stopping; })) {
            lock.unlock();
            take_waiting(false);
            lock.lock();
        }
    }
};

Pickup::Pickup(PickupOptions options, queue::Queue& queue, const policy::Policy& policy)
    : impl_(std::make_unique<Impl>(std::move(options), queue, policy)) {
    auto& d = *impl_;
    d.take_waiting(true);
    d.socket = std::make_unique<RequestSocket>(
        d.options.socket, 0666, std::nullopt,
        [&d](const std::string& request) -> std::string {
            if (request.rfind("pickup ", 0) != 0) return "error: unknown request (pickup NAME)\n";
            return d.take(request.substr(7), true);
        },
        "pickup-socket");
    d.rescans = std::thread([&d] {
        observe::name_this_thread("ehlo-pickup");
        d.rescan_loop();
    });
}

Pickup::~Pickup() {
    auto& d = *impl_;
    {
        std::lock_guard lock(d.m);
        d.stopping = true;
    }
    d.cv.notify_all();
    if (d.rescans.joinable()) d.rescans.join();
    d.socket.reset();
}

std::string Pickup::take(const std::string& name, bool sender_waits) { return impl_->take(name, sender_waits); }

}  // namespace ehlo::net
