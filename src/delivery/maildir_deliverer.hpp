// Local delivery into Maildirs, a batch at a time.
//
// Why a batch: each message must be durable in tmp/ before its rename into new/ (otherwise a
// crash could leave a name in new/ whose content never reached the disk), and the rename must
// be durable before the queue may forget the recipient. Done per message, that is two syncs
// per message; done per batch it is two syncs for the whole batch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "delivery/content.hpp"
#include "delivery/durability.hpp"
#include "delivery/file_io.hpp"
#include "delivery/maildir.hpp"

namespace ehlo::delivery {

struct MaildirJob {
    std::filesystem::path maildir;  // the Maildir's top directory
    std::string file_name;          // maildir_file_name(): the same on every attempt
    std::string return_path;        // the reverse-path without brackets; empty for "<>"
    const ContentSource* content = nullptr;  // shared by the jobs of one message
    // The message may have been delivered before a crash: look through new/ and cur/.
    bool scan_existing = false;
};

struct MaildirResult {
    enum class Status { Delivered, AlreadyDelivered, Failed };
    Status status = Status::Failed;
    std::filesystem::path file;  // new/NAME, or where an earlier delivery is (maybe in cur/)
    std::string error;           // why, when Failed
    bool ok() const { return status != Status::Failed; }
};

class MaildirDeliverer {
public:
    explicit MaildirDeliverer(SyncMode mode, SyncObserver on_sync = {});

    // Delivers every job: writes tmp/NAME ("Return-Path: <sender>" first, RFC 5321 4.4, then
    // the content with LF line endings), makes the batch durable, renames each into new/,
    // makes the renames durable, and only then reports Delivered. One result per job, in order.
    std::vector<MaildirResult> deliver(const std::vector<MaildirJob>& jobs);

private:
    struct Written;
    // Creates the Maildir on first use; returns false with `error` set when it cannot.
    bool prepare(const std::filesystem::path& maildir, std::uint64_t& device, std::string& error);
    bool sync_directory_chain(const std::filesystem::path& maildir, std::string& error);
    // An earlier delivery of the job's message (scanning jobs share one listing per Maildir).
    std::optional<std::filesystem::path> find_existing(const MaildirJob& job,
                                                       std::unordered_map<std::string, MaildirListing>& listings);
    bool write_message(const MaildirJob& job, const std::filesystem::path& tmp, std::string& error);
    // Syncs each device (Syncfs) or each directory (Fsync) once; returns those that failed.
    std::vector<std::string> sync_places(const std::unordered_map<std::string, std::uint64_t>& places,
                                         std::string& error);
    void count_sync() const;

    SyncMode mode_;
    SyncObserver on_sync_;
    std::unordered_map<std::string, std::uint64_t> known_maildirs_;  // path -> device (st_dev)
    std::unordered_map<std::uint64_t, FileDescriptor> sync_handles_;  // Syncfs: device -> a directory on it
};

}  // namespace ehlo::delivery
