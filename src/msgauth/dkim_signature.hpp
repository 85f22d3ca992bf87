// The DKIM-Signature header field (RFC 6376 3.5) read into values, and the data its signature
// covers (RFC 6376 3.7): the selected header fields, canonicalized, then the signature field
// itself with the b= value emptied. ARC (RFC 8617) signs its fields the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgauth/crypto.hpp"
#include "msgauth/dkim_canon.hpp"
#include "msgauth/message.hpp"

namespace ehlo::msgauth {

struct DkimSignature {
    std::string algorithm;  // "rsa-sha256", "ed25519-sha256" (or "rsa-sha1", refused later)
    KeyType key_type = KeyType::Rsa;
    HashAlg hash = HashAlg::Sha256;
    std::string b;         // the signature, decoded
    std::string b_text;    // as written, whitespace removed (header.b= of RFC 6008)
    std::string bh;        // the body hash, decoded
    Canon header_canon = Canon::Simple;
    Canon body_canon = Canon::Simple;
    std::string domain;    // d=, lower case
    std::string selector;  // s=
    std::vector<std::string> headers;  // h=, lower case, in order
    std::string identity;  // i=, default "@" + d
    std::optional<std::uint64_t> length;                     // l=
    std::optional<std::int64_t> timestamp, expiration;       // t=, x=
};

struct SignatureParse {
    std::optional<DkimSignature> signature;
    std::string error;  // why not, for the verdict's reason
};

// RFC 6376 3.5: v=1, a=, b=, bh=, d=, h= (with "from", 5.4), s= required; i= within d=; x>=t.
// rsa-sha1 parses (the verifier refuses it with its own reason, RFC 8301 3.1).
SignatureParse parse_dkim_signature(std::string_view field_value);

// The value text of tag `tag` (e.g. "b") removed from the raw field, all else byte for byte.
std::string without_tag_value(std::string_view raw_field, std::string_view tag);

// RFC 6376 5.4.2: the named fields from the bottom up, each occurrence used once; a name with
// no occurrence left contributes nothing. Then the signature field (raw, b= emptied)
// canonicalized without its final CRLF. `skip` is the signature field itself (not selected).
std::string signed_header_data(Canon canon, const std::vector<HeaderField>& fields, const std::vector<std::string>& names,
                               std::string_view signature_field_without_b, const HeaderField* skip = nullptr);

// "0123456789" -> with "\r\n\t" every `width` characters: how long base64 values are folded.
std::string fold_base64(std::string_view text, std::size_t first_width, std::size_t width = 72);

}  // namespace ehlo::msgauth
