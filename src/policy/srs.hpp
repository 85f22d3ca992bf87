// The Sender Rewriting Scheme: mail forwarded to another domain keeps passing SPF (RFC 7208)
// because its envelope sender becomes an address of ours, and a bounce to that address finds
// its way back to the original sender.
//
// The forms are those of libsrs2 and postsrsd (Shevek's "SRS" paper), so that a secret moved
// from postsrsd keeps its addresses valid:
//
//     SRS0=HHHH=TT=orig.example=alice@forwarder.example
//     SRS1=HHHH=first.example==HHHH=TT=orig.example=alice@forwarder.example
//
// HHHH is the first `hash_length` characters of base64(HMAC-SHA1(secret, data)), the data
// lower-cased (ASCII): for SRS0 the timestamp, the original domain and the original local part;
// for SRS1 the first forwarder's domain and the rest of its SRS0 local part after "SRS0". A
// hash is compared case-insensitively, since some servers fold local parts to lower case. TT
// is the day number modulo 1024 in two base32 characters; an address is valid for max_age
// days. Mail already in SRS0 form from another forwarder gets SRS1 (its bounces go back to
// that forwarder, which alone can check its hash); SRS1 mail gets a fresh SRS1 hash.
//
// Written here on OpenSSL's HMAC rather than linking libsrs2: Debian 12 has no libsrs2
// package, and the scheme is a page of code.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/address.hpp"

namespace ehlo::policy {

// libsrs2's defaults, also postsrsd's.
inline constexpr std::size_t kSrsDefaultHashLength = 4;
inline constexpr unsigned kSrsDefaultMaxAgeDays = 21;
// A hash shorter than this in an address is refused whatever hash_length is (libsrs2's
// hashmin): four base64 characters are 24 bits, the least the scheme uses.
inline constexpr std::size_t kSrsMinHashLength = 4;
// The timestamp counts days modulo 2^10 (two base32 characters).
inline constexpr unsigned kSrsTimeSlots = 1024;

struct SrsOptions {
    std::string domain;                // the forwarder's domain: ours, where bounces come back
    std::vector<std::string> secrets;  // the first signs; all are accepted (to rotate a secret)
    std::size_t hash_length = kSrsDefaultHashLength;
    unsigned max_age_days = kSrsDefaultMaxAgeDays;
};

class Srs {
public:
    // Throws std::invalid_argument without a secret or domain.
    explicit Srs(SrsOptions options);

    const std::string& domain() const { return options_.domain; }

    // The envelope sender of mail forwarded to another domain, at `now` (unix seconds).
    // Nothing when it cannot be rewritten: no domain, a quoted local part, or a result longer
    // than RFC 5321 4.5.3.1.1's 64 octets (the bounce could not come back: ehlo's own parser
    // refuses such a local part, as many servers do).
    std::optional<smtp::Mailbox> forward(const smtp::Mailbox& sender, std::int64_t now) const;

    enum class Error {
        None,
        NotSrs,     // the local part is not SRS0/SRS1 at all
        Malformed,  // SRS-shaped but missing a part, or decoding to no valid address
        BadHash,    // not made with our secret: forged
        Expired,    // older than max_age days (or from the future)
    };
    struct Reversed {
        std::optional<smtp::Mailbox> address;  // where a bounce goes back to
        Error error = Error::None;
    };
    // An SRS address of ours (its domain is not looked at) back to the address it stands for:
    // SRS0 to the original sender, SRS1 to the first forwarder's SRS0 address.
    Reversed reverse(const smtp::Mailbox& address, std::int64_t now) const;

    // The local part starts with "SRS0" or "SRS1" and a separator ('=', '+' or '-').
    static bool is_srs(std::string_view local_part);

    // base64(HMAC-SHA1(secret, lower-cased concatenation of parts)), first `length` characters.
    static std::string hash(std::string_view secret, std::initializer_list<std::string_view> parts, std::size_t length);
    // The two-character timestamp of the day `now` (unix seconds) falls in.
    static std::string timestamp(std::int64_t now);

private:
    bool hash_ok(std::string_view given, std::initializer_list<std::string_view> parts) const;
    bool timestamp_ok(std::string_view stamp, std::int64_t now) const;

    SrsOptions options_;
};

// The secrets file: one secret a line (blank lines and '#' comments skipped), the first used to
// sign. Created with a fresh random secret, mode 0600, when it does not exist and `create`
// (otherwise: nothing). Throws std::runtime_error naming the file when it cannot be read or
// created, holds no secret, or can be read by every user (mode o+r).
std::vector<std::string> load_srs_secrets(const std::filesystem::path& file, bool create = true);

}  // namespace ehlo::policy
