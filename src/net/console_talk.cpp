#include "net/console_talk.hpp"

#include <sys/random.h>

#include "net/server_link.hpp"
#include "tutor/safe_text.hpp"
#include "tutor/server_reader.hpp"
#include "tutor/tutor.hpp"

namespace ehlo::net {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr auto kSendTimeout = std::chrono::seconds(5);
// The console serves one request at a time: a server that does not answer holds it this long.
constexpr auto kReplyTimeout = std::chrono::seconds(10);
// A line longer than SMTP allows (RFC 5321 4.5.3.1.6: 1000 with CRLF) is the tutor's to
// explain; longer than this it is not even looked at.
constexpr std::size_t kMaxTyped = 4096;

const char* phase_name(tutor::Phase p) {
    switch (p) {
        case tutor::Phase::Greeting: return "greeting";
        case tutor::Phase::Hello: return "hello";
        case tutor::Phase::Mail: return "mail";
        case tutor::Phase::Rcpt: return "rcpt";
        case tutor::Phase::Data: return "data";
        case tutor::Phase::Content: return "content";
        case tutor::Phase::Closed: return "closed";
    }
    return "closed";
}

std::string new_id() {
    unsigned char r[12];
    if (::getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) return {};
    static constexpr char digits[] = "0123456789abcdef";
    std::string id;
    for (unsigned char b : r) {
        id += digits[b >> 4];
        id += digits[b & 15];
    }
    return id;
}

}  // namespace

struct TalkRooms::Talk {
    explicit Talk(tutor::Options options) : tutor(std::move(options)) {}
    tutor::Tutor tutor;
    tutor::ServerReader reader;
    ServerLink link;
    std::chrono::steady_clock::time_point used = std::chrono::steady_clock::now();

    void add(TalkExchange& x, std::vector<tutor::Note> notes) {
        for (auto& n : notes) x.notes.push_back(std::move(n));
    }

    // Replies until the tutor waits for none; false once the dialog is over.
    bool read_replies(TalkExchange& x) {
        while (tutor.awaiting_reply()) {
            std::string bytes;
            const auto r = link.read(bytes, kReplyTimeout);
            if (r == ServerLink::Read::Timeout) {
                x.notes.push_back({tutor::NoteKind::Mistake, "No reply",
                                   "The server said nothing for " + std::to_string(kReplyTimeout.count()) + " s.",
                                   "RFC 5321 4.5.3.2", std::nullopt});
                add(x, tutor.closed("no reply within " + std::to_string(kReplyTimeout.count()) + " s"));
                link.close();
                return false;
            }
            if (r != ServerLink::Read::Data) {
                if (reader.partial()) show(x, reader.take_partial(), false);
                add(x, tutor.closed(r == ServerLink::Read::Closed ? "the server closed the connection"
                                                                  : "reading from the server failed"));
                link.close();
                return false;
            }
            reader.feed(bytes);
            while (reader.has_reply()) show(x, reader.take(), true);
            if (tutor.state().phase == tutor::Phase::Closed) return false;
        }
        return true;
    }

    void show(TalkExchange& x, tutor::ServerReply r, bool complete) {
        for (auto& l : r.shown) x.lines.push_back({false, std::move(l)});
        add(x, std::move(r.problems));
        if (complete) add(x, tutor.replied(r.reply));
    }

    void finish(TalkExchange& x) {
        const auto& s = tutor.state();
        x.phase = phase_name(s.phase);
        x.closed = s.phase == tutor::Phase::Closed;
        x.queue_ids = s.queue_ids;
        if (!x.closed) x.suggestion = tutor.suggestion();
        used = std::chrono::steady_clock::now();
    }
};

TalkRooms::TalkRooms(std::string host, std::uint16_t port, std::string client_name)
    : host_(std::move(host)), port_(port), client_name_(std::move(client_name)) {}

TalkRooms::~TalkRooms() = default;

void TalkRooms::expire() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = talks_.begin(); it != talks_.end();) {
        if (now - it->second->used > kIdle || it->second->tutor.state().phase == tutor::Phase::Closed)
            it = talks_.erase(it);
        else
            ++it;
    }
}

std::optional<TalkExchange> TalkRooms::open() {
    expire();
    if (talks_.size() >= kMaxTalks) return std::nullopt;
    tutor::Options options;
    options.client_name = client_name_;
    auto talk = std::make_unique<Talk>(options);
    TalkExchange x;
    x.id = new_id();
    if (x.id.empty()) return std::nullopt;
    if (auto error = talk->link.connect(Target{host_, port_}, kConnectTimeout)) {
        x.notes.push_back({tutor::NoteKind::Mistake, "No connection",
                           "Could not connect to ehlo's listener " + Target{host_, port_}.str() + ": " + *error + ".",
                           "", std::nullopt});
        talk->add(x, talk->tutor.closed("no connection"));
        talk->finish(x);
        return x;
    }
    talk->read_replies(x);
    talk->finish(x);
    if (!x.closed) talks_.emplace(x.id, std::move(talk));
    return x;
}

std::optional<TalkExchange> TalkRooms::say(const std::string& id, const std::string& line) {
    expire();
    auto it = talks_.find(id);
    if (it == talks_.end()) return std::nullopt;
    Talk& t = *it->second;
    TalkExchange x;
    x.id = id;
    const std::string typed = line.substr(0, kMaxTyped);
    auto checked = t.tutor.typed(typed);
    t.add(x, std::move(checked.notes));
    if (checked.send) {
        // The tutor refuses a line with a CR or LF inside: nothing here can smuggle one.
        x.lines.push_back({true, tutor::safe_text(typed)});
        if (!t.link.send(typed + "\r\n", kSendTimeout)) {
            t.add(x, t.tutor.closed("sending failed"));
            t.link.close();
        } else {
            t.read_replies(x);
        }
    }
    t.finish(x);
    if (x.closed) talks_.erase(it);
    return x;
}

void TalkRooms::close(const std::string& id) { talks_.erase(id); }

}  // namespace ehlo::net
