// The tables of the receiving side: [server] and [[listener]], [limits], [spool], [relay],
// [smtp], [log], [control], [tls], [auth].
#include <algorithm>

#include "config/network.hpp"
#include "config/toml_reader.hpp"
#include "smtp/address.hpp"

namespace ehlo::config::load_detail {

namespace {

constexpr std::int64_t kMinRecipients = 100;         // RFC 5321 4.5.3.1.8: must accept 100 per message
constexpr std::int64_t kMinMessageSize = 1024;       // smaller would refuse even a bounce
constexpr std::int64_t kMaxThreads = 1024;           // far beyond any core count; catches typos
// A Unix socket path must fit sockaddr_un::sun_path (108 octets on Linux, with its NUL).
constexpr std::size_t kMaxSocketPath = 107;
// recipient_delimiter: one of the atext specials of RFC 5321 4.1.2 (so it can occur in a
// Dot-string local part), and not '.', which separates atoms.
constexpr std::string_view kDelimiterChars = "!#$%&'*+-/=?^_`{|}~";

// A user or group name as useradd(8) accepts it (and no more: it names an account to run as).
bool is_account_name(std::string_view name) {
    if (name.empty() || name.size() > 32 || name[0] == '-') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-' || c == '.';
    });
}

bool is_loopback_host(const std::string& host) {
    return host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

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
    if (auto user = r.string("user")) {
        if (!is_account_name(user->value)) {
            r.error(user->where, "user", "must be an account name, not " + in_quotes(user->value));
        } else if (user->value == "root") {
            r.error(user->where, "user", "must not be root: ehlo does not run as root");
        } else {
            server.user = user->value;
        }
    }
    if (auto group = r.string("group")) {
        if (!group->value.empty() && !is_account_name(group->value)) {
            r.error(group->where, "group", "must be a group name, not " + in_quotes(group->value));
        } else {
            server.group = group->value;
        }
    }
}

void read_limits(TableReader& r, Config::Limits& limits) {
    r.integer("message_size", limits.message_size, kMinMessageSize, kNoMax, "octets");
    r.integer("recipients", limits.recipients, kMinRecipients, kNoMax, "RFC 5321 4.5.3.1.8");
    r.integer("connections", limits.connections, 1, kNoMax);
    r.integer("connections_per_client", limits.connections_per_client, 0, kNoMax, "0 = no limit");
    r.integer("connection_rate", limits.connection_rate, 0, kNoMax, "per minute; 0 = no limit");
    r.integer("message_rate", limits.message_rate, 0, kNoMax, "per minute; 0 = no limit");
    r.integer("recipient_rate", limits.recipient_rate, 0, kNoMax, "per minute; 0 = no limit");
    r.number("greeting_delay", limits.greeting_delay, 0, 60);
    r.integer("errors", limits.errors, 1, kNoMax);
    r.integer("junk_commands", limits.junk_commands, 0, kNoMax, "0 = no limit");
    r.integer("command_timeout", limits.command_timeout, kMinTimeout, kMaxTimeout, "seconds");
    r.integer("data_timeout", limits.data_timeout, kMinTimeout, kMaxTimeout, "seconds");
    r.integer("data_total_timeout", limits.data_total_timeout, kMinTimeout, kMaxTimeout, "seconds");
    r.integer("min_data_rate", limits.min_data_rate, 0, kNoMax, "octets per second; 0 = no limit");
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
    r.integer("min_free", spool.min_free, 0, kNoMax, "octets; 0 = no reserve");
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


// History retention in days: ten years bounds it well past any use, and catches typos.
constexpr std::int64_t kMaxHistoryDays = 3650;

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

void read_control(TableReader& r, Config::Control& control) {
    if (auto socket = r.string("socket")) {
        if (socket->value.size() > kMaxSocketPath) {
            r.error(socket->where, "socket", "is longer than " + std::to_string(kMaxSocketPath) + " octets (a Unix socket path)");
        } else {
            control.socket = socket->value;
        }
    }
    if (auto group = r.string("group")) {
        if (!group->value.empty() && !is_account_name(group->value)) {
            r.error(group->where, "group", "must be a group name, not " + in_quotes(group->value));
        } else {
            control.group = group->value;
        }
    }
}

void read_sendmail(TableReader& r, Config::Sendmail& sendmail) {
    r.boolean("enabled", sendmail.enabled);
    if (auto maildrop = r.string("maildrop")) sendmail.maildrop = maildrop->value;
    if (auto socket = r.string("socket")) {
        if (socket->value.size() > kMaxSocketPath) {
            r.error(socket->where, "socket", "is longer than " + std::to_string(kMaxSocketPath) + " octets (a Unix socket path)");
        } else {
            sendmail.socket = socket->value;
        }
    }
}

void read_console(TableReader& r, Config::Console& console) {
    r.boolean("enabled", console.enabled);
    if (auto listen = r.string("listen")) {
        auto parsed = parse_listen_address(listen->value);
        if (!parsed.value) {
            r.error(listen->where, "listen", "has " + in_quotes(listen->value) + ": " + parsed.error);
        } else {
            console.listen = *parsed.value;
        }
    }
    r.boolean("tls", console.tls);
    if (auto token = r.string("token_file")) console.token_file = token->value;
    // What the console shows (every message's sender, recipients, the peers' replies) and
    // does (delete, bounce) is for the machine's administrator: elsewhere than on loopback
    // only through TLS and a login.
    if (auto listen = r.string("listen"); listen && !console.tls && !is_loopback_host(console.listen.host))
        r.error(listen->where, "listen", "must be a loopback address (127.0.0.0/8 or ::1) unless tls = true (HTTPS "
                                         "with a login on every request)");
}

void read_listeners(Errors& errors, const toml::key& key, const toml::node& node, std::vector<Listener>& out) {
    const auto* array = node.as_array();
    const bool tables = array && !array->empty() &&
                        std::all_of(array->begin(), array->end(), [](const toml::node& n) { return n.is_table(); });
    if (!tables) {
        errors.add(key.source(), "'listener' must be one or more [[listener]] tables");
        return;
    }
    for (const toml::node& element : *array) {
        const auto& table = *element.as_table();
        TableReader r(errors, table, "[[listener]]");
        Listener listener;
        auto address = r.string("address");
        if (!address) {
            if (!r.node("address")) r.error(table.source(), "address", "is missing");
            continue;
        }
        auto parsed = parse_listen_address(address->value);
        if (!parsed.value) {
            r.error(address->where, "address", "has " + in_quotes(address->value) + ": " + parsed.error);
            continue;
        }
        listener.address = *parsed.value;
        if (auto kind = r.string("kind")) {
            if (kind->value == "smtp") {
                listener.kind = ListenerKind::Smtp;
            } else if (kind->value == "submission") {
                listener.kind = ListenerKind::Submission;
            } else if (kind->value == "submissions") {
                listener.kind = ListenerKind::Submissions;
            } else {
                r.error(kind->where, "kind", "must be \"smtp\", \"submission\" or \"submissions\", not " + in_quotes(kind->value));
                continue;
            }
        }
        const bool repeated = std::any_of(out.begin(), out.end(), [&](const Listener& l) { return l.address == listener.address; });
        if (repeated) {
            r.error(address->where, "address", "names " + in_quotes(address->value) + " twice");
            continue;
        }
        out.push_back(listener);
    }
}

void read_tls(TableReader& r, Config::Tls& tls) {
    r.integer("handshake_timeout", tls.handshake_timeout, kMinTimeout, kMaxTimeout, "seconds");
    const toml::node* node = r.node("certificates");
    if (!node) return;
    const auto* array = node->as_array();
    const bool tables = array && std::all_of(array->begin(), array->end(), [](const toml::node& n) { return n.is_table(); });
    if (!tables) {
        r.error(node->source(), "certificates", "must be an array of tables {chain = \"FILE\", key = \"FILE\"}");
        return;
    }
    std::vector<Config::Tls::Certificate> out;
    for (const toml::node& element : *array) {
        TableReader c(r.errors(), *element.as_table(), "[tls] certificates");
        Config::Tls::Certificate certificate;
        bool ok = true;
        for (const auto& [key, field] : {std::pair{"chain", &certificate.chain}, std::pair{"key", &certificate.key}}) {
            auto value = c.string(key);
            if (value && !value->value.empty()) {
                *field = value->value;
            } else {
                if (value || !c.node(key)) c.error(element.source(), key, "must name a file");
                ok = false;
            }
        }
        if (ok) out.push_back(std::move(certificate));
    }
    tls.certificates = std::move(out);
}

void read_auth(TableReader& r, Config::Auth& auth) {
    r.string("users_file", auth.users_file);
    r.boolean("plaintext_loopback", auth.plaintext_loopback);
    r.boolean("bind_sender", auth.bind_sender);
    r.integer("max_failures", auth.max_failures, 1, kNoMax);
    r.integer("lockout", auth.lockout, 1, kMaxTimeout, "seconds");
    r.integer("failure_delay", auth.failure_delay, 0, 60, "seconds");
    r.integer("threads", auth.threads, 1, 64);
}

}  // namespace ehlo::config::load_detail
