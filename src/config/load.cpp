// Reads a TOML file into a Config and validates every value, so that `ehlo serve` never starts
// on a configuration it would misread. The only file that includes toml++ (a heavy header).
//
// Strictness is the point: an unknown key is an error (a misspelt "listne" would otherwise
// leave the default in force without a word), as is a wrong type or a value out of range.
// Every error carries the line and column of the offending key or value. All errors are
// collected and the first in file order is reported, so the answer does not depend on the
// order in which toml++ happens to store keys. How one table is read, strictly, is in
// table_reader.hpp; this file says what each table holds.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include <toml++/toml.h>

#include "config/config.hpp"
#include "config/table_reader.hpp"
#include "config/mailbox_name.hpp"
#include "config/network.hpp"
#include "smtp/address.hpp"

namespace ehlo::config {

namespace {

using namespace reading;

// Bounds of the values. Where the RFC sets one, the RFC's number is the bound.
constexpr std::int64_t kMinRecipients = 100;         // RFC 5321 4.5.3.1.8: must accept 100 per message
constexpr std::int64_t kMinMessageSize = 1024;       // smaller would refuse even a bounce
constexpr std::int64_t kMaxThreads = 1024;           // far beyond any core count; catches typos
constexpr std::int64_t kMinTimeout = 1;              // seconds; RFC 5321 4.5.3.2.7 asks 300 of a server
constexpr std::int64_t kMaxTimeout = 24 * 60 * 60;   // seconds; keeps millisecond arithmetic in range
constexpr std::uintmax_t kMaxFileSize = 1u << 20;    // a configuration file is a few KiB
constexpr std::int64_t kMaxDuration = 365 * 24 * 60 * 60;  // seconds; a year bounds every wait
constexpr std::int64_t kMinReceivedLimit = 1;        // RFC 5321 6.3 asks for a large one; see docs
constexpr std::int64_t kMaxPort = 65535;
constexpr double kMinTimeoutScale = 0.001;          // timeout_scale: for tests, not for the RFC's minimums
constexpr double kMaxTimeoutScale = 100.0;
// A Unix socket path must fit sockaddr_un::sun_path (108 octets on Linux, with its NUL).
constexpr std::size_t kMaxSocketPath = 107;
// History retention in days: ten years bounds it well past any use, and catches typos.
constexpr std::int64_t kMaxHistoryDays = 3650;

// recipient_delimiter: one of the atext specials of RFC 5321 4.1.2 (so it can occur in a
// Dot-string local part), and not '.', which separates atoms.
constexpr std::string_view kDelimiterChars = "!#$%&'*+-/=?^_`{|}~";

const char* const kMailboxNameRule = "[a-z0-9._-], not starting with '.', no '..', at most 64 characters";


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

void read_history(TableReader& r, Config::History& history) {
    r.boolean("enabled", history.enabled);
    r.string("path", history.path);
    r.integer("retention", history.retention, 1, kMaxHistoryDays, "days");
    if (auto mode = r.string("transcripts")) {
        if (mode->value == "off") {
            history.transcripts = HistoryTranscripts::Off;
        } else if (mode->value == "errors") {
            history.transcripts = HistoryTranscripts::Errors;
        } else if (mode->value == "all") {
            history.transcripts = HistoryTranscripts::All;
        } else {
            r.error(mode->where, "transcripts", "must be \"off\", \"errors\" or \"all\", not " + in_quotes(mode->value));
        }
    }
}

// Checks that need the whole file: made after every table is read.
struct LaterChecks {
    std::optional<Located> null_sender_failures_to;  // its domain must be a local one
};

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

std::optional<std::string> mailbox_name(TableReader& r, std::string_view key, const Located& item) {
    if (!is_mailbox_name(item.value)) {
        r.error(item.where, key, "has " + in_quotes(item.value) + ", not a mailbox name (" + kMailboxNameRule + ")");
        return std::nullopt;
    }
    return item.value;
}

LocalDomain read_domain(TableReader& r, const toml::table& table) {
    LocalDomain domain;
    if (auto name = r.string("name")) {
        domain.name = lower(name->value);
        if (!smtp::is_valid_domain(domain.name, false)) {
            r.error(name->where, "name", "must be a domain name, not " + in_quotes(name->value));
        }
    } else if (!r.node("name")) {
        r.error(table.source(), "name", "is missing");
    }
    r.boolean("catch_all", domain.catch_all);
    if (auto mailboxes = r.strings("mailboxes")) {
        for (const auto& item : *mailboxes) {
            auto name = mailbox_name(r, "mailboxes", item);
            if (!name) continue;
            if (std::find(domain.mailboxes.begin(), domain.mailboxes.end(), *name) != domain.mailboxes.end()) {
                r.error(item.where, "mailboxes", "names " + in_quotes(*name) + " twice");
            } else {
                domain.mailboxes.push_back(*name);
            }
        }
    }
    if (auto root = r.string("maildir_root")) {
        if (root->value.empty()) {
            r.error(root->where, "maildir_root", "must not be empty");
        } else {
            domain.maildir_root = root->value;
        }
    }
    if (auto postmaster = r.string("postmaster")) {
        if (auto name = mailbox_name(r, "postmaster", *postmaster)) domain.postmaster = *name;
    }
    return domain;
}

void read_domains(Errors& errors, const toml::key& key, const toml::node& node, std::vector<LocalDomain>& out) {
    const auto* array = node.as_array();
    const bool tables = array && !array->empty() &&
                        std::all_of(array->begin(), array->end(), [](const toml::node& n) { return n.is_table(); });
    if (!tables) {
        errors.add(key.source(), "'domain' must be one or more [[domain]] tables");
        return;
    }
    std::vector<LocalDomain> domains;
    std::vector<std::size_t> first_lines;
    for (const toml::node& element : *array) {
        const auto& table = *element.as_table();
        LocalDomain domain;
        {
            TableReader r(errors, table, "[[domain]]");
            domain = read_domain(r, table);
            if (domain.name.empty()) continue;
            auto same = std::find_if(domains.begin(), domains.end(),
                                     [&](const LocalDomain& d) { return d.name == domain.name; });
            if (same != domains.end()) {
                r.error(table.get("name")->source(), "name",
                        "repeats " + in_quotes(domain.name) + " (first on line " +
                            std::to_string(first_lines[static_cast<std::size_t>(same - domains.begin())]) + ")");
                continue;
            }
        }
        first_lines.push_back(table.get("name")->source().begin.line);
        domains.push_back(std::move(domain));
    }
    out = std::move(domains);
}

Config read_config(Errors& errors, const toml::table& root) {
    Config config;
    LaterChecks later;
    for (const auto& [key, node] : root) {
        const auto name = key.str();
        if (name == "domain") {
            read_domains(errors, key, node, config.domains);
            continue;
        }
        if (name == "route") {
            read_routes(errors, key, node, config.routes);
            continue;
        }
        const bool known = name == "server" || name == "limits" || name == "spool" || name == "relay" ||
                           name == "smtp" || name == "log" || name == "delivery" || name == "outbound" ||
                           name == "dns" || name == "control" || name == "history";
        if (!known) {
            errors.add(key.source(), node.is_table() ? "unknown table [" + std::string(name) + "]"
                                                     : "unknown key " + in_quotes(name));
            continue;
        }
        const auto* table = node.as_table();
        if (!table) {
            errors.add(key.source(), in_quotes(name) + " must be a table ([" + std::string(name) + "])");
            continue;
        }
        TableReader r(errors, *table, "[" + std::string(name) + "]");
        if (name == "server") read_server(r, config.server);
        if (name == "limits") read_limits(r, config.limits);
        if (name == "spool") read_spool(r, config.spool);
        if (name == "relay") read_relay(r, config.relay);
        if (name == "smtp") read_smtp(r, config.smtp);
        if (name == "log") read_log(r, config.log);
        if (name == "delivery") read_delivery(r, config.delivery, later);
        if (name == "outbound") read_outbound(r, config.outbound);
        if (name == "dns") read_dns(r, config.dns);
        if (name == "control") read_control(r, config.control);
        if (name == "history") read_history(r, config.history);
    }
    if (const auto& to = later.null_sender_failures_to) {
        // Failure notices must stay here: one sent away could fail and be noticed in turn.
        const std::string domain = to->value.substr(to->value.find('@') + 1);
        const bool local = std::any_of(config.domains.begin(), config.domains.end(),
                                       [&](const LocalDomain& d) { return d.name == domain; });
        if (!local) {
            errors.add(to->where, "'null_sender_failures_to' in [delivery] must be a local address; " +
                                      in_quotes(domain) + " is not a [[domain]]");
        }
    }
    return config;
}

LoadResult failure(const std::string& file, std::size_t line, std::size_t column, std::string message) {
    return {std::nullopt, ConfigError{file, line, column, std::move(message)}};
}

}  // namespace

LoadResult load_string(std::string_view text, const std::string& name) {
    toml::table root;
    try {
        root = toml::parse(text, name);
    } catch (const toml::parse_error& e) {
        return failure(name, e.source().begin.line, e.source().begin.column, escape_controls(e.description()));
    }
    Errors errors(name);
    Config config = read_config(errors, root);
    if (auto error = errors.first()) return {std::nullopt, std::move(error)};
    return {std::move(config), std::nullopt};
}

LoadResult load_file(const std::string& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec) return failure(path, 0, 0, "cannot read: " + ec.message());
    if (std::filesystem::is_directory(status)) return failure(path, 0, 0, "cannot read: is a directory");
    if (std::filesystem::is_regular_file(status) && std::filesystem::file_size(path, ec) > kMaxFileSize) {
        return failure(path, 0, 0, "cannot read: larger than " + std::to_string(kMaxFileSize) + " bytes");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return failure(path, 0, 0, std::string("cannot read: ") + std::strerror(errno));
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) return failure(path, 0, 0, "cannot read: I/O error");
    return load_string(content.str(), path);
}

}  // namespace ehlo::config
