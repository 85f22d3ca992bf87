// Reads a TOML file into a Config and validates every value, so that `ehlo serve` never starts
// on a configuration it would misread. This file reads the top level and hands each table to
// its reader (load_server.cpp, load_delivery.cpp, load_domains.cpp; toml_reader.hpp).
//
// Strictness is the point: an unknown key is an error (a misspelt "listne" would otherwise
// leave the default in force without a word), as is a wrong type or a value out of range.
// Every error carries the line and column of the offending key or value. All errors are
// collected and the first in file order is reported, so the answer does not depend on the
// order in which toml++ happens to store keys.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "config/toml_reader.hpp"

namespace ehlo::config {

namespace {

using namespace load_detail;

constexpr std::uintmax_t kMaxFileSize = 1u << 20;    // a configuration file is a few KiB

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
        if (name == "listener") {
            read_listeners(errors, key, node, config.listeners);
            continue;
        }
        const bool known = name == "server" || name == "limits" || name == "spool" || name == "relay" ||
                           name == "smtp" || name == "log" || name == "delivery" || name == "outbound" ||
                           name == "dns" || name == "control" || name == "tls" || name == "auth" ||
                           name == "history" || name == "aliases" || name == "srs" ||
                           name == "console" || name == "sendmail" || name == "msgauth";
        if (!known) {
            errors.add(key.source(), node.is_table() ? "unknown table [" + escape_controls(name) + "]"
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
        if (name == "console") read_console(r, config.console);
        if (name == "sendmail") read_sendmail(r, config.sendmail);
        if (name == "msgauth") read_msgauth(r, config.msgauth);
        if (name == "history") read_history(r, config.history);
        if (name == "aliases") read_aliases(r, config.aliases);
        if (name == "srs") read_srs(r, config.srs, later);
        if (name == "tls") read_tls(r, config.tls);
        if (name == "auth") read_auth(r, config.auth);
    }
    // [[listener]] tables without a `listen` key replace the default listener.
    if (!config.listeners.empty() && !root.at_path("server.listen")) config.server.listen.clear();
    for (const auto& l : config.listeners) {
        const auto& listen = config.server.listen;
        if (std::find(listen.begin(), listen.end(), l.address) != listen.end()) {
            errors.add(root.at_path("server.listen").node()->source(),
                       "'listen' in [server] and a [[listener]] both name " + l.address.host + ":" + std::to_string(l.address.port));
        }
    }
    if (config.server.listen.empty() && config.listeners.empty()) {
        errors.add(toml::source_region{}, "no listener: [server] listen or a [[listener]] is needed");
    }
    if (config.console.enabled && config.console.tls && config.console.token_file.empty() && config.auth.users_file.empty()) {
        errors.add(root.at_path("console.tls").node()->source(),
                   "'tls' in [console] asks for a login: set [console] token_file or [auth] users_file");
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
    if (const auto& srs = later.srs_domain) {
        // Bounces come back to the SRS domain: it must be one whose mail ends here.
        const auto it = std::find_if(config.domains.begin(), config.domains.end(),
                                     [&](const LocalDomain& d) { return d.name == srs->value; });
        if (it == config.domains.end()) {
            errors.add(srs->where, "'domain' in [srs] must be a local domain; " + in_quotes(srs->value) + " is not a [[domain]]");
        } else if (!it->alias_of.empty()) {
            errors.add(srs->where, "'domain' in [srs] must not be an alias_of domain; use " + in_quotes(it->alias_of));
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