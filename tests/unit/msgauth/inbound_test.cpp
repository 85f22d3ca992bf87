// Reception's checks in order (msgauth/inbound.hpp): SPF started at MAIL and waited for at the
// end, DKIM over a header section and a body given in pieces, DMARC from both, and the one
// Authentication-Results field that reports them (RFC 8601).
#include <gtest/gtest.h>

#include "memory_dns.hpp"
#include "msgauth/crypto.hpp"
#include "msgauth/dkim_key.hpp"
#include "msgauth/dkim_sign.hpp"
#include "msgauth/inbound.hpp"
#include "msgauth/work_pool.hpp"

#include <atomic>
#include <future>
#include <thread>

namespace ehlo::msgauth {
namespace {

constexpr std::int64_t kNow = 1796300000;

const PublicSuffixList& psl() {
    static const PublicSuffixList list = PublicSuffixList::parse("org\nnet\n");
    return list;
}

const std::string kMessage =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: checked\r\n"
    "\r\n"
    "Hello, Bob.\r\n";

struct Zone {
    testing::MemoryDns dns;
    DkimSigningKey key{"example.org", "s1", generate_key(KeyType::Ed25519)};
    Zone() {
        dns.txt("example.org", "v=spf1 ip4:192.0.2.0/24 -all");
        dns.txt("_dmarc.example.org", "v=DMARC1; p=reject");
        dns.txt(dkim_key_name("s1", "example.org"), dkim_key_record_text(key.key));
    }
    std::string signed_message() const { return dkim_sign_message(kMessage, {key}, kNow); }
};

// Feeds `message` as reception does: the header section, then the body in small pieces.
InboundVerdicts check(Zone& zone, const std::string& message, const std::string& ip, const std::string& sender,
                      bool* waited_for_spf = nullptr) {
    InboundCheck c(zone.dns, psl(), nullptr);
    c.spf({ip, sender, "client.example.net", "mx.example.net", kNow});
    const auto parsed = parse_message(message);
    c.header(parsed->fields);
    const std::string_view body = std::string_view(message).substr(parsed->body_offset);
    for (std::size_t at = 0; at < body.size(); at += 3) c.body(body.substr(at, 3));
    std::optional<InboundVerdicts> out;
    c.finish(kNow, 0, [&](InboundVerdicts v) { out = std::move(v); });
    if (waited_for_spf) *waited_for_spf = !out.has_value();
    zone.dns.run();
    EXPECT_TRUE(out.has_value());
    return out.value_or(InboundVerdicts{});
}

TEST(Inbound, SignedAlignedMessagePasses_Rfc7489_4_2) {
    Zone zone;
    const InboundVerdicts v = check(zone, zone.signed_message(), "192.0.2.7", "alice@example.org");
    ASSERT_TRUE(v.spf);
    EXPECT_EQ(v.spf->result, Result::Pass);
    ASSERT_EQ(v.dkim.size(), 1u);
    EXPECT_EQ(v.dkim[0].result, Result::Pass) << v.dkim[0].reason;
    ASSERT_TRUE(v.dmarc);
    EXPECT_EQ(v.dmarc->result, Result::Pass);
    EXPECT_EQ(v.from_domain, "example.org");
    EXPECT_FALSE(v.temporary());
    const std::string field = authentication_results("mx.example.net", v);
    EXPECT_TRUE(field.starts_with("Authentication-Results: mx.example.net;")) << field;
    EXPECT_NE(field.find("spf=pass smtp.mailfrom=alice@example.org"), std::string::npos) << field;
    EXPECT_NE(field.find("dkim=pass"), std::string::npos) << field;
    EXPECT_NE(field.find("dmarc=pass"), std::string::npos) << field;
    EXPECT_EQ(v.summary().rfind("spf=pass dkim=pass (example.org) dmarc=pass (p=reject)", 0), 0u) << v.summary();
}

// The DNS answers after the end of DATA (a resolver thread, later): the end waits for SPF.
// The message is unsigned, so only an SPF verdict the end waited for can make DMARC pass.
TEST(Inbound, TheEndWaitsForSpf) {
    Zone zone;
    zone.dns.deferred = true;
    bool waited = false;
    const InboundVerdicts v = check(zone, kMessage, "192.0.2.7", "alice@example.org", &waited);
    EXPECT_TRUE(waited);
    ASSERT_TRUE(v.spf);
    EXPECT_EQ(v.spf->result, Result::Pass);
    ASSERT_TRUE(v.dmarc);
    EXPECT_EQ(v.dmarc->result, Result::Pass);
    EXPECT_TRUE(v.dmarc->spf_aligned);
}

// RFC 7489 4.2: neither SPF (another address) nor DKIM (none) passes aligned: DMARC fails.
TEST(Inbound, SpoofedFromFailsDmarc_Rfc7489_6_6_2) {
    Zone zone;
    const InboundVerdicts v = check(zone, kMessage, "198.51.100.1", "alice@example.org");
    EXPECT_EQ(v.spf->result, Result::Fail);
    EXPECT_TRUE(v.dkim_checked);
    EXPECT_TRUE(v.dkim.empty());
    ASSERT_TRUE(v.dmarc);
    EXPECT_EQ(v.dmarc->result, Result::Fail);
    EXPECT_EQ(v.dmarc->policy, DmarcPolicy::Reject);
    EXPECT_NE(authentication_results("mx", v).find("dkim=none"), std::string::npos);
}

// A body changed after signing: DKIM fails, SPF still aligns, DMARC passes on SPF.
TEST(Inbound, ChangedBodyFailsDkimButSpfAligns) {
    Zone zone;
    std::string m = zone.signed_message();
    m.replace(m.find("Bob"), 3, "Eve");
    const InboundVerdicts v = check(zone, m, "192.0.2.7", "alice@example.org");
    EXPECT_EQ(v.dkim.at(0).result, Result::Fail);
    EXPECT_EQ(v.dmarc->result, Result::Pass);
    EXPECT_TRUE(v.dmarc->spf_aligned);
}

// A DNS failure is temporary, whatever it touched (RFC 7208 2.6.6).
TEST(Inbound, DnsFailureIsTemporary_Rfc7208_2_6_6) {
    Zone zone;
    zone.dns.fail(DnsType::Txt, "example.org");
    const InboundVerdicts v = check(zone, kMessage, "192.0.2.7", "alice@example.org");
    EXPECT_EQ(v.spf->result, Result::TempError);
    EXPECT_TRUE(v.temporary());
}

// RFC 5322 3.6.2: the first From address's domain, lower case, display names and comments aside.
// RFC 7489 6.6.1: the author domain is the one a reader sees, or there is none to check.
TEST(Inbound, HeaderFromDomain_Rfc5322_3_6_2_Rfc7489_6_6_1) {
    auto author = [](const std::string& header) { return header_from_domain(parse_message(header + "\r\n\r\n")->fields); };
    auto domain = [&](const std::string& header) { return author(header).domain; };
    EXPECT_EQ(domain("From: Alice <alice@Example.ORG>"), "example.org");
    EXPECT_EQ(domain("From: bob@example.net"), "example.net");
    EXPECT_EQ(domain("Subject: x\r\nfrom: \"a@b\" <c@d.example> (x)"), "d.example");
    // A comment is no address: the domain shown is the one checked.
    EXPECT_EQ(domain("From: b@bank.example (<a@evil.example>)"), "bank.example");
    EXPECT_EQ(domain("From: a@x.example, b@X.example"), "x.example");
    for (const char* bad : {"From: undisclosed", "To: a@b.example", "From: <a@evil.example>, <b@bank.example>",
                            "From: a@x.example\r\nFrom: b@x.example", "From: \"x@bank.example\" <ceo>"}) {
        SCOPED_TRACE(bad);
        const AuthorDomain a = author(bad);
        EXPECT_EQ(a.domain, "");
        EXPECT_FALSE(a.problem.empty());
    }
}

// RFC 8601 2.7.4: an authenticated submission says auth=pass and who.
TEST(Inbound, AuthenticatedSubmission_Rfc8601_2_7_4) {
    const std::string f = authentication_results("mx.example.net", InboundVerdicts{}, std::string("alice"));
    EXPECT_NE(f.find("auth=pass smtp.auth=alice"), std::string::npos) << f;
}

// The pool runs what is posted from any thread; after stop() nothing more runs.
TEST(WorkPool, RunsPostedWorkAndDropsItAfterStop) {
    std::atomic<int> ran{0};
    {
        WorkPool pool(2);
        std::vector<std::thread> posters;
        for (int t = 0; t < 4; ++t)
            posters.emplace_back([&] {
                for (int i = 0; i < 250; ++i) pool.post([&] { ran.fetch_add(1); });
            });
        for (auto& t : posters) t.join();
        for (int i = 0; i < 1000 && ran.load() < 1000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        EXPECT_EQ(ran.load(), 1000);
        pool.stop();
        pool.post([&] { ran.fetch_add(1); });
    }
    EXPECT_EQ(ran.load(), 1000);
}

// Through the pool, as the daemon runs it: the verdicts arrive on a pool thread.
TEST(Inbound, StepsRunWherePostPutsThem) {
    Zone zone;
    WorkPool pool(1);
    std::atomic<bool> on_pool{false};
    std::thread::id pool_thread;
    pool.post([&] { pool_thread = std::this_thread::get_id(); });
    InboundCheck c(zone.dns, psl(), [&](std::function<void()> f) { pool.post(std::move(f)); });
    c.spf({"192.0.2.7", "alice@example.org", "h", "mx", kNow});
    const std::string m = zone.signed_message();
    const auto parsed = parse_message(m);
    c.header(parsed->fields);
    c.body(std::string_view(m).substr(parsed->body_offset));
    std::promise<InboundVerdicts> verdicts;
    c.finish(kNow, 0, [&](InboundVerdicts v) {
        on_pool = std::this_thread::get_id() == pool_thread;
        verdicts.set_value(std::move(v));
    });
    auto future = verdicts.get_future();
    ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_TRUE(on_pool.load());
    EXPECT_EQ(future.get().dmarc->result, Result::Pass);
}

}  // namespace
}  // namespace ehlo::msgauth
