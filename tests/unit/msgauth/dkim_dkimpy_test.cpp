// DKIM against dkimpy (Debian python3-dkim), through a real DNS server on loopback: a corpus
// signed by dkimpy's dkimsign (rsa and ed25519, every canonicalization; folded headers, 8-bit
// bodies, trailing blank lines, an empty body) verified by ehlo, and mail signed by ehlo
// verified by dkimpy's dkimverify. Keys are made fresh in the test's folder.
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>

#include "dns_test_server.hpp"
#include "msgauth/dkim_key.hpp"
#include "msgauth/dkim_sign.hpp"
#include "msgauth/dkim_verify.hpp"
#include "msgauth/resolver_dns.hpp"
#include "real_peers.hpp"
#include "temp_dir.hpp"

namespace ehlo::msgauth {
namespace {

const char* kDomain = "dkim.example";

const std::vector<std::string>& corpus() {
    static const std::vector<std::string> messages = {
        "From: Alice <alice@dkim.example>\r\nTo: bob@example.net\r\nSubject: plain\r\n"
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@dkim.example>\r\n\r\nHello Bob.\r\n",
        "From: alice@dkim.example\r\nTo: bob@example.net,\r\n  carol@example.net,\r\n\tdave@example.net\r\n"
        "Subject: a subject\r\n folded\r\n  twice\r\nX-Spaces:   many    spaces   \r\n\r\nfolded headers\r\n",
        "From: =?utf-8?q?J=C3=BCrgen?= <j@dkim.example>\r\nSubject: 8bit\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Gr\xc3\xbc\xc3\x9f""e aus K\xc3\xb6ln \xe2\x82\xac\r\n\xff\xfe raw octets\r\n",
        "From: alice@dkim.example\r\nSubject: trailing\r\n\r\nbody\r\n\r\n\r\n\r\n",
        "From: alice@dkim.example\r\nSubject: whitespace\r\n\r\n  lead\r\ntrail  \t\r\n \t \r\nin   the\tmiddle\r\n\r\n",
        "From: alice@dkim.example\r\nSubject: empty body\r\n\r\n",
        "From: alice@dkim.example\r\nSubject: long\r\n\r\n" + std::string(990, 'x') + "\r\n" + std::string(5000, 'y') +
            "\r\n",
    };
    return messages;
}

void write(const std::filesystem::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary);
    out << data;
}

// A TXT record of unbound local-data: strings of at most 255 octets (RFC 1035 3.3).
std::string txt_record(const std::string& name, const std::string& text) {
    std::string r = name + ". TXT";
    for (std::size_t at = 0; at < text.size(); at += 255) r += " \"" + text.substr(at, 255) + "\"";
    return r;
}

class DkimAgainstDkimpy : public ::testing::Test {
protected:
    void SetUp() override {
        if (!testing::has_program(delivery::testing::kUnboundBinary)) GTEST_SKIP() << "unbound is not installed";
        if (!testing::has_program("/usr/bin/dkimsign") || !testing::python_has("dkim"))
            GTEST_SKIP() << "dkimpy (python3-dkim) is not installed";
        if (!testing::has_program("/usr/bin/openssl")) GTEST_SKIP() << "openssl is not installed";
        rsa = generate_key(KeyType::Rsa, 2048);
        ed = generate_key(KeyType::Ed25519);
        write(dir.path() / "rsa.pem", private_key_pem(rsa));
        write(dir.path() / "ed.pem", private_key_pem(ed));
        // dkimpy reads an Ed25519 key as the base64 of its 32-octet seed (RFC 8032 5.1.5).
        int status = -1;
        testing::run_command("/usr/bin/openssl pkey -in " + (dir.path() / "ed.pem").string() +
                                 " -outform DER | tail -c 32 | base64 > " + (dir.path() / "ed.seed").string(), &status);
        ASSERT_EQ(status, 0);
        server = std::make_unique<delivery::testing::DnsTestServer>(std::vector<std::string>{
            txt_record(dkim_key_name("rsa", kDomain), dkim_key_record_text(rsa)),
            txt_record(dkim_key_name("ed", kDomain), dkim_key_record_text(ed))});
        delivery::ResolverOptions o;
        o.forwarders = {server->forwarder()};
        o.timeout = std::chrono::seconds(5);
        resolver = std::make_unique<delivery::Resolver>(o);
        dns = std::make_unique<ResolverDns>(*resolver);
    }

    std::vector<DkimVerdict> ehlo_verify(const std::string& message) {
        const auto parsed = parse_message(message);
        DkimVerifier verifier(parsed->fields);
        verifier.body(std::string_view(message).substr(parsed->body_offset));
        auto promise = std::make_shared<std::promise<std::vector<DkimVerdict>>>();
        auto future = promise->get_future();
        verifier.finish(*dns, std::time(nullptr), [promise](std::vector<DkimVerdict> v) { promise->set_value(std::move(v)); });
        if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
            ADD_FAILURE() << "no verdict";
            return {};
        }
        return future.get();
    }

    std::string dkimsign(const std::string& message, const char* selector, const char* key, const char* alg,
                         const char* hcanon, const char* bcanon) {
        write(dir.path() / "in", message);
        int status = -1;
        std::string out = testing::run_command(std::string("/usr/bin/dkimsign ") + selector + " " + kDomain + " " +
                                                   (dir.path() / key).string() + " --signalg " + alg + " --hcanon " + hcanon +
                                                   " --bcanon " + bcanon + " < " + (dir.path() / "in").string(),
                                               &status);
        EXPECT_EQ(status, 0) << out;
        return out;
    }

    bool dkimverify(const std::string& message, int index, std::string* output) {
        write(dir.path() / "in", message);
        int status = -1;
        *output = testing::run_command(std::string(testing::kPython) + " " + EHLO_MSGAUTH_TEST_DIR + "/dkimpy_verify.py " +
                                           std::to_string(server->port()) + " --index " + std::to_string(index) + " < " +
                                           (dir.path() / "in").string() + " 2>&1",
                                       &status);
        return status == 0;
    }

    delivery::testing::TempDir dir;
    Key rsa, ed;
    std::unique_ptr<delivery::testing::DnsTestServer> server;
    std::unique_ptr<delivery::Resolver> resolver;
    std::unique_ptr<ResolverDns> dns;
};

TEST_F(DkimAgainstDkimpy, CorpusSignedByDkimsignVerifiesInEhlo_Rfc6376_Rfc8463) {
    const char* canons[][2] = {{"simple", "simple"}, {"relaxed", "relaxed"}, {"relaxed", "simple"}, {"simple", "relaxed"}};
    int checked = 0;
    for (std::size_t m = 0; m < corpus().size(); ++m)
        for (const auto& canon : canons)
            for (const bool use_ed : {false, true}) {
                const std::string signed_message =
                    use_ed ? dkimsign(corpus()[m], "ed", "ed.seed", "ed25519-sha256", canon[0], canon[1])
                           : dkimsign(corpus()[m], "rsa", "rsa.pem", "rsa-sha256", canon[0], canon[1]);
                ASSERT_EQ(signed_message.rfind("DKIM-Signature:", 0), 0u) << signed_message;
                const auto v = ehlo_verify(signed_message);
                ASSERT_EQ(v.size(), 1u);
                EXPECT_EQ(v[0].result, Result::Pass) << "message " << m << " " << canon[0] << "/" << canon[1] << " "
                                                     << (use_ed ? "ed25519" : "rsa") << ": " << v[0].reason;
                EXPECT_EQ(v[0].algorithm, use_ed ? "ed25519-sha256" : "rsa-sha256");
                ++checked;
                // A changed body must fail in ehlo as well.
                std::string changed = signed_message;
                changed.insert(changed.size() - 2, "!");
                EXPECT_EQ(ehlo_verify(changed).at(0).result, Result::Fail) << "message " << m;
            }
    EXPECT_EQ(checked, static_cast<int>(corpus().size()) * 8);
}

TEST_F(DkimAgainstDkimpy, SignedByEhloVerifiesInDkimverify_Rfc6376_Rfc8463) {
    std::vector<DkimSigningKey> keys = {{kDomain, "rsa", rsa}, {kDomain, "ed", ed}};
    for (const Canon canon : {Canon::Relaxed, Canon::Simple})
        for (std::size_t m = 0; m < corpus().size(); ++m) {
            DkimSignOptions o;
            o.header_canon = o.body_canon = canon;
            const std::string signed_message = dkim_sign_message(corpus()[m], keys, std::time(nullptr), o);
            for (int index : {0, 1}) {
                std::string output;
                EXPECT_TRUE(dkimverify(signed_message, index, &output))
                    << "message " << m << " " << canon_name(canon) << " signature " << index << ": " << output;
            }
            std::string changed = signed_message;
            changed.insert(changed.size() - 2, "!");
            std::string output;
            EXPECT_FALSE(dkimverify(changed, 1, &output)) << "a changed body passed dkimverify: message " << m;
        }
}

}  // namespace
}  // namespace ehlo::msgauth
