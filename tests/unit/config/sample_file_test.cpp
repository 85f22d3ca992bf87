// etc/ehlo.toml is the embedded defaults written out; this keeps the two from drifting apart.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.hpp"

namespace ehlo::config {
namespace {

// The sample lives in the source tree: tests/unit/config/ -> ../../../etc/ehlo.toml.
std::string sample_path() {
    return (std::filesystem::path(EHLO_TEST_SOURCE_DIR) / "../../../etc/ehlo.toml").lexically_normal().string();
}

TEST(SampleFile, LoadsAndEqualsTheEmbeddedDefaults) {
    auto r = load_file(sample_path());
    ASSERT_TRUE(r.config) << r.error->str();
    const Config defaults;  // named: g++ 12 -O3 warns falsely about a temporary here
    EXPECT_EQ(*r.config, defaults);
}

// "every key present": each key the loader knows appears in the sample, uncommented.
TEST(SampleFile, WritesOutEveryKey) {
    std::ifstream in(sample_path());
    ASSERT_TRUE(in);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    for (const char* key :
         {"[server]", "hostname =", "listen =", "threads =", "user =", "group =", "[limits]", "message_size =", "recipients =",
          "connections =", "connections_per_client =", "connection_rate =", "message_rate =", "recipient_rate =", "greeting_delay =", "errors =", "junk_commands =", "command_timeout =", "data_timeout =",
          "data_total_timeout =", "min_data_rate =",
          "[spool]", "path =", "sync =", "min_free =", "[relay]", "trusted_networks =", "[smtp]", "vrfy =",
          "recipient_delimiter =", "[log]", "level =", "file =", "dialog =", "[[domain]]", "name =",
          "catch_all =", "mailboxes =", "maildir_root =", "postmaster =", "dsn =", "[delivery]", "retry_min =",
          "retry_max =", "lifetime =", "delay_warning =", "max_received =", "active_messages =", "active_recipients =", "null_sender_failures_to =", "[outbound]",
          "helo_name =", "connections_per_destination =", "messages_per_connection =", "connect_timeout =",
          "timeout_scale =", "tls =", "tls_ca_file =", "tls_policy =", "[dns]", "forwarders =", "timeout =", "dnssec =", "client_names =", "forward_loopback_reverse =", "[control]", "[sendmail]", "maildrop =", "[msgauth]", "verify =", "authserv_id =", "dmarc_reject =", "dmarc_quarantine =", "spf_fail =", "dns_failure =", "max_signatures =", "arc_domain =", "[console]", "token_file =", "enabled =", "socket =", "[tls]", "handshake_timeout =",
          "certificates =", "[auth]", "users_file =", "plaintext_loopback =", "bind_sender =",
          "max_failures =", "lockout =", "failure_delay =", "[history]", "enabled =", "retention =", "transcripts =",
          "[aliases]", "files =", "virtual_files =", "[srs]", "domain =", "secret_file =", "max_age =",
          "hash_length =", "alias_file =", "alias_of =", "lmtp =", "folders =", "quota_bytes =",
          "quota_messages =", "mailbox_quota =", "mailbox_lmtp ="}) {
        EXPECT_NE(s.find(std::string("\n") + key), std::string::npos) << key;
    }
}

// [[route]] has no default, so the sample shows one commented out, with every key.
TEST(SampleFile, ShowsARouteCommentedOut) {
    std::ifstream in(sample_path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    for (const char* line : {"\n# [[route]]\n", "\n# domain = ", "\n# host = ", "\n# port = ", "\n# tls = ", "\n# tls_ca_file = "}) {
        EXPECT_NE(s.find(line), std::string::npos) << line;
    }
}

}  // namespace
}  // namespace ehlo::config
