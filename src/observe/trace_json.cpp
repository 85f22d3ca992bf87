// The JSON form of `ehlo trace` (and of the console's trace and search API): the same facts as the
// text timeline, as data. nlohmann/json (Debian's nlohmann-json3-dev) writes it; its header
// is heavy, so this is the only file that includes it.
//
// Every string is data from the history, some of it from the network: dump() escapes it for
// JSON, ensure_ascii makes the output pure ASCII (so no C1 control or bidi character reaches
// a terminal that shows it), and bytes that are not UTF-8 become U+FFFD.
#include <nlohmann/json.hpp>

#include "observe/time_text.hpp"
#include "observe/trace_format.hpp"

namespace ehlo::observe {
namespace {

using json = nlohmann::ordered_json;  // keys in the order written: queue id and state first

void put(json& j, const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
}

void put_time(json& j, const char* key, std::int64_t us) {
    if (us == 0) return;
    j[key] = local_rfc3339(us);
    j[std::string(key) + "_us"] = us;
}

json event_json(const Event& e) {
    json j;
    put_time(j, "time", e.time_us);
    j["kind"] = std::string(to_string(e.kind));
    put(j, "queue_id", e.queue_id);
    put(j, "session_id", e.session_id);
    put(j, "recipient", e.recipient);
    if (e.kind == EventKind::MailFrom || e.kind == EventKind::Queued) j["sender"] = e.sender;
    put(j, "reply", e.reply);
    put(j, "remote_host", e.remote_host);
    put(j, "remote_address", e.remote_address);
    put(j, "helo", e.helo);
    put(j, "tls", e.tls);
    put(j, "auth_user", e.auth_user);
    if (e.size) j["size"] = e.size;
    put(j, "next_hop", e.next_hop);
    if (e.kind == EventKind::Attempt) j["duration_us"] = e.duration_us;
    put_time(j, "next_attempt", e.next_attempt_us);
    put(j, "mailbox", e.mailbox);
    put(j, "dsn_id", e.dsn_id);
    put(j, "detail", e.detail);
    return j;
}

json recipient_json(const RecipientSummary& r) {
    json j;
    j["address"] = r.address;
    j["state"] = r.state;
    put_time(j, "time", r.time_us);
    put(j, "reply", r.reply);
    put(j, "remote_host", r.remote_host);
    put_time(j, "next_attempt", r.next_attempt_us);
    put(j, "mailbox", r.mailbox);
    put(j, "dsn_id", r.dsn_id);
    return j;
}

// What a message is and where it stands; the status from `status`, said from the whole trace
// when there is one.
json summary_json(const MessageSummary& m, const MessageStatus& status) {
    json j;
    j["queue_id"] = m.queue_id.empty() ? json(nullptr) : json(m.queue_id);
    j["state"] = status.state;
    j["status"] = status.text;
    put_time(j, "received", m.received_us);
    put_time(j, "last_event", m.last_us);
    put(j, "session_id", m.session_id);
    j["sender"] = m.sender;
    if (!m.queue_id.empty()) {
        j["size"] = m.size;
        put(j, "message_id", m.message_id);
        put(j, "header_from", m.header_from);
        put(j, "header_to", m.header_to);
        put(j, "subject", m.subject);
        j["held"] = m.held;
        j["deleted"] = m.deleted;
    }
    j["recipients"] = json::array();
    for (const auto& r : m.recipients) j["recipients"].push_back(recipient_json(r));
    return j;
}

json trace_json(const MessageTrace& t, std::int64_t now_us) {
    json j = summary_json(t.message, message_status(t, now_us));
    j["events"] = json::array();
    for (const auto& e : t.events) j["events"].push_back(event_json(e));
    j["transcript"] = t.transcript.empty() ? json(nullptr) : json(t.transcript);
    return j;
}

std::string document(const json& messages) {
    json doc;
    doc["messages"] = messages;
    return doc.dump(2, ' ', true, json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string summaries_json(const std::vector<MessageSummary>& messages, std::int64_t now_us) {
    json out = json::array();
    for (const auto& m : messages) out.push_back(summary_json(m, message_status(m, now_us)));
    return document(out);
}

std::string traces_json(const std::vector<MessageTrace>& traces, std::int64_t now_us) {
    json out = json::array();
    for (const auto& t : traces) out.push_back(trace_json(t, now_us));
    return document(out);
}

}  // namespace ehlo::observe
