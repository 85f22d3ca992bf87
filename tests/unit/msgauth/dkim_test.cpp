// DKIM signing and verification (RFC 6376, RFC 8463, RFC 8301) against the in-memory DNS: the
// RFC 8463 appendix A message, round trips of every algorithm and canonicalization, and the
// ways a signature or a key record goes wrong.
#include <gtest/gtest.h>

#include "memory_dns.hpp"
#include "msgauth/dkim_key.hpp"
#include "msgauth/dkim_sign.hpp"
#include "msgauth/dkim_verify.hpp"

namespace ehlo::msgauth {
namespace {

// RFC 8463 appendix A.3: the signed message, and A.2 / A.3 the keys it names.
const std::string kRfc8463Message =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";
const char* kRfc8463Ed25519Key = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const char* kRfc8463RsaKey =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/"
    "byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
constexpr std::int64_t kRfc8463Time = 1528637909;

const std::string kMessage =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: a folded\r\n"
    "  subject line\r\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Gr\xc3\xbc\xc3\x9f""e  \r\n"
    "\r\n"
    "trailing blank lines follow\r\n"
    "\r\n"
    "\r\n";

std::vector<DkimVerdict> verify_message(const std::string& message, DnsLookup& dns, std::int64_t now,
                                        DkimVerifyOptions options = {}, std::size_t piece = 0) {
    const auto parsed = parse_message(message);
    DkimVerifier verifier(parsed->fields, options);
    const std::string_view body = std::string_view(message).substr(parsed->body_offset);
    if (piece == 0)
        verifier.body(body);
    else
        for (std::size_t at = 0; at < body.size(); at += piece) verifier.body(body.substr(at, piece));
    std::vector<DkimVerdict> out;
    bool called = false;
    verifier.finish(dns, now, [&](std::vector<DkimVerdict> v) {
        out = std::move(v);
        called = true;
    });
    if (auto* memory = dynamic_cast<testing::MemoryDns*>(&dns)) memory->run();
    EXPECT_TRUE(called);
    return out;
}

// RSA key generation takes a while: the tests share two keys.
Key rsa_key(int which = 0) {
    static const Key keys[2] = {generate_key(KeyType::Rsa, 2048), generate_key(KeyType::Rsa, 2048)};
    return keys[which];
}

struct Signing {
    testing::MemoryDns dns;
    std::vector<DkimSigningKey> keys;
    Signing(std::initializer_list<KeyType> types) {
        int n = 0;
        for (KeyType t : types) {
            const std::string selector = "s" + std::to_string(++n);
            keys.push_back({"example.org", selector, t == KeyType::Rsa ? rsa_key() : generate_key(t)});
            dns.txt(dkim_key_name(selector, "example.org"), dkim_key_record_text(keys.back().key));
        }
    }
};

TEST(Dkim, Rfc8463ExampleVerifies_Rfc8463_A) {
    testing::MemoryDns dns;
    dns.txt("brisbane._domainkey.football.example.com", kRfc8463Ed25519Key);
    dns.txt("test._domainkey.football.example.com", kRfc8463RsaKey);
    const auto v = verify_message(kRfc8463Message, dns, kRfc8463Time + 60);
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].result, Result::Pass) << v[0].reason;
    EXPECT_EQ(v[0].algorithm, "ed25519-sha256");
    EXPECT_EQ(v[0].selector, "brisbane");
    EXPECT_EQ(v[0].domain, "football.example.com");
    EXPECT_EQ(v[1].result, Result::Pass) << v[1].reason;
    EXPECT_EQ(v[1].key_bits, 1024u);

    std::string changed = kRfc8463Message;
    changed.replace(changed.find("hungry"), 6, "HUNGRY");
    const auto bad = verify_message(changed, dns, kRfc8463Time + 60);
    EXPECT_EQ(bad.at(0).result, Result::Fail);
    EXPECT_NE(bad[0].reason.find("body hash"), std::string::npos);
    changed = kRfc8463Message;
    changed.replace(changed.find("dinner"), 6, "supper");
    EXPECT_EQ(verify_message(changed, dns, kRfc8463Time + 60).at(0).result, Result::Fail);
}

// RFC 8301 3.2: RSA keys under 1024 bits are not accepted; with a stricter minimum neither is the RFC's.
TEST(Dkim, SmallRsaKeysFail_Rfc8301_3_2) {
    testing::MemoryDns dns;
    dns.txt("brisbane._domainkey.football.example.com", kRfc8463Ed25519Key);
    dns.txt("test._domainkey.football.example.com", kRfc8463RsaKey);
    DkimVerifyOptions strict;
    strict.min_rsa_bits = 2048;
    const auto v = verify_message(kRfc8463Message, dns, kRfc8463Time, strict);
    EXPECT_EQ(v.at(0).result, Result::Pass);
    EXPECT_EQ(v.at(1).result, Result::PermError);
    EXPECT_NE(v[1].reason.find("RFC 8301"), std::string::npos) << v[1].reason;

    const Key small = generate_key(KeyType::Rsa, 768);
    EXPECT_THROW(DkimSigner({{"example.org", "s", small}}), std::invalid_argument);
}

TEST(Dkim, SignedByEhloVerifiesInEveryCanonicalization_Rfc6376_3_4) {
    for (Canon header : {Canon::Simple, Canon::Relaxed})
        for (Canon body : {Canon::Simple, Canon::Relaxed}) {
            Signing s{KeyType::Rsa, KeyType::Ed25519};
            DkimSignOptions o;
            o.header_canon = header;
            o.body_canon = body;
            const std::string signed_message = dkim_sign_message(kMessage, s.keys, 1700000000, o);
            for (std::size_t piece : {0, 1, 7}) {
                const auto v = verify_message(signed_message, s.dns, 1700000100, {}, piece);
                ASSERT_EQ(v.size(), 2u);
                EXPECT_EQ(v[0].result, Result::Pass) << v[0].reason;
                EXPECT_EQ(v[0].algorithm, "rsa-sha256");
                EXPECT_EQ(v[1].result, Result::Pass) << v[1].reason;
                EXPECT_EQ(v[1].algorithm, "ed25519-sha256");
            }
        }
}

// RFC 6376 8.15 and 5.4: From is signed once more than it occurs, so a second From fails.
TEST(Dkim, OversignedFromRefusesAnAddedFrom_Rfc6376_8_15) {
    Signing s{KeyType::Ed25519};
    const std::string signed_message = dkim_sign_message(kMessage, s.keys, 1700000000);
    EXPECT_NE(signed_message.find("h=from:from:subject"), std::string::npos) << signed_message;
    EXPECT_EQ(signed_message.find("l="), std::string::npos);  // never a body length limit
    EXPECT_EQ(verify_message(signed_message, s.dns, 1700000000).at(0).result, Result::Pass);
    std::string forged = signed_message;
    forged.insert(forged.find("From:"), "From: mallory@example.com\r\n");
    EXPECT_EQ(verify_message(forged, s.dns, 1700000000).at(0).result, Result::Fail);
    // An unsigned header field may be added without harm.
    std::string added = signed_message;
    added.insert(added.find("From:"), "X-Spam: no\r\n");
    EXPECT_EQ(verify_message(added, s.dns, 1700000000).at(0).result, Result::Pass);
}

// RFC 6376 3.5 x=, t=: an expired signature or one from the future fails.
TEST(Dkim, ExpiredAndFutureSignaturesFail_Rfc6376_3_5) {
    Signing s{KeyType::Ed25519};
    DkimSignOptions o;
    o.expire_after = 3600;
    const std::string m = dkim_sign_message(kMessage, s.keys, 1700000000, o);
    EXPECT_EQ(verify_message(m, s.dns, 1700003600).at(0).result, Result::Pass);
    const auto expired = verify_message(m, s.dns, 1700003601);
    EXPECT_EQ(expired.at(0).result, Result::Fail);
    EXPECT_NE(expired[0].reason.find("expired"), std::string::npos);
    EXPECT_EQ(verify_message(m, s.dns, 1700000000 - 3600).at(0).result, Result::Fail);
    EXPECT_EQ(s.dns.queries, 1);  // the decided ones needed no key
}

// RFC 6376 6.1.2: no key is permanent, a DNS failure temporary; RFC 6376 3.6.1: an empty p= is revoked.
TEST(Dkim, KeyLookupOutcomes_Rfc6376_6_1_2) {
    Signing s{KeyType::Ed25519};
    const std::string m = dkim_sign_message(kMessage, s.keys, 1700000000);
    testing::MemoryDns none;
    auto v = verify_message(m, none, 1700000000);
    EXPECT_EQ(v.at(0).result, Result::PermError);
    EXPECT_NE(v[0].reason.find("no key record"), std::string::npos);

    testing::MemoryDns failing;
    failing.fail(DnsType::Txt, "s1._domainkey.example.org");
    EXPECT_EQ(verify_message(m, failing, 1700000000).at(0).result, Result::TempError);

    testing::MemoryDns revoked;
    revoked.txt("s1._domainkey.example.org", "v=DKIM1; k=ed25519; p=");
    v = verify_message(m, revoked, 1700000000);
    EXPECT_EQ(v.at(0).result, Result::PermError);
    EXPECT_NE(v[0].reason.find("revoked"), std::string::npos);

    testing::MemoryDns wrong_type;
    wrong_type.txt("s1._domainkey.example.org", "v=DKIM1; k=rsa; p=" + base64_encode(public_key_record_data(s.keys[0].key)));
    EXPECT_EQ(verify_message(m, wrong_type, 1700000000).at(0).result, Result::PermError);

    testing::MemoryDns other_key;
    other_key.txt("s1._domainkey.example.org", dkim_key_record_text(generate_key(KeyType::Ed25519)));
    EXPECT_EQ(verify_message(m, other_key, 1700000000).at(0).result, Result::Fail);

    testing::MemoryDns sha1_only;
    sha1_only.txt("s1._domainkey.example.org", dkim_key_record_text(s.keys[0].key) + "; h=sha1");
    EXPECT_EQ(verify_message(m, sha1_only, 1700000000).at(0).result, Result::PermError);
}

// The DNS may answer later, on another thread: the verifier may be gone by then.
TEST(Dkim, AnswersAfterTheVerifierIsGone) {
    Signing s{KeyType::Rsa, KeyType::Ed25519};
    s.dns.deferred = true;
    const std::string m = dkim_sign_message(kMessage, s.keys, 1700000000);
    std::vector<DkimVerdict> out;
    {
        const auto parsed = parse_message(m);
        DkimVerifier verifier(parsed->fields);
        verifier.body(std::string_view(m).substr(parsed->body_offset));
        verifier.finish(s.dns, 1700000000, [&](std::vector<DkimVerdict> v) { out = std::move(v); });
    }
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(s.dns.run(), 2);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].result, Result::Pass);
    EXPECT_EQ(out[1].result, Result::Pass);
}

TEST(Dkim, BrokenSignaturesArePermErrors_Rfc6376_6_1_1) {
    testing::MemoryDns dns;
    const auto check = [&](const std::string& field) {
        const auto v = verify_message(field + "\r\nFrom: a@example.org\r\n\r\nx\r\n", dns, 1700000000);
        return v.empty() ? Result::None : v[0].result;
    };
    EXPECT_EQ(check("DKIM-Signature: v=2; a=rsa-sha256; d=example.org; s=s; h=from; bh=YQ==; b=YQ=="), Result::PermError);
    EXPECT_EQ(check("DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; h=to; bh=YQ==; b=YQ=="), Result::PermError);
    EXPECT_EQ(check("DKIM-Signature: v=1; a=rsa-md5; d=example.org; s=s; h=from; bh=YQ==; b=YQ=="), Result::PermError);
    EXPECT_EQ(check("DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; h=from; bh=YQ==; b=YQ==; i=@evil.com"),
              Result::PermError);
    EXPECT_EQ(check("DKIM-Signature: v=1; a=rsa-sha1; d=example.org; s=s; h=from; bh=YQ==; b=YQ=="), Result::PermError);
    EXPECT_EQ(check("DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; h=from; bh=YQ==; b=YQ==; t=10; x=5"),
              Result::PermError);
    EXPECT_EQ(check("DKIM-Signature: garbage"), Result::PermError);
    EXPECT_EQ(dns.queries, 0);
    EXPECT_EQ(check("From: unsigned@example.org"), Result::None);
}

// Hostile input: a message with many signatures costs at most max_signatures key lookups.
TEST(Dkim, SignaturesPastTheLimitAreNotChecked) {
    testing::MemoryDns dns;
    std::string m;
    for (int i = 0; i < 50; ++i)
        m += "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s" + std::to_string(i) + "; h=from; bh=YQ==; b=YQ==\r\n";
    m += "From: a@example.org\r\n\r\nx\r\n";
    const auto v = verify_message(m, dns, 1700000000);
    ASSERT_EQ(v.size(), 50u);
    EXPECT_EQ(dns.queries, 5);
    EXPECT_EQ(v[49].result, Result::Neutral);
}

TEST(DkimKey, RecordParsing_Rfc6376_3_6_1) {
    auto r = parse_dkim_key_record("v=DKIM1; k=ed25519; t=y:s; s=email; h=sha256; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    ASSERT_TRUE(r.record) << r.error;
    EXPECT_EQ(r.record->type, KeyType::Ed25519);
    EXPECT_TRUE(r.record->testing);
    EXPECT_TRUE(r.record->strict_identity);
    EXPECT_EQ(r.record->public_data.size(), 32u);
    EXPECT_TRUE(parse_dkim_key_record("p=YQ==; x_unknown=1").record);     // unknown tags ignored, k= rsa
    EXPECT_FALSE(parse_dkim_key_record("k=rsa; v=DKIM1; p=YQ==").record);  // v= not first
    EXPECT_FALSE(parse_dkim_key_record("v=DKIM2; p=YQ==").record);
    EXPECT_FALSE(parse_dkim_key_record("v=DKIM1; k=dsa; p=YQ==").record);
    EXPECT_FALSE(parse_dkim_key_record("v=DKIM1; s=other; p=YQ==").record);
    EXPECT_FALSE(parse_dkim_key_record("v=DKIM1; k=rsa").record);
    const Key k = rsa_key(1);
    r = parse_dkim_key_record(dkim_key_record_text(k));
    ASSERT_TRUE(r.record);
    const auto back = public_key_from_record(KeyType::Rsa, r.record->public_data);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->bits, 2048u);
    EXPECT_TRUE(private_key_from_pem(private_key_pem(k)));
    EXPECT_FALSE(private_key_from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
}

}  // namespace
}  // namespace ehlo::msgauth
