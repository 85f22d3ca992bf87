// The Prometheus registry: text format 0.0.4, escaping, histogram buckets, many threads, and
// the whole ehlo metric set checked by Prometheus' own promtool.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include "observe/ehlo_metrics.hpp"
#include "observe/history.hpp"
#include "observe/metrics.hpp"
#include "temp_dir.hpp"

namespace ehlo::observe {
namespace {

using metrics::Registry;

TEST(Metrics, CounterInTheTextFormatWithHelpAndType) {
    Registry r;
    auto& c = r.counter("ehlo_test_events_total", "Events seen.");
    c.inc();
    c.inc(41);
    EXPECT_EQ(r.expose(), "# HELP ehlo_test_events_total Events seen.\n# TYPE ehlo_test_events_total counter\n"
                          "ehlo_test_events_total 42\n");
}

TEST(Metrics, LabelledSeriesSortedByTheirValues) {
    Registry r;
    auto& f = r.counter_family("ehlo_test_total", "By kind.", {"kind", "side"});
    f.with({"b", "in"}).inc(2);
    f.with({"a", "out"}).inc();
    EXPECT_EQ(&f.with({"b", "in"}), &f.with({"b", "in"}));  // one series per value set
    EXPECT_EQ(r.expose(), "# HELP ehlo_test_total By kind.\n# TYPE ehlo_test_total counter\n"
                          "ehlo_test_total{kind=\"a\",side=\"out\"} 1\nehlo_test_total{kind=\"b\",side=\"in\"} 2\n");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
    Registry r;
    auto& f = r.gauge_family("ehlo_test_gauge", "Help with \\ and\nnewline.", {"v"});
    f.with({"quote\" backslash\\ newline\n end"}).set(1.5);
    EXPECT_EQ(r.expose(), "# HELP ehlo_test_gauge Help with \\\\ and\\nnewline.\n# TYPE ehlo_test_gauge gauge\n"
                          "ehlo_test_gauge{v=\"quote\\\" backslash\\\\ newline\\n end\"} 1.5\n");
    EXPECT_EQ(metrics::escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(Metrics, ValuesAsTheFormatWritesThem) {
    EXPECT_EQ(metrics::format_value(3), "3");
    EXPECT_EQ(metrics::format_value(0.25), "0.25");
    EXPECT_EQ(metrics::format_value(-2), "-2");
    EXPECT_EQ(metrics::format_value(1.0 / 0.0), "+Inf");
    EXPECT_EQ(metrics::format_value(-1.0 / 0.0), "-Inf");
    EXPECT_EQ(metrics::format_value(std::nan("")), "NaN");
}

TEST(Metrics, GaugeGoesUpAndDown) {
    Registry r;
    auto& g = r.gauge("ehlo_test_open", "Open now.");
    g.inc();
    g.inc();
    g.dec();
    EXPECT_EQ(g.value(), 1);
    g.set(7);
    EXPECT_NE(r.expose().find("\nehlo_test_open 7\n"), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
    Registry r;
    auto& h = r.histogram("ehlo_test_duration_seconds", "How long.", {0.1, 1, 10});
    for (double v : {0.05, 0.1, 0.5, 2.0, 20.0}) h.observe(v);
    EXPECT_EQ(r.expose(),
              "# HELP ehlo_test_duration_seconds How long.\n# TYPE ehlo_test_duration_seconds histogram\n"
              "ehlo_test_duration_seconds_bucket{le=\"0.1\"} 2\n"  // "le": at or below the bound
              "ehlo_test_duration_seconds_bucket{le=\"1\"} 3\n"
              "ehlo_test_duration_seconds_bucket{le=\"10\"} 4\n"
              "ehlo_test_duration_seconds_bucket{le=\"+Inf\"} 5\n"
              "ehlo_test_duration_seconds_sum 22.65\n"
              "ehlo_test_duration_seconds_count 5\n");
}

TEST(Metrics, LabelledHistogramPutsLeLast) {
    Registry r;
    auto& f = r.histogram_family("ehlo_test_seconds", "H.", {"transport"}, {1});
    f.with({"smtp"}).observe(0.5);
    const std::string text = r.expose();
    EXPECT_NE(text.find("ehlo_test_seconds_bucket{transport=\"smtp\",le=\"1\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("ehlo_test_seconds_count{transport=\"smtp\"} 1\n"), std::string::npos);
}

TEST(Metrics, AFamilyNobodyUsedIsLeftOut) {
    Registry r;
    r.counter_family("ehlo_unused_total", "Unused.", {"x"});
    EXPECT_EQ(r.expose(), "");
}

TEST(Metrics, BadNamesAndRepeatsAreProgrammingErrors) {
    Registry r;
    EXPECT_THROW(r.counter("9starts_with_digit", "x"), std::invalid_argument);
    EXPECT_THROW(r.counter("has-dash_total", "x"), std::invalid_argument);
    EXPECT_THROW(r.counter_family("ehlo_a_total", "x", {"__reserved"}), std::invalid_argument);
    EXPECT_THROW(r.histogram_family("ehlo_h_seconds", "x", {"le"}, {1}), std::invalid_argument);
    EXPECT_THROW(r.histogram("ehlo_h2_seconds", "x", {2, 1}), std::invalid_argument);
    r.counter("ehlo_once_total", "x");
    EXPECT_THROW(r.counter("ehlo_once_total", "x"), std::invalid_argument);
    r.histogram("ehlo_lat_seconds", "x", {1});
    EXPECT_THROW(r.counter("ehlo_lat_seconds_count", "x"), std::invalid_argument);
}

TEST(Metrics, UpdatesFromManyThreadsAllCount) {
    Registry r;
    auto& c = r.counter("ehlo_test_total", "x");
    auto& h = r.histogram("ehlo_test_seconds", "x", {0.5});
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 100000; ++i) {
                c.inc();
                h.observe(i % 2 ? 0.25 : 1.0);
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(c.value(), 800000u);
    const auto snap = h.snapshot();
    EXPECT_EQ(snap.cumulative[0], 400000u);
    EXPECT_EQ(snap.cumulative[1], 800000u);
    EXPECT_DOUBLE_EQ(snap.sum, 400000 * 0.25 + 400000 * 1.0);
}

TEST(EhloMetrics, VerbsAndReplyClassesMapOntoAFixedSet) {
    Registry r;
    EhloMetrics m(r);
    m.command("ehlo");
    m.command("EHLO");
    m.command("X-EVIL\"{}");  // never a label value as it came
    m.reply(250);
    m.reply(554);
    m.reply(999);
    const std::string text = r.expose();
    EXPECT_NE(text.find("ehlo_smtp_commands_total{verb=\"EHLO\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("ehlo_smtp_commands_total{verb=\"other\"} 1\n"), std::string::npos);
    EXPECT_EQ(text.find("X-EVIL"), std::string::npos);
    EXPECT_NE(text.find("ehlo_smtp_replies_total{class=\"2xx\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("ehlo_smtp_replies_total{class=\"5xx\"} 1\n"), std::string::npos);
}

// RFC 3463 section 3: the subject and detail of the enhanced code say why.
TEST(EhloMetrics, RefusalReasonFromTheEnhancedCode_Rfc3463_3) {
    EXPECT_EQ(refusal_reason(554, "5.7.1"), RefusalReason::RelayDenied);
    EXPECT_EQ(refusal_reason(550, "5.1.1"), RefusalReason::UnknownRecipient);
    EXPECT_EQ(refusal_reason(552, "5.3.4"), RefusalReason::TooLarge);
    EXPECT_EQ(refusal_reason(452, "4.5.3"), RefusalReason::TooManyRecipients);
    EXPECT_EQ(refusal_reason(501, "5.5.4"), RefusalReason::Syntax);
    EXPECT_EQ(refusal_reason(554, "5.6.0"), RefusalReason::Content);
    EXPECT_EQ(refusal_reason(451, "4.3.0"), RefusalReason::Temporary);
    EXPECT_EQ(refusal_reason(550, ""), RefusalReason::Other);
}

// Every metric of the set, each with at least one sample, as a scrape would see it.
std::string full_exposition(Registry& r, EhloMetrics& m, History& history) {
    m.connections_accepted.inc();
    m.connections_refused.inc();
    m.open_connections.inc();
    m.command("MAIL");
    m.reply(250);
    m.messages_accepted.inc();
    m.message_refused(RefusalReason::RelayDenied);
    m.inbound_received_bytes.inc(1000);
    m.inbound_sent_bytes.inc(200);
    m.outbound_received_bytes.inc(150);
    m.outbound_sent_bytes.inc(900);
    m.accept_duration.observe(0.004);
    m.queue_duration.observe(12.5);
    m.delivery_attempt(Transport::Local, AttemptOutcome::Delivered, 0.002);
    m.delivery_attempt(Transport::Smtp, AttemptOutcome::Deferred, 2.1);
    m.queued_recipients(QueuedState::Deferred).set(3);
    m.watch(history);
    return r.expose();
}

TEST(EhloMetrics, TheWholeSetFollowsTheNamingConventions) {
    testing::TempDir dir;
    HistoryOptions o;
    o.path = dir.file("h.db");
    History history(o);
    Registry r;
    EhloMetrics m(r);
    const std::string text = full_exposition(r, m, history);
    for (const char* name :
         {"ehlo_smtp_connections_total", "ehlo_smtp_open_connections", "ehlo_smtp_commands_total",
          "ehlo_smtp_replies_total", "ehlo_messages_accepted_total", "ehlo_messages_refused_total",
          "ehlo_network_receive_bytes_total", "ehlo_network_transmit_bytes_total",
          "ehlo_smtp_accept_duration_seconds", "ehlo_queue_duration_seconds", "ehlo_delivery_attempts_total",
          "ehlo_delivery_attempt_duration_seconds", "ehlo_queue_recipients", "ehlo_history_events_total"}) {
        EXPECT_NE(text.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
        EXPECT_NE(text.find(std::string("# HELP ") + name + " "), std::string::npos) << name;
    }
    EXPECT_NE(text.find("ehlo_delivery_attempts_total{transport=\"smtp\",outcome=\"deferred\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("ehlo_history_events_total{result=\"written\"} 0\n"), std::string::npos);
}

// Prometheus' own linter on the whole exposition: any complaint fails the test.
TEST(EhloMetrics, PromtoolCheckMetricsFindsNothing) {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
    testing::TempDir dir;
    HistoryOptions o;
    o.path = dir.file("h.db");
    History history(o);
    Registry r;
    EhloMetrics m(r);
    const std::string text = full_exposition(r, m, history);
    const std::string in = dir.file("metrics.txt"), out = dir.file("promtool.out");
    std::ofstream(in) << text;
    const int rc = std::system(("promtool check metrics < " + in + " > " + out + " 2>&1").c_str());
    std::ifstream said(out);
    const std::string complaints((std::istreambuf_iterator<char>(said)), std::istreambuf_iterator<char>());
    EXPECT_EQ(rc, 0) << complaints;
    EXPECT_EQ(complaints, "") << text;
}

}  // namespace
}  // namespace ehlo::observe
