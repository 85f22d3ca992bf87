#include "delivery/maildir_deliverer.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <unordered_set>

#include "delivery/file_io.hpp"
#include "delivery/line_endings.hpp"
#include "delivery/maildir.hpp"

namespace ehlo::delivery {
namespace {

// Content is written in pieces of about this size, so memory stays small for any message.
constexpr std::size_t kWriteBuffer = 64 * 1024;

// RFC 5321 4.4: the delivery server records the reverse-path in a Return-Path header. The
// mailbox grammar has no CR or LF, so they are dropped only as a last guard against a header
// that could end early.
std::string return_path_header(std::string_view sender) {
    std::string line = "Return-Path: <";
    for (char c : sender)
        if (c != '\r' && c != '\n') line += c;
    line += ">\n";
    return line;
}

}  // namespace

struct MaildirDeliverer::Written {
    std::size_t job;
    std::filesystem::path tmp;
    std::filesystem::path target;
    std::uint64_t device;
};

MaildirDeliverer::MaildirDeliverer(SyncMode mode, SyncObserver on_sync) : mode_(mode), on_sync_(std::move(on_sync)) {}

void MaildirDeliverer::count_sync() const {
    if (on_sync_) on_sync_();
}

// The per-batch syncs cover files and new/, not the entries of the directories themselves.
// The Maildir, and any parent created with it (a fresh maildir_root, say), must be durable
// before a message in it is: so once, when the Maildir is first used or made again, every
// directory from it up to the root is synced. (A syncfs covers all of that anyway.)
bool MaildirDeliverer::sync_directory_chain(const std::filesystem::path& maildir, std::string& error) {
    std::filesystem::path dir = std::filesystem::absolute(maildir);
    for (;;) {
        std::error_code ec;
        FileDescriptor fd = open_directory(dir, ec);
        if (!ec) {
            count_sync();
            ec = sync_all(fd.get());
        }
        if (ec) {
            error = describe("cannot sync", dir, ec);
            return false;
        }
        if (!dir.has_relative_path()) return true;
        dir = dir.parent_path();
    }
}

bool MaildirDeliverer::prepare(const std::filesystem::path& maildir, std::uint64_t& device, std::string& error) {
    auto known = known_maildirs_.find(maildir.string());
    if (known != known_maildirs_.end()) {
        device = known->second;
        return true;
    }
    if (auto ec = ensure_maildir(maildir)) {
        error = describe("cannot create Maildir", maildir, ec);
        return false;
    }
    struct stat st{};
    if (::stat(maildir.c_str(), &st) != 0) {
        error = describe("cannot stat Maildir", maildir, {errno, std::system_category()});
        return false;
    }
    device = static_cast<std::uint64_t>(st.st_dev);
    if (mode_ == SyncMode::Syncfs && !sync_handles_.count(device)) {
        // syncfs(2) reports only write-back errors that happened after its descriptor was
        // opened: one long-lived descriptor per file system, opened before any file of ours is
        // written there, so no failed write can hide behind a fresh descriptor.
        std::error_code ec;
        FileDescriptor fd = open_directory(maildir, ec);
        if (ec) {
            error = describe("cannot open", maildir, ec);
            return false;
        }
        sync_handles_.emplace(device, std::move(fd));
    }
    if (mode_ == SyncMode::Fsync && !sync_directory_chain(maildir, error)) return false;
    known_maildirs_.emplace(maildir.string(), device);
    return true;
}

bool MaildirDeliverer::write_message(const MaildirJob& job, const std::filesystem::path& tmp, std::string& error) {
    std::error_code ec;
    // O_TRUNC: a file left in tmp/ by an attempt that crashed is simply written again.
    FileDescriptor fd = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, kMaildirFileMode, ec);
    if (ec == std::errc::no_such_file_or_directory) {
        // The Maildir was removed since we created it: create it again, once.
        known_maildirs_.erase(job.maildir.string());
        if (auto mec = ensure_maildir(job.maildir)) {
            error = describe("cannot create Maildir", job.maildir, mec);
            return false;
        }
        if (mode_ == SyncMode::Fsync && !sync_directory_chain(job.maildir, error)) return false;
        fd = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, kMaildirFileMode, ec);
    }
    if (ec) {
        error = describe("cannot create", tmp, ec);
        return false;
    }

    std::string buffer = return_path_header(job.return_path);
    buffer.reserve(kWriteBuffer + 4096);
    CrlfToLf lf;
    std::error_code write_ec;
    auto sink = [&](std::string_view piece) {
        while (!piece.empty()) {
            std::string_view part = piece.substr(0, kWriteBuffer);
            piece.remove_prefix(part.size());
            lf.convert(part, buffer);
            if (buffer.size() >= kWriteBuffer) {
                write_ec = write_all(fd.get(), buffer);
                buffer.clear();
                if (write_ec) return false;
            }
        }
        return true;
    };
    std::error_code read_ec = job.content ? job.content->write_to(sink) : std::error_code{};
    if (read_ec) {
        error = "cannot read the message content: " + read_ec.message();
        return false;
    }
    if (!write_ec) {
        lf.finish(buffer);
        write_ec = write_all(fd.get(), buffer);
    }
    if (write_ec) {
        error = describe("cannot write", tmp, write_ec);
        return false;
    }
    if (mode_ == SyncMode::Fsync) {
        count_sync();
        if (auto sec = sync_data(fd.get())) {
            error = describe("cannot sync", tmp, sec);
            return false;
        }
    }
    if (auto cec = fd.close()) {
        error = describe("cannot close", tmp, cec);
        return false;
    }
    return true;
}

std::optional<std::filesystem::path> MaildirDeliverer::find_existing(
    const MaildirJob& job, std::unordered_map<std::string, MaildirListing>& listings) {
    if (!job.scan_existing) return find_delivered(job.maildir, job.file_name, false);
    auto listing = listings.find(job.maildir.string());
    if (listing == listings.end()) listing = listings.emplace(job.maildir.string(), MaildirListing(job.maildir)).first;
    return listing->second.find(job.file_name);
}

std::vector<std::string> MaildirDeliverer::sync_places(const std::unordered_map<std::string, std::uint64_t>& places,
                                                       std::string& error) {
    std::vector<std::string> failed;
    if (mode_ == SyncMode::Syncfs) {
        // One syncfs per file system covers every directory on it.
        std::unordered_map<std::uint64_t, std::string> by_device;
        for (const auto& [dir, device] : places) by_device.emplace(device, dir);
        std::unordered_set<std::uint64_t> bad;
        for (const auto& [device, dir] : by_device) {
            std::error_code ec;
            auto handle = sync_handles_.find(device);
            if (handle == sync_handles_.end()) {
                ec = std::make_error_code(std::errc::bad_file_descriptor);
            } else {
                count_sync();
                ec = sync_filesystem(handle->second.get());
            }
            if (ec) {
                error = describe("cannot sync", dir, ec);
                bad.insert(device);
            }
        }
        for (const auto& [dir, device] : places)
            if (bad.count(device)) failed.push_back(dir);
    } else {
        for (const auto& [dir, device] : places) {
            std::error_code ec;
            FileDescriptor fd = open_directory(dir, ec);
            if (!ec) {
                count_sync();
                ec = sync_all(fd.get());
            }
            if (ec) {
                error = describe("cannot sync", dir, ec);
                failed.push_back(dir);
            }
        }
    }
    return failed;
}

std::vector<MaildirResult> MaildirDeliverer::deliver(const std::vector<MaildirJob>& jobs) {
    std::vector<MaildirResult> results(jobs.size());
    std::vector<Written> written;
    std::unordered_map<std::string, std::uint64_t> tmp_dirs;  // written to, by device
    std::unordered_map<std::string, std::uint64_t> new_dirs;  // renamed into, by device
    std::vector<std::pair<std::size_t, std::string>> found_in_new;  // job, its new/ directory
    std::unordered_map<std::string, MaildirListing> listings;        // read once per batch

    // 1. Write every message to tmp/.
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        const MaildirJob& job = jobs[i];
        MaildirResult& result = results[i];
        std::uint64_t device = 0;
        if (!prepare(job.maildir, device, result.error)) continue;
        if (auto found = find_existing(job, listings)) {
            // Delivered by an earlier attempt whose outcome was not recorded. If it is in new/,
            // that rename may not be durable yet: it is synced with this batch's renames.
            result.status = MaildirResult::Status::AlreadyDelivered;
            result.file = *found;
            auto dir = found->parent_path().string();
            if (dir == maildir_new(job.maildir).string()) {
                new_dirs.emplace(dir, device);
                found_in_new.emplace_back(i, dir);
            }
            continue;
        }
        auto tmp = maildir_tmp(job.maildir) / job.file_name;
        if (!write_message(job, tmp, result.error)) {
            remove_file(tmp);
            known_maildirs_.erase(job.maildir.string());
            continue;
        }
        written.push_back({i, tmp, maildir_new(job.maildir) / job.file_name, device});
        tmp_dirs.emplace(maildir_tmp(job.maildir).string(), device);
    }

    // 2. Make the content durable before any rename publishes it.
    if (mode_ == SyncMode::Syncfs && !written.empty()) {
        std::string error;
        auto failed = sync_places(tmp_dirs, error);
        for (auto& w : written) {
            if (std::find(failed.begin(), failed.end(), w.tmp.parent_path().string()) == failed.end()) continue;
            results[w.job].error = error;
            remove_file(w.tmp);
            w.tmp.clear();
        }
    }

    // 3. Publish: rename into new/.
    for (auto& w : written) {
        if (w.tmp.empty()) continue;
        if (std::rename(w.tmp.c_str(), w.target.c_str()) != 0) {
            results[w.job].error = describe("cannot rename into", w.target, {errno, std::system_category()});
            remove_file(w.tmp);
            w.tmp.clear();
            continue;
        }
        new_dirs.emplace(w.target.parent_path().string(), w.device);
    }

    // 4. Make the renames durable; only then is a recipient delivered. A failure here leaves
    // the file in new/: the next attempt finds it by its name and syncs again.
    std::vector<std::string> failed;
    std::string error;
    if (!new_dirs.empty()) failed = sync_places(new_dirs, error);
    auto sync_failed = [&](const std::string& dir) { return std::find(failed.begin(), failed.end(), dir) != failed.end(); };
    for (const auto& w : written) {
        if (w.tmp.empty()) continue;
        MaildirResult& result = results[w.job];
        if (sync_failed(w.target.parent_path().string())) {
            result.error = error;
            continue;
        }
        result.status = MaildirResult::Status::Delivered;
        result.file = w.target;
    }
    for (const auto& [job, dir] : found_in_new) {
        if (!sync_failed(dir)) continue;
        results[job].status = MaildirResult::Status::Failed;
        results[job].error = error;
    }
    return results;
}

}  // namespace ehlo::delivery
