// The trace header a receiving SMTP server prepends to a message (RFC 5321 4.4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ehlo::smtp {

struct ReceivedFields {
    std::string helo;             // the EHLO/HELO argument
    std::string client_address;   // textual IP of the client ("192.0.2.1", "2001:db8::1")
    std::string client_name;      // its name confirmed by forward DNS; empty: none
    std::string by_host;          // our host name
    std::string protocol;         // RFC 3848 "with" keyword: ESMTP, ESMTPS, UTF8SMTP, ...
    std::string tls;              // "TLSv1.3 with cipher ... (256/256 bits)"; empty = plaintext
    std::string queue_id;
    std::optional<std::string> for_recipient;  // only when it names the message's one recipient
    std::string date;             // RFC 5322 date-time, from the caller (see rfc5322_date)
};

// "Received: from HELO (NAME [ADDR])\r\n\t(using TLS)\r\n\tby HOST (ehlo) with PROTO id ID\r\n\tfor <RCPT>;
// DATE\r\n", the "(using ...)" line only under TLS, as Postfix writes it:
// folded lines ending in CRLF. ADDR is an address literal ("[IPv6:...]" for IPv6, RFC 5321
// 4.1.3); NAME only when there is one and is_client_host_name() takes it, else "([ADDR])".
// Without a recipient the date follows the id line. Control characters in any field
// become '?', so no field can end the header or add one.
std::string received_header(const ReceivedFields& fields);

// A name that may stand before the address in TCP-info (RFC 5321 4.4: Domain FWS
// address-literal): an ASCII Domain (RFC 5321 4.1.2; an IDN as its A-labels) of at most 253
// octets, without a trailing dot, whose last label is not all digits (a PTR of "192.0.2.1" is
// an address dressed as a name, which a reader would take for the client's).
bool is_client_host_name(std::string_view name);

// The trace header of a message submitted on this host (sendmail, the maildrop): "Received: by
// HOST (ehlo, from userid UID)\r\n\tid ID; DATE\r\n", as Postfix's pickup writes it, the user
// being the owner of the maildrop file, which its writer cannot forge.
std::string local_received_header(std::string_view by_host, unsigned uid, std::string_view queue_id,
                                  std::string_view date);

// An RFC 5322 3.3 date-time, e.g. "Thu, 01 Jan 1970 00:00:00 +0000", for the instant
// `unix_seconds` shown in the zone `utc_offset_minutes` east of UTC.
std::string rfc5322_date(std::int64_t unix_seconds, int utc_offset_minutes);

}  // namespace ehlo::smtp
