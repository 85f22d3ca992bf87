// ARC (RFC 8617): sealing and verifying a chain, one and two hops, and the ways it breaks.
#include <gtest/gtest.h>

#include "memory_dns.hpp"
#include "msgauth/arc.hpp"
#include "msgauth/dkim_key.hpp"

namespace ehlo::msgauth {
namespace {

const std::string kMessage =
    "From: Alice <alice@example.org>\r\nTo: list@lists.example.net\r\nSubject: hello\r\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHello list.\r\n";

ArcVerdict verify_chain(const std::string& message, DnsLookup& dns) {
    const auto parsed = parse_message(message);
    ArcVerifier verifier(parsed->fields);
    verifier.body(std::string_view(message).substr(parsed->body_offset));
    ArcVerdict out;
    bool called = false;
    verifier.finish(dns, 1700000000, [&](ArcVerdict v) {
        out = v;
        called = true;
    });
    if (auto* memory = dynamic_cast<testing::MemoryDns*>(&dns)) memory->run();
    EXPECT_TRUE(called);
    return out;
}

struct Hops {
    testing::MemoryDns dns;
    DkimSigningKey first{"lists.example.net", "arc", generate_key(KeyType::Ed25519)};
    DkimSigningKey second{"forward.example.com", "seal", generate_key(KeyType::Ed25519)};
    Hops() {
        dns.txt(dkim_key_name("arc", "lists.example.net"), dkim_key_record_text(first.key));
        dns.txt(dkim_key_name("seal", "forward.example.com"), dkim_key_record_text(second.key));
    }
};

TEST(Arc, NoFieldsIsNone_Rfc8617_5_2) {
    testing::MemoryDns dns;
    EXPECT_EQ(verify_chain(kMessage, dns).result, Result::None);
}

TEST(Arc, SealThenVerifyOneAndTwoHops_Rfc8617_5) {
    Hops h;
    const std::string once = arc_seal_message(kMessage, h.first, "lists.example.net; spf=pass smtp.mailfrom=example.org", {}, 1700000000);
    EXPECT_EQ(once.rfind("ARC-Seal: i=1; a=ed25519-sha256; d=lists.example.net; s=arc;", 0), 0u) << once;
    EXPECT_NE(once.find("cv=none"), std::string::npos);
    EXPECT_NE(once.find("ARC-Authentication-Results: i=1; lists.example.net; spf=pass"), std::string::npos);
    ArcVerdict v = verify_chain(once, h.dns);
    EXPECT_EQ(v.result, Result::Pass) << v.reason;
    EXPECT_EQ(v.instances, 1);
    EXPECT_EQ(v.sealer, "lists.example.net");

    // The next hop adds a field and seals again: instance 2, cv=pass.
    std::string relayed = "X-Forwarded: yes\r\n" + once;
    const std::string twice = arc_seal_message(relayed, h.second, "forward.example.com; arc=pass", v, 1700000100);
    EXPECT_NE(twice.find("ARC-Seal: i=2;"), std::string::npos);
    EXPECT_NE(twice.find("cv=pass"), std::string::npos);
    v = verify_chain(twice, h.dns);
    EXPECT_EQ(v.result, Result::Pass) << v.reason;
    EXPECT_EQ(v.instances, 2);
    EXPECT_EQ(v.sealer, "forward.example.com");

    // A changed body breaks the newest message signature; a changed first AAR breaks the seals.
    std::string body_changed = twice;
    body_changed.replace(body_changed.find("Hello list"), 5, "Hallo");
    v = verify_chain(body_changed, h.dns);
    EXPECT_EQ(v.result, Result::Fail);
    EXPECT_NE(v.reason.find("ARC-Message-Signature i=2"), std::string::npos) << v.reason;
    std::string aar_changed = twice;
    aar_changed.replace(aar_changed.find("spf=pass"), 8, "spf=fail");
    v = verify_chain(aar_changed, h.dns);
    EXPECT_EQ(v.result, Result::Fail);
    EXPECT_NE(v.reason.find("ARC-Seal"), std::string::npos) << v.reason;
}

// RFC 8617 5.2: missing sets, duplicate instances, cv=fail, unknown keys are all cv=fail.
TEST(Arc, BrokenChainsFail_Rfc8617_5_2) {
    Hops h;
    const std::string once = arc_seal_message(kMessage, h.first, "lists.example.net; none", {}, 1700000000);
    // The chain as a failed one would be sealed: the next seal says cv=fail, and so does verification.
    ArcVerdict failed;
    failed.result = Result::Fail;
    failed.instances = 1;
    const std::string sealed_failed = arc_seal_message(once, h.second, "forward.example.com; arc=fail", failed, 1700000100);
    EXPECT_NE(sealed_failed.find("cv=fail"), std::string::npos);
    EXPECT_EQ(verify_chain(sealed_failed, h.dns).result, Result::Fail);

    std::string no_aar = once;
    const std::size_t aar = no_aar.find("ARC-Authentication-Results:");
    no_aar.erase(aar, no_aar.find("\r\n", aar) + 2 - aar);
    EXPECT_EQ(verify_chain(no_aar, h.dns).result, Result::Fail);

    const std::string duplicate = "ARC-Authentication-Results: i=1; x.example; none\r\n" + once;
    EXPECT_EQ(verify_chain(duplicate, h.dns).result, Result::Fail);

    testing::MemoryDns empty;
    const ArcVerdict v = verify_chain(once, empty);
    EXPECT_EQ(v.result, Result::Fail);
    EXPECT_NE(v.reason.find("no key"), std::string::npos) << v.reason;

    EXPECT_EQ(verify_chain("ARC-Seal: i=51; a=rsa-sha256; cv=none; d=x.example; s=s; b=YQ==\r\n" + kMessage, h.dns).result,
              Result::Fail);
}

TEST(Arc, RsaSealsVerifyToo_Rfc8617_4_1_3) {
    testing::MemoryDns dns;
    DkimSigningKey key{"lists.example.net", "rsa", generate_key(KeyType::Rsa, 2048)};
    dns.txt(dkim_key_name("rsa", "lists.example.net"), dkim_key_record_text(key.key));
    const std::string once = arc_seal_message(kMessage, key, "lists.example.net; none", {}, 1700000000);
    EXPECT_EQ(verify_chain(once, dns).result, Result::Pass);
}

}  // namespace
}  // namespace ehlo::msgauth
