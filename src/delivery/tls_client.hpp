// The SMTP client's TLS (RFC 3207 from the sending side), on OpenSSL 3 alone: the contexts
// with their trust stores, a new SSL for each connection with SNI and the host name to check,
// the sessions kept for resumption, and what a finished handshake agreed on. No Asio here:
// remote_dialog.cpp puts the SSL under Asio's stream and drives the handshake.
//
// Protocols and ciphers are the inbound side's (smtp/tls_settings.hpp). The certificate is
// always checked and the result recorded; whether it must verify is the policy's business
// (ClientSession), so the handshake itself never fails on it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "delivery/outbound_tls.hpp"

typedef struct ssl_st SSL;

namespace ehlo::delivery {

// Sessions kept for resumption, in all: the least recently used goes first.
inline constexpr std::size_t kMaxTlsSessions = 1000;

class TlsClient {
public:
    // One context for the system's trust store (the file SSL_CERT_FILE names, else OpenSSL's
    // default, Debian's /etc/ssl/certs/ca-certificates.crt), and one for each CA file given,
    // which then is the only trust anchor for destinations configured with it. Files are read
    // here, not on the event loop; throws std::runtime_error naming a CA file that cannot be
    // read. `max_sessions` bounds the resumption cache.
    explicit TlsClient(const std::vector<std::string>& ca_files, std::size_t max_sessions = kMaxTlsSessions);
    ~TlsClient();
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    // A client SSL, owned by the caller, for a connection to `host`: a DNS name is sent as SNI
    // (RFC 6066 3) and must be among the certificate's names (RFC 6125 6.4, X509_VERIFY_PARAM
    // host check, wildcards only as a whole left-most label); an IP address must be one of its
    // IP addresses. `ca_file` picks the trust store ("" = the system's; a file not given to the
    // constructor is read now). `session_key` names the destination whose last session is
    // offered for resumption; sessions the server issues on this SSL are kept under it.
    SSL* new_ssl(const std::string& ca_file, const std::string& host, const std::string& session_key);

    // What the handshake on `ssl` agreed on, whether the certificate verified and why not.
    static TlsHandshake result(SSL* ssl);

    // Sessions now kept, in all.
    std::size_t cached_sessions() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::delivery
