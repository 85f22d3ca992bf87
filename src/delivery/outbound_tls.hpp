// TLS on onward delivery (RFC 3207 from the client's side): the policy a destination is sent
// under, and what a handshake agreed on. Plain values only: the configuration, the policy
// module and the SMTP client engine share them without OpenSSL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ehlo::delivery {

// What a connection to a destination requires (Postfix's smtp_tls_security_level names):
//   None     never STARTTLS, even when offered;
//   May      STARTTLS when offered, else plaintext; the certificate is checked and recorded,
//            never required; a failed handshake is tried again in plaintext (opportunistic);
//   Encrypt  STARTTLS or no delivery: a peer that does not offer it, refuses it or fails the
//            handshake is not sent the message, which is deferred;
//   Verify   Encrypt, and the certificate chains to a trusted CA and names the host connected
//            to (RFC 6125 6.4: a DNS name of the certificate, wildcards one label wide).
enum class TlsPolicy { None, May, Encrypt, Verify };

// "none", "may", "encrypt", "verify".
inline const char* tls_policy_name(TlsPolicy p) {
    switch (p) {
    case TlsPolicy::None: return "none";
    case TlsPolicy::May: return "may";
    case TlsPolicy::Encrypt: return "encrypt";
    case TlsPolicy::Verify: return "verify";
    }
    return "may";
}

inline std::optional<TlsPolicy> parse_tls_policy(std::string_view s) {
    for (TlsPolicy p : {TlsPolicy::None, TlsPolicy::May, TlsPolicy::Encrypt, TlsPolicy::Verify})
        if (s == tls_policy_name(p)) return p;
    return std::nullopt;
}

// The policy requires TLS: no plaintext delivery at all.
inline bool tls_required(TlsPolicy p) { return p == TlsPolicy::Encrypt || p == TlsPolicy::Verify; }

// A finished client handshake, as the wire layer saw it.
struct TlsHandshake {
    std::string protocol;      // "TLSv1.3"
    std::string cipher;        // "TLS_AES_256_GCM_SHA384"
    int bits = 0;              // secret bits of the cipher
    int alg_bits = 0;          // bits of the algorithm
    bool verified = false;     // the chain is trusted and names the host (RFC 6125)
    std::string verify_error;  // why not, when not (already printable: no network text unescaped)
    bool resumed = false;      // an earlier session was resumed (no full handshake)

    // Postfix's form: "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)".
    std::string describe() const {
        return protocol + " with cipher " + cipher + " (" + std::to_string(bits) + "/" + std::to_string(alg_bits) +
               " bits)";
    }

    bool operator==(const TlsHandshake&) const = default;
};

}  // namespace ehlo::delivery
