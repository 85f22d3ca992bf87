// Delivery status notifications, parsed back: MIME structure (RFC 6522) and fields (RFC 3464).
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "delivery/dsn.hpp"

namespace ehlo::delivery {
namespace {

const std::string kContent = "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nHello body\r\n";

smtp::Envelope envelope() {
    smtp::Envelope e;
    e.sender = smtp::Mailbox{"alice", "example.org"};
    e.recipients.push_back({smtp::Mailbox{"bob", "example.net"}, "rfc822;bob@example.net", 0});
    e.recipients.push_back({smtp::Mailbox{"carol", "example.net"}, "", 0});
    return e;
}

DsnContext context() {
    DsnContext c;
    c.reporting_mta = "relay.example.org";
    c.arrival_date = "Mon, 6 May 2024 10:00:00 +0000";
    c.date = "Mon, 6 May 2024 10:05:00 +0000";
    c.boundary = "BOUNDARY.1234";
    c.message_id = "<dsn.1234@relay.example.org>";
    return c;
}

DsnRecipient failed_bob() {
    DsnRecipient r;
    r.index = 0;
    r.action = DsnAction::Failed;
    r.remote_mta = "mx.example.net";
    r.diagnostic = smtp::Reply{550, "5.1.1", "The email account does not exist"};
    r.last_attempt_date = "Mon, 6 May 2024 10:04:59 +0000";
    return r;
}

// ---- a small MIME reader, enough to check the structure ---------------------------------------

using Fields = std::map<std::string, std::string>;

// Header fields with folding undone (RFC 5322 2.2.3).
Fields parse_fields(std::string head) {
    for (std::size_t p; (p = head.find("\r\n ")) != std::string::npos || (p = head.find("\r\n\t")) != std::string::npos;)
        head.replace(p, 3, " ");
    Fields f;
    std::size_t start = 0;
    while (start < head.size()) {
        std::size_t end = head.find("\r\n", start);
        if (end == std::string::npos) end = head.size();
        const std::string line = head.substr(start, end - start);
        start = end + 2;
        const std::size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        f.emplace(line.substr(0, colon), value);
    }
    return f;
}

struct Part {
    Fields headers;
    std::string body;
};

Part split_part(const std::string& s) {
    const std::size_t blank = s.find("\r\n\r\n");
    if (blank == std::string::npos) return {parse_fields(s), ""};
    return {parse_fields(s.substr(0, blank + 2)), s.substr(blank + 4)};
}

std::string boundary_of(const std::string& content_type) {
    const std::size_t p = content_type.find("boundary=\"");
    if (p == std::string::npos) return {};
    const std::size_t start = p + 10;
    return content_type.substr(start, content_type.find('"', start) - start);
}

// RFC 2046 5.1.1: parts lie between CRLF "--" boundary lines; the last is followed by "--".
std::vector<Part> split_multipart(const std::string& body, const std::string& boundary, bool* closed) {
    const std::string delimiter = "\r\n--" + boundary;
    const std::string padded = "\r\n" + body;
    std::vector<Part> parts;
    *closed = false;
    std::size_t pos = padded.find(delimiter + "\r\n");
    while (pos != std::string::npos) {
        std::size_t start = pos + delimiter.size();
        if (padded.compare(start, 2, "--") == 0) {
            *closed = true;
            break;
        }
        start += 2;
        const std::size_t next = padded.find(delimiter, start);
        if (next == std::string::npos) break;
        parts.push_back(split_part(padded.substr(start, next - start)));
        pos = next;
    }
    return parts;
}

std::vector<std::string> groups(const std::string& status_body) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = status_body.find("\r\n\r\n", start);
        out.push_back(status_body.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 4;
    }
    return out;
}

struct Report {
    Part message;
    std::vector<Part> parts;
    bool closed = false;
};

Report parse(const Dsn& dsn) {
    Report r;
    r.message = split_part(dsn.content);
    r.parts = split_multipart(r.message.body, boundary_of(r.message.headers["Content-Type"]), &r.closed);
    return r;
}

// ---- tests ---------------------------------------------------------------------------------

// RFC 3464 2 and RFC 6522 3: multipart/report with a human part, a delivery-status part and the
// returned headers; RFC 3834 Auto-Submitted; RFC 5321 4.5.5 null reverse-path.
TEST(Dsn, FailureReportStructureAndFields_Rfc3464_2) {
    auto e = envelope();
    e.envid = "ENV-42";
    const auto dsn = build_dsn(e, kContent, {failed_bob()}, context());
    ASSERT_TRUE(dsn);
    for (std::size_t i = 0; i < dsn->content.size(); ++i) {  // CRLF everywhere, no bare LF
        if (dsn->content[i] != '\n') continue;
        ASSERT_TRUE(i > 0 && dsn->content[i - 1] == '\r') << i;
    }

    const Report r = parse(*dsn);
    Fields h = r.message.headers;
    EXPECT_EQ(h["From"], "Mail Delivery System <MAILER-DAEMON@relay.example.org>");
    EXPECT_EQ(h["To"], "<alice@example.org>");
    EXPECT_EQ(h["Subject"], "Undelivered Mail Returned to Sender");
    EXPECT_EQ(h["Date"], "Mon, 6 May 2024 10:05:00 +0000");
    EXPECT_EQ(h["Message-ID"], "<dsn.1234@relay.example.org>");
    EXPECT_EQ(h["Auto-Submitted"], "auto-replied");
    EXPECT_EQ(h["MIME-Version"], "1.0");
    EXPECT_EQ(h["Content-Type"], "multipart/report; report-type=delivery-status; boundary=\"BOUNDARY.1234\"");

    ASSERT_TRUE(r.closed);
    ASSERT_EQ(r.parts.size(), 3u);
    Part text = r.parts[0], status = r.parts[1], original = r.parts[2];
    EXPECT_EQ(text.headers["Content-Type"], "text/plain; charset=us-ascii");
    std::string prose = text.body;  // lines are folded for reading; undo that to search
    for (std::size_t p; (p = prose.find("\r\n    ")) != std::string::npos;) prose.replace(p, 6, " ");
    EXPECT_NE(prose.find("<bob@example.net>: failed, host mx.example.net said: 550 5.1.1 The email account does "
                         "not exist\r\n"),
              std::string::npos);

    EXPECT_EQ(status.headers["Content-Type"], "message/delivery-status");
    const auto g = groups(status.body);
    ASSERT_EQ(g.size(), 2u);
    Fields m = parse_fields(g[0]);
    EXPECT_EQ(m["Reporting-MTA"], "dns; relay.example.org");
    EXPECT_EQ(m["Original-Envelope-Id"], "ENV-42");
    EXPECT_EQ(m["Arrival-Date"], "Mon, 6 May 2024 10:00:00 +0000");
    Fields rc = parse_fields(g[1]);
    EXPECT_EQ(rc["Original-Recipient"], "rfc822;bob@example.net");
    EXPECT_EQ(rc["Final-Recipient"], "rfc822; bob@example.net");
    EXPECT_EQ(rc["Action"], "failed");
    EXPECT_EQ(rc["Status"], "5.1.1");
    EXPECT_EQ(rc["Remote-MTA"], "dns; mx.example.net");
    EXPECT_EQ(rc["Diagnostic-Code"], "smtp; 550 5.1.1 The email account does not exist");
    EXPECT_EQ(rc["Last-Attempt-Date"], "Mon, 6 May 2024 10:04:59 +0000");

    // Without RET the headers are returned, not the body.
    EXPECT_EQ(original.headers["Content-Type"], "text/rfc822-headers");
    EXPECT_NE(original.body.find("Subject: hi\r\n"), std::string::npos);
    EXPECT_EQ(original.body.find("Hello body"), std::string::npos);

    EXPECT_FALSE(dsn->envelope.sender);
    ASSERT_EQ(dsn->envelope.recipients.size(), 1u);
    EXPECT_EQ(dsn->envelope.recipients[0].address.str(), "alice@example.org");
    EXPECT_EQ(dsn->envelope.recipients[0].notify, smtp::notify::Never);
    EXPECT_EQ(dsn->envelope.body, smtp::BodyType::SevenBit);
    EXPECT_FALSE(dsn->envelope.smtputf8);
}

// RFC 3461 4.3: RET=FULL returns the whole message as message/rfc822.
TEST(Dsn, RetFullReturnsTheWholeMessage_Rfc3461_4_3) {
    auto e = envelope();
    e.ret = smtp::DsnRet::Full;
    const auto dsn = build_dsn(e, kContent, {failed_bob()}, context());
    ASSERT_TRUE(dsn);
    const Report r = parse(*dsn);
    ASSERT_EQ(r.parts.size(), 3u);
    Part original = r.parts[2];
    EXPECT_EQ(original.headers["Content-Type"], "message/rfc822");
    EXPECT_EQ(original.body, kContent);
}

// RFC 3461 4.3: RET=HDRS returns only the headers.
TEST(Dsn, RetHdrsReturnsHeaders_Rfc3461_4_3) {
    auto e = envelope();
    e.ret = smtp::DsnRet::Headers;
    const Report r = parse(*build_dsn(e, kContent, {failed_bob()}, context()));
    ASSERT_EQ(r.parts.size(), 3u);
    Part original = r.parts[2];
    EXPECT_EQ(original.headers["Content-Type"], "text/rfc822-headers");
    EXPECT_EQ(original.body, "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hi\r\n");
}

// RFC 5321 4.5.5: never a DSN to the null reverse-path.
TEST(Dsn, NeverBounceANullSender_Rfc5321_4_5_5) {
    auto e = envelope();
    EXPECT_TRUE(should_bounce(e));
    e.sender.reset();
    EXPECT_FALSE(should_bounce(e));
    EXPECT_FALSE(build_dsn(e, kContent, {failed_bob()}, context()));
}

// RFC 3461 4.1: NOTIFY=NEVER suppresses every DSN; SUCCESS asks for "delivered"; without
// NOTIFY failures (and delays) are reported, successes not.
TEST(Dsn, NotifyDecidesWhichReportsAreSent_Rfc3461_4_1) {
    smtp::Recipient r;
    EXPECT_TRUE(notify_wants(r, DsnAction::Failed));
    EXPECT_TRUE(notify_wants(r, DsnAction::Delayed));
    EXPECT_FALSE(notify_wants(r, DsnAction::Delivered));
    r.notify = smtp::notify::Never;
    for (auto a : {DsnAction::Failed, DsnAction::Delayed, DsnAction::Delivered, DsnAction::Relayed})
        EXPECT_FALSE(notify_wants(r, a));
    r.notify = smtp::notify::Success;
    EXPECT_TRUE(notify_wants(r, DsnAction::Delivered));
    EXPECT_TRUE(notify_wants(r, DsnAction::Relayed));
    EXPECT_FALSE(notify_wants(r, DsnAction::Failed));
    r.notify = smtp::notify::Delay;
    EXPECT_TRUE(notify_wants(r, DsnAction::Delayed));
    EXPECT_FALSE(notify_wants(r, DsnAction::Failed));

    auto e = envelope();
    e.recipients[0].notify = smtp::notify::Never;
    EXPECT_FALSE(build_dsn(e, kContent, {failed_bob()}, context()));
}

TEST(Dsn, SuccessReportOnlyWhenAskedFor_Rfc3461_4_1) {
    auto e = envelope();
    DsnRecipient delivered;
    delivered.index = 1;
    delivered.action = DsnAction::Delivered;
    delivered.diagnostic = smtp::Reply{250, "2.0.0", "Ok: queued"};
    delivered.remote_mta = "mx.example.net";
    EXPECT_FALSE(build_dsn(e, kContent, {delivered}, context()));  // carol did not ask

    e.recipients[1].notify = smtp::notify::Success | smtp::notify::Failure;
    e.ret = smtp::DsnRet::Full;
    const auto dsn = build_dsn(e, kContent, {delivered}, context());
    ASSERT_TRUE(dsn);
    const Report r = parse(*dsn);
    EXPECT_EQ(Fields(r.message.headers)["Subject"], "Successful Mail Delivery Report");
    ASSERT_EQ(r.parts.size(), 3u);
    const auto g = groups(r.parts[1].body);
    ASSERT_EQ(g.size(), 2u);
    Fields rc = parse_fields(g[1]);
    EXPECT_EQ(rc["Final-Recipient"], "rfc822; carol@example.net");
    EXPECT_EQ(rc["Action"], "delivered");
    EXPECT_EQ(rc["Status"], "2.0.0");
    EXPECT_EQ(rc.count("Original-Recipient"), 0u);
    // RFC 3461 4.3: no full copy in a report without failures, RET=FULL or not.
    EXPECT_EQ(Fields(r.parts[2].headers)["Content-Type"], "text/rfc822-headers");
}

// RFC 3464 2.3.3 "delayed", with Will-Retry-Until (2.3.9).
TEST(Dsn, DelayReport_Rfc3464_2_3_3) {
    DsnRecipient delayed;
    delayed.index = 1;
    delayed.action = DsnAction::Delayed;
    delayed.diagnostic = smtp::Reply{451, "4.3.0", "Try again later"};
    delayed.will_retry_until = "Sat, 11 May 2024 10:00:00 +0000";
    const auto dsn = build_dsn(envelope(), kContent, {delayed}, context());
    ASSERT_TRUE(dsn);
    const Report r = parse(*dsn);
    EXPECT_EQ(Fields(r.message.headers)["Subject"], "Delayed Mail (still being retried)");
    const auto g = groups(r.parts.at(1).body);
    Fields rc = parse_fields(g.at(1));
    EXPECT_EQ(rc["Action"], "delayed");
    EXPECT_EQ(rc["Status"], "4.3.0");
    EXPECT_EQ(rc["Will-Retry-Until"], "Sat, 11 May 2024 10:00:00 +0000");
    EXPECT_EQ(rc.count("Remote-MTA"), 0u);  // the reply was not a remote host's
}

// The part people read says how the connection to the host that answered was protected;
// Diagnostic-Code stays that host's reply alone (RFC 3464 2.3.6).
TEST(Dsn, TheConnectionsProtectionBesideTheRemoteReply) {
    DsnRecipient over_tls = failed_bob();
    over_tls.tls = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits), verified";
    DsnRecipient in_clear = failed_bob();
    in_clear.index = 1;
    in_clear.tls = "no TLS";
    const auto dsn = build_dsn(envelope(), kContent, {over_tls, in_clear}, context());
    ASSERT_TRUE(dsn);
    const Report r = parse(*dsn);
    std::string prose = r.parts.at(0).body;
    for (std::size_t p; (p = prose.find("\r\n    ")) != std::string::npos;) prose.replace(p, 6, " ");
    EXPECT_NE(prose.find("<bob@example.net>: failed, host mx.example.net said (over TLSv1.3 with cipher "
                         "TLS_AES_256_GCM_SHA384 (256/256 bits), verified): 550 5.1.1 The email account does not exist\r\n"),
              std::string::npos)
        << prose;
    EXPECT_NE(prose.find("<carol@example.net>: failed, host mx.example.net said (without TLS): 550 5.1.1"),
              std::string::npos)
        << prose;
    const auto g = groups(r.parts.at(1).body);
    EXPECT_EQ(parse_fields(g.at(1))["Diagnostic-Code"], "smtp; 550 5.1.1 The email account does not exist");
}

// Only recipients whose NOTIFY asks are reported; each gets its own group (RFC 3464 2.3).
TEST(Dsn, SeveralRecipientsEachInTheirOwnGroup_Rfc3464_2_3) {
    auto e = envelope();
    e.recipients.push_back({smtp::Mailbox{"dave", "example.net"}, "", smtp::notify::Never});
    DsnRecipient carol;
    carol.index = 1;
    carol.action = DsnAction::Failed;
    carol.status = "5.4.7";
    DsnRecipient dave = carol;
    dave.index = 2;
    const auto dsn = build_dsn(e, kContent, {failed_bob(), carol, dave}, context());
    ASSERT_TRUE(dsn);
    const auto g = groups(parse(*dsn).parts.at(1).body);
    ASSERT_EQ(g.size(), 3u);
    EXPECT_EQ(parse_fields(g[1])["Final-Recipient"], "rfc822; bob@example.net");
    EXPECT_EQ(parse_fields(g[2])["Final-Recipient"], "rfc822; carol@example.net");
    EXPECT_EQ(parse_fields(g[2])["Status"], "5.4.7");
    EXPECT_EQ(parse_fields(g[2]).count("Diagnostic-Code"), 0u);
    EXPECT_EQ(dsn->content.find("dave"), std::string::npos);
}

// A peer's reply text cannot add header fields or MIME parts to the report.
TEST(Dsn, ForeignTextCannotInjectFieldsOrParts) {
    auto e = envelope();
    e.envid = "x\r\nBcc: victim@example.com";
    DsnRecipient r = failed_bob();
    r.diagnostic->lines = {"first\r\nX-Injected: 1", "\r\n--BOUNDARY.1234\r\nContent-Type: text/html"};
    const auto dsn = build_dsn(e, kContent, {r}, context());
    ASSERT_TRUE(dsn);
    EXPECT_EQ(dsn->content.find("\r\nBcc:"), std::string::npos);
    EXPECT_EQ(dsn->content.find("\r\nX-Injected:"), std::string::npos);
    EXPECT_EQ(dsn->content.find("\r\nContent-Type: text/html"), std::string::npos);
    const Report rep = parse(*dsn);
    EXPECT_EQ(rep.parts.size(), 3u);
    EXPECT_TRUE(rep.closed);
}

// RFC 2046 5.1.1: the boundary must not occur in the encapsulated parts.
TEST(Dsn, BoundaryFoundInTheMessageIsChanged_Rfc2046_5_1_1) {
    auto e = envelope();
    e.ret = smtp::DsnRet::Full;
    const std::string content = "Subject: trap\r\n\r\n--BOUNDARY.1234\r\nContent-Type: text/html\r\n\r\nx\r\n";
    const auto dsn = build_dsn(e, content, {failed_bob()}, context());
    ASSERT_TRUE(dsn);
    const Report r = parse(*dsn);
    EXPECT_EQ(boundary_of(Fields(r.message.headers)["Content-Type"]), "BOUNDARY.1234=1");
    ASSERT_EQ(r.parts.size(), 3u);
    EXPECT_EQ(r.parts[2].body, content);
}

// RFC 5322 2.1.1: long field lines are folded; unfolding restores the value.
TEST(Dsn, LongDiagnosticIsFolded_Rfc5322_2_1_1) {
    DsnRecipient r = failed_bob();
    std::string words;
    for (int i = 0; i < 40; ++i) words += "word" + std::to_string(i) + " ";
    words.pop_back();
    r.diagnostic->lines = {words};
    const auto dsn = build_dsn(envelope(), kContent, {r}, context());
    ASSERT_TRUE(dsn);
    std::size_t start = 0;
    while (start < dsn->content.size()) {
        const std::size_t end = dsn->content.find("\r\n", start);
        if (end == std::string::npos) break;
        EXPECT_LE(end - start, 78u) << dsn->content.substr(start, end - start);
        start = end + 2;
    }
    const auto g = groups(parse(*dsn).parts.at(1).body);
    EXPECT_EQ(parse_fields(g.at(1))["Diagnostic-Code"], "smtp; 550 5.1.1 " + words);
}

// RFC 6152: returned 8-bit content makes the DSN 8-bit: it is declared, and sent as 8BITMIME.
TEST(Dsn, EightBitReturnedContentIsDeclared_Rfc6152) {
    auto e = envelope();
    e.ret = smtp::DsnRet::Full;
    const std::string content = "Subject: caf\xc3\xa9\r\n\r\nx\r\n";
    const auto dsn = build_dsn(e, content, {failed_bob()}, context());
    ASSERT_TRUE(dsn);
    EXPECT_EQ(Fields(parse(*dsn).parts.at(2).headers)["Content-Transfer-Encoding"], "8bit");
    EXPECT_EQ(dsn->envelope.body, smtp::BodyType::EightBitMime);
}

// RFC 6533: a UTF-8 address is reported with the utf-8 address type in a global report.
TEST(Dsn, Utf8RecipientUsesGlobalDeliveryStatus_Rfc6533) {
    auto e = envelope();
    e.smtputf8 = true;
    e.recipients[1].address = smtp::Mailbox{"jos\xc3\xa9", "example.net"};
    DsnRecipient r;
    r.index = 1;
    r.action = DsnAction::Failed;
    const auto dsn = build_dsn(e, kContent, {r}, context());
    ASSERT_TRUE(dsn);
    const Report rep = parse(*dsn);
    EXPECT_EQ(Fields(rep.parts.at(1).headers)["Content-Type"], "message/global-delivery-status");
    EXPECT_EQ(parse_fields(groups(rep.parts.at(1).body).at(1))["Final-Recipient"],
              "utf-8; jos\xc3\xa9@example.net");
    EXPECT_EQ(Fields(rep.parts.at(2).headers)["Content-Type"], "message/global-headers");
    EXPECT_TRUE(dsn->envelope.smtputf8);
}

TEST(Dsn, StatusFromReply_Rfc3463) {
    EXPECT_EQ(status_of(smtp::Reply{550, "5.7.1", "no"}), "5.7.1");
    EXPECT_EQ(status_of(smtp::Reply{550, "", "no"}), "5.0.0");
    EXPECT_EQ(status_of(smtp::Reply{451, "", "later"}), "4.0.0");
    EXPECT_EQ(status_of(smtp::Reply{250, "", "ok"}), "2.0.0");
}

TEST(Dsn, RecipientIndexOutsideTheEnvelopeIsACallerMistake) {
    DsnRecipient r = failed_bob();
    r.index = 9;
    EXPECT_THROW(build_dsn(envelope(), kContent, {r}, context()), std::out_of_range);
}

}  // namespace
}  // namespace ehlo::delivery

// RFC 6522 3: the part for people says why, also when the reason is ours and not a peer's
// reply; the machine part then has no Diagnostic-Code (it was no SMTP reply).
TEST(Dsn, Rfc6522_3_OurOwnReasonInThePartForPeople) {
    ehlo::smtp::Envelope original;
    original.sender = ehlo::smtp::Mailbox{"alice", "example.org"};
    original.recipients.push_back({ehlo::smtp::Mailbox{"bob", "example.net"}, {}, 0, false});
    ehlo::delivery::DsnRecipient r;
    r.index = 0;
    r.reason = "returned to the sender by the postmaster (queue control)";
    ehlo::delivery::DsnContext context;
    context.reporting_mta = "mx.example.org";
    context.date = "Thu, 03 Dec 2026 10:00:00 +0000";
    context.boundary = "b";
    const auto dsn = ehlo::delivery::build_dsn(original, "Subject: x\r\n\r\nbody\r\n", {r}, context);
    ASSERT_TRUE(dsn);
    // Folded at 78 columns, as every line of that part.
    EXPECT_NE(dsn->content.find("<bob@example.net>: failed: returned to the sender by the postmaster (queue\r\n    control)\r\n"),
              std::string::npos) << dsn->content;
    EXPECT_EQ(dsn->content.find("Diagnostic-Code"), std::string::npos);
    EXPECT_NE(dsn->content.find("Status: 5.0.0\r\n"), std::string::npos);
}
