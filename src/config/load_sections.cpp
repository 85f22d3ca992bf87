// The loader's readers of the plain tables ([server], [limits], ... [control], [aliases], [srs])
// and of [[route]].
#include <algorithm>
#include <set>
#include <string>

#include "config/load_reader.hpp"
#include "config/mailbox_name.hpp"
#include "config/network.hpp"
#include "smtp/address.hpp"

namespace ehlo::config::load_detail {

void read_server(TableReader& r, Config::Server& server) {
    if (auto hostname = r.string("hostname")) {
        if (!hostname->value.empty() && !smtp::is_valid_domain(hostname->value, false)) {
            r.error(hostname->where, "hostname", "must be a domain name, not " + in_quotes(hostname->value));
        } else {
            server.hostname = hostname->value;
        }
    }
    if (auto listen = r.strings("listen")) {
        if (listen->empty()) {
            r.error(r.node("listen")->source(), "listen", "must name at least one address");
        } else {
            std::vector<ListenAddress> addresses;
            for (const auto& item : *listen) {
                auto parsed = parse_listen_address(item.value);
                if (!parsed.value) {
                    r.error(item.where, "listen", "has " + in_quotes(item.value) + ": " + parsed.error);
                } else if (std::find(addresses.begin(), addresses.end(), *parsed.value) != addresses.end()) {
                    r.error(item.where, "listen", "names " + in_quotes(item.value) + " twice");
                } else {
                    addresses.push_back(*parsed.value);
                }
            }
            server.listen = std::move(addresses);
        }
    }
    r.integer("threads", server.threads, 0, kMaxThreads, "0 = one per core");
}

void read_limits(TableReader& r, Config::Limits& limits) {
    r.integer("message_size", limits.message_size, kMinMessageSize, kNoMax, "octets");
    r.integer("recipients", limits.recipients, kMinRecipients, kNoMax, "RFC 5321 4.5.3.1.8");
    r.integer("connections", limits.connections, 1, kNoMax);
    r.integer("connections_per_client", limits.connections_per_client, 0, kNoMax, "0 = no limit");
    r.integer("errors", limits.errors, 1, kNoMax);
    r.integer("command_timeout", limits.command_timeout, kMinTimeout, kMaxTimeout, "seconds");
    r.integer("data_timeout", limits.data_timeout, kMinTimeout, kMaxTimeout, "seconds");
}

void read_spool(TableReader& r, Config::Spool& spool) {
    if (auto path = r.string("path")) {
        if (path->value.empty()) {
            r.error(path->where, "path", "must not be empty");
        } else {
            spool.path = path->value;
        }
    }
    if (auto sync = r.string("sync")) {
        if (sync->value == "syncfs") {
            spool.sync = SyncMode::Syncfs;
        } else if (sync->value == "fsync") {
            spool.sync = SyncMode::Fsync;
        } else {
            r.error(sync->where, "sync", "must be \"syncfs\" or \"fsync\", not " + in_quotes(sync->value));
        }
    }
}

void read_relay(TableReader& r, Config::Relay& relay) {
    auto networks = r.strings("trusted_networks");
    if (!networks) return;
    std::vector<std::string> out;
    for (const auto& item : *networks) {
        auto parsed = parse_network(item.value);
        if (!parsed.value) {
            r.error(item.where, "trusted_networks", "has " + in_quotes(item.value) + ": " + parsed.error);
        } else {
            out.push_back(item.value);
        }
    }
    relay.trusted_networks = std::move(out);
}

void read_smtp(TableReader& r, Config::Smtp& smtp) {
    r.boolean("vrfy", smtp.vrfy);
    r.boolean("dsn", smtp.dsn);
    if (auto delimiter = r.string("recipient_delimiter")) {
        const auto& d = delimiter->value;
        if (d.size() > 1 || (d.size() == 1 && kDelimiterChars.find(d[0]) == std::string_view::npos)) {
            r.error(delimiter->where, "recipient_delimiter",
                    "must be empty or one of " + std::string(kDelimiterChars) + ", not " + in_quotes(d));
        } else {
            smtp.recipient_delimiter = d;
        }
    }
}

void read_log(TableReader& r, Config::Log& log) {
    if (auto level = r.string("level")) {
        static const std::set<std::string, std::less<>> kLevels{"debug", "info", "warn", "error"};
        if (!kLevels.count(level->value)) {
            r.error(level->where, "level", "must be \"debug\", \"info\", \"warn\" or \"error\", not " + in_quotes(level->value));
        } else {
            log.level = level->value;
        }
    }
    r.string("file", log.file);
    r.boolean("dialog", log.dialog);
}

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
}

namespace {

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

}  // namespace

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
}

void read_control(TableReader& r, Config::Control& control) {
    if (auto socket = r.string("socket")) {
        if (socket->value.size() > kMaxSocketPath) {
            r.error(socket->where, "socket", "is longer than " + std::to_string(kMaxSocketPath) + " octets (a Unix socket path)");
        } else {
            control.socket = socket->value;
        }
    }
}

void read_aliases(TableReader& r, Config::Aliases& aliases) {
    std::vector<std::string> seen;
    auto read_list = [&](std::string_view key, std::vector<std::string>& out) {
        auto files = r.strings(key);
        if (!files) return;
        out.clear();
        for (const auto& item : *files) {
            if (item.value.empty()) {
                r.error(item.where, key, "must not hold an empty file name");
            } else if (std::find(seen.begin(), seen.end(), item.value) != seen.end()) {
                r.error(item.where, key, "names " + in_quotes(item.value) + " twice");
            } else {
                seen.push_back(item.value);
                out.push_back(item.value);
            }
        }
    };
    read_list("files", aliases.files);
    read_list("virtual_files", aliases.virtual_files);
}

// The SRS timestamp is a day number modulo 1024 (two base32 characters), so an address older
// than 1023 days cannot be told from a new one; the hash is HMAC-SHA1, 27 base64 characters
// at most, and fewer than 4 would be guessed too easily (libsrs2's minimum).
constexpr std::int64_t kMaxSrsAgeDays = 1023;
constexpr std::int64_t kMinSrsHashLength = 4;
constexpr std::int64_t kMaxSrsHashLength = 27;

void read_srs(TableReader& r, Config::Srs& srs, LaterChecks& later) {
    if (auto domain = r.string("domain")) {
        srs.domain = lower(domain->value);
        if (!srs.domain.empty()) {
            if (!smtp::is_valid_domain(srs.domain, false)) {
                r.error(domain->where, "domain", "must be empty or a domain name, not " + in_quotes(domain->value));
                srs.domain.clear();
            } else {
                later.srs_domain = Located{srs.domain, domain->where};
            }
        }
    }
    if (auto file = r.string("secret_file")) {
        if (file->value.empty()) {
            r.error(file->where, "secret_file", "must not be empty");
        } else {
            srs.secret_file = file->value;
        }
    }
    r.integer("max_age", srs.max_age, 1, kMaxSrsAgeDays, "days; the timestamp counts days modulo 1024");
    r.integer("hash_length", srs.hash_length, kMinSrsHashLength, kMaxSrsHashLength, "base64 characters of HMAC-SHA1");
}

namespace {

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
    return route;
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

}  // namespace ehlo::config::load_detail
