// The pieces every part of the loader shares: the error list, the reader of one TOML table
// that reports unknown keys, and the bounds of the values. Internal to config/: it includes
// toml++ (a heavy header), so only the loader's own files (load*.cpp) include it.
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

namespace ehlo::config::load_detail {

// Bounds of the values. Where the RFC sets one, the RFC's number is the bound.
inline constexpr std::int64_t kMinRecipients = 100;         // RFC 5321 4.5.3.1.8: must accept 100 per message
inline constexpr std::int64_t kMinMessageSize = 1024;       // smaller would refuse even a bounce
inline constexpr std::int64_t kMaxThreads = 1024;           // far beyond any core count; catches typos
inline constexpr std::int64_t kMinTimeout = 1;              // seconds; RFC 5321 4.5.3.2.7 asks 300 of a server
inline constexpr std::int64_t kMaxTimeout = 24 * 60 * 60;   // seconds; keeps millisecond arithmetic in range
inline constexpr std::int64_t kNoMax = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int64_t kMaxDuration = 365 * 24 * 60 * 60;  // seconds; a year bounds every wait
inline constexpr std::int64_t kMinReceivedLimit = 1;        // RFC 5321 6.3 asks for a large one; see docs
inline constexpr std::int64_t kMaxPort = 65535;
inline constexpr double kMinTimeoutScale = 0.001;          // timeout_scale: for tests, not for the RFC's minimums
inline constexpr double kMaxTimeoutScale = 100.0;

// recipient_delimiter: one of the atext specials of RFC 5321 4.1.2 (so it can occur in a
// Dot-string local part), and not '.', which separates atoms.
inline constexpr std::string_view kDelimiterChars = "!#$%&'*+-/=?^_`{|}~";

inline constexpr const char* kMailboxNameRule = "[a-z0-9._-], not starting with '.', no '..', at most 64 characters";

// Control characters escaped as \xNN, so that an error message is always one line: a quoted
// TOML key may hold any, and toml++ quotes the text it choked on, line end included.
inline std::string escape_controls(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

// A name or value from the file, quoted for a message.
inline std::string in_quotes(std::string_view s) { return "'" + escape_controls(s) + "'"; }

inline std::string type_name(toml::node_type t) {
    switch (t) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a floating-point number";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        case toml::node_type::none: break;
    }
    return "nothing";
}

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// Control characters have no business in a host name, path or address, and a NUL would cut
// a path short at the system call.
inline bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

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

// One reader per table (load_sections.cpp) and per array of tables (load_domains.cpp,
// load_sections.cpp for [[route]]).
void read_server(TableReader& r, Config::Server& server);
void read_limits(TableReader& r, Config::Limits& limits);
void read_spool(TableReader& r, Config::Spool& spool);
void read_relay(TableReader& r, Config::Relay& relay);
void read_smtp(TableReader& r, Config::Smtp& smtp);
void read_log(TableReader& r, Config::Log& log);
void read_delivery(TableReader& r, Config::Delivery& delivery, LaterChecks& later);
void read_outbound(TableReader& r, Config::Outbound& outbound);
void read_dns(TableReader& r, Config::Dns& dns);
void read_control(TableReader& r, Config::Control& control);
void read_aliases(TableReader& r, Config::Aliases& aliases);
void read_srs(TableReader& r, Config::Srs& srs, LaterChecks& later);
void read_routes(Errors& errors, const toml::key& key, const toml::node& node, std::vector<OutboundRoute>& out);
void read_domains(Errors& errors, const toml::key& key, const toml::node& node, std::vector<LocalDomain>& out);

}  // namespace ehlo::config::load_detail
