#include "smtp/received.hpp"

#include <cstdio>
#include <string>
#include <string_view>

#include "smtp/address.hpp"

namespace ehlo::smtp {

namespace {

// Header fields are built from what a peer said (HELO) and from addresses: a CR or LF that got
// this far would end the trace header and start a forged one, so every control becomes '?'.
std::string clean(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) c = '?';
    }
    return out;
}

// TCP-info of RFC 5321 4.4 is an address literal: "[192.0.2.1]" or "[IPv6:2001:db8::1]".
std::string address_literal(std::string_view address) {
    if (address.find(':') != std::string_view::npos) return "[IPv6:" + clean(address) + "]";
    return "[" + clean(address) + "]";
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

struct CivilDate {
    std::int64_t year;
    unsigned month;  // 1..12
    unsigned day;    // 1..31
};

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
CivilDate civil_from_days(std::int64_t z) {
    z += 719468;
    const std::int64_t era = floor_div(z, 146097);
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned day = doy - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
    return {year, month, day};
}

}  // namespace

bool is_client_host_name(std::string_view name) {
    constexpr std::size_t kMaxName = 253;  // 255 octets on the wire (RFC 1035 2.3.4)
    if (name.empty() || name.size() > kMaxName || !is_valid_domain(name, false)) return false;
    const std::string_view last = name.substr(name.rfind('.') + 1);
    return last.find_first_not_of("0123456789") != std::string_view::npos;
}

std::string received_header(const ReceivedFields& f) {
    const std::string helo = f.helo.empty() ? address_literal(f.client_address) : clean(f.helo);
    std::string tcp_info = address_literal(f.client_address);
    if (is_client_host_name(f.client_name)) tcp_info = f.client_name + " " + tcp_info;
    std::string h = "Received: from " + helo + " (" + tcp_info + ")\r\n";
    if (!f.tls.empty()) h += "\t(using " + clean(f.tls) + ")\r\n";
    h += "\tby " + clean(f.by_host) + " (ehlo) with " + clean(f.protocol) + " id " + clean(f.queue_id);
    if (f.for_recipient) h += "\r\n\tfor <" + clean(*f.for_recipient) + ">";
    h += "; " + clean(f.date) + "\r\n";
    return h;
}

std::string local_received_header(std::string_view by_host, unsigned uid, std::string_view queue_id,
                                  std::string_view date) {
    return "Received: by " + clean(by_host) + " (ehlo, from userid " + std::to_string(uid) + ")\r\n\tid " +
           clean(queue_id) + "; " + clean(date) + "\r\n";
}

std::string rfc5322_date(std::int64_t unix_seconds, int utc_offset_minutes) {
    static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::int64_t local = unix_seconds + static_cast<std::int64_t>(utc_offset_minutes) * 60;
    const std::int64_t days = floor_div(local, 86400);
    const std::int64_t secs = local - days * 86400;
    const CivilDate d = civil_from_days(days);
    const auto weekday = static_cast<std::size_t>(days - floor_div(days, 7) * 7);  // 0 = Thursday
    const int offset = utc_offset_minutes < 0 ? -utc_offset_minutes : utc_offset_minutes;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02d:%02d:%02d %c%02d%02d", kDays[weekday], d.day,
                  kMonths[d.month - 1], static_cast<long long>(d.year), static_cast<int>(secs / 3600),
                  static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60), utc_offset_minutes < 0 ? '-' : '+',
                  offset / 60, offset % 60);
    return buf;
}

}  // namespace ehlo::smtp
