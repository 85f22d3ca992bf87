// The server's TLS settings and certificates (RFC 3207, RFC 8314), on OpenSSL 3 alone: no Asio
// here, so that only server.cpp sees both.
//
// A TlsContexts holds the certificates of the configuration, each with its chain and key, in
// one immutable set. New connections take the current set; a reload builds a new set beside
// it and swaps it in only when every file loaded, so a bad new file keeps the old certificates
// (and says why), and sessions already running keep theirs until they end.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

typedef struct ssl_st SSL;

namespace ehlo::net {

struct CertificateFiles {
    std::string chain;  // PEM: the certificate, then its intermediates
    std::string key;    // PEM: its private key
};

// What a finished handshake agreed on, as shown in the log and the Received header.
struct TlsParameters {
    std::string version;  // "TLSv1.3"
    std::string cipher;   // "TLS_AES_256_GCM_SHA384"
    int bits = 0;         // secret bits of the cipher
    int alg_bits = 0;     // bits of the algorithm
    std::string sni;      // the name the client asked for, if any

    // Postfix's form: "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)".
    std::string describe() const;
};
TlsParameters tls_parameters(SSL* ssl);

class TlsContexts {
public:
    // Loads every certificate; throws std::runtime_error naming the file and OpenSSL's reason.
    // The first certificate is the default; the others are chosen by the name the client sends
    // (SNI, RFC 6066 3), matched against each certificate's DNS names (wildcards as RFC 6125 6.4.3).
    explicit TlsContexts(std::vector<CertificateFiles> files);
    ~TlsContexts();
    TlsContexts(const TlsContexts&) = delete;
    TlsContexts& operator=(const TlsContexts&) = delete;

    // Reads the same files again. Empty on success; else the reason, and the old set stays.
    // Thread-safe; does file I/O, so never on an event loop.
    std::optional<std::string> reload();

    // A new server-side SSL for one connection, with the set that made it kept alive in
    // `keep` (the SNI callback refers to it) for as long as the connection lives.
    struct NewSession {
        SSL* ssl = nullptr;  // owned by the caller (Asio's stream takes it)
        std::shared_ptr<const void> keep;
    };
    NewSession new_session() const;

    // The DNS names of the loaded certificates, for the log.
    std::vector<std::string> names() const;

private:
    struct Set;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Writes a self-signed certificate and key for `hostname` (an EC P-256 key, valid 10 years, the
// name as CN and DNS subjectAltName) to the two files, the key with mode 0600, unless both
// exist already. Returns true when it created them. Throws std::runtime_error.
bool ensure_self_signed(const std::string& hostname, const CertificateFiles& files);

}  // namespace ehlo::net
