// Fuzz target for the SMTP session engine (src/smtp): arbitrary client bytes must never crash
// it, and must give the same replies however they are split across receive() calls.
//
// Each input is played four times: in one receive(), cut at three points chosen from the
// input, one octet per receive(), and once more with a host that answers end_message() from
// within the call. The replies must be well-formed and identical in all four; the host checks
// that the engine keeps the message lifecycle straight and that no accepted content holds a
// bare CR, bare LF or NUL (what SMTP smuggling would need).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/session.hpp"

namespace {

using namespace ehlo::smtp;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_session: %s\n", what);
    std::abort();
}

class AcceptingHost final : public SessionHost {
public:
    Session* answer_at_once = nullptr;
    bool open = false;
    bool ended = false;  // end_message() called, message_done() not yet
    std::string content;
    std::string accepted;  // every accepted message, each followed by a separator

    Reply check_mail(const Envelope&) override { return {250, "2.1.0", "Ok"}; }
    Reply check_rcpt(const Envelope&, const Recipient& r) override {
        // A little variety, so that refused recipients and 554 No valid recipients occur too.
        if (r.address.local_part == "nobody") return {550, "5.1.1", "No such user"};
        return {250, "2.1.5", "Ok"};
    }
    std::optional<Reply> begin_message(const Envelope& e) override {
        if (open || ended) fail("begin_message while a message is open");
        if (e.recipients.empty()) fail("begin_message without recipients");
        open = true;
        content.clear();
        return std::nullopt;
    }
    void message_data(std::string_view piece) override {
        if (!open) fail("message_data outside a message");
        content += piece;
    }
    void end_message(const Envelope& e) override {
        if (!open) fail("end_message outside a message");
        if (e.recipients.empty()) fail("end_message without recipients");
        open = false;
        for (std::size_t i = 0; i < content.size(); ++i) {
            const char c = content[i];
            if (c == '\0') fail("accepted content holds a NUL");
            if (c == '\r' && (i + 1 == content.size() || content[i + 1] != '\n')) fail("accepted content holds a bare CR");
            if (c == '\n' && (i == 0 || content[i - 1] != '\r')) fail("accepted content holds a bare LF");
        }
        if (!content.empty() && (content.size() < 2 || content.substr(content.size() - 2) != "\r\n"))
            fail("accepted content does not end with CRLF");
        accepted += content;
        accepted += "\n--end--\n";
        if (answer_at_once) {
            answer_at_once->message_done({250, "2.0.0", "Ok: queued as FUZZ"});
        } else {
            ended = true;
        }
    }
    void abort_message() override {
        if (!open) fail("abort_message outside a message");
        open = false;
    }
};

// Every reply line: three digits, then SP or "-", text without CR or LF, then CRLF.
void check_replies(std::string_view out) {
    std::size_t start = 0;
    while (start < out.size()) {
        const std::size_t end = out.find("\r\n", start);
        if (end == std::string_view::npos) fail("reply without CRLF");
        const std::string_view line = out.substr(start, end - start);
        if (line.size() < 3) fail("reply line too short");
        for (int i = 0; i < 3; ++i)
            if (line[i] < '0' || line[i] > '9') fail("reply code not three digits");
        if (line.size() > 3 && line[3] != ' ' && line[3] != '-') fail("reply code not followed by SP or -");
        if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) fail("control octet in a reply");
        start = end + 2;
    }
}

SessionConfig fuzz_config() {
    SessionConfig c;
    c.hostname = "fuzz.example";
    c.max_message_size = 20000;
    c.max_recipients = 5;
    c.max_errors = 25;
    c.dsn = true;
    c.starttls_available = true;
    return c;
}

struct Outcome {
    std::string replies;
    std::string accepted;
};

// Plays `input` cut at `cuts` (sorted offsets); answers each message after the receive() that
// completed it, as the network layer does, unless `answer_at_once`.
Outcome play(std::string_view input, const std::vector<std::size_t>& cuts, bool answer_at_once) {
    const SessionConfig config = fuzz_config();
    AcceptingHost host;
    Session session(config, ClientInfo{"192.0.2.1", 40000, false, {}}, host);
    if (answer_at_once) host.answer_at_once = &session;
    Outcome o;
    session.start();
    o.replies = session.take_output();
    std::size_t from = 0;
    auto feed = [&](std::size_t to) {
        if (to <= from) return;
        session.receive(input.substr(from, to - from));
        from = to;
        o.replies += session.take_output();
        while (session.awaiting_host()) {
            if (!host.ended) fail("awaiting the host without end_message");
            host.ended = false;
            session.message_done({250, "2.0.0", "Ok: queued as FUZZ"});
            o.replies += session.take_output();
        }
        (void)session.protocol();
        (void)session.in_message();
    };
    for (std::size_t cut : cuts) feed(std::min(cut, input.size()));
    feed(input.size());
    session.peer_closed();
    o.replies += session.take_output();
    if (host.open) fail("message left open after peer_closed");
    check_replies(o.replies);
    o.accepted = host.accepted;
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const Outcome whole = play(input, {}, false);

    // Three cut points from a hash of the input: deterministic, yet different for each input.
    std::uint64_t h = 1469598103934665603ull;
    for (std::size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
    std::vector<std::size_t> cuts;
    if (size > 0)
        cuts = {static_cast<std::size_t>(h % size), static_cast<std::size_t>((h >> 21) % size),
                static_cast<std::size_t>((h >> 42) % size)};
    std::sort(cuts.begin(), cuts.end());
    const Outcome split = play(input, cuts, false);

    std::vector<std::size_t> every_octet;
    for (std::size_t i = 1; i < size; ++i) every_octet.push_back(i);
    const Outcome bytewise = play(input, every_octet, false);
    const Outcome at_once = play(input, {}, true);

    if (split.replies != whole.replies || split.accepted != whole.accepted) fail("replies depend on the split");
    if (bytewise.replies != whole.replies || bytewise.accepted != whole.accepted)
        fail("replies differ when fed one octet at a time");
    if (at_once.replies != whole.replies || at_once.accepted != whole.accepted)
        fail("replies differ when the host answers at once");
    return 0;
}
