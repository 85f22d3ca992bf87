// The cryptography message authentication needs, on OpenSSL 3's EVP interface: RSA (PKCS #1
// v1.5, RFC 8017 8.2) and Ed25519 (RFC 8032) keys, signing and verifying, SHA-1/SHA-256, and
// base64 (RFC 4648 4). The only file that includes OpenSSL headers.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ehlo::msgauth {

enum class KeyType { Rsa, Ed25519 };
enum class HashAlg { Sha1, Sha256 };

const char* key_type_name(KeyType type);  // "rsa", "ed25519" (RFC 6376 3.6.1 k=, RFC 8463 3)

// A public or private key. Copies share the key, which is immutable: safe across threads.
struct Key {
    std::shared_ptr<void> pkey;  // EVP_PKEY
    KeyType type = KeyType::Rsa;
    unsigned bits = 0;           // RSA modulus size; 256 for Ed25519
};

// A PEM private key: PKCS #8 ("PRIVATE KEY") or traditional RSA ("RSA PRIVATE KEY").
std::optional<Key> private_key_from_pem(std::string_view pem, std::string* error = nullptr);

// The p= data of a DKIM key record (RFC 6376 3.6.1, RFC 8463 4): for RSA a DER
// SubjectPublicKeyInfo (what everyone publishes) or a bare DER RSAPublicKey (what the RFC's
// words name); for Ed25519 the 32 raw octets of the public key.
std::optional<Key> public_key_from_record(KeyType type, std::string_view data, std::string* error = nullptr);

// A fresh key; `bits` for RSA only. Throws std::runtime_error if OpenSSL cannot make one.
Key generate_key(KeyType type, unsigned bits = 2048);
std::string private_key_pem(const Key& key);          // PKCS #8 PEM
std::string public_key_record_data(const Key& key);   // the inverse of public_key_from_record()

// RSA: RSASSA-PKCS1-v1_5 with `hash` over `data`. Ed25519: PureEdDSA over `data` itself
// (RFC 8463 3 passes it the SHA-256 hash of the signed headers). nullopt if the key cannot sign.
std::optional<std::string> sign(const Key& key, HashAlg hash, std::string_view data);
bool verify(const Key& key, HashAlg hash, std::string_view data, std::string_view signature);

std::string digest(HashAlg hash, std::string_view data);

// Incremental hashing, for content that arrives in pieces.
class Hasher {
public:
    explicit Hasher(HashAlg hash);
    ~Hasher();
    Hasher(Hasher&&) noexcept;
    Hasher& operator=(Hasher&&) noexcept;
    void update(std::string_view data);
    std::string finish();  // the digest; the hasher is spent

private:
    void* ctx_ = nullptr;  // EVP_MD_CTX
};

std::string base64_encode(std::string_view bytes);
// Strict base64: whitespace (folding) ignored, padding required, nothing else allowed.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ehlo::msgauth
