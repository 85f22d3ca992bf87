// The daemon's side of local submission: takes what `ehlo sendmail` left in the maildrop
// (queue/maildrop.hpp) into the queue.
//
// sendmail names its file on the pickup socket (mode 0666: any local user) and waits for the
// answer; what nobody named (written while the daemon was down, or a message the queue could
// not take at once) is taken at start and then once a minute. Each file is read as untrusted
// input: a regular file of one link, within the size limit, of the maildrop format; its owner
// is the user named in the Received header. The envelope goes through policy as a trusted
// client's would (aliases expanded; relaying allowed: the host's own users send mail out).
// A file that is not a maildrop entry is renamed "bad.NAME" and kept for a person to read.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace ehlo::policy {
class Policy;
}
namespace ehlo::queue {
class Queue;
}

namespace ehlo::net {

struct PickupOptions {
    std::filesystem::path maildrop;
    std::filesystem::path socket;
    std::string hostname;            // in the Received header
    std::uint64_t max_message = 25u << 20;
    std::size_t max_recipients = 1000;
};
PickupOptions pickup_options(const config::Config& config);

// Before the queue starts: a maildrop file whose message is in the spool already (the daemon
// stopped between queueing it and removing the file) is removed, so that it is not queued
// twice. Returns how many.
std::size_t settle_maildrop(const std::filesystem::path& maildrop, const std::filesystem::path& spool);

class Pickup {
public:
    // Binds the socket, takes what waits in the maildrop and serves. The queue must be
    // running. Throws std::system_error.
    Pickup(PickupOptions options, queue::Queue& queue, const policy::Policy& policy);
    ~Pickup();
    Pickup(const Pickup&) = delete;
    Pickup& operator=(const Pickup&) = delete;

    // One file by name: "ok QUEUEID" (queued, the file removed), "later: REPLY" (it stays and
    // is tried again), "refused: REPLY" (policy refused a recipient; removed: the waiting
    // sender is told), "error: TEXT" (no such entry, or a damaged one kept as bad.NAME).
    std::string take(const std::string& name, bool sender_waits);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::net
