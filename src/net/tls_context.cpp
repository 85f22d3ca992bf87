// TLS contexts on OpenSSL 3: protocol versions, ciphers, certificates, SNI, reload.
//
// The settings are Mozilla's "intermediate" configuration (TLS 1.2 and 1.3, AEAD ciphers with
// forward secrecy only), with the server's order of preference: a mail server talks to every
// kind of client, and it should be the one to decide. Renegotiation and compression are off
// (CVE-2009-3555, CRIME).
#include "net/tls_context.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "delivery/openssl_errors.hpp"
#include "smtp/tls_settings.hpp"

namespace ehlo::net {
namespace {

// Mozilla Server Side TLS, "intermediate" (guideline 5.7), shared with the SMTP client.
using smtp::tls::kGroups;
using smtp::tls::kTls12Ciphers;
using smtp::tls::kTls13Ciphers;
// A self-signed certificate made for `make run` is valid this long.
constexpr long kSelfSignedDays = 3650;

using CtxPtr = delivery::SslCtxPtr;
using delivery::openssl_errors;

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// The DNS names a certificate is for: its subjectAltName DNS entries, else its CN (RFC 6125 6.4.4).
std::vector<std::string> certificate_names(X509* cert) {
    std::vector<std::string> names;
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (sans) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
            const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
            if (n->type != GEN_DNS) continue;
            const auto* data = ASN1_STRING_get0_data(n->d.dNSName);
            names.push_back(lower(std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(ASN1_STRING_length(n->d.dNSName)))));
        }
        GENERAL_NAMES_free(sans);
    }
    if (names.empty()) {
        char cn[256] = {};
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) names.push_back(lower(cn));
    }
    return names;
}

// RFC 6125 6.4.3: a wildcard stands for exactly one whole left-most label.
bool name_matches(const std::string& pattern, const std::string& host) {
    if (pattern == host) return true;
    if (pattern.size() < 3 || pattern.compare(0, 2, "*.") != 0) return false;
    const std::size_t dot = host.find('.');
    return dot != std::string::npos && dot > 0 && host.compare(dot, std::string::npos, pattern, 1, std::string::npos) == 0;
}

CtxPtr make_context(const CertificateFiles& files) {
    ERR_clear_error();
    CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) throw std::runtime_error("cannot create a TLS context: " + openssl_errors());
    SSL_CTX* c = ctx.get();
    bool ok = SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1 && SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) == 1 &&
              SSL_CTX_set_cipher_list(c, kTls12Ciphers) == 1 && SSL_CTX_set_ciphersuites(c, kTls13Ciphers) == 1 &&
              SSL_CTX_set1_groups_list(c, kGroups) == 1 && SSL_CTX_set_dh_auto(c, 1) == 1;
    if (!ok) throw std::runtime_error("cannot configure TLS: " + openssl_errors());
    SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    // An idle session keeps no read and write buffers of its own.
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(c, files.chain.c_str()) != 1)
        throw std::runtime_error(files.chain + ": cannot load the certificate chain: " + openssl_errors());
    if (SSL_CTX_use_PrivateKey_file(c, files.key.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error(files.key + ": cannot load the private key: " + openssl_errors());
    if (SSL_CTX_check_private_key(c) != 1)
        throw std::runtime_error(files.key + ": the key does not belong to the certificate in " + files.chain);
    return ctx;
}

}  // namespace

std::string TlsParameters::describe() const {
    return version + " with cipher " + cipher + " (" + std::to_string(bits) + "/" + std::to_string(alg_bits) + " bits)";
}

TlsParameters tls_parameters(SSL* ssl) {
    TlsParameters p;
    p.version = SSL_get_version(ssl);
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
        p.cipher = SSL_CIPHER_get_name(cipher);
        p.bits = SSL_CIPHER_get_bits(cipher, &p.alg_bits);
    }
    if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) p.sni = name;
    return p;
}

struct TlsContexts::Set {
    struct Entry {
        CtxPtr ctx;
        std::vector<std::string> names;
    };
    std::vector<Entry> entries;  // [0] is the default

    // RFC 6066 3: the client names the host it wants; the certificate for it is switched in
    // before the server's first flight. An unknown name gets the default certificate.
    static int on_servername(SSL* ssl, int*, void* arg) {
        const auto* set = static_cast<const Set*>(arg);
        const char* requested = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        if (!requested) return SSL_TLSEXT_ERR_OK;
        const std::string host = lower(requested);
        for (const Entry& e : set->entries) {
            for (const std::string& name : e.names) {
                if (!name_matches(name, host)) continue;
                if (e.ctx.get() != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, e.ctx.get());
                return SSL_TLSEXT_ERR_OK;
            }
        }
        return SSL_TLSEXT_ERR_OK;
    }

    static std::shared_ptr<Set> load(const std::vector<CertificateFiles>& files) {
        auto set = std::make_shared<Set>();
        for (const CertificateFiles& f : files) {
            Entry e{make_context(f), {}};
            e.names = certificate_names(SSL_CTX_get0_certificate(e.ctx.get()));
            set->entries.push_back(std::move(e));
        }
        if (set->entries.empty()) throw std::runtime_error("no certificate configured");
        SSL_CTX* def = set->entries.front().ctx.get();
        SSL_CTX_set_tlsext_servername_callback(def, &Set::on_servername);
        SSL_CTX_set_tlsext_servername_arg(def, set.get());
        return set;
    }
};

struct TlsContexts::Impl {
    std::vector<CertificateFiles> files;
    mutable std::mutex mutex;
    std::shared_ptr<const Set> current;
};

TlsContexts::TlsContexts(std::vector<CertificateFiles> files) : impl_(std::make_unique<Impl>()) {
    impl_->files = std::move(files);
    impl_->current = Set::load(impl_->files);
}

TlsContexts::~TlsContexts() = default;

std::optional<std::string> TlsContexts::reload() {
    std::shared_ptr<const Set> fresh;
    try {
        fresh = Set::load(impl_->files);
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
    std::lock_guard lock(impl_->mutex);
    impl_->current = std::move(fresh);
    return std::nullopt;
}

TlsContexts::NewSession TlsContexts::new_session() const {
    std::shared_ptr<const Set> set;
    {
        std::lock_guard lock(impl_->mutex);
        set = impl_->current;
    }
    SSL* ssl = SSL_new(set->entries.front().ctx.get());
    if (!ssl) throw std::runtime_error("SSL_new: " + openssl_errors());
    return {ssl, std::move(set)};
}

std::vector<std::string> TlsContexts::names() const {
    std::lock_guard lock(impl_->mutex);
    std::vector<std::string> out;
    for (const auto& e : impl_->current->entries) out.insert(out.end(), e.names.begin(), e.names.end());
    return out;
}

bool ensure_self_signed(const std::string& hostname, const CertificateFiles& files) {
    namespace fs = std::filesystem;
    if (fs::exists(files.chain) && fs::exists(files.key)) return false;
    for (const std::string& p : {files.chain, files.key}) {
        const fs::path parent = fs::path(p).parent_path();
        if (!parent.empty()) fs::create_directories(parent);
    }
    ERR_clear_error();
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
    if (!key || !cert) throw std::runtime_error("cannot make a key: " + openssl_errors());
    X509* x = cert.get();
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;  // a positive INTEGER (RFC 5280 4.1.2.2)
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), kSelfSignedDays * 24 * 60 * 60);
    X509_set_pubkey(x, key.get());
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    const std::string san = "DNS:" + hostname;
    for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, san.c_str()}, std::pair{NID_basic_constraints, "CA:FALSE"}}) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
        if (!ext) throw std::runtime_error("cannot make a certificate extension: " + openssl_errors());
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(x, key.get(), EVP_sha256()) == 0) throw std::runtime_error("cannot sign: " + openssl_errors());

    // The key is created 0600 from the start, never readable by others even for a moment.
    auto write = [](const std::string& path, mode_t mode, auto&& emit) {
        const std::string tmp = path + ".tmp";
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0) throw std::runtime_error(tmp + ": cannot create");
        FILE* f = ::fdopen(fd, "w");
        if (!f) {
            ::close(fd);
            throw std::runtime_error(tmp + ": cannot open");
        }
        const bool ok = emit(f) == 1 && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
        std::fclose(f);
        if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error(path + ": cannot write");
    };
    write(files.key, 0600, [&](FILE* f) { return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
    write(files.chain, 0644, [&](FILE* f) { return PEM_write_X509(f, x); });
    return true;
}

}  // namespace ehlo::net
