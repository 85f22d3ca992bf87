// The machinery every part of the configuration loader shares: errors with their place in the
// file, and a reader of one TOML table that knows which keys were asked for. Private to
// config/ (load*.cpp): with toml++, a heavy header, in those files only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <toml++/toml.h>

#include "config/config.hpp"
#include "smtp/text.hpp"

namespace ehlo::config::load_detail {

// Bounds shared by several tables. Where the RFC sets one, the RFC's number is the bound.
constexpr std::int64_t kMinTimeout = 1;              // seconds; RFC 5321 4.5.3.2.7 asks 300 of a server
constexpr std::int64_t kMaxTimeout = 24 * 60 * 60;   // seconds; keeps millisecond arithmetic in range
constexpr std::int64_t kNoMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMaxPort = 65535;

// Text from the file in a message, escaped (smtp::printable), so that an error message is
// always one line: a quoted TOML key may hold any octet, and toml++ quotes the text it choked
// on, line end included.
std::string escape_controls(std::string_view s);
// A name or value from the file, quoted for a message.
std::string in_quotes(std::string_view s);
std::string type_name(toml::node_type t);
using smtp::lower;
// Control characters have no business in a host name, path or address, and a NUL would cut
// a path short at the system call.
bool has_control(std::string_view s);

struct Located {
    std::string value;
    toml::source_region where;
};

class Errors {
public:
    explicit Errors(std::string file) : file_(std::move(file)) {}

    void add(const toml::source_region& where, std::string message) {
        errors_.push_back(ConfigError{file_, where.begin.line, where.begin.column, std::move(message)});
    }

    std::optional<ConfigError> first() const {
        auto earlier = [](const ConfigError& a, const ConfigError& b) {
            // Errors tied to no line sort last.
            return std::tuple(a.line == 0, a.line, a.column) < std::tuple(b.line == 0, b.line, b.column);
        };
        auto it = std::min_element(errors_.begin(), errors_.end(), earlier);
        if (it == errors_.end()) return std::nullopt;
        return *it;
    }

private:
    std::string file_;
    std::vector<ConfigError> errors_;
};

// Reads the keys of one table and, at the end, reports the keys nobody asked for.
class TableReader {
public:
    TableReader(Errors& errors, const toml::table& table, std::string label)
        : errors_(errors), table_(table), label_(std::move(label)) {}

    ~TableReader() {
        for (const auto& [key, node] : table_) {
            if (!known_.count(std::string(key.str()))) {
                errors_.add(key.source(), "unknown key " + in_quotes(key.str()) + " in " + label_);
            }
        }
    }

    const std::string& label() const { return label_; }
    Errors& errors() { return errors_; }

    void error(const toml::source_region& where, std::string_view key, const std::string& what) {
        errors_.add(where, in_quotes(key) + " in " + label_ + " " + what);
    }

    const toml::node* node(std::string_view key) {
        known_.insert(std::string(key));
        return table_.get(key);
    }

    template <typename T>
    const T* typed(std::string_view key, toml::node_type type) {
        const toml::node* n = node(key);
        if (!n) return nullptr;
        if (n->type() != type) {
            error(n->source(), key, "must be " + type_name(type) + ", not " + type_name(n->type()));
            return nullptr;
        }
        return n->as<T>();
    }

    std::optional<Located> string(std::string_view key) {
        auto* v = typed<toml::value<std::string>>(key, toml::node_type::string);
        if (!v) return std::nullopt;
        if (has_control(v->get())) {
            error(v->source(), key, "must not contain control characters");
            return std::nullopt;
        }
        return Located{v->get(), v->source()};
    }

    void string(std::string_view key, std::string& out) {
        if (auto s = string(key)) out = std::move(s->value);
    }

    // A number (floating-point or integer) in [min, max].
    void number(std::string_view key, double& out, double min, double max) {
        const toml::node* n = node(key);
        if (!n) return;
        double value = 0;
        if (const auto* f = n->as_floating_point()) {
            value = f->get();
        } else if (const auto* i = n->as_integer()) {
            value = static_cast<double>(i->get());
        } else {
            error(n->source(), key, "must be a number, not " + type_name(n->type()));
            return;
        }
        if (!(value >= min && value <= max)) {  // NaN fails too
            std::ostringstream what;
            what << "must be " << min << " to " << max << ", not " << value;
            error(n->source(), key, what.str());
            return;
        }
        out = value;
    }

    void boolean(std::string_view key, bool& out) {
        if (auto* v = typed<toml::value<bool>>(key, toml::node_type::boolean)) out = v->get();
    }

    // An integer in [min, max]; `why` says where the bound comes from, when it is not obvious.
    template <typename T>
    void integer(std::string_view key, T& out, std::int64_t min, std::int64_t max, std::string_view why = {}) {
        auto* v = typed<toml::value<std::int64_t>>(key, toml::node_type::integer);
        if (!v) return;
        const std::int64_t n = v->get();
        if (n < min || n > max) {
            std::string what = max == kNoMax ? "must be at least " + std::to_string(min)
                                             : "must be " + std::to_string(min) + " to " + std::to_string(max);
            if (!why.empty()) what += " (" + std::string(why) + ")";
            error(v->source(), key, what + ", not " + std::to_string(n));
            return;
        }
        out = static_cast<T>(n);
    }

    std::optional<std::vector<Located>> strings(std::string_view key) {
        auto* a = typed<toml::array>(key, toml::node_type::array);
        if (!a) return std::nullopt;
        std::vector<Located> out;
        bool ok = true;
        for (const toml::node& element : *a) {
            if (auto* s = element.as_string(); s && !has_control(s->get())) {
                out.push_back({s->get(), s->source()});
            } else {
                error(element.source(), key,
                      s ? "must not contain control characters" : "must hold strings, not " + type_name(element.type()));
                ok = false;
            }
        }
        if (!ok) return std::nullopt;
        return out;
    }

private:
    Errors& errors_;
    const toml::table& table_;
    std::string label_;
    std::set<std::string> known_;
};

// Checks that need the whole file: made after every table is read.
struct LaterChecks {
    std::optional<Located> null_sender_failures_to;  // its domain must be a local one
    std::optional<Located> srs_domain;               // must be a [[domain]], not an alias_of one
};

// One reader per table, each in the file of its job.
// load_server.cpp
void read_server(TableReader& r, Config::Server& server);
void read_limits(TableReader& r, Config::Limits& limits);
void read_spool(TableReader& r, Config::Spool& spool);
void read_relay(TableReader& r, Config::Relay& relay);
void read_smtp(TableReader& r, Config::Smtp& smtp);
void read_log(TableReader& r, Config::Log& log);
void read_history(TableReader& r, Config::History& history);
void read_control(TableReader& r, Config::Control& control);
void read_sendmail(TableReader& r, Config::Sendmail& sendmail);
void read_console(TableReader& r, Config::Console& console);
void read_msgauth(TableReader& r, Config::Msgauth& msgauth);
void read_listeners(Errors& errors, const toml::key& key, const toml::node& node, std::vector<Listener>& out);
void read_tls(TableReader& r, Config::Tls& tls);
void read_auth(TableReader& r, Config::Auth& auth);
void read_aliases(TableReader& r, Config::Aliases& aliases);
void read_srs(TableReader& r, Config::Srs& srs, LaterChecks& later);
// load_delivery.cpp
void read_delivery(TableReader& r, Config::Delivery& delivery, LaterChecks& later);
void read_outbound(TableReader& r, Config::Outbound& outbound);
void read_dns(TableReader& r, Config::Dns& dns);
void read_routes(Errors& errors, const toml::key& key, const toml::node& node, std::vector<OutboundRoute>& out);
// load_domains.cpp
void read_domains(Errors& errors, const toml::key& key, const toml::node& node, std::vector<LocalDomain>& out);

}  // namespace ehlo::config::load_detail
