// The tables of the sending side: [delivery], [outbound], [dns], [[route]].
#include <algorithm>

#include "config/mailbox_name.hpp"
#include "config/network.hpp"
#include "config/toml_reader.hpp"
#include "smtp/address.hpp"

namespace ehlo::config::load_detail {

namespace {

constexpr std::int64_t kMaxDuration = 365 * 24 * 60 * 60;  // seconds; a year bounds every wait
constexpr std::int64_t kMinReceivedLimit = 1;        // RFC 5321 6.3 asks for a large one; see docs
constexpr double kMinTimeoutScale = 0.001;          // timeout_scale: for tests, not for the RFC's minimums
constexpr double kMaxTimeoutScale = 100.0;

// "192.0.2.53", "2001:db8::53", "127.0.0.1@5353": an address, and a port after '@'.
std::string forwarder_error(std::string_view text) {
    const std::size_t at = text.rfind('@');
    const std::string_view ip = text.substr(0, at);
    if (!parse_ip_address(ip)) return "not an IP address";
    if (at == std::string_view::npos) return {};
    const std::string_view port = text.substr(at + 1);
    std::int64_t n = 0;
    for (char c : port) {
        if (c < '0' || c > '9' || n > kMaxPort) return "port must be 1 to 65535";
        n = n * 10 + (c - '0');
    }
    if (port.empty() || n < 1 || n > kMaxPort) return "port must be 1 to 65535";
    return {};
}

constexpr const char* kTlsPolicies = "\"none\", \"may\", \"encrypt\" or \"verify\"";

// tls = "none" | "may" | "encrypt" | "verify"
std::optional<delivery::TlsPolicy> read_tls_policy(TableReader& r, std::string_view key) {
    auto value = r.string(key);
    if (!value) return std::nullopt;
    auto policy = delivery::parse_tls_policy(value->value);
    if (!policy) r.error(value->where, key, std::string("must be ") + kTlsPolicies + ", not " + in_quotes(value->value));
    return policy;
}

// A CA file for `verify`: a path; whether it can be read is checked when delivery starts.
void read_ca_file(TableReader& r, std::string& out) {
    if (auto file = r.string("tls_ca_file")) out = file->value;
}

OutboundRoute read_route(TableReader& r, const toml::table& table) {
    OutboundRoute route;
    if (auto domain = r.string("domain")) {
        route.domain = lower(domain->value);
        if (route.domain != "*" && !smtp::is_valid_domain(route.domain, false)) {
            r.error(domain->where, "domain", "must be a domain name or \"*\", not " + in_quotes(domain->value));
            route.domain.clear();
        }
    } else if (!r.node("domain")) {
        r.error(table.source(), "domain", "is missing");
    }
    if (auto host = r.string("host")) {
        if (!parse_ip_address(host->value) && !smtp::is_valid_domain(host->value, false)) {
            r.error(host->where, "host", "must be an IP address or a host name, not " + in_quotes(host->value));
            route.domain.clear();
        } else {
            route.host = lower(host->value);
        }
    } else if (!r.node("host")) {
        r.error(table.source(), "host", "is missing");
        route.domain.clear();
    }
    r.integer("port", route.port, 1, kMaxPort);
    route.tls = read_tls_policy(r, "tls");
    read_ca_file(r, route.tls_ca_file);
    return route;
}

// tls_policy = { "bank.example" = "verify", "old.example" = "none" }: by recipient domain.
void read_tls_policy_map(TableReader& r, std::map<std::string, delivery::TlsPolicy>& out) {
    const auto* table = r.typed<toml::table>("tls_policy", toml::node_type::table);
    if (!table) return;
    std::map<std::string, delivery::TlsPolicy> policies;
    for (const auto& [key, node] : *table) {
        const std::string domain = lower(std::string(key.str()));
        if (!smtp::is_valid_domain(domain, false)) {
            r.error(key.source(), "tls_policy", "names " + in_quotes(key.str()) + ", not a domain name");
            continue;
        }
        const auto* value = node.as_string();
        const auto policy = value ? delivery::parse_tls_policy(value->get()) : std::nullopt;
        if (!policy) {
            r.error(node.source(), "tls_policy",
                    "must map " + in_quotes(domain) + " to " + kTlsPolicies +
                        (value ? ", not " + in_quotes(value->get()) : ", not " + type_name(node.type())));
            continue;
        }
        policies[domain] = *policy;
    }
    out = std::move(policies);
}

}  // namespace

void read_routes(Errors& errors, const toml::key& key, const toml::node& node, std::vector<OutboundRoute>& out) {
    const auto* array = node.as_array();
    const bool tables = array && !array->empty() &&
                        std::all_of(array->begin(), array->end(), [](const toml::node& n) { return n.is_table(); });
    if (!tables) {
        errors.add(key.source(), "'route' must be one or more [[route]] tables");
        return;
    }
    std::vector<OutboundRoute> routes;
    std::vector<std::size_t> first_lines;
    for (const toml::node& element : *array) {
        const auto& table = *element.as_table();
        TableReader r(errors, table, "[[route]]");
        OutboundRoute route = read_route(r, table);
        if (route.domain.empty()) continue;
        auto same = std::find_if(routes.begin(), routes.end(), [&](const OutboundRoute& o) { return o.domain == route.domain; });
        if (same != routes.end()) {
            r.error(table.get("domain")->source(), "domain",
                    "repeats " + in_quotes(route.domain) + " (first on line " +
                        std::to_string(first_lines[static_cast<std::size_t>(same - routes.begin())]) + ")");
            continue;
        }
        first_lines.push_back(table.get("domain")->source().begin.line);
        routes.push_back(std::move(route));
    }
    out = std::move(routes);
}

// The active set's bounds: beyond ten million the bound would no longer bound memory.
constexpr std::int64_t kMaxActive = 10'000'000;

void read_delivery(TableReader& r, Config::Delivery& delivery, LaterChecks& later) {
    r.integer("retry_min", delivery.retry_min, 1, kMaxDuration, "seconds");
    r.integer("retry_max", delivery.retry_max, 1, kMaxDuration, "seconds");
    if (delivery.retry_max < delivery.retry_min) {
        // Reported where the smaller bound was written (or the larger, if that one was not).
        const std::string_view key = r.node("retry_max") ? "retry_max" : "retry_min";
        r.error(r.node(key)->source(), key,
                "must leave retry_max at least retry_min, not " + std::to_string(delivery.retry_max) + " < " +
                    std::to_string(delivery.retry_min));
    }
    r.integer("lifetime", delivery.lifetime, 1, kMaxDuration, "seconds; RFC 5321 4.5.4.1 suggests 4-5 days");
    r.integer("delay_warning", delivery.delay_warning, 0, kMaxDuration, "seconds; 0 = none");
    r.integer("max_received", delivery.max_received, kMinReceivedLimit, kNoMax, "RFC 5321 6.3");
    r.integer("active_messages", delivery.active_messages, 1, kMaxActive, "messages in memory at once");
    r.integer("active_recipients", delivery.active_recipients, 1, kMaxActive, "recipients in memory at once");
    if (auto to = r.string("null_sender_failures_to")) {
        const std::string value = lower(to->value);
        const std::size_t at = value.find('@');
        const bool one_at = std::count(value.begin(), value.end(), '@') <= 1;
        if (!value.empty() && (!one_at || !is_mailbox_name(value.substr(0, at)))) {
            r.error(to->where, "null_sender_failures_to",
                    "must be empty, a mailbox name or NAME@LOCAL-DOMAIN, not " + in_quotes(to->value));
        } else {
            delivery.null_sender_failures_to = value;
            if (at != std::string::npos) later.null_sender_failures_to = Located{value, to->where};
        }
    }
}

void read_outbound(TableReader& r, Config::Outbound& outbound) {
    if (auto helo = r.string("helo_name")) {
        if (!helo->value.empty() && !smtp::is_valid_domain(helo->value, false)) {
            r.error(helo->where, "helo_name", "must be empty or a domain name, not " + in_quotes(helo->value));
        } else {
            outbound.helo_name = helo->value;
        }
    }
    r.integer("connections", outbound.connections, 1, kNoMax);
    r.integer("connections_per_destination", outbound.connections_per_destination, 1, kNoMax);
    r.integer("messages_per_connection", outbound.messages_per_connection, 1, kNoMax);
    r.integer("connect_timeout", outbound.connect_timeout, kMinTimeout, kMaxTimeout, "seconds");
    r.number("timeout_scale", outbound.timeout_scale, kMinTimeoutScale, kMaxTimeoutScale);
    if (auto policy = read_tls_policy(r, "tls")) outbound.tls = *policy;
    read_ca_file(r, outbound.tls_ca_file);
    read_tls_policy_map(r, outbound.tls_policy);
}



void read_dns(TableReader& r, Config::Dns& dns) {
    if (auto forwarders = r.strings("forwarders")) {
        std::vector<std::string> out;
        for (const auto& item : *forwarders) {
            if (auto why = forwarder_error(item.value); !why.empty()) {
                r.error(item.where, "forwarders", "has " + in_quotes(item.value) + ": " + why + " (\"IP\" or \"IP@PORT\")");
            } else {
                out.push_back(item.value);
            }
        }
        dns.forwarders = std::move(out);
    }
    r.integer("timeout", dns.timeout, kMinTimeout, kMaxTimeout, "seconds");
    r.boolean("dnssec", dns.dnssec);
    r.boolean("client_names", dns.client_names);
    r.boolean("forward_loopback_reverse", dns.forward_loopback_reverse);
}


}  // namespace ehlo::config::load_detail
