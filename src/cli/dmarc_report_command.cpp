// ehlo dmarc report --domain D [--day YYYY-MM-DD]: the RFC 7489 aggregate report (appendix C
// XML) of one UTC day for one policy domain, from the rows reception recorded in the history.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/command_config.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "msgauth/dmarc.hpp"
#include "msgauth/dmarc_report.hpp"
#include "msgauth/message.hpp"
#include "observe/history_query.hpp"
#include "observe/terminal_safe.hpp"

namespace ehlo::cli {

namespace {

constexpr std::int64_t kDay = 86400;

// "YYYY-MM-DD" -> seconds since the epoch of that day's 00:00 UTC.
std::optional<std::int64_t> day_start(const std::string& text) {
    unsigned y = 0, m = 0, d = 0;
    char tail = 0;
    if (std::sscanf(text.c_str(), "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3) return std::nullopt;
    const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(y)), std::chrono::month(m), std::chrono::day(d)};
    if (!date.ok()) return std::nullopt;
    return std::chrono::sys_days(date).time_since_epoch().count() * kDay;
}

}  // namespace

int dmarc_report_command(const DmarcCommand& command) {
    auto loaded_config = command_config(command.config_file);
    if (!loaded_config) return 1;
    config::Config cfg = std::move(*loaded_config);
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
    std::int64_t begin = (now / kDay - 1) * kDay;  // yesterday
    if (!command.day.empty()) {
        const auto start = day_start(command.day);
        if (!start) {
            std::cerr << "ehlo: --day " << observe::terminal_safe(command.day) << ": not a date (YYYY-MM-DD)\n";
            return 2;
        }
        begin = *start;
    }
    const std::string domain = msgauth::normal_dns_name(command.domain);
    const std::string path = config::history_path(cfg).string();
    if (!std::filesystem::exists(path)) {
        std::cerr << "ehlo: no history at " << observe::terminal_safe(path) << "\n";
        return 1;
    }
    observe::HistoryReader reader;
    if (auto why = reader.open(path); !why.empty()) {
        std::cerr << "ehlo: cannot read the history at " << observe::terminal_safe(path) << ": " << observe::terminal_safe(why) << "\n";
        return 1;
    }
    std::vector<msgauth::DmarcReportRow> rows;
    std::string record;
    try {
        for (const std::string& text : reader.dmarc_rows(begin * 1'000'000, (begin + kDay) * 1'000'000)) {
            auto stored = msgauth::decode_report_row(text);
            if (!stored || stored->policy_domain != domain) continue;
            record = stored->record;  // the latest as published
            rows.push_back(std::move(stored->row));
        }
    } catch (const observe::HistoryError& e) {
        std::cerr << "ehlo: " << observe::terminal_safe(e.what()) << "\n";
        return 1;
    }
    if (rows.empty()) {
        std::cerr << "ehlo: no message under the DMARC policy of " << observe::terminal_safe(domain) << " on that day\n";
        return 1;
    }
    std::string hostname = cfg.server.hostname;
    if (hostname.empty()) {
        char buf[256] = {};
        hostname = ::gethostname(buf, sizeof buf - 1) == 0 && buf[0] ? buf : "localhost";
    }
    msgauth::DmarcReportMetadata meta;
    meta.org_name = hostname;
    meta.email = "postmaster@" + hostname;
    meta.report_id = hostname + "!" + domain + "!" + std::to_string(begin);
    meta.begin = begin;
    meta.end = begin + kDay - 1;
    meta.domain = domain;
    if (auto parsed = msgauth::parse_dmarc_record(record); parsed.record) meta.policy = *parsed.record;
    std::cout << msgauth::dmarc_aggregate_xml(meta, rows);
    return 0;
}

}  // namespace ehlo::cli
