// The envelope sender of forwarded mail (SRS): a RemoteTransport in front of another that gives
// the recipients an alias of ours sent to another domain (smtp::Recipient::forwarded) the
// rewritten sender, and every other recipient the sender as it came.
//
// Why here and not in the queue: the spool keeps the sender the client gave (bounces of our own
// go to it, RFC 3464), and the queue hands one job per next hop; only the MAIL command of that
// hop needs the other sender. A job that mixes forwarded and relayed recipients for one hop is
// sent as two transactions, one per sender, and its outcome is the two put together.
#pragma once

#include <functional>
#include <optional>

#include "delivery/remote_transport.hpp"
#include "smtp/address.hpp"

namespace ehlo::delivery {

class ForwardingTransport final : public RemoteTransport {
public:
    // The sender for forwarded recipients, or nothing to keep it (the null sender, one of our
    // own domains, SRS off). Called on any thread the queue delivers from; must not block.
    using SenderRewrite = std::function<std::optional<smtp::Mailbox>(const std::optional<smtp::Mailbox>&)>;

    // `inner` must outlive this object.
    ForwardingTransport(RemoteTransport& inner, SenderRewrite rewrite) : inner_(inner), rewrite_(std::move(rewrite)) {}

    void deliver(RemoteJob job, std::function<void(RemoteOutcome)> done) override;

private:
    RemoteTransport& inner_;
    SenderRewrite rewrite_;
};

}  // namespace ehlo::delivery
