#include "smtp/header_addresses.hpp"

namespace ehlo::smtp {
namespace {

// One address-list reduced to tokens: comments and folding dropped, quoted strings kept
// whole (with their quotes), specials as themselves.
struct Tokens {
    std::vector<std::string> items;
    bool ok = true;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_special(char c) {
    return c == '<' || c == '>' || c == ',' || c == ':' || c == ';' || c == '@' || c == '(' || c == ')' ||
           c == '"' || c == '[' || c == ']' || c == '\\';
}

Tokens tokenize(std::string_view v) {
    Tokens t;
    std::size_t i = 0;
    while (i < v.size()) {
        const char c = v[i];
        if (is_space(c)) {
            ++i;
        } else if (c == '(') {  // RFC 5322 3.2.2: comments nest, and may hold quoted-pairs
            int depth = 0;
            do {
                if (v[i] == '\\') ++i;
                else if (v[i] == '(') ++depth;
                else if (v[i] == ')') --depth;
                ++i;
            } while (i < v.size() && depth > 0);
            if (depth > 0) t.ok = false;
        } else if (c == '"') {
            std::string q(1, '"');
            ++i;
            bool closed = false;
            while (i < v.size()) {
                if (v[i] == '\\' && i + 1 < v.size()) {
                    q += v[i];
                    q += v[i + 1];
                    i += 2;
                    continue;
                }
                if (v[i] == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                if (v[i] != '\r' && v[i] != '\n') q += v[i];
                ++i;
            }
            if (!closed) t.ok = false;
            t.items.push_back(q + '"');
        } else if (c == '[') {  // a domain literal, kept whole
            const std::size_t end = v.find(']', i);
            if (end == std::string_view::npos) {
                t.ok = false;
                break;
            }
            t.items.emplace_back(v.substr(i, end - i + 1));
            i = end + 1;
        } else if (is_special(c)) {
            t.items.emplace_back(1, c);
            ++i;
        } else {
            std::size_t end = i;
            while (end < v.size() && !is_space(v[end]) && !is_special(v[end])) ++end;
            t.items.emplace_back(v.substr(i, end - i));
            i = end;
        }
    }
    return t;
}

bool is_word(const std::string& token) {
    return !token.empty() && (token.front() == '"' || !is_special(token.front()));
}

// An addr-spec from tokens [from, to): a local part (a dot-atom, which the tokens keep whole,
// or a quoted string), '@', a domain (a dot-atom or a literal). RFC 5322 3.4.1: two words side
// by side ("John Smith john@x") are no local part; they are refused, not run together.
std::optional<std::string> addr_spec(const std::vector<std::string>& t, std::size_t from, std::size_t to) {
    if (to - from != 3 || t[from + 1] != "@") return std::nullopt;
    const std::string& local = t[from];
    const std::string& domain = t[from + 2];
    if (!is_word(local) || (!is_word(domain) && domain.front() != '[') || domain.front() == '"') return std::nullopt;
    return local + "@" + domain;
}

}  // namespace

std::optional<std::vector<std::string>> header_addresses(std::string_view value) {
    const Tokens tokens = tokenize(value);
    if (!tokens.ok) return std::nullopt;
    const auto& t = tokens.items;
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < t.size()) {
        // One mailbox, or a group's "display-name :" before its mailboxes.
        std::size_t end = i;
        while (end < t.size() && t[end] != "," && t[end] != ":" && t[end] != ";" && t[end] != "<") ++end;
        if (end < t.size() && t[end] == ":") {  // a group: its name is only a name
            i = end + 1;
            continue;
        }
        if (end < t.size() && t[end] == "<") {  // name-addr: [display-name] angle-addr
            std::size_t close = end + 1;
            while (close < t.size() && t[close] != ">") ++close;
            if (close == t.size()) return std::nullopt;
            std::size_t spec = end + 1;
            // RFC 5322 4.4 obs-route: "@a,@b:" before the addr-spec is ignored.
            for (std::size_t k = spec; k < close; ++k)
                if (t[k] == ":") spec = k + 1;
            auto a = addr_spec(t, spec, close);
            if (!a) return std::nullopt;
            out.push_back(*a);
            end = close + 1;
        } else if (end > i) {
            auto a = addr_spec(t, i, end);
            if (!a) return std::nullopt;
            out.push_back(*a);
        }
        // What may follow a mailbox: a comma, or a group's closing ';'.
        if (end < t.size() && t[end] != "," && t[end] != ";") return std::nullopt;
        i = end + 1;
    }
    return out;
}

}  // namespace ehlo::smtp
