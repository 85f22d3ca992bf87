// The SMTP client engine's STARTTLS step (RFC 3207) under each TLS policy, against scripted
// peers: only bytes and the handshake's outcome as the wire layer would report it.
#include <gtest/gtest.h>

#include <string>

#include "delivery/client_session.hpp"

namespace ehlo::delivery {
namespace {

constexpr const char* kHelo = "client.example.org";
const std::string kEhlo = std::string("EHLO ") + kHelo + "\r\n";
const std::string kGreeting = "220 mx.example.net ESMTP\r\n";
const std::string kEhloTls = "250-mx.example.net\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 STARTTLS\r\n";
const std::string kEhloNoTls = "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
// The EHLO reply over TLS: no PIPELINING this time (what was offered before does not count).
const std::string kEhloAfterTls = "250-mx.example.net\r\n250-8BITMIME\r\n250 STARTTLS\r\n";

OutboundMessage message() {
    OutboundMessage m;
    m.envelope.sender = smtp::Mailbox{"alice", "example.org"};
    m.envelope.recipients.push_back({smtp::Mailbox{"bob", "example.net"}, "", 0});
    m.recipient_indexes = {0};
    m.content_size = 10;
    return m;
}

TlsHandshake handshake(bool verified) {
    TlsHandshake h;
    h.protocol = "TLSv1.3";
    h.cipher = "TLS_AES_256_GCM_SHA384";
    h.bits = h.alg_bits = 256;
    h.verified = verified;
    if (!verified) h.verify_error = "self-signed certificate";
    return h;
}

struct Peer {
    explicit Peer(TlsPolicy policy) : s(kHelo, ClientOptions{true, policy}) { s.send(message()); }
    std::string step(const std::string& bytes) {
        s.feed(bytes);
        return s.take_output();
    }
    ClientSession s;
};

void expect_deferred_by_us(ClientSession& s, const std::string& enhanced) {
    EXPECT_TRUE(s.failed());
    EXPECT_EQ(s.connection_error().code, 451);
    EXPECT_EQ(s.connection_error().enhanced, enhanced);
    EXPECT_FALSE(s.connection_error_remote());
    auto r = s.take_result();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->recipients.size(), 1u);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Deferred);
    EXPECT_FALSE(r->recipients[0].remote);  // our reply: the DSN names no Remote-MTA for it
}

// RFC 3207 4 and 4.2: EHLO, STARTTLS, 220, the handshake, then EHLO again; what the first EHLO
// reply offered is forgotten (no PIPELINING now), and STARTTLS is not said twice.
TEST(ClientStartTls, MayUpgradesAndSaysEhloAgain_Rfc3207_4_2) {
    Peer p(TlsPolicy::May);
    EXPECT_EQ(p.step(kGreeting), kEhlo);
    EXPECT_EQ(p.step(kEhloTls), "STARTTLS\r\n");
    EXPECT_EQ(p.s.awaiting(), ClientWait::Command);
    EXPECT_FALSE(p.s.wants_tls());
    EXPECT_EQ(p.step("220 2.0.0 Ready to start TLS\r\n"), "");
    ASSERT_TRUE(p.s.wants_tls());
    EXPECT_EQ(p.s.awaiting(), ClientWait::Nothing);
    p.s.tls_established(handshake(false));  // `may` does not require a verified certificate
    EXPECT_FALSE(p.s.wants_tls());
    EXPECT_FALSE(p.s.peer().esmtp);  // the plaintext EHLO reply is discarded
    EXPECT_EQ(p.s.take_output(), kEhlo);
    // Offered again over TLS, STARTTLS is not sent again; without PIPELINING MAIL goes alone.
    EXPECT_EQ(p.step(kEhloAfterTls), "MAIL FROM:<alice@example.org>\r\n");
    EXPECT_FALSE(p.s.peer().pipelining);
    EXPECT_EQ(p.step("250 2.1.0 Ok\r\n"), "RCPT TO:<bob@example.net>\r\n");
    EXPECT_EQ(p.step("250 2.1.5 Ok\r\n"), "DATA\r\n");
    p.s.feed("354 go\r\n");
    ASSERT_TRUE(p.s.wants_content());
    p.s.send_content("Subject: x\r\n\r\nhi\r\n");
    p.s.end_content();
    p.s.take_output();
    p.s.feed("250 2.0.0 Ok\r\n");
    auto r = p.s.take_result();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->recipients[0].outcome, Outcome::Delivered);
    ASSERT_TRUE(p.s.tls());
    EXPECT_EQ(p.s.tls()->protocol, "TLSv1.3");
    EXPECT_FALSE(p.s.tls()->verified);
}

// `none`: STARTTLS is never sent, even when offered.
TEST(ClientStartTls, NoneNeverSendsStartTls) {
    Peer p(TlsPolicy::None);
    p.step(kGreeting);
    const std::string out = p.step(kEhloTls);
    EXPECT_EQ(out.rfind("MAIL FROM:<alice@example.org>", 0), 0u) << out;
    EXPECT_EQ(out.find("STARTTLS"), std::string::npos);
    EXPECT_FALSE(p.s.tls());
}

// `may` to a peer that does not offer STARTTLS: plaintext.
TEST(ClientStartTls, MayWithoutStartTlsGoesOnInPlaintext) {
    Peer p(TlsPolicy::May);
    p.step(kGreeting);
    EXPECT_EQ(p.step(kEhloNoTls).rfind("MAIL FROM:", 0), 0u);
    EXPECT_FALSE(p.s.failed());
}

// `encrypt` and `verify` to a peer that does not offer STARTTLS: nothing is sent but QUIT, and
// the message is deferred with 4.7.10 (RFC 5248: encryption needed), a reply of our own.
TEST(ClientStartTls, EncryptWithoutStartTlsDefers) {
    for (TlsPolicy policy : {TlsPolicy::Encrypt, TlsPolicy::Verify}) {
        Peer p(policy);
        p.step(kGreeting);
        EXPECT_EQ(p.step(kEhloNoTls), "QUIT\r\n");
        expect_deferred_by_us(p.s, "4.7.10");
        EXPECT_NE(p.s.connection_error().one_line().find("does not offer STARTTLS"), std::string::npos);
        EXPECT_FALSE(p.s.retry_in_plaintext());
    }
}

// A server that does not know EHLO offers no STARTTLS: under `encrypt` no HELO is tried.
TEST(ClientStartTls, EncryptWithEhloRefusedDefersWithoutHelo) {
    Peer p(TlsPolicy::Encrypt);
    p.step(kGreeting);
    EXPECT_EQ(p.step("502 5.5.2 EHLO not implemented\r\n"), "QUIT\r\n");
    expect_deferred_by_us(p.s, "4.7.10");
}

// RFC 3207 4: 454 "TLS not available due to temporary reason". Under `may` the session goes
// on in plaintext, the server being in its state from before STARTTLS; the refusal is kept
// for the log.
TEST(ClientStartTls, Reply454UnderMayGoesOnInPlaintext_Rfc3207_4) {
    Peer p(TlsPolicy::May);
    p.step(kGreeting);
    EXPECT_EQ(p.step(kEhloTls), "STARTTLS\r\n");
    const std::string out = p.step("454 4.7.0 TLS not available due to temporary reason\r\n");
    EXPECT_EQ(out.rfind("MAIL FROM:<alice@example.org>", 0), 0u) << out;
    EXPECT_TRUE(p.s.peer().pipelining);  // no TLS came: the EHLO reply stands
    ASSERT_TRUE(p.s.starttls_refused());
    EXPECT_EQ(p.s.starttls_refused()->code, 454);
    EXPECT_FALSE(p.s.tls());
}

// Under `encrypt` and `verify` a 454 (or any refusal of STARTTLS) defers: QUIT, 4.7.10.
TEST(ClientStartTls, Reply454UnderEncryptDefers_Rfc3207_4) {
    for (TlsPolicy policy : {TlsPolicy::Encrypt, TlsPolicy::Verify}) {
        Peer p(policy);
        p.step(kGreeting);
        EXPECT_EQ(p.step(kEhloTls), "STARTTLS\r\n");
        EXPECT_EQ(p.step("454 4.7.0 TLS not available\r\n"), "QUIT\r\n");
        expect_deferred_by_us(p.s, "4.7.10");
        EXPECT_NE(p.s.connection_error().one_line().find("454 4.7.0 TLS not available"), std::string::npos);
    }
}

// `encrypt` takes an unverified certificate; `verify` does not: QUIT (over TLS), 4.7.5 with the
// reason and what the handshake agreed on.
TEST(ClientStartTls, VerifyRefusesAnUnverifiedCertificate_Rfc6125) {
    {
        Peer p(TlsPolicy::Encrypt);
        p.step(kGreeting);
        p.step(kEhloTls);
        p.step("220 Go ahead\r\n");
        p.s.tls_established(handshake(false));
        EXPECT_EQ(p.s.take_output(), kEhlo);
        EXPECT_FALSE(p.s.failed());
    }
    {
        Peer p(TlsPolicy::Verify);
        p.step(kGreeting);
        p.step(kEhloTls);
        p.step("220 Go ahead\r\n");
        p.s.tls_established(handshake(false));
        EXPECT_EQ(p.s.take_output(), "QUIT\r\n");
        expect_deferred_by_us(p.s, "4.7.5");
        const std::string text = p.s.connection_error().one_line();
        EXPECT_NE(text.find("self-signed certificate"), std::string::npos) << text;
        EXPECT_NE(text.find("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384"), std::string::npos) << text;
        EXPECT_FALSE(p.s.retry_in_plaintext());
    }
    {
        Peer p(TlsPolicy::Verify);
        p.step(kGreeting);
        p.step(kEhloTls);
        p.step("220 Go ahead\r\n");
        p.s.tls_established(handshake(true));
        EXPECT_EQ(p.s.take_output(), kEhlo);
        EXPECT_EQ(p.step(kEhloAfterTls), "MAIL FROM:<alice@example.org>\r\n");
    }
}

// The client's side of CVE-2011-0411: a reply injected in plaintext after the 220 (in the same
// read) must not be taken for the answer to the EHLO said over TLS.
TEST(ClientStartTls, BytesAfterThe220AreDiscarded_Rfc3207_4_2) {
    Peer p(TlsPolicy::May);
    p.step(kGreeting);
    p.step(kEhloTls);
    EXPECT_EQ(p.step("220 Go ahead\r\n250-evil.example\r\n250 PIPELINING\r\n"), "");
    ASSERT_TRUE(p.s.wants_tls());
    p.s.feed("250 more injected\r\n");  // before the handshake: dropped too
    p.s.tls_established(handshake(true));
    EXPECT_EQ(p.s.take_output(), kEhlo);
    EXPECT_EQ(p.s.awaiting(), ClientWait::Command);  // the EHLO reply is still awaited
    EXPECT_FALSE(p.s.peer().esmtp);
    EXPECT_EQ(p.step(kEhloAfterTls), "MAIL FROM:<alice@example.org>\r\n");
    EXPECT_FALSE(p.s.peer().pipelining);
}

// A failed handshake: the connection is unusable (no QUIT), the message deferred with 4.7.5;
// only under `may` may the caller try the host again in plaintext.
TEST(ClientStartTls, FailedHandshakeDefersAndOnlyMayRetriesInPlaintext) {
    for (TlsPolicy policy : {TlsPolicy::May, TlsPolicy::Encrypt, TlsPolicy::Verify}) {
        Peer p(policy);
        p.step(kGreeting);
        p.step(kEhloTls);
        p.step("220 Go ahead\r\n");
        p.s.tls_failed("wrong version number");
        EXPECT_EQ(p.s.take_output(), "");
        EXPECT_TRUE(p.s.finished());
        expect_deferred_by_us(p.s, "4.7.5");
        EXPECT_NE(p.s.connection_error().one_line().find("wrong version number"), std::string::npos);
        EXPECT_EQ(p.s.retry_in_plaintext(), policy == TlsPolicy::May) << tls_policy_name(policy);
    }
}

// Reporting a handshake nobody asked for is the caller's mistake.
TEST(ClientStartTls, HandshakeWithoutStartTlsIsALogicError) {
    Peer p(TlsPolicy::May);
    EXPECT_THROW(p.s.tls_established(handshake(true)), std::logic_error);
    EXPECT_THROW(p.s.tls_failed("x"), std::logic_error);
}

// 421 in answer to STARTTLS: the server is closing (RFC 5321 3.8); the peer's own reply.
TEST(ClientStartTls, Reply421ToStartTlsEndsTheSession) {
    Peer p(TlsPolicy::May);
    p.step(kGreeting);
    p.step(kEhloTls);
    p.s.feed("421 4.3.2 Shutting down\r\n");
    EXPECT_TRUE(p.s.failed());
    EXPECT_TRUE(p.s.connection_error_remote());
    EXPECT_FALSE(p.s.retry_in_plaintext());
}

TEST(TlsPolicyNames, RoundTrip) {
    for (TlsPolicy policy : {TlsPolicy::None, TlsPolicy::May, TlsPolicy::Encrypt, TlsPolicy::Verify})
        EXPECT_EQ(parse_tls_policy(tls_policy_name(policy)), policy);
    EXPECT_FALSE(parse_tls_policy("Verify"));
    EXPECT_FALSE(parse_tls_policy("dane"));
}

}  // namespace
}  // namespace ehlo::delivery
