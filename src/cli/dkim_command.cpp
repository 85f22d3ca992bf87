// ehlo dkim keygen | sign | verify
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/auth_support.hpp"
#include "cli/commands.hpp"
#include "msgauth/dkim_key.hpp"
#include "msgauth/dkim_sign.hpp"
#include "msgauth/dkim_verify.hpp"

namespace ehlo::cli {

namespace {

using msgauth::printable;

// The key file is created, never overwritten, and readable by its owner only.
bool write_private(const std::string& path, const std::string& data) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        std::cerr << "ehlo: cannot create " << printable(path) << ": " << std::strerror(errno) << "\n";
        return false;
    }
    ::fchmod(fd, 0600);  // whatever the umask
    bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
    ok = ::fsync(fd) == 0 && ok;
    ok = ::close(fd) == 0 && ok;
    if (!ok) std::cerr << "ehlo: cannot write " << printable(path) << "\n";
    return ok;
}

// A zone-file TXT record, in strings of at most 255 octets (RFC 1035 3.3.14).
std::string zone_record(const std::string& name, const std::string& text) {
    std::string out = name + ". IN TXT (";
    for (std::size_t at = 0; at < text.size(); at += 255) out += " \"" + text.substr(at, 255) + "\"";
    return out + " )";
}

int keygen(const DkimCommand& c) {
    if (!msgauth::is_query_name(msgauth::dkim_key_name(c.selector, c.domain))) {
        std::cerr << "ehlo: not a usable domain and selector\n";
        return 2;
    }
    if (!c.ed25519 && c.bits < msgauth::kMinSigningRsaBits) {
        std::cerr << "ehlo: RSA signing keys need at least " << msgauth::kMinSigningRsaBits << " bits (RFC 8301 3.2)\n";
        return 2;
    }
    const msgauth::Key key = msgauth::generate_key(c.ed25519 ? msgauth::KeyType::Ed25519 : msgauth::KeyType::Rsa, c.bits);
    const std::string out = c.out.empty() ? c.selector + "." + c.domain + ".pem" : c.out;
    if (!write_private(out, msgauth::private_key_pem(key))) return 1;
    std::cerr << "private key written to " << printable(out) << " (mode 0600); publish:\n";
    std::cout << zone_record(msgauth::dkim_key_name(c.selector, c.domain), msgauth::dkim_key_record_text(key)) << "\n";
    return 0;
}

int sign(const DkimCommand& c) {
    std::ifstream in(c.key, std::ios::binary);
    std::ostringstream pem;
    pem << in.rdbuf();
    std::string error;
    const auto key = in ? msgauth::private_key_from_pem(pem.str(), &error) : std::nullopt;
    if (!key) {
        std::cerr << "ehlo: " << printable(c.key) << ": " << (in ? error : "cannot read") << "\n";
        return 1;
    }
    const auto message = read_message_file(c.file);
    if (!message) return 1;
    try {
        std::cout << msgauth::dkim_sign_message(*message, {{msgauth::normal_dns_name(c.domain), c.selector, *key}},
                                                std::time(nullptr));
    } catch (const std::exception& e) {
        std::cerr << "ehlo: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

int verify(const DkimCommand& c) {
    const auto message = read_message_file(c.file);
    if (!message) return 1;
    const auto parsed = msgauth::parse_message(*message);
    if (!parsed) {
        std::cerr << "ehlo: too many header fields\n";
        return 1;
    }
    auto dns = command_dns(c.config_file);
    if (!dns) return 2;
    msgauth::DkimVerifier verifier(parsed->fields);
    verifier.body(std::string_view(*message).substr(parsed->body_offset));
    const auto verdicts = wait_for<std::vector<msgauth::DkimVerdict>>(*dns, [&](auto done) {
        verifier.finish(dns->dns(), std::time(nullptr), std::move(done));
    });
    if (!verdicts) {
        std::cerr << "ehlo: no answer from the DNS\n";
        return 1;
    }
    if (verdicts->empty()) std::cout << "dkim=none (the message has no DKIM-Signature)\n";
    bool passed = false;
    for (std::size_t i = 0; i < verdicts->size(); ++i) {
        const msgauth::DkimVerdict& v = (*verdicts)[i];
        passed = passed || v.result == msgauth::Result::Pass;
        std::cout << "signature " << i + 1 << ": dkim=" << msgauth::result_name(v.result);
        if (!v.domain.empty())
            std::cout << " d=" << printable(v.domain) << " s=" << printable(v.selector) << " a=" << printable(v.algorithm);
        if (v.key_bits) std::cout << " key=" << v.key_bits << "bits";
        std::cout << " (" << printable(v.reason) << ")\n";
    }
    return passed ? 0 : 1;
}

}  // namespace

int dkim_command(const DkimCommand& c) {
    if (c.action == "keygen") return keygen(c);
    if (c.action == "sign") return sign(c);
    return verify(c);
}

}  // namespace ehlo::cli
