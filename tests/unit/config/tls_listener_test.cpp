// [tls] and [[listener]]: listener kinds (RFC 5321 smtp, RFC 6409 submission, RFC 8314
// submissions) and certificates, with their errors.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace ehlo::config {
namespace {

TEST(ConfigListeners, ListenStaysSmtpAndListenersAddKinds_Rfc6409_Rfc8314) {
    auto r = load_string(R"([server]
listen = ["127.0.0.1:2525"]

[[listener]]
address = "127.0.0.1:587"
kind = "submission"

[[listener]]
address = "[::1]:465"
kind = "submissions"
)");
    ASSERT_TRUE(r.config) << r.error->str();
    const auto all = all_listeners(*r.config);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0], (Listener{{"127.0.0.1", 2525}, ListenerKind::Smtp}));
    EXPECT_EQ(all[1], (Listener{{"127.0.0.1", 587}, ListenerKind::Submission}));
    EXPECT_EQ(all[2], (Listener{{"::1", 465}, ListenerKind::Submissions}));
}

TEST(ConfigListeners, ListenersAloneReplaceTheDefaultListen) {
    auto r = load_string("[[listener]]\naddress = \"127.0.0.1:25\"\n");
    ASSERT_TRUE(r.config) << r.error->str();
    const auto all = all_listeners(*r.config);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].kind, ListenerKind::Smtp);
    EXPECT_EQ(all_listeners(Config{}).size(), 1u);  // the default: smtp on 127.0.0.1:2525
}

TEST(ConfigListeners, Errors) {
    auto check = [](const char* toml, std::size_t line, const char* fragment) {
        auto r = load_string(toml, "t.toml");
        ASSERT_FALSE(r.config) << toml;
        EXPECT_EQ(r.error->line, line) << r.error->str();
        EXPECT_NE(r.error->message.find(fragment), std::string::npos) << r.error->str();
    };
    check("[[listener]]\nkind = \"smtp\"\n", 1, "'address' in [[listener]] is missing");
    check("[[listener]]\naddress = \"127.0.0.1:587\"\nkind = \"lmtp\"\n", 3, "must be \"smtp\", \"submission\" or \"submissions\"");
    check("[[listener]]\naddress = \"localhost:587\"\n", 2, "address");
    check("[[listener]]\naddress = \"127.0.0.1:587\"\n[[listener]]\naddress = \"127.0.0.1:587\"\n", 4, "twice");
    check("[server]\nlisten = [\"127.0.0.1:25\"]\n[[listener]]\naddress = \"127.0.0.1:25\"\n", 2, "both name");
    check("listener = 1\n", 1, "[[listener]] tables");
}

TEST(ConfigTls, CertificatesAndHandshakeTimeout) {
    auto r = load_string(R"([tls]
handshake_timeout = 10
certificates = [{chain = "/etc/ehlo/a.pem", key = "/etc/ehlo/a.key"},
                {chain = "/etc/ehlo/b.pem", key = "/etc/ehlo/b.key"}]
)");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_EQ(r.config->tls.handshake_timeout, 10u);
    ASSERT_EQ(r.config->tls.certificates.size(), 2u);
    EXPECT_EQ(r.config->tls.certificates[1].chain, "/etc/ehlo/b.pem");
    EXPECT_EQ(r.config->tls.certificates[1].key, "/etc/ehlo/b.key");
    EXPECT_TRUE(Config{}.tls.certificates.empty());
    EXPECT_EQ(Config{}.tls.handshake_timeout, 30u);
}

TEST(ConfigTls, Errors) {
    auto r = load_string("[tls]\ncertificates = [{chain = \"a.pem\"}]\n", "t.toml");
    ASSERT_FALSE(r.config);
    EXPECT_NE(r.error->message.find("'key' in [tls] certificates must name a file"), std::string::npos) << r.error->str();
    r = load_string("[tls]\ncertificates = [{chain = \"a.pem\", key = \"a.key\", pin = 1}]\n", "t.toml");
    ASSERT_FALSE(r.config);
    EXPECT_NE(r.error->message.find("unknown key 'pin'"), std::string::npos) << r.error->str();
    r = load_string("[tls]\ncertificates = \"a.pem\"\n", "t.toml");
    ASSERT_FALSE(r.config);
    EXPECT_NE(r.error->message.find("must be an array of tables"), std::string::npos) << r.error->str();
    r = load_string("[tls]\nhandshake_timeout = 0\n", "t.toml");
    ASSERT_FALSE(r.config);
}

TEST(ConfigAuth, KeysAndDefaults_Rfc4954) {
    const Config d;
    EXPECT_TRUE(d.auth.users_file.empty());
    EXPECT_FALSE(d.auth.plaintext_loopback);
    EXPECT_TRUE(d.auth.bind_sender);
    EXPECT_EQ(d.auth.max_failures, 5u);
    auto r = load_string(R"([auth]
users_file = "/etc/ehlo/users"
plaintext_loopback = true
bind_sender = false
max_failures = 3
lockout = 60
failure_delay = 2
threads = 4
)");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_EQ(r.config->auth, (Config::Auth{"/etc/ehlo/users", true, false, 3, 60, 2, 4}));
    auto bad = load_string("[auth]\nmax_failures = 0\n", "t.toml");
    ASSERT_FALSE(bad.config);
    EXPECT_NE(bad.error->message.find("max_failures"), std::string::npos);
    bad = load_string("[auth]\npasswords = \"x\"\n", "t.toml");
    ASSERT_FALSE(bad.config);
}

}  // namespace
}  // namespace ehlo::config
