// The alias file parser. Both formats share Postfix's line rules (postmap(1), aliases(5)): a
// logical line starts with non-whitespace text; a line starting with whitespace continues it;
// a line whose first non-whitespace character is '#' is a comment, as is an empty one. '#'
// later in a line is text, as it is for Postfix. Every problem names the physical line it is
// on, so that `ehlo check-config` can point at it.
#include "policy/alias_table.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include <sys/stat.h>

#include "smtp/address.hpp"

namespace ehlo::policy {

namespace {

constexpr std::string_view kInclude = ":include:";

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
    });
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

// One logical line: the text of its physical lines joined by a space, and where each began.
struct LogicalLine {
    std::string text;
    std::vector<std::pair<std::size_t, std::size_t>> starts;  // (offset in text, physical line)
    bool bad = false;                                         // a physical line was refused

    std::size_t line() const { return starts.front().second; }
    std::size_t line_at(std::size_t offset) const {
        std::size_t line = starts.front().second;
        for (const auto& [at, physical] : starts) {
            if (at > offset) break;
            line = physical;
        }
        return line;
    }
};

// Pieces of `text` split at separators outside double quotes, each with its offset.
std::vector<std::pair<std::size_t, std::string_view>> split_outside_quotes(std::string_view text, std::string_view separators) {
    std::vector<std::pair<std::size_t, std::string_view>> out;
    bool in_quotes = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\\' && in_quotes) {
            ++i;  // a quoted-pair: the next character is text
        } else if (c == '"') {
            in_quotes = !in_quotes;
        } else if (!in_quotes && separators.find(c) != std::string_view::npos) {
            out.emplace_back(start, text.substr(start, i - start));
            start = i + 1;
        }
    }
    out.emplace_back(start, text.substr(start));
    return out;
}

// The position of the first `wanted` outside double quotes, or npos.
std::size_t find_outside_quotes(std::string_view text, char wanted) {
    bool in_quotes = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && in_quotes) {
            ++i;
        } else if (text[i] == '"') {
            in_quotes = !in_quotes;
        } else if (!in_quotes && text[i] == wanted) {
            return i;
        }
    }
    return std::string_view::npos;
}

std::size_t rfind_outside_quotes(std::string_view text, char wanted) {
    std::size_t found = std::string_view::npos;
    bool in_quotes = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && in_quotes) {
            ++i;
        } else if (text[i] == '"') {
            in_quotes = !in_quotes;
        } else if (!in_quotes && text[i] == wanted) {
            found = i;
        }
    }
    return found;
}

// A target, or why it is not one.
struct ParsedTarget {
    std::optional<AliasTarget> target;
    std::string error;
};

ParsedTarget parse_target(std::string_view t) {
    const std::string_view unquoted = t.starts_with('"') ? t.substr(1) : t;
    if (unquoted.starts_with('|')) {
        return {std::nullopt, in_quotes(t) + ": delivery to a command is not supported (ehlo delivers to mailboxes and servers only)"};
    }
    if (unquoted.starts_with('/')) {
        return {std::nullopt, in_quotes(t) + ": delivery to a file is not supported (ehlo delivers to mailboxes and servers only)"};
    }
    if (starts_with_ci(t, kInclude)) {
        return {std::nullopt, in_quotes(t) + ": ':include:' is not supported; write the addresses in the table"};
    }
    AliasTarget target;
    if (t.starts_with('@')) {
        target.kind = AliasTarget::Kind::SameUserIn;
        target.domain = lower(t.substr(1));
        if (!smtp::is_valid_domain(target.domain, true)) return {std::nullopt, in_quotes(t) + " is not @DOMAIN"};
        return {target, {}};
    }
    if (rfind_outside_quotes(t, '@') != std::string_view::npos) {
        const std::string path = "<" + std::string(t) + ">";
        const auto parsed = smtp::parse_path(path, false, true);
        if (!parsed.mailbox || parsed.consumed != path.size()) return {std::nullopt, in_quotes(t) + " is not an address"};
        target.local_part = parsed.mailbox->local_part;
        target.domain = lower(parsed.mailbox->domain);
        return {target, {}};
    }
    if (!smtp::is_valid_local_part(t, true)) return {std::nullopt, in_quotes(t) + " is not an address or a local name"};
    target.local_part = std::string(t);
    return {target, {}};
}

std::vector<LogicalLine> logical_lines(std::string_view text, std::vector<std::pair<std::size_t, std::string>>& problems) {
    std::vector<LogicalLine> lines;
    std::size_t number = 0;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        std::string_view physical = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        ++number;
        if (physical.ends_with('\r')) physical.remove_suffix(1);  // a file written with CRLF
        const std::string_view content = trim(physical);
        if (content.empty() || content.front() == '#') continue;
        const bool continuation = is_space(physical.front());
        if (continuation && lines.empty()) {
            problems.emplace_back(number, "a line starting with whitespace continues an entry, but none comes before it");
            continue;
        }
        if (!continuation) lines.emplace_back();
        LogicalLine& line = lines.back();
        if (has_control(physical)) {
            problems.emplace_back(number, "holds a control character");
            line.bad = true;
            if (line.starts.empty()) line.starts.emplace_back(0, number);
            continue;
        }
        if (continuation) line.text += ' ';
        line.starts.emplace_back(line.text.size(), number);
        line.text += content;
    }
    return lines;
}

}  // namespace

std::string AliasProblem::str() const {
    std::string out = file;
    if (line != 0) out += ":" + std::to_string(line);
    return out + ": " + message;
}

const AliasEntry* AliasTable::find_address(std::string_view local, std::string_view domain) const {
    std::string key(local);
    key += '@';
    key += domain;
    const auto it = by_address_.find(key);
    return it == by_address_.end() ? nullptr : &entries_[it->second];
}

const AliasEntry* AliasTable::find_name(std::string_view local) const {
    const auto it = by_name_.find(std::string(local));
    return it == by_name_.end() ? nullptr : &entries_[it->second];
}

const AliasEntry* AliasTable::find_catch_all(std::string_view domain) const {
    const auto it = by_domain_.find(std::string(domain));
    return it == by_domain_.end() ? nullptr : &entries_[it->second];
}

std::string AliasTable::origin(const AliasEntry& entry) const {
    return files_[entry.file] + ":" + std::to_string(entry.line);
}

void AliasTableBuilder::problem(const AliasFileSpec& spec, std::size_t line, std::string message) {
    problems_.push_back(AliasProblem{spec.path, line, std::move(message)});
}

void AliasTableBuilder::add_entry(const Key& key, AliasEntry entry, const AliasFileSpec& spec) {
    auto& map = key.level == Key::Level::Address ? table_.by_address_
                : key.level == Key::Level::Name  ? table_.by_name_
                                                 : table_.by_domain_;
    if (const auto it = map.find(key.text); it != map.end()) {
        problem(spec, entry.line, in_quotes(entry.key) + " is defined twice (first at " + table_.origin(table_.entries_[it->second]) + ")");
        return;
    }
    map.emplace(key.text, table_.entries_.size());
    table_.entries_.push_back(std::move(entry));
}

void AliasTableBuilder::add_text(std::string_view text, const AliasFileSpec& spec) {
    const auto file = static_cast<std::size_t>(
        std::find(table_.files_.begin(), table_.files_.end(), spec.path) - table_.files_.begin());
    if (file == table_.files_.size()) table_.files_.push_back(spec.path);
    const bool virtual_format = spec.format == AliasFormat::Virtual;

    std::vector<std::pair<std::size_t, std::string>> line_problems;
    const auto lines = logical_lines(text, line_problems);
    for (auto& [line, message] : line_problems) problem(spec, line, std::move(message));

    // A key's domain must be local, and one whose own mailboxes (not alias_of) it reaches.
    auto key_domain_ok = [&](std::string_view domain, std::string_view key, std::size_t line) {
        const config::LocalDomain* d = domains_.find(domain);
        if (!d) {
            problem(spec, line, in_quotes(key) + ": " + in_quotes(domain) +
                                    " is not a local domain; add a [[domain]] for it (one with only aliases is a virtual alias domain)");
            return false;
        }
        if (!d->alias_of.empty()) {
            problem(spec, line, in_quotes(key) + ": " + in_quotes(domain) + " is an alias_of " + in_quotes(d->alias_of) +
                                    ", whose addresses are its own; write the entry for " + in_quotes(d->alias_of));
            return false;
        }
        if (!spec.domain.empty() && domain != spec.domain) {
            problem(spec, line, in_quotes(key) + " is not of " + in_quotes(spec.domain) + ", whose alias_file this is");
            return false;
        }
        return true;
    };

    for (const LogicalLine& logical : lines) {
        if (logical.bad) continue;
        const std::string_view whole = logical.text;
        const std::size_t line = logical.line();

        std::string_view key_text, value;
        std::size_t value_offset = 0;
        if (virtual_format) {
            if (whole.starts_with('/')) {
                problem(spec, line, "regular expression tables (regexp:, pcre:) are not read; list the addresses");
                continue;
            }
            std::size_t end = 0;
            bool in_quotes = false;
            for (; end < whole.size(); ++end) {
                if (whole[end] == '"') in_quotes = !in_quotes;
                if (!in_quotes && is_space(whole[end])) break;
            }
            key_text = whole.substr(0, end);
            value_offset = end;
            value = whole.substr(end);
        } else {
            const std::size_t colon = find_outside_quotes(whole, ':');
            if (colon == std::string_view::npos) {
                problem(spec, line, "expected 'NAME: TARGET, TARGET, ...'");
                continue;
            }
            key_text = trim(whole.substr(0, colon));
            value_offset = colon + 1;
            value = whole.substr(colon + 1);
        }

        // The key: its level, the text the table's map holds, and whether to skip the line.
        Key key{Key::Level::Name, {}};
        bool skip = false, bad = false;
        if (key_text.empty()) {
            problem(spec, line, "the entry has no name before ':'");
            continue;
        }
        const std::size_t at = rfind_outside_quotes(key_text, '@');
        if (key_text.starts_with('@')) {
            const std::string domain = lower(key_text.substr(1));
            if (!smtp::is_valid_domain(domain, true)) {
                problem(spec, line, in_quotes(key_text) + " is not @DOMAIN");
                bad = true;
            } else if (!key_domain_ok(domain, key_text, line)) {
                bad = true;
            }
            key = {Key::Level::CatchAll, domain};
        } else if (at != std::string_view::npos && at + 1 < key_text.size()) {
            const std::string_view local = key_text.substr(0, at);
            const std::string domain = lower(key_text.substr(at + 1));
            if (!smtp::is_valid_local_part(local, true) || !smtp::is_valid_domain(domain, true)) {
                problem(spec, line, in_quotes(key_text) + " is not an address");
                bad = true;
            } else if (!key_domain_ok(domain, key_text, line)) {
                bad = true;
            }
            key = {Key::Level::Address, local_key(smtp::Mailbox{std::string(local), {}}) + "@" + domain};
        } else {
            // "user" (or, in a virtual file, "user@"): a local name.
            std::string_view local = key_text;
            if (at != std::string_view::npos) {
                if (!virtual_format) {
                    problem(spec, line, in_quotes(key_text) + " is not a name or an address");
                    continue;
                }
                local = key_text.substr(0, at);
            } else if (virtual_format && local.find('.') != std::string_view::npos &&
                       smtp::is_valid_domain(local, false)) {
                // virtual(5): "a domain name as a key, with any value", which declares a virtual
                // alias domain. ehlo's domains are its [[domain]] tables; a user name with a
                // dot is written "john.smith@".
                if (!domains_.find(local)) {
                    problem(spec, line, in_quotes(key_text) + " declares a virtual alias domain (virtual(5)); add a [[domain]] for it");
                    continue;
                }
                skip = true;
            }
            if (!skip && !smtp::is_valid_local_part(local, true)) {
                problem(spec, line, in_quotes(key_text) + " is not a name or an address");
                bad = true;
            }
            const std::string name = local_key(smtp::Mailbox{std::string(local), {}});
            key = spec.domain.empty() ? Key{Key::Level::Name, name} : Key{Key::Level::Address, name + "@" + spec.domain};
        }
        if (skip) continue;

        AliasEntry entry;
        entry.key = std::string(key_text);
        if (key.level == Key::Level::CatchAll) entry.domain = key.text;
        if (key.level == Key::Level::Address) entry.domain = key.text.substr(key.text.rfind('@') + 1);
        entry.file = file;
        entry.line = line;
        const auto pieces = split_outside_quotes(value, virtual_format ? ", \t" : ",");
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            const auto [offset, raw] = pieces[i];
            const std::string_view piece = trim(raw);
            const std::size_t piece_line = logical.line_at(value_offset + offset + (raw.size() - trim(raw).size()));
            if (piece.empty()) {
                // Separators run together in the virtual format; in ehlo's, only a trailing comma
                // is let pass (an entry continued on the next line often keeps one).
                if (virtual_format || i + 1 == pieces.size()) continue;
                problem(spec, piece_line, in_quotes(entry.key) + " has an empty target between commas");
                bad = true;
                continue;
            }
            auto parsed = parse_target(piece);
            if (!parsed.target) {
                problem(spec, piece_line, parsed.error);
                bad = true;
                continue;
            }
            parsed.target->line = piece_line;
            entry.targets.push_back(std::move(*parsed.target));
        }
        if (entry.targets.empty() && !bad) {
            problem(spec, line, in_quotes(entry.key) + " has no target");
            bad = true;
        }
        if (!bad) add_entry(key, std::move(entry), spec);
    }
}

void AliasTableBuilder::add_file(const AliasFileSpec& spec) {
    struct stat st{};
    if (::stat(spec.path.c_str(), &st) != 0) {
        problem(spec, 0, std::string("cannot read: ") + std::strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        problem(spec, 0, "cannot read: is a directory");
        return;
    }
    if (static_cast<std::uintmax_t>(st.st_size) > kMaxAliasFileSize) {
        problem(spec, 0, "cannot read: larger than " + std::to_string(kMaxAliasFileSize) + " bytes");
        return;
    }
    std::ifstream in(spec.path, std::ios::binary);
    if (!in) {
        problem(spec, 0, std::string("cannot read: ") + std::strerror(errno));
        return;
    }
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) {
        problem(spec, 0, "cannot read: I/O error");
        return;
    }
    add_text(content.str(), spec);
}

std::shared_ptr<const AliasTable> AliasTableBuilder::build() { return std::make_shared<const AliasTable>(std::move(table_)); }

}  // namespace ehlo::policy
