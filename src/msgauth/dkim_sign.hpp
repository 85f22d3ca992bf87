// DKIM signing (RFC 6376 5, RFC 8463): one DKIM-Signature per configured key (rsa-sha256 and
// ed25519-sha256 side by side, RFC 8463 5 recommends both), relaxed/relaxed by default, never
// l= (a length limit lets anyone append to a signed message). The body hash is computed from
// pieces as the content streams; signing needs the header fields only at the end.
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

struct DkimSigningKey {
    std::string domain;    // d=
    std::string selector;  // s=
    Key key;               // private: RSA (>= kMinSigningRsaBits) or Ed25519
};

// RFC 8301 3.2: signers MUST use at least 1024 bits and SHOULD use 2048.
constexpr unsigned kMinSigningRsaBits = 2048;

// The fields signed when present, once per occurrence; names in `oversigned` are listed once
// more than they occur, so that no field of that name can be added after signing
// (RFC 6376 8.15). From is always signed (RFC 6376 5.4).
std::vector<std::string> default_signed_headers();

struct DkimSignOptions {
    Canon header_canon = Canon::Relaxed;
    Canon body_canon = Canon::Relaxed;
    std::vector<std::string> headers = default_signed_headers();
    std::vector<std::string> oversigned = {"from"};
    std::optional<std::int64_t> expire_after;  // seconds: x= = t= + this; none by default
};

class DkimSigner {
public:
    // Throws std::invalid_argument for a key that must not sign (RSA under 2048 bits).
    DkimSigner(std::vector<DkimSigningKey> keys, DkimSignOptions options = {});

    void body(std::string_view piece);
    // The DKIM-Signature fields (raw, folded, without the final CRLF), to be put above the
    // header section in this order. `now` is t=, seconds since the epoch. Call once.
    std::vector<std::string> finish(const std::vector<HeaderField>& fields, std::int64_t now);

    // The h= list for these fields: what finish() signs.
    std::vector<std::string> header_list(const std::vector<HeaderField>& fields) const;

private:
    std::vector<DkimSigningKey> keys_;
    DkimSignOptions options_;
    BodyHasher hasher_;
};

// The whole message at once (the operator command; tests): "DKIM-Signature: ..." CRLF lines
// followed by `message`.
std::string dkim_sign_message(std::string_view message, const std::vector<DkimSigningKey>& keys, std::int64_t now,
                              const DkimSignOptions& options = {});

}  // namespace ehlo::msgauth
