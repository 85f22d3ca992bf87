// How a message's remote recipients become RemoteJobs: one per next hop (RemoteTarget), so
// recipients for the same destination travel in one SMTP transaction (RFC 5321 3.3: one
// message, many RCPTs), with the content shared by every job rather than copied.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "delivery/remote_transport.hpp"
#include "queue/message_content.hpp"

namespace ehlo::queue {

// RFC 5321 6.3 loop detection: the reply for recipients of a message that has passed more
// than max_received MTAs.
inline constexpr int kLoopReplyCode = 554;
inline constexpr const char* kLoopStatus = "5.4.6";

struct RemoteGroup {
    delivery::RemoteTarget target;
    std::vector<std::size_t> recipients;  // envelope indexes, in envelope order
};

// RFC 5321 4.5.3.1.8: a server must take at least 100 recipients per transaction, and may
// refuse more (452): larger groups are split so that none waits a retry for that reason.
inline constexpr std::size_t kMaxRecipientsPerJob = 100;

// Recipients with their targets -> one group per target (of at most kMaxRecipientsPerJob),
// in the order targets first appear.
std::vector<RemoteGroup> group_by_target(const std::vector<std::pair<std::size_t, delivery::RemoteTarget>>& routed);

// What every job of one message shares: where its content is read from (memory or the spool
// file, opened only when a connection is ready for it), its size and what is known of it.
struct SharedContent {
    std::shared_ptr<const delivery::ContentSource> content;
    std::uint64_t size = 0;
    ContentFacts facts;
};

// The job for one group. It needs SMTPUTF8 (RFC 6531) when an address it sends needs it, or
// when the message was received with SMTPUTF8 and its header section is not ASCII.
delivery::RemoteJob make_job(const std::string& queue_id, const smtp::Envelope& envelope, const RemoteGroup& group,
                             const SharedContent& shared);

}  // namespace ehlo::queue
