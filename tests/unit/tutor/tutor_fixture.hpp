// A dialog played into the tutor line by line, as `ehlo tutor` plays it: the server's replies
// through the ServerReader, the person's lines through Tutor::typed().
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tutor/server_reader.hpp"
#include "tutor/tutor.hpp"

namespace ehlo::tutor::test {

inline std::vector<Note> of_kind(const std::vector<Note>& notes, NoteKind kind) {
    std::vector<Note> out;
    for (const auto& n : notes)
        if (n.kind == kind) out.push_back(n);
    return out;
}

// The first note of `kind`, or a failure.
inline Note first(const std::vector<Note>& notes, NoteKind kind) {
    for (const auto& n : notes)
        if (n.kind == kind) return n;
    ADD_FAILURE() << "no note of kind " << kind_name(kind);
    return Note{};
}

inline bool mentions(const Note& n, std::string_view words) {
    return n.title.find(words) != std::string::npos || n.text.find(words) != std::string::npos;
}

class TutorTest : public ::testing::Test {
protected:
    // The server's reply, one line per entry ("250-...", "250 ..."), with its explanation.
    std::vector<Note> server(std::initializer_list<std::string_view> lines) {
        for (auto l : lines) reader.feed_line(l);
        EXPECT_TRUE(reader.has_reply());
        if (!reader.has_reply()) return {};
        ServerReply r = reader.take();
        auto notes = r.problems;
        auto explained = tutor.replied(r.reply);
        notes.insert(notes.end(), explained.begin(), explained.end());
        return notes;
    }
    std::vector<Note> server(std::string_view line) { return server({line}); }

    Tutor::Typed type(std::string_view line) { return tutor.typed(line); }

    // Greeted, introduced with EHLO, to ehlo's usual extensions.
    void introduce() {
        server("220 mx.test ESMTP ehlo");
        type("EHLO client.example");
        server({"250-mx.test greets client.example", "250-PIPELINING", "250-SIZE 26214400", "250-8BITMIME",
                "250-ENHANCEDSTATUSCODES", "250-SMTPUTF8", "250-CHUNKING", "250 DSN"});
    }
    void open_transaction() {
        introduce();
        type("MAIL FROM:<me@example.org>");
        server("250 2.1.0 Ok");
    }
    void with_recipient() {
        open_transaction();
        type("RCPT TO:<alice@localhost>");
        server("250 2.1.5 Ok");
    }
    void in_message() {
        with_recipient();
        type("DATA");
        server("354 End data with <CR><LF>.<CR><LF>");
    }

    Tutor tutor;
    ServerReader reader;
};

}  // namespace ehlo::tutor::test
