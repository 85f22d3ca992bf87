#include "queue/message_event.hpp"

#include "queue/spool_record.hpp"

namespace ehlo::queue {

std::string encode_message_event(const MessageEvent& event) {
    std::string payload;
    PayloadWriter w(payload);
    w.u8(static_cast<std::uint8_t>(event.kind));
    w.u64(event.time_us);
    w.u32(static_cast<std::uint32_t>(event.recipients.size()));
    for (std::uint32_t index : event.recipients) w.u32(index);
    w.str(event.report_id);
    return sealed_record(RecordType::MessageEvent, payload);
}

std::optional<MessageEvent> decode_message_event(std::string_view payload, std::size_t recipient_count) {
    auto body = unseal_payload(RecordType::MessageEvent, payload);
    if (!body) return std::nullopt;
    PayloadReader r(*body);
    MessageEvent out;
    const std::uint8_t kind = r.u8();
    out.time_us = r.u64();
    const std::uint32_t count = r.u32();
    // Each index takes 4 bytes: a count larger than the payload is damage, not an allocation.
    if (count > body->size() / 4 || count > recipient_count) return std::nullopt;
    out.recipients.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint32_t index = r.u32();
        if (index >= recipient_count) return std::nullopt;
        out.recipients.push_back(index);
    }
    out.report_id = r.str();
    if (!r.ok_and_done() || kind < static_cast<std::uint8_t>(MessageEventKind::Held) ||
        kind > static_cast<std::uint8_t>(MessageEventKind::Flushed))
        return std::nullopt;
    out.kind = static_cast<MessageEventKind>(kind);
    return out;
}

}  // namespace ehlo::queue
