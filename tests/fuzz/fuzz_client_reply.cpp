// Fuzz target for the outbound side's reading of a server (src/delivery): each input is what a
// hostile or broken next hop sends us, the attack surface of CVE-2020-8794 (a crafted
// multiline reply that OpenSMTPD's client copied into its queue). Three layers read it:
//
// ReplyReader (client_reply.hpp), fed the input whole, cut at points derived from it, and one
// octet at a time: the replies, and the error that stops it, must be the same however the input
// is cut (continuation lines arrive in any TCP segment); every reply must be well formed (code
// 2xx-5xx, 1 to 100 lines of at most 512 octets, no CR, LF or NUL in a line, the enhanced code
// of the reply's class), its wire form must read back as itself, and parse_ehlo() must read it
// case-insensitively and take no keyword from its first line (RFC 5321 4.1.1.1, 2.4).
//
// ClientSession and LmtpSession (the SMTP and LMTP client engines), under several policies
// (pipelining or not; STARTTLS none, may, encrypt, verify, with a handshake that succeeds,
// fails or does not verify), carrying two messages, the input fed line by line as a server
// would answer. They must
//   - give every message exactly one result, with one entry per recipient, in order;
//   - call a recipient Delivered only on a 2xx from the peer after its content and final "."
//     were sent, and Failed only on a 5xx;
//   - never send MAIL before TLS when the policy requires TLS, nor deliver without it;
//   - send nothing but CRLF-terminated lines, with the content dot-stuffed;
//   - do the same whether the input comes line by line, cut further, or an octet at a time.
// The input fed whole (a server that answers before it is asked) must keep all of this but the
// last.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "delivery/client_reply.hpp"
#include "delivery/client_session.hpp"
#include "delivery/lmtp_session.hpp"

namespace {

using namespace ehlo;
using delivery::Outcome;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_client_reply: %s\n", what);
    std::abort();
}

// ---- the reply reader -----------------------------------------------------------------------

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool same_capabilities(const delivery::Capabilities& a, const delivery::Capabilities& b) {
    return a.esmtp == b.esmtp && a.pipelining == b.pipelining && a.size == b.size && a.max_size == b.max_size &&
           a.eight_bit_mime == b.eight_bit_mime && a.smtputf8 == b.smtputf8 && a.chunking == b.chunking && a.dsn == b.dsn &&
           a.starttls == b.starttls && a.enhanced_status_codes == b.enhanced_status_codes;
}

// Any reply read as an EHLO reply (RFC 5321 4.1.1.1): keywords are case-insensitive (2.4), the
// first line (the greeting) offers nothing, and a SIZE maximum is only declared by SIZE.
void check_capabilities(const smtp::Reply& r) {
    const delivery::Capabilities caps = delivery::parse_ehlo(r);
    if (!caps.esmtp) fail("parse_ehlo without esmtp");
    if (caps.max_size != 0 && !caps.size) fail("a SIZE maximum without SIZE");
    smtp::Reply upper = r;
    for (auto& line : upper.lines)
        for (char& c : line)
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!same_capabilities(delivery::parse_ehlo(upper), caps)) fail("EHLO keywords read case-sensitively");
    smtp::Reply greeting_only = r;
    greeting_only.lines.resize(1);
    delivery::Capabilities none;
    none.esmtp = true;
    if (!same_capabilities(delivery::parse_ehlo(greeting_only), none)) fail("the EHLO greeting line read as a keyword");
}

void check_reply(const smtp::Reply& r) {
    if (r.code < 200 || r.code > 559 || (r.code / 10) % 10 > 5) fail("reply code outside RFC 5321 4.2");
    if (r.lines.empty() || r.lines.size() > delivery::kMaxReplyLines) fail("reply with no lines or too many");
    for (const auto& line : r.lines) {
        if (line.size() + 6 > delivery::kMaxReplyLine) fail("reply line longer than the limit");
        if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) fail("CR, LF or NUL in a reply line");
    }
    if (!r.enhanced.empty()) {
        // RFC 3463: class "." subject "." detail, of the reply's class.
        const std::string& e = r.enhanced;
        if (e[0] - '0' != r.code / 100) fail("enhanced code of another class");
        std::size_t parts = 0, digits = 0;
        for (std::size_t i = 0; i <= e.size(); ++i) {
            if (i == e.size() || e[i] == '.') {
                if (digits == 0 || digits > 3) fail("malformed enhanced code");
                ++parts;
                digits = 0;
            } else if (is_digit(e[i])) {
                ++digits;
            } else {
                fail("malformed enhanced code");
            }
        }
        if (parts != 3) fail("malformed enhanced code");
    }
    check_capabilities(r);
}

bool same_reply(const smtp::Reply& a, const smtp::Reply& b) {
    return a.code == b.code && a.enhanced == b.enhanced && a.lines == b.lines;
}

struct ReaderOutcome {
    std::vector<smtp::Reply> replies;
    std::string error;
};

bool same_outcome(const ReaderOutcome& a, const ReaderOutcome& b) {
    return a.error == b.error && std::equal(a.replies.begin(), a.replies.end(), b.replies.begin(), b.replies.end(), same_reply);
}

ReaderOutcome read_replies(std::string_view input, const std::vector<std::size_t>& cuts) {
    delivery::ReplyReader reader;
    ReaderOutcome o;
    std::size_t from = 0;
    auto feed = [&](std::size_t to) {
        std::string_view rest = input.substr(from, to - from);
        from = to;
        while (!rest.empty() && !reader.failed()) {
            const std::size_t n = reader.feed(rest);
            if (n > rest.size()) fail("feed() consumed more than it was given");
            rest.remove_prefix(n);
            if (auto reply = reader.take()) {
                check_reply(*reply);
                o.replies.push_back(std::move(*reply));
                if (reader.take()) fail("a reply given twice");
            } else if (!reader.failed() && !rest.empty()) {
                fail("feed() stopped with neither a reply nor an error");
            }
        }
        if (reader.failed()) {
            if (reader.error().empty()) fail("failed without a reason");
            if (!rest.empty() && reader.feed(rest) != 0) fail("a failed reader read on");
        }
    };
    for (std::size_t cut : cuts)
        if (cut > from) feed(std::min(cut, input.size()));
    feed(input.size());
    o.error = reader.error();
    return o;
}

// A reply written out (as the server side writes its own) and read back is the same reply.
void check_wire_round_trip(const smtp::Reply& r) {
    const std::string wire = r.wire(true);
    for (std::size_t start = 0; start < wire.size();) {
        const std::size_t end = wire.find('\n', start) + 1;
        if (end - start > delivery::kMaxReplyLine) return;  // the enhanced code made it too long to send
        start = end;
    }
    delivery::ReplyReader reader;
    if (reader.feed(wire) != wire.size()) fail("a reply's wire form is not read to its end");
    auto again = reader.take();
    if (!again || !same_reply(*again, r)) fail("a reply's wire form reads as another reply");
}

std::vector<std::size_t> hashed_cuts(std::string_view input) {
    std::uint64_t h = 1469598103934665603ull;
    for (char c : input) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    std::vector<std::size_t> cuts;
    if (input.empty()) return cuts;
    for (int shift : {0, 13, 26, 39, 52}) cuts.push_back(static_cast<std::size_t>((h >> shift) % input.size()));
    std::sort(cuts.begin(), cuts.end());
    return cuts;
}

std::vector<std::size_t> line_ends(std::string_view input) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 0; i < input.size(); ++i)
        if (input[i] == '\n') cuts.push_back(i + 1);
    return cuts;
}

std::vector<std::size_t> merged(std::vector<std::size_t> a, const std::vector<std::size_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    std::sort(a.begin(), a.end());
    a.erase(std::unique(a.begin(), a.end()), a.end());
    return a;
}

// ---- the client engines ---------------------------------------------------------------------

struct Variant {
    bool lmtp = false;
    bool pipelining = true;
    delivery::TlsPolicy tls = delivery::TlsPolicy::None;
    bool handshake_ok = true;
    bool verified = true;
    bool eight_bit = false;
    bool smtputf8 = false;
};

const Variant kVariants[] = {
    {false, true, delivery::TlsPolicy::None, true, true, false, false},
    {false, false, delivery::TlsPolicy::None, true, true, true, false},
    {false, true, delivery::TlsPolicy::May, true, false, false, true},
    {false, true, delivery::TlsPolicy::May, false, false, false, false},
    {false, false, delivery::TlsPolicy::Encrypt, true, false, false, false},
    {false, true, delivery::TlsPolicy::Verify, true, false, false, false},
    {false, true, delivery::TlsPolicy::Verify, true, true, true, true},
    {true, true, delivery::TlsPolicy::None, true, true, false, false},
    {true, true, delivery::TlsPolicy::None, true, true, true, true},
};

// A line that starts with "." must reach the peer as "..": it is content, not the end.
constexpr std::string_view kContent = "Subject: fuzz\r\n\r\n.\r\nQUIT\r\n..two\r\n";
constexpr std::string_view kStuffed = "Subject: fuzz\r\n\r\n..\r\nQUIT\r\n...two\r\n.\r\n";
constexpr std::size_t kMessages = 2;

delivery::OutboundMessage message(std::size_t number, const Variant& v) {
    delivery::OutboundMessage m;
    m.envelope.sender = smtp::Mailbox{"sender", "origin.example"};
    for (const char* local : {"a", "b", "c"})
        m.envelope.recipients.push_back(smtp::Recipient{smtp::Mailbox{local, "dest.example"}, {}, 0, false});
    m.envelope.envid = "ENV+ID";
    m.envelope.ret = smtp::DsnRet::Headers;
    // The second message goes to two of the three recipients, the last one first.
    m.recipient_indexes = number == 0 ? std::vector<std::size_t>{0, 1, 2} : std::vector<std::size_t>{2, 0};
    m.content_size = kContent.size();
    m.eight_bit = v.eight_bit;
    m.needs_smtputf8 = v.smtputf8;
    return m;
}

struct EngineOutcome {
    std::string output;
    std::vector<delivery::MessageResult> results;
    bool failed = false;
    smtp::Reply error;
};

bool same_results(const EngineOutcome& a, const EngineOutcome& b) {
    if (a.output != b.output || a.failed != b.failed || a.results.size() != b.results.size()) return false;
    if (a.failed && !same_reply(a.error, b.error)) return false;
    for (std::size_t i = 0; i < a.results.size(); ++i) {
        const auto& x = a.results[i];
        const auto& y = b.results[i];
        if (x.recipients.size() != y.recipients.size() || x.data_reply.has_value() != y.data_reply.has_value()) return false;
        if (x.data_reply && !same_reply(*x.data_reply, *y.data_reply)) return false;
        for (std::size_t r = 0; r < x.recipients.size(); ++r) {
            const auto& p = x.recipients[r];
            const auto& q = y.recipients[r];
            if (p.index != q.index || p.outcome != q.outcome || p.remote != q.remote || !same_reply(p.reply, q.reply)) return false;
        }
    }
    return true;
}

void check_output(const std::string& out) {
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] == '\0') fail("NUL sent to the peer");
        if (out[i] == '\r' && (i + 1 == out.size() || out[i + 1] != '\n')) fail("bare CR sent to the peer");
        if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r')) fail("bare LF sent to the peer");
    }
    if (!out.empty() && !out.ends_with("\r\n")) fail("output does not end with CRLF");
}

// The common driver of both engines: `Engine` is ClientSession or LmtpSession.
template <typename Engine>
class Driver {
public:
    Driver(Engine& engine, const Variant& v) : s_(engine), v_(v) {}

    EngineOutcome play(std::string_view input, const std::vector<std::size_t>& cuts) {
        react();
        std::size_t from = 0;
        for (std::size_t cut : cuts) {
            if (cut <= from) continue;
            s_.feed(input.substr(from, std::min(cut, input.size()) - from));
            from = std::min(cut, input.size());
            react();
        }
        if (from < input.size()) s_.feed(input.substr(from));
        react();
        s_.abort("the fuzz input ended");
        react();
        if (!s_.finished()) fail("not finished after abort()");
        if (s_.awaiting() != delivery::ClientWait::Nothing) fail("awaiting a reply after the end");
        if (s_.wants_message()) fail("wants a message after the end");
        if (o_.results.size() != given_) fail("a message given without a result");
        if (given_ == 0) fail("no message was ever given");
        o_.failed = s_.failed();
        if (o_.failed) {
            o_.error = s_.connection_error();
            check_reply_text(o_.error);
        }
        check_output(o_.output);
        return o_;
    }

private:
    static void check_reply_text(const smtp::Reply& r) {
        for (const auto& line : r.lines)
            if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) fail("CR, LF or NUL in a result's reply");
    }

    static constexpr bool kSmtp = std::is_same_v<Engine, delivery::ClientSession>;

    // The peer said 220 to STARTTLS: the handshake is ours to do now (SMTP only).
    bool handshake_asked() const {
        if constexpr (kSmtp) return s_.wants_tls();
        return false;
    }

    void handshake() {
        if constexpr (kSmtp) {
            if (!v_.handshake_ok) return s_.tls_failed("the fuzz handshake fails");
            delivery::TlsHandshake h;
            h.protocol = "TLSv1.3";
            h.cipher = "TLS_AES_256_GCM_SHA384";
            h.bits = h.alg_bits = 256;
            h.verified = v_.verified;
            if (!h.verified) h.verify_error = "self-signed certificate";
            s_.tls_established(h);
            tls_up_ = true;
            if (s_.tls() != h) fail("tls() is not the handshake given");
        }
    }

    // The number of the message whose content is wanted.
    std::optional<std::size_t> content_wanted() const {
        if constexpr (kSmtp) {
            return s_.wants_content();
        } else {
            if (!s_.wants_content()) return std::nullopt;
            return given_ - 1;
        }
    }

    void take_output() {
        std::string out = s_.take_output();
        if (!out.empty() && tls_required() && !tls_up_ && (out.find("MAIL FROM") != std::string::npos))
            fail("MAIL sent in plaintext under a policy that requires TLS");
        o_.output += out;
    }

    bool tls_required() const { return delivery::tls_required(v_.tls); }

    void react() {
        for (bool changed = true; changed;) {
            changed = false;
            take_output();
            if (handshake_asked()) {
                // RFC 3207 4: nothing follows STARTTLS in plaintext.
                if (!o_.output.ends_with("STARTTLS\r\n")) fail("the handshake is due, yet STARTTLS was not the last command");
                handshake();
                changed = true;
            }
            if (auto number = content_wanted()) {
                if (*number != given_ - 1 || ended_[*number]) fail("content asked for the wrong message");
                const std::size_t cut = kContent.size() / 2;
                std::string before = s_.take_output();
                if (!before.empty()) o_.output += before;
                const std::size_t start = o_.output.size();
                s_.send_content(kContent.substr(0, cut));
                s_.send_content(kContent.substr(cut));
                s_.end_content();
                o_.output += s_.take_output();
                if (o_.output.substr(start) != kStuffed) fail("content not dot-stuffed as RFC 5321 4.5.2 says");
                ended_[*number] = true;
                changed = true;
            }
            while (auto result = s_.take_result()) {
                check_result(*result, o_.results.size());
                o_.results.push_back(std::move(*result));
                changed = true;
            }
            if (s_.wants_message() && given_ < kMessages && o_.results.size() == given_) {
                s_.send(message(given_, v_));
                ++given_;
                changed = true;
            } else if (s_.wants_message() && given_ == kMessages && !quit_) {
                s_.quit();
                quit_ = true;
                changed = true;
            }
        }
    }

    void check_result(const delivery::MessageResult& r, std::size_t number) {
        if (number >= given_) fail("a result for a message never given");
        const auto m = message(number, v_);
        if (r.recipients.size() != m.recipient_indexes.size()) fail("a result without one entry per recipient");
        for (std::size_t slot = 0; slot < r.recipients.size(); ++slot) {
            const auto& rr = r.recipients[slot];
            if (rr.index != m.recipient_indexes[slot]) fail("a result out of recipient order");
            check_reply_text(rr.reply);
            if (rr.outcome == Outcome::Delivered) {
                if (rr.reply.code / 100 != 2 || !rr.remote) fail("Delivered without a 2xx from the peer");
                if (!ended_[number]) fail("Delivered though the content was never sent");
                if (tls_required() && !tls_up_) fail("Delivered in plaintext under a policy that requires TLS");
                if (v_.tls == delivery::TlsPolicy::Verify && !v_.verified) fail("Delivered over unverified TLS under verify");
            }
            if (rr.outcome == Outcome::Failed && rr.reply.code / 100 != 5) fail("Failed without a 5xx");
        }
    }

    Engine& s_;
    Variant v_;
    EngineOutcome o_;
    std::size_t given_ = 0;
    bool ended_[kMessages] = {false, false};
    bool quit_ = false;
    bool tls_up_ = false;
};

EngineOutcome play_engine(std::string_view input, const Variant& v, const std::vector<std::size_t>& cuts) {
    if (v.lmtp) {
        delivery::LmtpSession s("client.example");
        return Driver<delivery::LmtpSession>(s, v).play(input, cuts);
    }
    delivery::ClientSession s("client.example", delivery::ClientOptions{v.pipelining, v.tls});
    return Driver<delivery::ClientSession>(s, v).play(input, cuts);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    const ReaderOutcome whole = read_replies(input, {});
    if (!same_outcome(read_replies(input, hashed_cuts(input)), whole)) fail("replies depend on where the input is cut");
    std::vector<std::size_t> every_octet;
    for (std::size_t i = 1; i < size; ++i) every_octet.push_back(i);
    if (!same_outcome(read_replies(input, every_octet), whole)) fail("replies differ when fed one octet at a time");
    for (const auto& reply : whole.replies) check_wire_round_trip(reply);

    const std::vector<std::size_t> lines = line_ends(input);
    const std::vector<std::size_t> lines_and_cuts = merged(lines, hashed_cuts(input));
    bool first = true;
    for (const Variant& v : kVariants) {
        const EngineOutcome by_line = play_engine(input, v, lines);
        if (!same_results(play_engine(input, v, lines_and_cuts), by_line)) fail("the engine depends on where a line is cut");
        if (first && !same_results(play_engine(input, v, every_octet), by_line))
            fail("the engine differs when fed one octet at a time");
        (void)play_engine(input, v, {});  // all at once: the checks inside play() hold
        first = false;
    }
    return 0;
}
