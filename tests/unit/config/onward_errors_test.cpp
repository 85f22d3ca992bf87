// Mistakes in the onward delivery keys ([delivery], [outbound], [dns], [[route]], [control],
// [smtp] dsn), each reported at its line and column.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace ehlo::config {
namespace {

void check_error(std::string_view toml, std::size_t line, std::size_t column, std::string_view fragment) {
    auto r = load_string(toml, "test.toml");
    ASSERT_FALSE(r.config);
    ASSERT_TRUE(r.error);
    const ConfigError& e = *r.error;
    EXPECT_EQ(e.line, line) << e.str();
    if (column != 0) {
        EXPECT_EQ(e.column, column) << e.str();
    }
    EXPECT_NE(e.message.find(fragment), std::string::npos) << e.str();
}

#define EXPECT_CONFIG_ERROR(toml, line, column, fragment) \
    do {                                                   \
        SCOPED_TRACE(toml);                                \
        check_error(toml, line, column, fragment);         \
    } while (false)

TEST(OnwardConfigErrors, UnknownKeysInTheNewTables) {
    EXPECT_CONFIG_ERROR("[delivery]\nretry = 5\n", 2, 1, "unknown key 'retry' in [delivery]");
    EXPECT_CONFIG_ERROR("[outbound]\nhelo = \"x\"\n", 2, 1, "unknown key 'helo' in [outbound]");
    EXPECT_CONFIG_ERROR("[dns]\nservers = []\n", 2, 1, "unknown key 'servers' in [dns]");
    EXPECT_CONFIG_ERROR("[control]\npath = \"x\"\n", 2, 1, "unknown key 'path' in [control]");
    EXPECT_CONFIG_ERROR("[history]\nretain = 5\n", 2, 1, "unknown key 'retain' in [history]");
    EXPECT_CONFIG_ERROR("[[route]]\ndomain = \"a.example\"\nhost = \"192.0.2.1\"\nsmarthost = true\n", 4, 1,
                        "unknown key 'smarthost' in [[route]]");
    EXPECT_CONFIG_ERROR("[smtp]\ndsn = true\ndsn_ret = 1\n", 3, 1, "unknown key 'dsn_ret' in [smtp]");
    EXPECT_CONFIG_ERROR("\n[routes]\n", 2, 0, "unknown table [routes]");
}

TEST(OnwardConfigErrors, DeliveryDurations) {
    EXPECT_CONFIG_ERROR("[delivery]\nretry_min = 0\n", 2, 13, "'retry_min' in [delivery] must be 1 to 31536000");
    EXPECT_CONFIG_ERROR("[delivery]\nlifetime = 0\n", 2, 12, "RFC 5321 4.5.4.1");
    EXPECT_CONFIG_ERROR("[delivery]\nlifetime = 31536001\n", 2, 0, "must be 1 to 31536000");
    EXPECT_CONFIG_ERROR("[delivery]\ndelay_warning = -1\n", 2, 0, "0 = none");
    EXPECT_CONFIG_ERROR("[delivery]\nretry_min = \"60\"\n", 2, 13, "must be an integer, not a string");
}

TEST(OnwardConfigErrors, RetryMaxBelowRetryMin_Rfc5321_4_5_4_1) {
    EXPECT_CONFIG_ERROR("[delivery]\nretry_min = 600\nretry_max = 300\n", 3, 13, "retry_max at least retry_min, not 300 < 600");
    // Only retry_min written, above the default retry_max: reported at retry_min.
    EXPECT_CONFIG_ERROR("[delivery]\n\nretry_min = 7200\n", 3, 13, "retry_max at least retry_min");
}

TEST(OnwardConfigErrors, MaxReceived_Rfc5321_6_3) {
    EXPECT_CONFIG_ERROR("[delivery]\nmax_received = 0\n", 2, 16, "RFC 5321 6.3");
}

TEST(OnwardConfigErrors, NullSenderFailuresToMustBeLocal_Rfc5321_4_5_5) {
    EXPECT_CONFIG_ERROR("[delivery]\nnull_sender_failures_to = \"../root\"\n", 2, 27, "mailbox name");
    EXPECT_CONFIG_ERROR("[delivery]\nnull_sender_failures_to = \"a@b@c\"\n", 2, 0, "NAME@LOCAL-DOMAIN");
    EXPECT_CONFIG_ERROR("[delivery]\nnull_sender_failures_to = \"ops@elsewhere.example\"\n[[domain]]\nname = \"a.example\"\n",
                        2, 27, "'elsewhere.example' is not a [[domain]]");
}

TEST(OnwardConfigErrors, Outbound) {
    EXPECT_CONFIG_ERROR("[outbound]\nhelo_name = \"not a name\"\n", 2, 13, "must be empty or a domain name");
    EXPECT_CONFIG_ERROR("[outbound]\nconnections = 0\n", 2, 0, "'connections' in [outbound] must be at least 1");
    EXPECT_CONFIG_ERROR("[outbound]\nconnections_per_destination = 0\n", 2, 0, "at least 1");
    EXPECT_CONFIG_ERROR("[outbound]\nmessages_per_connection = 0\n", 2, 0, "at least 1");
    EXPECT_CONFIG_ERROR("[outbound]\nconnect_timeout = 0\n", 2, 0, "must be 1 to 86400");
    EXPECT_CONFIG_ERROR("[outbound]\ntimeout_scale = 0.0\n", 2, 17, "'timeout_scale' in [outbound] must be 0.001 to 100");
    EXPECT_CONFIG_ERROR("[outbound]\ntimeout_scale = nan\n", 2, 0, "must be 0.001 to 100");
    EXPECT_CONFIG_ERROR("[outbound]\ntimeout_scale = \"1\"\n", 2, 17, "must be a number, not a string");
}

// Outbound TLS: a policy is one of four words, per [outbound], per domain and per [[route]].
TEST(OnwardConfigErrors, TlsPolicies) {
    EXPECT_CONFIG_ERROR("[outbound]\ntls = \"required\"\n", 2, 7, "must be \"none\", \"may\", \"encrypt\" or \"verify\"");
    EXPECT_CONFIG_ERROR("[outbound]\ntls = true\n", 2, 0, "must be a string");
    EXPECT_CONFIG_ERROR("[outbound]\ntls_policy = { \"a..example\" = \"verify\" }\n", 2, 0, "not a domain name");
    EXPECT_CONFIG_ERROR("[outbound]\ntls_policy = { \"a.example\" = \"dane\" }\n", 2, 0, "not 'dane'");
    EXPECT_CONFIG_ERROR("[outbound]\ntls_policy = { \"a.example\" = 1 }\n", 2, 0, "\"verify\", not an integer");
    EXPECT_CONFIG_ERROR("[outbound]\ntls_policy = \"verify\"\n", 2, 0, "must be a table");
    EXPECT_CONFIG_ERROR("[[route]]\ndomain = \"a.example\"\nhost = \"192.0.2.1\"\ntls = \"Verify\"\n", 4, 7, "not 'Verify'");
}

TEST(OnwardConfig, TlsPoliciesLoad) {
    auto r = load_string(
        "[outbound]\ntls = \"encrypt\"\ntls_ca_file = \"/etc/ehlo/ca.pem\"\n"
        "tls_policy = { \"Bank.Example\" = \"verify\", \"old.example\" = \"none\" }\n"
        "[[route]]\ndomain = \"a.example\"\nhost = \"192.0.2.1\"\ntls = \"verify\"\ntls_ca_file = \"/x/ca.pem\"\n"
        "[[route]]\ndomain = \"b.example\"\nhost = \"192.0.2.2\"\n");
    ASSERT_TRUE(r.config) << r.error->str();
    using delivery::TlsPolicy;
    EXPECT_EQ(r.config->outbound.tls, TlsPolicy::Encrypt);
    EXPECT_EQ(r.config->outbound.tls_ca_file, "/etc/ehlo/ca.pem");
    const std::map<std::string, TlsPolicy> by_domain{{"bank.example", TlsPolicy::Verify}, {"old.example", TlsPolicy::None}};
    EXPECT_EQ(r.config->outbound.tls_policy, by_domain);
    ASSERT_EQ(r.config->routes.size(), 2u);
    EXPECT_EQ(r.config->routes[0].tls, TlsPolicy::Verify);
    EXPECT_EQ(r.config->routes[0].tls_ca_file, "/x/ca.pem");
    EXPECT_FALSE(r.config->routes[1].tls);  // as [outbound] says
    EXPECT_EQ(Config{}.outbound.tls, TlsPolicy::May);  // RFC 3207 opportunistic by default
}

TEST(OnwardConfigErrors, DnsForwarders) {
    EXPECT_CONFIG_ERROR("[dns]\nforwarders = [\"192.0.2.53\",\n  \"resolver.example\"]\n", 3, 3, "not an IP address");
    EXPECT_CONFIG_ERROR("[dns]\nforwarders = [\"127.0.0.1@\"]\n", 2, 0, "port must be 1 to 65535");
    EXPECT_CONFIG_ERROR("[dns]\nforwarders = [\"127.0.0.1@0\"]\n", 2, 0, "port must be 1 to 65535");
    EXPECT_CONFIG_ERROR("[dns]\nforwarders = [\"127.0.0.1@65536\"]\n", 2, 0, "port must be 1 to 65535");
    EXPECT_CONFIG_ERROR("[dns]\nforwarders = [\"127.0.0.1@99999999999999999999\"]\n", 2, 0, "port");
    EXPECT_CONFIG_ERROR("[dns]\nforwarders = [\"127.0.0.1:53\"]\n", 2, 0, "\"IP@PORT\"");
    EXPECT_CONFIG_ERROR("[dns]\ntimeout = 0\n", 2, 0, "'timeout' in [dns] must be 1 to 86400");
    EXPECT_CONFIG_ERROR("[dns]\ndnssec = 1\n", 2, 0, "must be a boolean");
}

TEST(OnwardConfigErrors, Routes) {
    EXPECT_CONFIG_ERROR("[[route]]\nhost = \"192.0.2.1\"\n", 1, 0, "'domain' in [[route]] is missing");
    EXPECT_CONFIG_ERROR("[[route]]\ndomain = \"a.example\"\n", 1, 0, "'host' in [[route]] is missing");
    EXPECT_CONFIG_ERROR("[[route]]\ndomain = \"a..example\"\nhost = \"192.0.2.1\"\n", 2, 10, "domain name or \"*\"");
    EXPECT_CONFIG_ERROR("[[route]]\ndomain = \"[192.0.2.1]\"\nhost = \"192.0.2.1\"\n", 2, 0, "domain name");
    EXPECT_CONFIG_ERROR("[[route]]\ndomain = \"a.example\"\nhost = \"smart host\"\n", 3, 8, "IP address or a host name");
    EXPECT_CONFIG_ERROR("[[route]]\ndomain = \"a.example\"\nhost = \"[192.0.2.1]\"\n", 3, 0, "IP address or a host name");
    EXPECT_CONFIG_ERROR("[[route]]\ndomain = \"a.example\"\nhost = \"192.0.2.1\"\nport = 0\n", 4, 8, "must be 1 to 65535");
    EXPECT_CONFIG_ERROR("[[route]]\ndomain = \"a.example\"\nhost = \"192.0.2.1\"\nport = 65536\n", 4, 0, "must be 1 to 65535");
    EXPECT_CONFIG_ERROR("\n[route]\ndomain = \"a.example\"\n", 2, 0, "[[route]]");
    EXPECT_CONFIG_ERROR("route = []\n", 1, 1, "[[route]]");
}

TEST(OnwardConfigErrors, ARouteDomainOnlyOnce) {
    EXPECT_CONFIG_ERROR(
        "[[route]]\ndomain = \"*\"\nhost = \"192.0.2.1\"\n\n[[route]]\ndomain = \"*\"\nhost = \"192.0.2.2\"\n", 6, 10,
        "repeats '*' (first on line 2)");
    EXPECT_CONFIG_ERROR(
        "[[route]]\ndomain = \"a.example\"\nhost = \"h.example\"\n[[route]]\ndomain = \"A.Example\"\nhost = \"h.example\"\n",
        5, 0, "repeats 'a.example'");
}

TEST(OnwardConfigErrors, ControlSocketFitsAUnixSocketPath) {
    const std::string toml = "[control]\nsocket = \"/" + std::string(107, 'x') + "\"\n";
    EXPECT_CONFIG_ERROR(toml, 2, 10, "longer than 107 octets");
    EXPECT_CONFIG_ERROR("[control]\nsocket = \"a\\nb\"\n", 2, 0, "control characters");
}

TEST(HistoryConfigErrors, ValuesOutOfRangeOrOfTheWrongKind) {
    EXPECT_CONFIG_ERROR("[history]\nretention = 0\n", 2, 13, "'retention' in [history] must be 1 to 3650 (days), not 0");
    EXPECT_CONFIG_ERROR("[history]\nretention = 100000\n", 2, 13, "must be 1 to 3650");
    EXPECT_CONFIG_ERROR("[history]\ntranscripts = \"some\"\n", 2, 15,
                        "'transcripts' in [history] must be \"off\", \"errors\" or \"all\", not 'some'");
    EXPECT_CONFIG_ERROR("[history]\nenabled = \"yes\"\n", 2, 11, "must be a boolean");
    EXPECT_CONFIG_ERROR("[history]\npath = 5\n", 2, 8, "must be a string");
}

}  // namespace
}  // namespace ehlo::config
