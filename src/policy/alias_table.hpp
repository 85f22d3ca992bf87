// Alias tables: which addresses stand for others (RFC 5321 3.9.1), read from files in two
// formats into one immutable table.
//
// ehlo's format (after aliases(5)), one alias a logical line:
//
//     # a comment
//     postmaster: alice
//     team: alice, bob@example.org,
//         carol@partner.example          <- a line starting with whitespace continues the last
//     info@example.net: alice
//
// Postfix's virtual(5) format, so that an existing file can be read as it is:
//
//     alice@example.org    alice@example.org, alice@home.example
//     bob                  bob@example.org       <- "user" (also "user@"): any local domain
//     @example.org         catchall@example.org  <- every other address of the domain
//     @old.example         @example.org          <- the same user in another domain
//     example.org          anything              <- a virtual alias domain line: skipped
//
// A key is a local name (of every local domain, or of one domain for a [[domain]]'s own
// alias_file), a full address, or "@domain". A target is an address, a bare local name (of the
// domain of the address being expanded) or "@domain". Pipes ("|command"), files ("/path") and
// ":include:" are refused with the line that names them: ehlo delivers to mailboxes and to
// other servers only, and a table that could run commands would make every alias an
// administrator's decision about code execution.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/local_domains.hpp"

namespace ehlo::policy {

// A file larger than this is refused as a mistake: 100 000 aliases take a few MiB.
inline constexpr std::size_t kMaxAliasFileSize = 64u << 20;

enum class AliasFormat { Aliases, Virtual };

// One alias file as the configuration names it.
struct AliasFileSpec {
    std::string path;
    AliasFormat format = AliasFormat::Aliases;
    std::string domain;  // a [[domain]]'s alias_file: its bare names are of this domain; empty = global

    bool operator==(const AliasFileSpec&) const = default;
};

struct AliasTarget {
    enum class Kind {
        Address,     // local_part@domain; an empty domain is that of the address expanded
        SameUserIn,  // "@domain": the expanded address's own local part, in `domain`
    } kind = Kind::Address;
    std::string local_part;  // as written (a Dot-string or a Quoted-string); Address only
    std::string domain;      // lower-case
    std::size_t line = 0;    // where it is written
};

struct AliasEntry {
    std::string key;                  // as written, for messages
    std::string domain;               // the key's domain; empty for a name of every local domain
    std::vector<AliasTarget> targets;
    std::size_t file = 0;             // index into AliasTable::files()
    std::size_t line = 0;             // 1-based, where the entry starts
};

// A problem in an alias file, with where it is.
struct AliasProblem {
    std::string file;
    std::size_t line = 0;  // 0 = the whole file
    std::string message;
    std::string str() const;  // "FILE:LINE: MESSAGE", as config errors are written
};

class AliasTable {
public:
    // Lookups take keys as local_key() and lower-case domains make them.
    const AliasEntry* find_address(std::string_view local, std::string_view domain) const;  // "local@domain"
    const AliasEntry* find_name(std::string_view local) const;                               // "local", any local domain
    const AliasEntry* find_catch_all(std::string_view domain) const;                         // "@domain"

    std::size_t size() const { return entries_.size(); }
    const std::vector<AliasEntry>& entries() const { return entries_; }
    const std::vector<std::string>& files() const { return files_; }
    // "FILE:LINE" of an entry.
    std::string origin(const AliasEntry& entry) const;

private:
    friend class AliasTableBuilder;
    std::vector<std::string> files_;
    std::vector<AliasEntry> entries_;
    std::unordered_map<std::string, std::size_t> by_address_, by_name_, by_domain_;
};

// Reads files into one table. A key defined twice, in one file or in two, is an error that
// names both places: which of the two was meant cannot be guessed.
class AliasTableBuilder {
public:
    explicit AliasTableBuilder(const LocalDomains& domains) : domains_(domains) {}

    // Parses one file's text; problems are collected (and the entry with one left out).
    void add_text(std::string_view text, const AliasFileSpec& spec);
    // Reads the file, then add_text; a file that cannot be read is a problem of line 0.
    void add_file(const AliasFileSpec& spec);

    const std::vector<AliasProblem>& problems() const { return problems_; }
    std::shared_ptr<const AliasTable> build();

private:
    struct Key {
        enum class Level { Address, Name, CatchAll } level;
        std::string text;  // as the table's maps hold it
    };
    void add_entry(const Key& key, AliasEntry entry, const AliasFileSpec& spec);
    void problem(const AliasFileSpec& spec, std::size_t line, std::string message);

    const LocalDomains& domains_;
    AliasTable table_;
    std::vector<AliasProblem> problems_;
};

}  // namespace ehlo::policy
