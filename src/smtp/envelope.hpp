// The envelope of one mail transaction: what MAIL and RCPT said (RFC 5321 3.3).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "smtp/address.hpp"

namespace ehlo::smtp {

enum class BodyType { SevenBit, EightBitMime, BinaryMime };  // RFC 6152, RFC 3030

// DSN (RFC 3461) parameters; parsed and kept now, honoured by delivery.
enum class DsnRet { Unspecified, Full, Headers };
namespace notify {
inline constexpr unsigned Never = 1, Success = 2, Failure = 4, Delay = 8;
}

struct Recipient {
    Mailbox address;
    std::string orcpt;    // ORCPT=, as received (xtext decoded), empty if none
    unsigned notify = 0;  // notify:: bits, 0 = not given
    // Not from the client: an alias of ours sent this recipient's mail to another domain, so
    // onward delivery gives it the SRS form of the sender (SPF at the next hop checks us).
    bool forwarded = false;
};

struct Envelope {
    std::optional<Mailbox> sender;  // empty = null reverse-path "<>"
    std::vector<Recipient> recipients;
    BodyType body = BodyType::SevenBit;
    bool smtputf8 = false;
    std::optional<std::uint64_t> declared_size;  // SIZE=
    std::string envid;                           // ENVID=
    DsnRet ret = DsnRet::Unspecified;

    std::string sender_str() const { return sender ? sender->str() : std::string{}; }
};

}  // namespace ehlo::smtp
