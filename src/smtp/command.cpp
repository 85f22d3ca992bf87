#include "smtp/command.hpp"

#include <array>

#include "smtp/text.hpp"

namespace ehlo::smtp {

namespace {

using namespace command_flag;

constexpr std::array kCommands = {
    CommandSpec{"EHLO", Verb::Ehlo, NeedsArgument, "EHLO hostname"},
    CommandSpec{"HELO", Verb::Helo, NeedsArgument, "HELO hostname"},
    CommandSpec{"MAIL", Verb::Mail, NeedsArgument, "MAIL FROM:<address> [parameters]"},
    CommandSpec{"RCPT", Verb::Rcpt, NeedsArgument, "RCPT TO:<address> [parameters]"},
    CommandSpec{"DATA", Verb::Data, NoArgument, "DATA"},
    CommandSpec{"BDAT", Verb::Bdat, NeedsArgument, "BDAT size [LAST]"},
    CommandSpec{"RSET", Verb::Rset, NoArgument, "RSET"},
    CommandSpec{"NOOP", Verb::Noop, 0, "NOOP [text]"},  // RFC 5321 4.1.1.9: a string may follow
    CommandSpec{"HELP", Verb::Help, 0, "HELP [topic]"},
    CommandSpec{"VRFY", Verb::Vrfy, NeedsArgument, "VRFY address"},
    CommandSpec{"QUIT", Verb::Quit, NoArgument, "QUIT"},
    CommandSpec{"STARTTLS", Verb::StartTls, NoArgument, "STARTTLS"},
    CommandSpec{"AUTH", Verb::Auth, NeedsArgument, "AUTH mechanism [initial-response]"},
    // Known but not offered: RFC 5321 4.2.4 wants 502 for these rather than 500.
    CommandSpec{"EXPN", Verb::NotImplemented, 0, ""},  // would disclose list members
    CommandSpec{"TURN", Verb::NotImplemented, 0, ""},  // RFC 5321 4.1.1: obsolete, insecure
    CommandSpec{"ETRN", Verb::NotImplemented, 0, ""},
    CommandSpec{"ATRN", Verb::NotImplemented, 0, ""},
    CommandSpec{"SEND", Verb::NotImplemented, 0, ""},
    CommandSpec{"SOML", Verb::NotImplemented, 0, ""},
    CommandSpec{"SAML", Verb::NotImplemented, 0, ""},
};

}  // namespace

CommandLine split_command_line(std::string_view line) {
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos) return {line, {}};
    return {line.substr(0, space), trim_blanks(line.substr(space + 1))};
}

const CommandSpec* find_command(std::string_view verb) {
    for (const CommandSpec& c : kCommands)
        if (iequals(c.name, verb)) return &c;
    return nullptr;
}

}  // namespace ehlo::smtp
