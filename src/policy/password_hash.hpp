// Password hashes, tagged by their own prefix: "$argon2id$" (new ones, libsodium's
// crypto_pwhash_str), and "$y$" (yescrypt), "$6$" (SHA-512 crypt), "$2b$" (bcrypt) from an
// existing Dovecot or /etc/shadow-style file, verified by libxcrypt's crypt_rn. Every call
// here costs tens of milliseconds of CPU and up to 64 MiB: never on an event loop.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ehlo::policy {

// A new argon2id hash of `password` (libsodium's "interactive" limits). Throws std::runtime_error
// when libsodium cannot (out of memory).
std::string hash_password(std::string_view password);

// The password matches the hash; false also for a hash of no known scheme. The comparison of
// the computed and stored crypt() strings is constant-time (sodium_memcmp).
bool verify_password(std::string_view hash, std::string_view password);

// The hash is of a scheme verify_password() knows.
bool known_hash_scheme(std::string_view hash);

}  // namespace ehlo::policy
