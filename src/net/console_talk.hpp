// The console's "Talk SMTP" page behind the scenes: one real SMTP connection per page session,
// to ehlo's own first listener only, with the tutor (tutor/tutor.hpp) following the dialog.
// The page sends each line the person types; the answer is what went out, what the server
// said and the tutor's notes. Blocking I/O with bounded waits, on the console's thread (the
// console serves one request at a time, and a few pages at most talk at once).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tutor/note.hpp"

namespace ehlo::net {

struct TalkLine {
    bool from_client = false;
    std::string text;  // through tutor::safe_text() when it is the server's
};

struct TalkExchange {
    std::string id;                   // of the talk (the page keeps it)
    std::vector<TalkLine> lines;      // what went out and came back this time
    std::vector<tutor::Note> notes;   // the tutor's, in order
    std::optional<tutor::Note> suggestion;  // what to type next; none once closed
    std::string phase;                // "greeting", "hello", "mail", "rcpt", "data", "content", "closed"
    std::vector<std::string> queue_ids;  // messages queued in this talk so far
    bool closed = false;
};

class TalkRooms {
public:
    // At most this many talks at once; one unused this long is closed.
    static constexpr std::size_t kMaxTalks = 4;
    static constexpr std::chrono::minutes kIdle{5};

    // `host` and `port`: the listener to talk to (ehlo's own); `client_name`: the example
    // EHLO name of the suggestions.
    TalkRooms(std::string host, std::uint16_t port, std::string client_name);
    ~TalkRooms();

    // A new talk: connects and reads the greeting. nullopt when kMaxTalks are open.
    std::optional<TalkExchange> open();
    // A line typed in talk `id`: checked by the tutor, sent unless it must not be, and the
    // replies it asked for read (up to 10 s). nullopt for no such talk.
    std::optional<TalkExchange> say(const std::string& id, const std::string& line);
    void close(const std::string& id);

private:
    struct Talk;
    void expire();
    std::map<std::string, std::unique_ptr<Talk>> talks_;
    std::string host_;
    std::uint16_t port_;
    std::string client_name_;
};

}  // namespace ehlo::net
