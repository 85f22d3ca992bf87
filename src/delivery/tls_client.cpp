// Client TLS contexts on OpenSSL 3: trust stores, SNI and host name checks, session resumption.
//
// The chain is verified in every handshake (OpenSSL does it with SSL_VERIFY_NONE too and keeps
// the result), but a failure never aborts the handshake: under `may` and `encrypt` an
// unverified certificate still encrypts, and under `verify` the engine refuses to go on and
// says QUIT, over TLS, with the reason in the deferral.
//
// A session is resumable only if its connection ended with close_notify: OpenSSL marks the
// session of an SSL freed without SSL_shutdown as bad (it may have been cut by an attacker).
// The wire layer therefore shuts TLS down after QUIT.
#include "delivery/tls_client.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "delivery/openssl_errors.hpp"
#include "smtp/text.hpp"
#include "smtp/tls_settings.hpp"

namespace ehlo::delivery {
namespace {

using CtxPtr = SslCtxPtr;

bool is_ip_address(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// The SSL's session key (a std::string it owns), for the new-session callback.
int session_key_index() {
    static const int index = SSL_get_ex_new_index(
        0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
            delete static_cast<std::string*>(ptr);
        });
    return index;
}

// The certificate's DNS names (subjectAltName, else CN) and IP addresses, escaped, for a
// "hostname mismatch" reason: the peer chose them, so they are network text.
std::string certificate_names(X509* cert) {
    std::string out;
    auto add = [&](std::string_view name) {
        if (!out.empty()) out += ", ";
        out += smtp::printable(name, 100);
    };
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    int count = 0;
    if (sans) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans) && count < 5; ++i) {
            const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
            if (n->type == GEN_DNS) {
                const auto* data = ASN1_STRING_get0_data(n->d.dNSName);
                add({reinterpret_cast<const char*>(data), static_cast<std::size_t>(ASN1_STRING_length(n->d.dNSName))});
                ++count;
            } else if (n->type == GEN_IPADD) {
                const int length = ASN1_STRING_length(n->d.iPAddress);
                char text[INET6_ADDRSTRLEN] = {};
                if ((length == 4 || length == 16) &&
                    inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(n->d.iPAddress), text, sizeof text)) {
                    add(text);
                    ++count;
                }
            }
        }
        GENERAL_NAMES_free(sans);
    }
    if (count == 0) {
        char cn[256] = {};
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) add(cn);
    }
    return out.empty() ? "no name" : out;
}

// The host name or IP address the certificate had to name (set in new_ssl), for the same reason.
std::string expected_name(SSL* ssl) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (const char* host = X509_VERIFY_PARAM_get0_host(param, 0)) return smtp::printable(host, 255);
    std::string out;
    if (char* ip = X509_VERIFY_PARAM_get1_ip_asc(param)) {
        out = ip;
        OPENSSL_free(ip);
    }
    return out;
}

}  // namespace

struct TlsClient::Impl {
    // One trust store and its sessions. Sessions are kept per context: one verified against
    // another store must not be resumed as if verified against this one.
    struct Context {
        Impl* owner = nullptr;
        CtxPtr ctx;
    };

    std::size_t max_sessions = kMaxTlsSessions;
    std::map<std::string, std::unique_ptr<Context>> contexts;  // by CA file; "" = system store

    // The resumption cache, least recently used first. Keys are "CA file|destination".
    mutable std::mutex mutex;
    std::list<std::pair<std::string, SSL_SESSION*>> sessions;
    std::unordered_map<std::string, std::list<std::pair<std::string, SSL_SESSION*>>::iterator> by_key;

    ~Impl() {
        for (auto& [key, session] : sessions) SSL_SESSION_free(session);
    }

    Context& context(const std::string& ca_file) {
        if (auto it = contexts.find(ca_file); it != contexts.end()) return *it->second;
        auto c = std::make_unique<Context>();
        c->owner = this;
        c->ctx = make_context(ca_file);
        SSL_CTX_set_app_data(c->ctx.get(), c.get());
        Context& ref = *c;
        contexts.emplace(ca_file, std::move(c));
        return ref;
    }

    static CtxPtr make_context(const std::string& ca_file) {
        ERR_clear_error();
        CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
        if (!ctx) throw std::runtime_error("cannot create a TLS client context: " + openssl_errors());
        SSL_CTX* c = ctx.get();
        const bool ok = SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1 &&
                        SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) == 1 &&
                        SSL_CTX_set_cipher_list(c, smtp::tls::kTls12Ciphers) == 1 &&
                        SSL_CTX_set_ciphersuites(c, smtp::tls::kTls13Ciphers) == 1 &&
                        SSL_CTX_set1_groups_list(c, smtp::tls::kGroups) == 1;
        if (!ok) throw std::runtime_error("cannot configure client TLS: " + openssl_errors());
        SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
        SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
        // Only the file: a hashed directory would be read on the event loop, certificate by
        // certificate, in the middle of a handshake.
        std::string file = ca_file;
        if (file.empty()) {
            const char* env = std::getenv(X509_get_default_cert_file_env());
            file = env && *env ? env : X509_get_default_cert_file();
        }
        X509_STORE* store = SSL_CTX_get_cert_store(c);
        if (X509_STORE_load_file(store, file.c_str()) != 1) {
            // Without the system's store nothing verifies: `verify` destinations defer with
            // the reason; every other policy still encrypts.
            if (!ca_file.empty()) throw std::runtime_error(ca_file + ": cannot load CA certificates: " + openssl_errors());
            ERR_clear_error();
        }
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c, &Impl::on_new_session);
        return ctx;
    }

    // A session the server issued (after the handshake in TLS 1.2, with each ticket in 1.3).
    static int on_new_session(SSL* ssl, SSL_SESSION* session) {
        auto* c = static_cast<Context*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
        const auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, session_key_index()));
        if (!c || !key || !SSL_SESSION_is_resumable(session)) return 0;
        c->owner->keep(*key, session);
        return 1;  // the reference is ours now
    }

    void keep(const std::string& key, SSL_SESSION* session) {
        std::lock_guard lock(mutex);
        if (auto it = by_key.find(key); it != by_key.end()) {
            SSL_SESSION_free(it->second->second);
            sessions.erase(it->second);
            by_key.erase(it);
        }
        sessions.emplace_back(key, session);
        by_key[key] = std::prev(sessions.end());
        while (sessions.size() > max_sessions) {
            by_key.erase(sessions.front().first);
            SSL_SESSION_free(sessions.front().second);
            sessions.pop_front();
        }
    }

    // The session to offer for `key`, referenced for the caller. A TLS 1.3 ticket is taken out
    // (RFC 8446 C.4: a ticket is used once; the server sends new ones); a TLS 1.2 session stays.
    SSL_SESSION* take(const std::string& key) {
        std::lock_guard lock(mutex);
        const auto it = by_key.find(key);
        if (it == by_key.end()) return nullptr;
        SSL_SESSION* session = it->second->second;
        if (SSL_SESSION_get_protocol_version(session) >= TLS1_3_VERSION) {
            sessions.erase(it->second);
            by_key.erase(it);
            return session;
        }
        sessions.splice(sessions.end(), sessions, it->second);
        SSL_SESSION_up_ref(session);
        return session;
    }
};

TlsClient::TlsClient(const std::vector<std::string>& ca_files, std::size_t max_sessions)
    : impl_(std::make_unique<Impl>()) {
    impl_->max_sessions = std::max<std::size_t>(max_sessions, 1);
    impl_->context("");
    for (const std::string& f : ca_files)
        if (!f.empty()) impl_->context(f);
}

TlsClient::~TlsClient() = default;

SSL* TlsClient::new_ssl(const std::string& ca_file, const std::string& host, const std::string& session_key) {
    Impl::Context& c = impl_->context(ca_file);
    ERR_clear_error();
    SSL* ssl = SSL_new(c.ctx.get());
    if (!ssl) throw std::runtime_error("SSL_new: " + openssl_errors());
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    bool ok = true;
    if (is_ip_address(host)) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
    } else {
        // RFC 6125 6.4.3: "*" only as the whole left-most label.
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1 &&
             SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;
    }
    const std::string key = ca_file + "|" + session_key;
    ok = ok && SSL_set_ex_data(ssl, session_key_index(), new std::string(key)) == 1;
    if (!ok) {
        SSL_free(ssl);
        throw std::runtime_error("cannot set up TLS for " + smtp::printable(host) + ": " + openssl_errors());
    }
    if (SSL_SESSION* session = impl_->take(key)) {
        SSL_set_session(ssl, session);  // takes its own reference
        SSL_SESSION_free(session);
    }
    return ssl;
}

TlsHandshake TlsClient::result(SSL* ssl) {
    TlsHandshake h;
    h.protocol = SSL_get_version(ssl);
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
        h.cipher = SSL_CIPHER_get_name(cipher);
        h.bits = SSL_CIPHER_get_bits(cipher, &h.alg_bits);
    }
    h.resumed = SSL_session_reused(ssl) == 1;
    X509* cert = SSL_get0_peer_certificate(ssl);
    const long verdict = SSL_get_verify_result(ssl);
    if (!cert) {
        h.verify_error = "no certificate";
    } else if (verdict != X509_V_OK) {
        h.verify_error = X509_verify_cert_error_string(verdict);
        if (verdict == X509_V_ERR_HOSTNAME_MISMATCH || verdict == X509_V_ERR_IP_ADDRESS_MISMATCH) {
            const std::string wanted = expected_name(ssl);
            h.verify_error += " (the certificate is for " + certificate_names(cert) +
                              (wanted.empty() ? std::string() : ", not " + wanted) + ")";
        }
    } else {
        h.verified = true;
    }
    return h;
}

std::size_t TlsClient::cached_sessions() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sessions.size();
}

}  // namespace ehlo::delivery
