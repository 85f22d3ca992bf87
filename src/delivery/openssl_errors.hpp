// OpenSSL's error queue as one line of text, and an owning pointer to an SSL_CTX: for both TLS
// sides (the client here in delivery/, the listeners' contexts in net/tls_context.cpp).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace ehlo::delivery {

// Takes every error off this thread's OpenSSL error queue, joined by "; ".
std::string openssl_errors();

struct SslCtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

}  // namespace ehlo::delivery
