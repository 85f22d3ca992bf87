// What the history keeps of a MAIL or RCPT command: its address and its parameters.
#include <gtest/gtest.h>

#include "net/session_recorder.hpp"

namespace ehlo::net {
namespace {

void expect_split(std::string_view command, std::string_view path, std::string_view parameters) {
    const CommandPath got = command_path(command);
    EXPECT_EQ(got.path, path) << command;
    EXPECT_EQ(got.parameters, parameters) << command;
}

TEST(CommandPath, AddressAndParameters_Rfc5321_4_1_1_2) {
    expect_split("MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME", "a@b.example", "SIZE=10 BODY=8BITMIME");
    expect_split("RCPT TO:<c@d.example>", "c@d.example", "");
    expect_split("MAIL FROM:<>", "", "");
    expect_split("mail from: <a@b.example>  ", "a@b.example", "");
}

// A quoted local part may hold ">" (RFC 5321 4.1.2 Quoted-string): the path ends after it.
TEST(CommandPath, AQuotedLocalPartKeepsItsAngleBracket_Rfc5321_4_1_2) {
    expect_split("MAIL FROM:<\"a>b\"@x.example> SIZE=1", "\"a>b\"@x.example", "SIZE=1");
}

// A source route is accepted and ignored (RFC 5321 4.1.2, C): the address as the envelope has it.
TEST(CommandPath, ASourceRouteIsDropped_Rfc5321_4_1_2) {
    expect_split("RCPT TO:<@relay.example:c@d.example> NOTIFY=NEVER", "c@d.example", "NOTIFY=NEVER");
}

// What the grammar refused (and the session answered 501 or 553 for) is kept as written.
TEST(CommandPath, ARefusedPathIsKeptAsTheClientWroteIt) {
    expect_split("RCPT TO:<not an address> X=1", "not an address", "X=1");
    expect_split("MAIL FROM:a@b.example", "a@b.example", "");
    expect_split("RCPT TO:<Postmaster>", "Postmaster", "");
    expect_split("MAIL FROM:<unclosed@b.example", "unclosed@b.example", "");
    expect_split("MAIL", "", "");
}

}  // namespace
}  // namespace ehlo::net
