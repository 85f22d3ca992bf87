#include "cli/auth_support.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include "config/config.hpp"
#include "msgauth/message.hpp"

namespace ehlo::cli {

std::unique_ptr<CommandDns> command_dns(const std::string& config_file) {
    config::Config cfg;
    if (!config_file.empty()) {
        auto loaded = config::load_file(config_file);
        if (loaded.error) {
            std::cerr << loaded.error->str() << "\n";
            return nullptr;
        }
        cfg = std::move(*loaded.config);
    }
    auto d = std::make_unique<CommandDns>();
    delivery::ResolverOptions o;
    o.forwarders = cfg.dns.forwarders;
    o.timeout = std::chrono::seconds(cfg.dns.timeout);
    o.dnssec = cfg.dns.dnssec;
    o.forward_loopback_reverse = cfg.dns.forward_loopback_reverse;
    d->timeout = std::chrono::seconds(cfg.dns.timeout);
    try {
        d->resolver = std::make_unique<delivery::Resolver>(o);
    } catch (const std::exception& e) {
        std::cerr << "ehlo: " << e.what() << "\n";
        return nullptr;
    }
    d->lookup = std::make_unique<msgauth::ResolverDns>(*d->resolver);
    d->cached = std::make_unique<msgauth::CachingDnsLookup>(*d->lookup, d->cache, [] {
        return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    });
    return d;
}

std::optional<std::string> read_message_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::cerr << "ehlo: cannot read " << msgauth::printable(path) << "\n";
        return std::nullopt;
    }
    std::ostringstream s;
    s << in.rdbuf();
    return msgauth::to_crlf(s.str());
}

}  // namespace ehlo::cli
