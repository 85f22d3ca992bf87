#include "msgauth/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace ehlo::msgauth {

namespace {

constexpr std::size_t kEd25519KeySize = 32;  // RFC 8032 5.1.5

EVP_PKEY* raw(const Key& key) { return static_cast<EVP_PKEY*>(key.pkey.get()); }

std::optional<Key> wrap(EVP_PKEY* pkey, std::string* error) {
    if (!pkey) {
        if (error) *error = "not a usable key";
        return std::nullopt;
    }
    Key key;
    key.pkey = std::shared_ptr<void>(pkey, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        key.type = KeyType::Rsa;
    } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
        key.type = KeyType::Ed25519;
    } else {
        if (error) *error = "neither an RSA nor an Ed25519 key";
        return std::nullopt;
    }
    key.bits = static_cast<unsigned>(EVP_PKEY_get_bits(pkey));
    return key;
}

const EVP_MD* md(HashAlg hash) { return hash == HashAlg::Sha1 ? EVP_sha1() : EVP_sha256(); }

struct Bio {
    BIO* bio;
    explicit Bio(BIO* b) : bio(b) {}
    ~Bio() { BIO_free(bio); }
};

}  // namespace

const char* key_type_name(KeyType type) { return type == KeyType::Rsa ? "rsa" : "ed25519"; }

std::optional<Key> private_key_from_pem(std::string_view pem, std::string* error) {
    Bio in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(in.bio, nullptr, nullptr, nullptr);
    ERR_clear_error();
    if (!pkey) {
        if (error) *error = "not a PEM private key";
        return std::nullopt;
    }
    return wrap(pkey, error);
}

namespace {

std::optional<Key> decode_public_key(KeyType type, std::string_view data, std::string* error) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
    EVP_PKEY* pkey = nullptr;
    if (type == KeyType::Ed25519) {
        if (data.size() != kEd25519KeySize) {
            if (error) *error = "an Ed25519 key is 32 octets";
            return std::nullopt;
        }
        pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes, data.size());
    } else {
        const unsigned char* p = bytes;
        pkey = d2i_PUBKEY(nullptr, &p, static_cast<long>(data.size()));
        if (pkey && p != bytes + data.size()) {  // trailing bytes after the structure
            EVP_PKEY_free(pkey);
            pkey = nullptr;
        }
        if (!pkey) {
            p = bytes;
            pkey = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(data.size()));
            if (pkey && p != bytes + data.size()) {
                EVP_PKEY_free(pkey);
                pkey = nullptr;
            }
        }
    }
    ERR_clear_error();
    auto key = wrap(pkey, error);
    if (key && key->type != type) {
        if (error) *error = std::string("the key is not of type ") + key_type_name(type);
        return std::nullopt;
    }
    return key;
}

// OpenSSL 3 decodes a DER key through its generic decoder machinery, at a cost of several
// hundred microseconds: more than the signature check itself. A busy sender's key is the same
// record message after message, so decoded keys (and the reasons for bad ones) are kept, at
// most kMaxDecodedKeys; when full the store starts again. Keys are immutable: shared freely.
constexpr std::size_t kMaxDecodedKeys = 4096;

struct Decoded {
    std::optional<Key> key;
    std::string error;
};

std::mutex decoded_mutex;
std::unordered_map<std::string, Decoded> decoded_keys;

}  // namespace

std::optional<Key> public_key_from_record(KeyType type, std::string_view data, std::string* error) {
    std::string id(1, type == KeyType::Rsa ? 'r' : 'e');
    id.append(data);
    {
        std::lock_guard lock(decoded_mutex);
        const auto it = decoded_keys.find(id);
        if (it != decoded_keys.end()) {
            if (!it->second.key && error) *error = it->second.error;
            return it->second.key;
        }
    }
    Decoded d;
    d.key = decode_public_key(type, data, &d.error);
    if (!d.key && error) *error = d.error;
    std::lock_guard lock(decoded_mutex);
    if (decoded_keys.size() >= kMaxDecodedKeys) decoded_keys.clear();
    decoded_keys.emplace(std::move(id), d);
    return d.key;
}

Key generate_key(KeyType type, unsigned bits) {
    EVP_PKEY* pkey = type == KeyType::Rsa ? EVP_RSA_gen(bits) : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    std::string error;
    auto key = wrap(pkey, &error);
    if (!key) throw std::runtime_error("cannot generate a key: " + error);
    return *key;
}

std::string private_key_pem(const Key& key) {
    Bio out(BIO_new(BIO_s_mem()));
    if (!PEM_write_bio_PrivateKey(out.bio, raw(key), nullptr, nullptr, 0, nullptr, nullptr))
        throw std::runtime_error("cannot write the private key");
    char* data = nullptr;
    const long n = BIO_get_mem_data(out.bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

std::string public_key_record_data(const Key& key) {
    if (key.type == KeyType::Ed25519) {
        std::string out(kEd25519KeySize, '\0');
        std::size_t len = out.size();
        if (!EVP_PKEY_get_raw_public_key(raw(key), reinterpret_cast<unsigned char*>(out.data()), &len))
            throw std::runtime_error("cannot read the Ed25519 public key");
        out.resize(len);
        return out;
    }
    unsigned char* der = nullptr;
    const int n = i2d_PUBKEY(raw(key), &der);
    if (n <= 0) throw std::runtime_error("cannot encode the RSA public key");
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    return out;
}

std::optional<std::string> sign(const Key& key, HashAlg hash, std::string_view data) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::optional<std::string> result;
    const EVP_MD* digest_md = key.type == KeyType::Ed25519 ? nullptr : md(hash);
    std::size_t len = 0;
    if (ctx && EVP_DigestSignInit(ctx, nullptr, digest_md, nullptr, raw(key)) == 1 &&
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1) {
        std::string sig(len, '\0');
        if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1) {
            sig.resize(len);
            result = std::move(sig);
        }
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return result;
}

bool verify(const Key& key, HashAlg hash, std::string_view data, std::string_view signature) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const EVP_MD* digest_md = key.type == KeyType::Ed25519 ? nullptr : md(hash);
    const bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, digest_md, nullptr, raw(key)) == 1 &&
                    EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

std::string digest(HashAlg hash, std::string_view data) {
    Hasher h(hash);
    h.update(data);
    return h.finish();
}

Hasher::Hasher(HashAlg hash) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, md(hash), nullptr) != 1) {
        EVP_MD_CTX_free(ctx);
        throw std::runtime_error("cannot start a digest");
    }
    ctx_ = ctx;
}

Hasher::~Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
Hasher::Hasher(Hasher&& other) noexcept : ctx_(other.ctx_) { other.ctx_ = nullptr; }
Hasher& Hasher::operator=(Hasher&& other) noexcept {
    std::swap(ctx_, other.ctx_);
    return *this;
}

void Hasher::update(std::string_view data) {
    if (ctx_ && !data.empty()) EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

std::string Hasher::finish() {
    std::string out(EVP_MAX_MD_SIZE, '\0');
    unsigned len = 0;
    if (!ctx_ || EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), reinterpret_cast<unsigned char*>(out.data()), &len) != 1)
        throw std::runtime_error("cannot finish a digest");
    out.resize(len);
    return out;
}

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::string compact;
    compact.reserve(text.size());
    for (char c : text) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        const bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                              c == '/' || c == '=';
        if (!alphabet) return std::nullopt;
        compact += c;
    }
    if (compact.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    while (padding < 2 && padding < compact.size() && compact[compact.size() - 1 - padding] == '=') ++padding;
    if (compact.find('=') < compact.size() - padding) return std::nullopt;  // '=' only at the end
    std::string out(compact.size() / 4 * 3, '\0');
    if (compact.empty()) return out;
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(compact.data()), static_cast<int>(compact.size()));
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - padding);
    return out;
}

}  // namespace ehlo::msgauth
