// DKIM key records (RFC 6376 3.6.1, RFC 8463 4): the TXT record at
// SELECTOR._domainkey.DOMAIN, read strictly, and written for `ehlo dkim keygen`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgauth/crypto.hpp"

namespace ehlo::msgauth {

struct DkimKeyRecord {
    KeyType type = KeyType::Rsa;      // k=, default rsa
    std::vector<std::string> hashes;  // h=, empty: any
    std::string public_data;          // p=, decoded; empty: the key is revoked (RFC 6376 3.6.1)
    bool testing = false;             // t=y
    bool strict_identity = false;     // t=s: i= must be d= exactly, no subdomain
};

struct KeyRecordParse {
    std::optional<DkimKeyRecord> record;
    std::string error;
};

// v= (if present) must be "DKIM1" and first; k= rsa or ed25519; s= must allow email; p=
// required and base64. Unknown tags and flags are ignored, as the RFC requires.
KeyRecordParse parse_dkim_key_record(std::string_view txt);

// "v=DKIM1; k=rsa; p=MIIB..." for a key (its public half).
std::string dkim_key_record_text(const Key& key);

// The DNS name of a key: "sel._domainkey.example.org".
std::string dkim_key_name(std::string_view selector, std::string_view domain);

}  // namespace ehlo::msgauth
