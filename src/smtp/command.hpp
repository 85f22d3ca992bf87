// The command table: every verb the server knows, with the flags that say what its argument
// must look like, so that the session checks them in one place rather than in every handler.
#pragma once

#include <cstdint>
#include <string_view>

namespace ehlo::smtp {

enum class Verb : std::uint8_t {
    Helo, Ehlo, Mail, Rcpt, Data, Bdat, Rset, Noop, Help, Vrfy, Quit, StartTls, Auth,
    NotImplemented,  // known to RFC 5321 or an extension, not offered here: 502 5.5.1
};
inline constexpr std::size_t kVerbCount = static_cast<std::size_t>(Verb::NotImplemented) + 1;

namespace command_flag {
inline constexpr unsigned NoArgument = 1;     // "RSET x": 501 5.5.4 (RFC 5321 4.1.1)
inline constexpr unsigned NeedsArgument = 2;  // "MAIL" alone: 501 5.5.4
}  // namespace command_flag

struct CommandSpec {
    std::string_view name;   // upper case, as in the RFC
    Verb verb;
    unsigned flags;
    std::string_view usage;  // for "501 5.5.4 Syntax: ..."
};

// A command line split at its first space: the verb, and the argument without surrounding
// blanks (a trailing space is common and harmless, so "RSET " counts as no argument).
struct CommandLine {
    std::string_view verb;
    std::string_view argument;
};
CommandLine split_command_line(std::string_view line);

// The table entry for a verb in any case (RFC 5321 2.4), or nullptr: 500 5.5.2.
const CommandSpec* find_command(std::string_view verb);

}  // namespace ehlo::smtp
