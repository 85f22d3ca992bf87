// Session transcripts: which are kept (off | errors | all), the size cap, and credentials.
#include <gtest/gtest.h>

#include "observe/transcript.hpp"

namespace ehlo::observe {
namespace {

void healthy_dialog(Transcript& t) {
    t.add(false, "220 mail.example.com ESMTP ehlo");
    t.add(true, "EHLO client.example");
    t.add(false, "250 mail.example.com greets client.example");
    t.add(true, "QUIT");
    t.add(false, "221 2.0.0 Bye");
}

TEST(Transcript, ModesAreReadFromTheirWords) {
    EXPECT_EQ(transcript_mode_from_string("off"), TranscriptMode::Off);
    EXPECT_EQ(transcript_mode_from_string("errors"), TranscriptMode::Errors);
    EXPECT_EQ(transcript_mode_from_string("all"), TranscriptMode::All);
    EXPECT_FALSE(transcript_mode_from_string("All"));
    EXPECT_FALSE(transcript_mode_from_string(""));
}

TEST(Transcript, AllKeepsEverySession) {
    Transcript t(TranscriptMode::All);
    healthy_dialog(t);
    EXPECT_EQ(t.finish(),
              "S: 220 mail.example.com ESMTP ehlo\nC: EHLO client.example\n"
              "S: 250 mail.example.com greets client.example\nC: QUIT\nS: 221 2.0.0 Bye");
}

TEST(Transcript, ErrorsForgetsASessionWithoutA4xxOr5xx) {
    Transcript t(TranscriptMode::Errors);
    healthy_dialog(t);
    EXPECT_FALSE(t.had_error());
    EXPECT_EQ(t.finish(), "");
}

TEST(Transcript, ErrorsKeepsASessionWithA4xxOr5xx) {
    for (const char* reply : {"451 4.3.0 try again later", "550 5.1.1 <x@y>: unknown", "500 5.5.2 Command unrecognized"}) {
        Transcript t(TranscriptMode::Errors);
        t.add(true, "RCPT TO:<x@y>");
        t.add(false, reply);
        t.add(true, "QUIT");
        EXPECT_TRUE(t.had_error());
        EXPECT_EQ(t.finish(), std::string("C: RCPT TO:<x@y>\nS: ") + reply + "\nC: QUIT");
    }
}

TEST(Transcript, OffKeepsNothing) {
    Transcript t(TranscriptMode::Off);
    t.add(false, "550 5.7.1 no");
    EXPECT_EQ(t.finish(), "");
}

TEST(Transcript, ACommandThatLooksLikeAnErrorCodeIsNoError) {
    Transcript t(TranscriptMode::Errors);
    t.add(true, "550 is what I say");
    EXPECT_FALSE(t.had_error());
}

TEST(Transcript, TheSizeCapLeavesOutTheRestAndSaysHowMuch) {
    Transcript t(TranscriptMode::All, 64);
    for (int i = 0; i < 10; ++i) t.add(true, "NOOP " + std::to_string(i));
    const std::string text = t.finish();
    EXPECT_LE(text.find("\n["), 64u);
    EXPECT_NE(text.find("C: NOOP 0\n"), std::string::npos);
    EXPECT_NE(text.find("more lines not kept]"), std::string::npos);
    EXPECT_EQ(text.find("NOOP 9"), std::string::npos);
}

// RFC 4954 4: the initial response and every answer to a 334 challenge carry credentials.
TEST(Transcript, AuthCredentialsAreNeverKept_Rfc4954_4) {
    Transcript t(TranscriptMode::All);
    t.add(true, "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=");
    t.add(false, "235 2.7.0 Authentication successful");
    t.add(true, "auth login");
    t.add(false, "334 VXNlcm5hbWU6");
    t.add(true, "YWxpY2U=");
    t.add(false, "334 UGFzc3dvcmQ6");
    t.add(true, "c2VjcmV0");
    t.add(false, "535 5.7.8 Authentication credentials invalid");
    t.add(true, "NOOP");
    const std::string text = t.finish();
    EXPECT_EQ(text,
              "C: AUTH PLAIN [credentials not kept]\nS: 235 2.7.0 Authentication successful\nC: auth login\n"
              "S: 334 VXNlcm5hbWU6\nC: [credentials not kept]\nS: 334 UGFzc3dvcmQ6\nC: [credentials not kept]\n"
              "S: 535 5.7.8 Authentication credentials invalid\nC: NOOP");
}

TEST(Transcript, FinishStartsAfresh) {
    Transcript t(TranscriptMode::Errors);
    t.add(false, "554 5.7.1 no");
    EXPECT_NE(t.finish(), "");
    t.add(false, "250 ok");
    EXPECT_EQ(t.finish(), "");
}

}  // namespace
}  // namespace ehlo::observe
