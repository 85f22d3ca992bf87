// The TLS settings ehlo uses both ways, inbound (net/tls_context.cpp) and outbound
// (delivery/tls_client.cpp): Mozilla Server Side TLS "intermediate" (guideline 5.7), that is
// TLS 1.2 and 1.3 only, AEAD ciphers with forward secrecy. Constants only, no OpenSSL here.
#pragma once

namespace ehlo::smtp::tls {

inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* kTls13Ciphers = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
inline constexpr const char* kGroups = "X25519:prime256v1:secp384r1";

}  // namespace ehlo::smtp::tls
