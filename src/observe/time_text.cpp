#include "observe/time_text.hpp"

#include <cstdio>
#include <ctime>

namespace ehlo::observe {
namespace {

constexpr std::int64_t kSecondUs = 1'000'000;

struct Split {
    std::tm tm{};
    long offset = 0;  // seconds east of UTC
    int ms = 0;
};

Split local(std::int64_t unix_us) {
    // Floor division, so that a time before 1970 still has a millisecond part in 0..999.
    std::int64_t seconds = unix_us / kSecondUs;
    std::int64_t rest = unix_us % kSecondUs;
    if (rest < 0) {
        rest += kSecondUs;
        --seconds;
    }
    Split s;
    const auto t = static_cast<std::time_t>(seconds);
    localtime_r(&t, &s.tm);
    s.offset = s.tm.tm_gmtoff;
    s.ms = static_cast<int>(rest / 1000);
    return s;
}

std::string offset_text(long offset, bool colon) {
    const char sign = offset < 0 ? '-' : '+';
    const long a = offset < 0 ? -offset : offset;
    char buf[48];
    std::snprintf(buf, sizeof buf, colon ? "%c%02ld:%02ld" : "%c%02ld%02ld", sign, a / 3600, (a / 60) % 60);
    return buf;
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
    if (at + n > s.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

}  // namespace

std::string local_timestamp(std::int64_t unix_us) {
    const Split s = local(unix_us);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d ", s.tm.tm_year + 1900, s.tm.tm_mon + 1,
                  s.tm.tm_mday, s.tm.tm_hour, s.tm.tm_min, s.tm.tm_sec, s.ms);
    return buf + offset_text(s.offset, false);
}

std::string local_rfc3339(std::int64_t unix_us) {
    const Split s = local(unix_us);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d", s.tm.tm_year + 1900, s.tm.tm_mon + 1,
                  s.tm.tm_mday, s.tm.tm_hour, s.tm.tm_min, s.tm.tm_sec, s.ms);
    return buf + offset_text(s.offset, true);
}

std::string local_clock(std::int64_t unix_us, std::int64_t now_us) {
    const Split s = local(unix_us);
    const Split now = local(now_us);
    char buf[64];
    if (s.tm.tm_year == now.tm.tm_year && s.tm.tm_yday == now.tm.tm_yday) {
        std::snprintf(buf, sizeof buf, "%02d:%02d", s.tm.tm_hour, s.tm.tm_min);
    } else {
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", s.tm.tm_year + 1900, s.tm.tm_mon + 1, s.tm.tm_mday,
                      s.tm.tm_hour, s.tm.tm_min);
    }
    return buf;
}

std::string duration_text(std::int64_t us) {
    char buf[64];
    if (us < 0) us = 0;
    if (us < kSecondUs) {
        std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(us / 1000));
    } else if (us < 60 * kSecondUs) {
        std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(us) / kSecondUs);
    } else {
        const long long s = us / kSecondUs;
        std::snprintf(buf, sizeof buf, "%lld min %lld s", s / 60, s % 60);
    }
    return buf;
}

std::optional<std::int64_t> parse_since(std::string_view text, std::int64_t now_us) {
    if (text.empty()) return std::nullopt;
    // A span: digits and one unit.
    const char unit = text.back();
    const std::string_view number = text.substr(0, text.size() - 1);
    std::int64_t per = 0;
    switch (unit) {
        case 's': per = 1; break;
        case 'm': per = 60; break;
        case 'h': per = 3600; break;
        case 'd': per = 86400; break;
        case 'w': per = 7 * 86400; break;
        default: break;
    }
    if (per && !number.empty() && number.size() <= 6 && number.find_first_not_of("0123456789") == std::string_view::npos) {
        std::int64_t n = 0;
        for (char c : number) n = n * 10 + (c - '0');
        return now_us - n * per * kSecondUs;
    }
    // A date, and perhaps a time: YYYY-MM-DD[( |T)HH:MM[:SS]][Z]
    bool utc = false;
    if (text.back() == 'Z') {
        utc = true;
        text.remove_suffix(1);
    }
    std::tm tm{};
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' || !digits(text, 5, 2, month) ||
        text[7] != '-' || !digits(text, 8, 2, day))
        return std::nullopt;
    if (text.size() > 10) {
        if ((text[10] != ' ' && text[10] != 'T') || !digits(text, 11, 2, hour) || text.size() < 16 ||
            text[13] != ':' || !digits(text, 14, 2, minute))
            return std::nullopt;
        if (text.size() > 16 && (text.size() != 19 || text[16] != ':' || !digits(text, 17, 2, second)))
            return std::nullopt;
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    tm.tm_isdst = -1;
    const std::time_t t = utc ? timegm(&tm) : std::mktime(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    return static_cast<std::int64_t>(t) * kSecondUs;
}

}  // namespace ehlo::observe
