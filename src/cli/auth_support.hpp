// What the message-authentication commands share: the resolver from the configuration's [dns]
// section, waiting for an asynchronous verdict (a command may block; the evaluators underneath
// are the daemon's asynchronous ones), reading a message file, and safe printing.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "delivery/resolver.hpp"
#include "msgauth/dns_cache.hpp"
#include "msgauth/resolver_dns.hpp"

namespace ehlo::cli {

struct CommandDns {
    std::unique_ptr<delivery::Resolver> resolver;
    std::unique_ptr<msgauth::ResolverDns> lookup;
    msgauth::DnsCache cache;
    std::unique_ptr<msgauth::CachingDnsLookup> cached;
    std::chrono::seconds timeout{10};
    msgauth::DnsLookup& dns() { return *cached; }
};

// nullptr (and a message on standard error) if the configuration or the resolver fails.
std::unique_ptr<CommandDns> command_dns(const std::string& config_file);

// The file's bytes with LF line ends made CRLF; nullopt (and a message) if unreadable.
std::optional<std::string> read_message_file(const std::string& path);

// Waits for `start(done)` to call done, at most a few DNS timeouts.
template <typename T, typename Start>
std::optional<T> wait_for(CommandDns& d, Start start) {
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    start([promise](T value) { promise->set_value(std::move(value)); });
    if (future.wait_for(d.timeout * 4 + std::chrono::seconds(5)) != std::future_status::ready) return std::nullopt;
    return future.get();
}

}  // namespace ehlo::cli
