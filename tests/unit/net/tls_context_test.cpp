// TLS contexts (RFC 3207, RFC 8314): protocol floor, ciphers, certificates, reload.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "net/tls_context.hpp"

namespace ehlo::net {
namespace {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char pattern[] = "/tmp/ehlo-tls-unit-XXXXXX";
        path = ::mkdtemp(pattern);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

CertificateFiles files_in(const TempDir& d, const std::string& name) {
    return {(d.path / (name + ".pem")).string(), (d.path / (name + ".key")).string()};
}

TEST(SelfSigned, MadeOnceWithAPrivateKey) {
    TempDir d;
    const auto f = files_in(d, "mx.example");
    EXPECT_TRUE(ensure_self_signed("mx.example", f));
    struct stat st {};
    ASSERT_EQ(::stat(f.key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_FALSE(ensure_self_signed("mx.example", f));  // kept, not made again
    TlsContexts contexts({f});
    EXPECT_EQ(contexts.names(), std::vector<std::string>{"mx.example"});
}

TEST(TlsContexts, OnlyTls12AndUpAndAeadCiphers_Rfc8996) {
    TempDir d;
    const auto f = files_in(d, "mx");
    ensure_self_signed("mx.example", f);
    TlsContexts contexts({f});
    auto s = contexts.new_session();
    ASSERT_NE(s.ssl, nullptr);
    EXPECT_EQ(SSL_get_min_proto_version(s.ssl), TLS1_2_VERSION);
    EXPECT_EQ(SSL_get_max_proto_version(s.ssl), TLS1_3_VERSION);
    EXPECT_TRUE(SSL_get_options(s.ssl) & SSL_OP_CIPHER_SERVER_PREFERENCE);
    EXPECT_TRUE(SSL_get_options(s.ssl) & SSL_OP_NO_RENEGOTIATION);
    STACK_OF(SSL_CIPHER)* ciphers = SSL_get_ciphers(s.ssl);
    ASSERT_NE(ciphers, nullptr);
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
        const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
        EXPECT_TRUE(SSL_CIPHER_is_aead(c)) << SSL_CIPHER_get_name(c);
        const int kx = SSL_CIPHER_get_kx_nid(c);
        EXPECT_TRUE(kx == NID_kx_ecdhe || kx == NID_kx_dhe || kx == NID_kx_any) << SSL_CIPHER_get_name(c);
    }
    SSL_free(s.ssl);
}

TEST(TlsContexts, BadFilesAreRefusedWithTheirName) {
    TempDir d;
    const auto good = files_in(d, "good");
    ensure_self_signed("mx.example", good);
    const auto other = files_in(d, "other");
    ensure_self_signed("other.example", other);
    EXPECT_THROW(TlsContexts({{(d.path / "missing.pem").string(), good.key}}), std::runtime_error);
    try {
        TlsContexts contexts({{good.chain, other.key}});
        FAIL() << "a key of another certificate was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("other.key"), std::string::npos) << e.what();
    }
}

TEST(TlsContexts, ReloadTakesNewFilesAndKeepsTheOldOnError) {
    TempDir d;
    const auto live = files_in(d, "live");
    ensure_self_signed("old.example", live);
    TlsContexts contexts({live});
    auto before = contexts.new_session();  // a session under the old certificate
    std::filesystem::remove(live.chain);
    std::filesystem::remove(live.key);
    ensure_self_signed("new.example", live);
    EXPECT_EQ(contexts.reload(), std::nullopt);
    EXPECT_EQ(contexts.names(), std::vector<std::string>{"new.example"});
    std::ofstream(live.chain) << "not a certificate\n";
    const auto failure = contexts.reload();
    ASSERT_TRUE(failure);
    EXPECT_NE(failure->find("live.pem"), std::string::npos) << *failure;
    EXPECT_EQ(contexts.names(), std::vector<std::string>{"new.example"});  // kept
    // The session made before the reloads still has its certificate.
    X509* cert = SSL_get_certificate(before.ssl);
    ASSERT_NE(cert, nullptr);
    char cn[64] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    EXPECT_STREQ(cn, "old.example");
    SSL_free(before.ssl);
}

TEST(TlsParameters, DescribedAsPostfixDoes_Rfc3848) {
    TlsParameters p{"TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, 256, ""};
    EXPECT_EQ(p.describe(), "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)");
}

}  // namespace
}  // namespace ehlo::net
