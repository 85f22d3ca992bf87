// `ehlo tutor [HOST[:PORT]]`: the SMTP dialog typed by a person against a real server, each
// reply explained by the tutor (src/tutor) and each mistake named; and `ehlo tutor --explain`,
// the same explanations for a transcript read from standard input.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <iterator>

#include "cli/commands.hpp"
#include "cli/tutor_link.hpp"
#include "cli/tutor_screen.hpp"
#include "config/config.hpp"
#include "tutor/safe_text.hpp"
#include "tutor/server_reader.hpp"
#include "tutor/transcript.hpp"
#include "tutor/tutor.hpp"

namespace ehlo::cli {

namespace {

constexpr Target kLocalEhlo{"127.0.0.1", 2525};       // the embedded default listener
constexpr std::chrono::seconds kConnectTimeout{10};
constexpr std::chrono::seconds kSendTimeout{30};

// Colours for a person at a terminal only; NO_COLOR (https://no-color.org) turns them off.
bool use_color() { return ::isatty(1) == 1 && std::getenv("NO_COLOR") == nullptr; }

// The first listener of a configuration, as a client reaches it: a wildcard address is
// reached on loopback.
std::optional<Target> from_config(const std::string& file, std::string& error) {
    auto loaded = config::load_file(file);
    if (loaded.error) {
        error = loaded.error->str();
        return std::nullopt;
    }
    const auto& listen = loaded.config->server.listen;
    if (listen.empty()) {
        error = file + ": no listener";
        return std::nullopt;
    }
    Target t{listen.front().host, listen.front().port};
    if (t.host == "0.0.0.0") t.host = "127.0.0.1";
    if (t.host == "::") t.host = "::1";
    return t;
}

int explain(const TutorOptions& o, TutorScreen& screen) {
    std::string text;
    char buf[65536];
    while (text.size() <= tutor::kMaxTranscript) {
        const ssize_t n = ::read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    const bool cut = text.size() > tutor::kMaxTranscript;
    tutor::Options options;
    if (!o.client_name.empty()) options.client_name = o.client_name;
    for (const auto& line : tutor::explain_transcript(text, options)) {
        switch (line.side) {
            case tutor::Side::Server: screen.server_line(line.shown); break;
            case tutor::Side::Client: screen.client_line(line.shown); break;
            case tutor::Side::Other: screen.other_line(line.shown); break;
        }
        screen.notes(line.notes);
    }
    if (cut) screen.say("(explained up to 1 MiB; the rest of the transcript was not read)");
    return 0;
}

class Dialog {
public:
    Dialog(std::chrono::seconds reply_timeout, TutorScreen& screen, tutor::Options options)
        : screen_(screen), tutor_(std::move(options)), reply_timeout_(reply_timeout) {}

    int run(const Target& target) {
        screen_.say("ehlo tutor: connecting to " + target.str() + " ...");
        if (auto error = link_.connect(target, kConnectTimeout)) {
            screen_.say("Could not connect to " + target.str() + ": " + *error + ".");
            if (target.host == kLocalEhlo.host && target.port == kLocalEhlo.port)
                screen_.say("Is ehlo running? Start it in another terminal with `make run` (or `ehlo serve`).");
            return 1;
        }
        screen_.say("Connected. Type SMTP commands, one per line; the tutor explains every reply. "
                    "End of input (Ctrl-D) says QUIT for you.");
        screen_.say("");
        if (!await_replies()) return finish();
        show_suggestion();
        while (tutor_.state().phase != tutor::Phase::Closed) {
            screen_.prompt();
            std::string line;
            const auto event = input_.next(line, link_.fd());
            if (event == LineInput::Event::Server) {
                screen_.say("");
                if (!read_replies()) break;
                show_suggestion();
                continue;
            }
            if (event == LineInput::Event::End) {
                end_of_input();
                break;
            }
            if (::isatty(0) != 1) screen_.echo(tutor::safe_text(line));  // a pipe does not echo
            if (!type(line)) break;
        }
        return finish();
    }

private:
    // One typed line: the tutor's notes, then out with CRLF, then the replies it waits for.
    bool type(const std::string& line) {
        auto typed = tutor_.typed(line);
        screen_.notes(typed.notes);
        if (!typed.send) {
            if (tutor_.state().phase != tutor::Phase::Closed) show_suggestion();
            return tutor_.state().phase != tutor::Phase::Closed;
        }
        // RFC 5321 2.3.8: the line ends with CRLF and has no CR or LF inside (the tutor
        // refuses to send those), so a bare LF never leaves this program.
        if (!link_.send(line + "\r\n", kSendTimeout)) {
            screen_.notes(tutor_.closed("sending failed"));
            return false;
        }
        if (!tutor_.awaiting_reply()) {
            if (tutor_.state().phase == tutor::Phase::Content) show_suggestion(true);
            return true;
        }
        if (!await_replies()) return false;
        show_suggestion();
        return true;
    }

    // Replies until the tutor waits for none, each shown and explained; false once closed.
    bool await_replies() {
        while (tutor_.awaiting_reply()) {
            if (!read_replies()) return false;
        }
        return tutor_.state().phase != tutor::Phase::Closed;
    }

    // One read from the server, and every reply it completes; false once the dialog is over.
    bool read_replies() {
        std::string bytes;
        const auto r = link_.read(bytes, reply_timeout_);
        if (r == ServerLink::Read::Timeout) {
            screen_.note(tutor::Note{tutor::NoteKind::Mistake, "No reply",
                                     "The server said nothing for " + std::to_string(reply_timeout_.count()) +
                                         " s. A server may be slow on purpose (some wait before their greeting to "
                                         "catch impatient spammers); try --timeout.",
                                     "RFC 5321 4.5.3.2", std::nullopt});
            screen_.notes(tutor_.closed("no reply within " + std::to_string(reply_timeout_.count()) + " s"));
            return false;
        }
        if (r != ServerLink::Read::Data) {
            if (reader_.partial()) show(reader_.take_partial(), false);
            screen_.notes(tutor_.closed(r == ServerLink::Read::Closed ? "the server closed the connection"
                                                                      : "reading from the server failed"));
            return false;
        }
        reader_.feed(bytes);
        while (reader_.has_reply()) show(reader_.take(), true);
        return tutor_.state().phase != tutor::Phase::Closed;
    }

    void show(tutor::ServerReply r, bool complete) {
        for (const auto& l : r.shown) screen_.server_line(l);
        screen_.notes(r.problems);
        if (complete) screen_.notes(tutor_.replied(r.reply));
    }

    // The suggestion after each reply; within a message only when it changes.
    void show_suggestion(bool only_if_new = false) {
        if (tutor_.state().phase == tutor::Phase::Closed) return;
        const tutor::Note next = tutor_.suggestion();
        if (only_if_new && next == last_suggestion_) return;
        screen_.note(next);
        last_suggestion_ = next;
    }

    void end_of_input() {
        screen_.say("");
        if (tutor_.state().phase == tutor::Phase::Content && !tutor_.awaiting_reply()) {
            screen_.say("End of input inside the message: the tutor hangs up without the lone dot, so the server "
                        "keeps nothing of it.");
            link_.close();
            screen_.notes(tutor_.closed("the tutor hung up"));
            return;
        }
        if (tutor_.state().quit_sent) return;
        screen_.say("End of input: the tutor says QUIT for you.");
        screen_.client_line("QUIT");
        type("QUIT");
    }

    int finish() {
        // Something typed after the end (after QUIT, say) is explained, not lost in silence.
        std::string line;
        if (input_.ready_line(line)) {
            screen_.prompt();
            screen_.echo(tutor::safe_text(line));
            screen_.notes(tutor_.typed(line).notes);
        }
        link_.close();
        const auto& s = tutor_.state();
        screen_.say("");
        std::string summary = "The dialog is over";
        if (!s.queue_ids.empty()) summary += ": " + std::to_string(s.queue_ids.size()) + " message(s) queued";
        if (s.mistakes > 0) summary += (s.queue_ids.empty() ? ": " : ", ") + std::to_string(s.mistakes) + " mistake(s) explained";
        screen_.say(summary + ".");
        if (!s.queue_ids.empty() && s.server_is_ehlo)
            screen_.say("Where did it go? ehlo trace " + s.queue_ids.back());
        return s.quit_sent ? 0 : 1;
    }

    TutorScreen& screen_;
    tutor::Tutor tutor_;
    tutor::ServerReader reader_;
    ServerLink link_;
    LineInput input_;
    std::chrono::seconds reply_timeout_;
    tutor::Note last_suggestion_;
};

}  // namespace

int tutor_command(const TutorOptions& o) {
    TutorScreen screen(std::cout, use_color());
    if (o.explain) return explain(o, screen);

    std::string error;
    std::optional<Target> target = kLocalEhlo;
    if (!o.target.empty())
        target = parse_target(o.target, error);
    else if (!o.config_file.empty())
        target = from_config(o.config_file, error);
    if (!target) {
        std::cerr << "ehlo tutor: " << error << "\n";
        return 2;
    }
    tutor::Options options;
    if (!o.client_name.empty()) options.client_name = o.client_name;
    if (!o.sender.empty()) options.sender = o.sender;
    if (!o.recipient.empty()) options.recipient = o.recipient;
    Dialog dialog(std::chrono::seconds(o.timeout), screen, std::move(options));
    return dialog.run(*target);
}

}  // namespace ehlo::cli
