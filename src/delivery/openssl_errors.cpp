#include "delivery/openssl_errors.hpp"

#include <openssl/err.h>

namespace ehlo::delivery {

std::string openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

}  // namespace ehlo::delivery
