// The pieces of SASL that AUTH (RFC 4954) needs: strict base64 (RFC 4648 4, no line breaks, no
// whitespace: RFC 4954 4 sends it on one line) and the PLAIN message (RFC 4616 2). Written
// here because the engine depends on nothing, and each is a few lines.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ehlo::smtp {

std::string base64_encode(std::string_view bytes);
// Empty optional for anything but canonical base64 (padding required, no stray characters).
std::optional<std::string> base64_decode(std::string_view text);

// message = [authzid] UTF8NUL authcid UTF8NUL passwd, each 1*SAFE (no NUL); authzid may be empty.
struct PlainCredentials {
    std::string authzid;
    std::string authcid;
    std::string password;
};
std::optional<PlainCredentials> parse_plain(std::string_view message);

// Overwrites a secret before its memory is given back (not optimised away).
void wipe(std::string& secret);

}  // namespace ehlo::smtp
