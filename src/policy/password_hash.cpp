// libsodium for argon2id (Debian's libsodium-dev), libxcrypt for the crypt(3) schemes of
// existing password files (libcrypt-dev): both well kept, neither reimplemented here.
#include "policy/password_hash.hpp"

#include <crypt.h>
#include <sodium.h>

#include <memory>
#include <stdexcept>

namespace ehlo::policy {
namespace {

constexpr std::string_view kArgon2id = "$argon2id$";
constexpr std::string_view kCryptSchemes[] = {"$y$", "$6$", "$2b$"};
// libsodium's hashes are at most this long (crypto_pwhash_STRBYTES with its NUL).
constexpr std::size_t kMaxHash = crypto_pwhash_STRBYTES;

void init_sodium() {
    static const int ok = sodium_init();
    if (ok < 0) throw std::runtime_error("libsodium cannot start");
}

}  // namespace

bool known_hash_scheme(std::string_view hash) {
    if (hash.starts_with(kArgon2id)) return true;
    for (auto scheme : kCryptSchemes)
        if (hash.starts_with(scheme)) return true;
    return false;
}

std::string hash_password(std::string_view password) {
    init_sodium();
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        throw std::runtime_error("cannot hash the password (out of memory)");
    return out;
}

bool verify_password(std::string_view hash, std::string_view password) {
    init_sodium();
    const std::string stored(hash);
    if (hash.starts_with(kArgon2id)) {
        if (stored.size() >= kMaxHash) return false;
        return crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
    }
    bool crypt_scheme = false;
    for (auto scheme : kCryptSchemes) crypt_scheme = crypt_scheme || hash.starts_with(scheme);
    if (!crypt_scheme) return false;
    // crypt_rn wants a NUL-terminated phrase; a password with a NUL in it cannot match.
    const std::string phrase(password);
    if (phrase.find('\0') != std::string::npos) return false;
    auto data = std::make_unique<crypt_data>();  // 32 KiB: not on the stack
    const char* computed = crypt_rn(phrase.c_str(), stored.c_str(), data.get(), sizeof(crypt_data));
    bool match = false;
    if (computed && computed[0] != '*') {
        const std::string_view c(computed);
        match = c.size() == stored.size() && sodium_memcmp(c.data(), stored.data(), c.size()) == 0;
    }
    sodium_memzero(data.get(), sizeof(crypt_data));
    return match;
}

}  // namespace ehlo::policy
