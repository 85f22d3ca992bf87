// Loading valid files: every key reaches its field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "config/config.hpp"

namespace ehlo::config {
namespace {

constexpr const char* kFull = R"(
[server]
hostname = "mx.example.org"
listen = ["0.0.0.0:25", "[::]:25", "[2001:db8::1]:587"]
threads = 4
user = "mail"
group = "mail"

[limits]
message_size = 1048576
recipients = 100
connections = 500
connections_per_client = 0
connection_rate = 30
message_rate = 40
recipient_rate = 50
greeting_delay = 0.25
errors = 3
junk_commands = 7
command_timeout = 60
data_timeout = 120
data_total_timeout = 900
min_data_rate = 200

[spool]
path = "/var/spool/ehlo"
sync = "fsync"
min_free = 1048576

[relay]
trusted_networks = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"]

[smtp]
vrfy = true
recipient_delimiter = "-"

[log]
level = "debug"
file = "/var/log/ehlo.log"
dialog = true

[delivery]
retry_min = 30
retry_max = 7200
lifetime = 345600
delay_warning = 14400
max_received = 150
null_sender_failures_to = "Hostmaster@Example.org"

[outbound]
helo_name = "out.example.org"
connections = 20
connections_per_destination = 2
messages_per_connection = 5
connect_timeout = 10
timeout_scale = 0.5

[dns]
forwarders = ["192.0.2.53", "127.0.0.1@5353", "2001:db8::53"]
timeout = 3
dnssec = true
client_names = false
forward_loopback_reverse = true

[[route]]
domain = "Partner.Example"
host = "192.0.2.25"
port = 2525

[[route]]
domain = "*"
host = "smarthost.example.net"

[control]
socket = "/run/ehlo/control.sock"
group = "adm"

[console]
enabled = false
listen = "127.0.0.2:8026"
tls = true
token_file = "/etc/ehlo/console.token"

[sendmail]
enabled = false
maildrop = "/var/spool/ehlo-maildrop"
socket = "/run/ehlo/pickup.sock"

[msgauth]
verify = false
authserv_id = "mx.example.org"
dmarc_reject = "quarantine"
dmarc_quarantine = "none"
spf_fail = "reject"
dns_failure = "defer"
max_signatures = 8
threads = 3
arc_domain = "Example.org"

[[msgauth.sign]]
domain = "Example.ORG"
selector = "s2026"
key_file = "/etc/ehlo/dkim/s2026.pem"

[[msgauth.sign]]
domain = "example.org"
selector = "e2026"
key_file = "/etc/ehlo/dkim/e2026.pem"

[history]
enabled = false
path = "/var/lib/ehlo/history.db"
retention = 30
transcripts = "all"

[[domain]]
name = "Example.ORG"
catch_all = false
mailboxes = ["alice", "bob.smith", "c_d-e"]
maildir_root = "/srv/mail/example.org"
postmaster = "alice"

[[domain]]
name = "example.net"
catch_all = true
)";

Config full_expected() {
    Config c;
    c.server.hostname = "mx.example.org";
    c.server.listen = {{"0.0.0.0", 25}, {"::", 25}, {"2001:db8::1", 587}};
    c.server.threads = 4;
    c.server.user = "mail";
    c.server.group = "mail";
    c.limits = {1048576, 100, 500, 0, 30, 40, 50, 0.25, 3, 7, 60, 120, 900, 200};
    c.spool = {"/var/spool/ehlo", SyncMode::Fsync, 1048576};
    c.relay.trusted_networks = {"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"};
    c.smtp = {true, "-", true};
    c.log = {"debug", "/var/log/ehlo.log", true};
    c.delivery = {30, 7200, 345600, 14400, 150, "hostmaster@example.org"};
    c.outbound = {"out.example.org", 20, 2, 5, 10, 0.5};
    c.dns = {{"192.0.2.53", "127.0.0.1@5353", "2001:db8::53"}, 3, true, false, true};
    c.routes = {{"partner.example", "192.0.2.25", 2525}, {"*", "smarthost.example.net", 25}};
    c.control.socket = "/run/ehlo/control.sock";
    c.control.group = "adm";
    c.console = {false, true, "/etc/ehlo/console.token", {"127.0.0.2", 8026}};
    c.sendmail = {false, "/var/spool/ehlo-maildrop", "/run/ehlo/pickup.sock"};
    c.history = {false, "/var/lib/ehlo/history.db", 30, HistoryTranscripts::All};
    c.msgauth = {false, "mx.example.org", DmarcAction::Quarantine, DmarcAction::None, true, true, 8, 3,
                 {{"example.org", "s2026", "/etc/ehlo/dkim/s2026.pem"}, {"example.org", "e2026", "/etc/ehlo/dkim/e2026.pem"}},
                 "example.org"};
    c.domains = {
        LocalDomain{"example.org", false, {"alice", "bob.smith", "c_d-e"}, "/srv/mail/example.org", "alice"},
        LocalDomain{"example.net", true, {}, "./var/mail", "postmaster"},
    };
    return c;
}

TEST(ConfigLoad, EveryKeyRoundTrips) {
    auto r = load_string(kFull, "full.toml");
    ASSERT_TRUE(r.config) << r.error->str();
    ASSERT_FALSE(r.error);
    const Config expected = full_expected();
    EXPECT_EQ(r.config->server, expected.server);
    EXPECT_EQ(r.config->limits, expected.limits);
    EXPECT_EQ(r.config->spool, expected.spool);
    EXPECT_EQ(r.config->relay, expected.relay);
    EXPECT_EQ(r.config->smtp, expected.smtp);
    EXPECT_EQ(r.config->log, expected.log);
    EXPECT_EQ(r.config->delivery, expected.delivery);
    EXPECT_EQ(r.config->outbound, expected.outbound);
    EXPECT_EQ(r.config->dns, expected.dns);
    EXPECT_EQ(r.config->routes, expected.routes);
    EXPECT_EQ(r.config->control, expected.control);
    EXPECT_EQ(r.config->sendmail, expected.sendmail);
    EXPECT_EQ(r.config->history, expected.history);
    EXPECT_EQ(r.config->msgauth, expected.msgauth);
    EXPECT_EQ(r.config->domains, expected.domains);
    EXPECT_EQ(*r.config, expected);
}

TEST(ConfigLoad, FromFile) {
    const auto path = std::filesystem::temp_directory_path() / ("ehlo-config-test-" + std::to_string(::getpid()) + ".toml");
    {
        std::ofstream out(path);
        out << kFull;
    }
    auto r = load_file(path.string());
    std::filesystem::remove(path);
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_EQ(*r.config, full_expected());
}

TEST(ConfigLoad, OmittedKeysKeepTheirDefaults) {
    auto r = load_string("[limits]\nrecipients = 200\n");
    ASSERT_TRUE(r.config) << r.error->str();
    Config expected;
    expected.limits.recipients = 200;
    EXPECT_EQ(*r.config, expected);
}

TEST(ConfigLoad, DomainTablesReplaceTheDefaultDomain) {
    auto r = load_string("[[domain]]\nname = \"example.com\"\n");
    ASSERT_TRUE(r.config) << r.error->str();
    ASSERT_EQ(r.config->domains.size(), 1u);
    EXPECT_EQ(r.config->domains[0], (LocalDomain{"example.com", false, {}, "./var/mail", "postmaster"}));
}

TEST(ConfigLoad, EmptyDelimiterTurnsSubaddressingOff) {
    auto r = load_string("[smtp]\nrecipient_delimiter = \"\"\n");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_EQ(r.config->smtp.recipient_delimiter, "");
}

TEST(ConfigLoad, EmptyTrustedNetworksTrustsNoOne) {
    auto r = load_string("[relay]\ntrusted_networks = []\n");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_TRUE(r.config->relay.trusted_networks.empty());
}

TEST(ConfigLoad, InlineAndDottedTablesAreTheSameKeys) {
    auto r = load_string("server = { threads = 2 }\nlimits.errors = 5\n");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_EQ(r.config->server.threads, 2u);
    EXPECT_EQ(r.config->limits.errors, 5u);
}

TEST(ConfigLoad, BoundaryValuesAreAccepted) {
    auto r = load_string(R"([server]
listen = ["127.0.0.1:1", "127.0.0.1:65535"]
threads = 1024
[limits]
message_size = 1024
recipients = 100
command_timeout = 1
data_timeout = 86400
)");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_EQ(r.config->server.listen[1].port, 65535);
    EXPECT_EQ(r.config->limits.message_size, 1024u);
}

TEST(ConfigLoad, SmtpDsnCanBeTurnedOff_Rfc3461) {
    auto r = load_string("[smtp]\ndsn = false\n");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_FALSE(r.config->smtp.dsn);
}

TEST(ConfigLoad, TimeoutScaleTakesAnIntegerToo) {
    auto r = load_string("[outbound]\ntimeout_scale = 2\n");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_EQ(r.config->outbound.timeout_scale, 2.0);
}

TEST(ConfigLoad, FailureNoticeAddressAndEmptyMeansOnlyLog) {
    auto bare = load_string("[delivery]\nnull_sender_failures_to = \"ops\"\n[[domain]]\nname = \"Example.org\"\n");
    ASSERT_TRUE(bare.config) << bare.error->str();
    EXPECT_EQ(failure_notice_address(*bare.config), "ops@example.org");
    EXPECT_EQ(failure_notice_address(Config{}), "postmaster@localhost");
    auto none = load_string("[delivery]\nnull_sender_failures_to = \"\"\n");
    ASSERT_TRUE(none.config) << none.error->str();
    EXPECT_EQ(failure_notice_address(*none.config), "");
    // The domain may come after [delivery] in the file.
    auto later = load_string("[delivery]\nnull_sender_failures_to = \"ops@b.example\"\n"
                             "[[domain]]\nname = \"a.example\"\n[[domain]]\nname = \"b.example\"\n");
    ASSERT_TRUE(later.config) << later.error->str();
    EXPECT_EQ(failure_notice_address(*later.config), "ops@b.example");
}

TEST(ConfigLoad, ControlSocketDefaultsToTheSpool) {
    Config c;
    c.spool.path = "/var/spool/ehlo";
    EXPECT_EQ(control_socket_path(c), "/var/spool/ehlo/control.sock");
    c.control.socket = "/run/ehlo.sock";
    EXPECT_EQ(control_socket_path(c), "/run/ehlo.sock");
}

TEST(ConfigLoad, MaildropAndPickupSocketDefaultBesideTheSpool) {
    Config c;
    c.spool.path = "./var/spool";
    EXPECT_EQ(maildrop_path(c), "var/maildrop");
    EXPECT_EQ(pickup_socket_path(c), "var/public/pickup.sock");
    c.spool.path = "/var/spool/ehlo/";
    EXPECT_EQ(maildrop_path(c), "/var/spool/maildrop");
    c.sendmail.maildrop = "/srv/drop";
    c.sendmail.socket = "/run/p.sock";
    EXPECT_EQ(maildrop_path(c), "/srv/drop");
    EXPECT_EQ(pickup_socket_path(c), "/run/p.sock");
}

TEST(ConfigLoad, HistoryDefaultsToTheSpool) {
    Config c;
    c.spool.path = "/var/spool/ehlo";
    EXPECT_EQ(history_path(c), "/var/spool/ehlo/history.db");
    c.history.path = "/var/lib/ehlo/h.db";
    EXPECT_EQ(history_path(c), "/var/lib/ehlo/h.db");
}

TEST(ConfigLoad, HistoryTranscriptModes) {
    for (auto [word, mode] : {std::pair{"off", HistoryTranscripts::Off}, std::pair{"errors", HistoryTranscripts::Errors},
                              std::pair{"all", HistoryTranscripts::All}}) {
        auto r = load_string(std::string("[history]\ntranscripts = \"") + word + "\"\n");
        ASSERT_TRUE(r.config) << r.error->str();
        EXPECT_EQ(r.config->history.transcripts, mode) << word;
    }
}

TEST(ConfigLoad, RetryBoundsMayBeEqual) {
    auto r = load_string("[delivery]\nretry_min = 600\nretry_max = 600\n");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_EQ(r.config->delivery.retry_max, 600u);
}

}  // namespace
}  // namespace ehlo::config
