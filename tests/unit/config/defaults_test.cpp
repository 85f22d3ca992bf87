// The embedded defaults: what `ehlo serve` runs with when given no file.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace ehlo::config {
namespace {

TEST(ConfigDefaults, ServerListensOnLoopbackOnly) {
    const Config c;
    EXPECT_EQ(c.server.hostname, "");
    ASSERT_EQ(c.server.listen.size(), 1u);
    EXPECT_EQ(c.server.listen[0], (ListenAddress{"127.0.0.1", 2525}));
    EXPECT_EQ(c.server.threads, 0u);
}

TEST(ConfigDefaults, Limits) {
    const Config c;
    EXPECT_EQ(c.limits.message_size, 25u * 1024 * 1024);
    EXPECT_EQ(c.limits.connections, 10000u);
    EXPECT_EQ(c.limits.connections_per_client, 50u);
    EXPECT_EQ(c.limits.connection_rate, 120u);
    EXPECT_EQ(c.limits.message_rate, 300u);
    EXPECT_EQ(c.limits.recipient_rate, 1200u);
    EXPECT_EQ(c.limits.greeting_delay, 1.0);
    EXPECT_EQ(c.limits.errors, 10u);
    EXPECT_EQ(c.limits.junk_commands, 100u);
    EXPECT_EQ(c.limits.data_timeout, 600u);
    EXPECT_EQ(c.limits.data_total_timeout, 3600u);
    EXPECT_EQ(c.limits.min_data_rate, 500u);
    EXPECT_EQ(c.server.user, "ehlo");
    EXPECT_EQ(c.server.group, "");
    EXPECT_EQ(c.control.group, "");
    EXPECT_TRUE(c.sendmail.enabled);
    EXPECT_EQ(c.sendmail.maildrop, "");
    EXPECT_EQ(c.sendmail.socket, "");
    EXPECT_TRUE(c.msgauth.verify);
    EXPECT_EQ(c.msgauth.authserv_id, "");
    EXPECT_EQ(c.msgauth.dmarc_reject, DmarcAction::Reject);
    EXPECT_EQ(c.msgauth.dmarc_quarantine, DmarcAction::Quarantine);
    EXPECT_FALSE(c.msgauth.spf_reject);
    EXPECT_FALSE(c.msgauth.dns_defer);
    EXPECT_EQ(c.msgauth.max_signatures, 5u);
    EXPECT_TRUE(c.console.enabled);
    EXPECT_FALSE(c.console.tls);
    EXPECT_EQ(c.console.token_file, "");
    EXPECT_EQ(c.console.listen, (ListenAddress{"127.0.0.1", 8025}));
}

TEST(ConfigDefaults, RecipientsAtLeast100_Rfc5321_4_5_3_1_8) {
    EXPECT_GE(Config{}.limits.recipients, 100u);
}

TEST(ConfigDefaults, CommandTimeoutAtLeastFiveMinutes_Rfc5321_4_5_3_2_7) {
    EXPECT_GE(Config{}.limits.command_timeout, 300u);
}

TEST(ConfigDefaults, SpoolRelaySmtpLog) {
    const Config c;
    EXPECT_EQ(c.spool.path, "./var/spool");
    EXPECT_EQ(c.spool.sync, SyncMode::Syncfs);
    EXPECT_EQ(c.spool.min_free, 64u << 20);  // 452 4.3.1 below it (RFC 5321 4.5.3.1.10)
    EXPECT_EQ(c.relay.trusted_networks, (std::vector<std::string>{"127.0.0.1/32", "::1/128"}));
    EXPECT_EQ(c.log.level, "info");
    EXPECT_EQ(c.log.file, "");
    EXPECT_FALSE(c.log.dialog);
    EXPECT_EQ(c.smtp.recipient_delimiter, "+");
}

TEST(ConfigDefaults, VrfyOffAnswers252_Rfc5321_3_5_3) {
    EXPECT_FALSE(Config{}.smtp.vrfy);
}

TEST(ConfigDefaults, LocalhostIsACatchAllDomainWithPostmaster_Rfc5321_4_5_1) {
    const Config c;
    ASSERT_EQ(c.domains.size(), 1u);
    EXPECT_EQ(c.domains[0].name, "localhost");
    EXPECT_TRUE(c.domains[0].catch_all);
    EXPECT_TRUE(c.domains[0].mailboxes.empty());
    EXPECT_EQ(c.domains[0].maildir_root, "./var/mail");
    EXPECT_EQ(c.domains[0].postmaster, "postmaster");
}

TEST(ConfigDefaults, EmptyFileGivesTheDefaults) {
    auto r = load_string("");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_EQ(*r.config, Config{});
}

TEST(ConfigDefaults, EmptyTablesGiveTheDefaults) {
    auto r = load_string("[server]\n[limits]\n[spool]\n[relay]\n[smtp]\n[log]\n");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_EQ(*r.config, Config{});
}

TEST(ConfigDefaults, DeliveryRetriesForFiveDays_Rfc5321_4_5_4_1) {
    const Config c;
    EXPECT_EQ(c.delivery.retry_min, 60u);
    EXPECT_EQ(c.delivery.retry_max, 3600u);
    EXPECT_EQ(c.delivery.lifetime, 432000u) << "RFC 5321 4.5.4.1: at least 4-5 days";
    EXPECT_EQ(c.delivery.delay_warning, 0u);
    EXPECT_EQ(c.delivery.max_received, 100u);  // RFC 5321 6.3: "normally at least 100"
    EXPECT_EQ(c.delivery.null_sender_failures_to, "postmaster");
}

TEST(ConfigDefaults, OutboundDnsRoutesControl) {
    const Config c;
    EXPECT_EQ(c.outbound.helo_name, "");
    EXPECT_EQ(c.outbound.connections, 100u);
    EXPECT_EQ(c.outbound.connections_per_destination, 10u);
    EXPECT_EQ(c.outbound.messages_per_connection, 100u);
    EXPECT_EQ(c.outbound.connect_timeout, 30u);
    EXPECT_EQ(c.outbound.timeout_scale, 1.0);
    EXPECT_TRUE(c.dns.forwarders.empty());
    EXPECT_EQ(c.dns.timeout, 10u);
    EXPECT_FALSE(c.dns.dnssec);
    EXPECT_TRUE(c.dns.client_names) << "as Postfix's smtpd_peername_lookup";
    EXPECT_FALSE(c.dns.forward_loopback_reverse) << "RFC 6303 4.2: the loopback reverse zone is served locally";
    EXPECT_TRUE(c.routes.empty());
    EXPECT_EQ(c.control.socket, "");
}

TEST(ConfigDefaults, HistoryIsOnBesideTheSpoolForAWeekWithTranscriptsOfErrors) {
    const Config c;
    EXPECT_TRUE(c.history.enabled);
    EXPECT_EQ(c.history.path, "");
    EXPECT_EQ(history_path(c), "./var/spool/history.db");
    EXPECT_EQ(c.history.retention, 7u);
    EXPECT_EQ(c.history.transcripts, HistoryTranscripts::Errors);
}

TEST(ConfigDefaults, DsnIsAdvertised_Rfc3461) {
    EXPECT_TRUE(Config{}.smtp.dsn);
}

TEST(ConfigDefaults, EmptyNewTablesGiveTheDefaults) {
    auto r = load_string("[delivery]\n[outbound]\n[dns]\n[control]\n[history]\n");
    ASSERT_TRUE(r.config) << r.error->str();
    EXPECT_EQ(*r.config, Config{});
}

}  // namespace
}  // namespace ehlo::config
