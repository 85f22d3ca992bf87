// The SMTP client's TLS contexts: trust stores read up front, SNI and the RFC 6125 name to
// check set on every SSL (the handshakes themselves are in tests/e2e/t_34_outbound_tls.py).
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <stdexcept>
#include <string>

#include "delivery/tls_client.hpp"

namespace ehlo::delivery {
namespace {

struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

TEST(TlsClient, AnUnreadableCaFileIsAnErrorAtStart) {
    try {
        TlsClient client({"/nonexistent/ehlo-ca.pem"});
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/ehlo-ca.pem"), std::string::npos) << e.what();
    }
}

// RFC 6066 3: the host name is sent as SNI; RFC 6125 6.4: it is the name the certificate must
// carry, wildcards only as a whole left-most label.
TEST(TlsClient, AHostNameIsSniAndTheNameToVerify_Rfc6066_3_Rfc6125_6_4) {
    TlsClient client({});
    SslPtr ssl(client.new_ssl("", "mx1.example.net", "mx1.example.net [192.0.2.1]:25"));
    ASSERT_TRUE(ssl);
    EXPECT_STREQ(SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name), "mx1.example.net");
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    EXPECT_STREQ(X509_VERIFY_PARAM_get0_host(param, 0), "mx1.example.net");
    EXPECT_EQ(X509_VERIFY_PARAM_get_hostflags(param) & X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
              static_cast<unsigned>(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS));
    EXPECT_EQ(SSL_get_min_proto_version(ssl.get()), TLS1_2_VERSION);  // as the inbound side
    EXPECT_EQ(client.cached_sessions(), 0u);
}

// RFC 6066 3: "Literal IPv4 and IPv6 addresses are not permitted" as SNI; a route to an address
// is checked against the certificate's IP addresses.
TEST(TlsClient, AnIpAddressIsNoSniButTheAddressToVerify_Rfc6066_3) {
    TlsClient client({});
    for (const char* ip : {"192.0.2.7", "2001:db8::7"}) {
        SslPtr ssl(client.new_ssl("", ip, std::string(ip) + ":25"));
        ASSERT_TRUE(ssl);
        EXPECT_EQ(SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name), nullptr) << ip;
        char* text = X509_VERIFY_PARAM_get1_ip_asc(SSL_get0_param(ssl.get()));
        ASSERT_NE(text, nullptr) << ip;
        EXPECT_STREQ(text, std::string(ip) == "2001:db8::7" ? "2001:DB8:0:0:0:0:0:7" : ip);
        OPENSSL_free(text);
    }
}

}  // namespace
}  // namespace ehlo::delivery
