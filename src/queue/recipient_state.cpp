#include "queue/recipient_state.hpp"

#include "queue/spool_record.hpp"

namespace ehlo::queue {

std::string encode_state_record(std::uint32_t recipient_index, const RecipientState& state) {
    std::string payload;
    PayloadWriter w(payload);
    w.u32(recipient_index);
    w.u8(static_cast<std::uint8_t>(state.status));
    w.u32(state.attempts);
    w.u64(state.updated_us);
    w.u64(state.next_attempt_us);
    w.str(std::string_view(state.text).substr(0, kMaxStateText));
    w.str(std::string_view(state.peer).substr(0, kMaxStateText));
    w.u8(state.from_peer ? 1 : 0);
    w.str(std::string_view(state.tls).substr(0, kMaxStateText));
    return sealed_record(RecordType::RecipientState, payload);
}

std::optional<StateRecord> decode_state_record(std::string_view payload) {
    auto body = unseal_payload(RecordType::RecipientState, payload);
    if (!body) return std::nullopt;
    PayloadReader r(*body);
    StateRecord out;
    out.recipient_index = r.u32();
    std::uint8_t status = r.u8();
    out.state.attempts = r.u32();
    out.state.updated_us = r.u64();
    out.state.next_attempt_us = r.u64();
    out.state.text = r.str();
    if (r.ok() && !r.ok_and_done()) {  // files written before the peer was kept end here
        out.state.peer = r.str();
        out.state.from_peer = r.u8() == 1;
    }
    if (r.ok() && !r.ok_and_done()) out.state.tls = r.str();  // nor before its protection was
    if (!r.ok_and_done() || status > static_cast<std::uint8_t>(DeliveryStatus::Failed)) return std::nullopt;
    out.state.status = static_cast<DeliveryStatus>(status);
    return out;
}

AttemptRecord attempt_of(std::size_t recipient, const RecipientState& state) {
    return {state.updated_us, recipient, state.peer, std::string(to_string(state.status)), state.text};
}

std::string_view to_string(DeliveryStatus status) {
    switch (status) {
        case DeliveryStatus::Pending: return "pending";
        case DeliveryStatus::Deferred: return "deferred";
        case DeliveryStatus::Delivered: return "delivered";
        case DeliveryStatus::Failed: return "failed";
    }
    return "unknown";
}

}  // namespace ehlo::queue
