// DKIM canonicalization (RFC 6376 3.4): the simple and relaxed forms of header fields and of
// the body, and a body hasher that takes the content in pieces of any size, so that the body
// hash is computed while the message streams to the spool, with no second read of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "msgauth/crypto.hpp"
#include "msgauth/message.hpp"

namespace ehlo::msgauth {

enum class Canon { Simple, Relaxed };
const char* canon_name(Canon c);

// RFC 6376 3.4.1 and 3.4.2, with the CRLF that ends the field.
std::string canonicalize_header(Canon canon, const HeaderField& field);
std::string canonicalize_header(Canon canon, std::string_view raw_field);

// RFC 6376 3.4.3 and 3.4.4 over pieces of CRLF content. Empty lines are held back until
// something follows them (trailing ones are dropped), as is whitespace in relaxed mode, and a
// CR that ends one piece until the next shows whether LF follows: memory stays constant.
class BodyCanonicalizer {
public:
    explicit BodyCanonicalizer(Canon canon) : canon_(canon) {}
    void feed(std::string_view in, std::string& out);
    void finish(std::string& out);

private:
    void content_byte(char c, std::string& out);
    Canon canon_;
    std::uint64_t held_crlfs_ = 0;
    bool held_cr_ = false;
    bool held_space_ = false;
    bool emitted_ = false;
};

// The bh= of RFC 6376 3.7 step 1: the hash of the canonical body, or of its first `limit`
// octets (l=; ehlo never signs with it, but verifies signatures that use it).
class BodyHasher {
public:
    BodyHasher(Canon canon, HashAlg hash, std::optional<std::uint64_t> limit = std::nullopt);
    void update(std::string_view content);
    std::string finish();                        // the raw digest; call once
    std::uint64_t canonical_length() const { return length_; }  // all of it, past any limit

private:
    void consume(std::string_view canonical);
    BodyCanonicalizer canon_;
    Hasher hasher_;
    std::optional<std::uint64_t> limit_;
    std::uint64_t length_ = 0;
    std::string buffer_;
};

}  // namespace ehlo::msgauth
