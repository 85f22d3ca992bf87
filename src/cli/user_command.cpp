// `ehlo user add|del|passwd|list`: the credentials file of [auth] users_file, rewritten whole
// and atomically (credentials.hpp). A password is never an argument (it would show in ps and
// in shell history): it is read from the terminal without echo, twice, or as one line from
// standard input when that is not a terminal. The running server notices the change by
// itself within a second.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>

#include "cli/command_config.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "policy/credentials.hpp"
#include "policy/password_hash.hpp"

namespace ehlo::cli {
namespace {

// Longer is not a password but a mistake (a file piped in by accident).
constexpr std::size_t kMaxPassword = 255;

std::optional<std::string> read_line_from(std::istream& in) {
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

std::optional<std::string> prompt_hidden(const char* prompt) {
    // Echo off before the prompt shows: a password typed as soon as it appears is never echoed.
    termios old {};
    const bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::cerr << prompt << std::flush;
    auto line = read_line_from(std::cin);
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::cerr << "\n";
    }
    return line;
}

std::optional<std::string> read_password() {
    if (!::isatty(STDIN_FILENO)) return read_line_from(std::cin);
    auto first = prompt_hidden("Password: ");
    auto second = first ? prompt_hidden("Again: ") : std::nullopt;
    if (!first || !second || *first != *second) {
        std::cerr << "ehlo: the passwords differ\n";
        return std::nullopt;
    }
    return first;
}

std::vector<std::string> split_senders(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size() && !s.empty()) {
        const std::size_t end = s.find(',', start);
        out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    for (auto& x : out)
        for (char& c : x)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

}  // namespace

int user_command(const UserCommand& command) {
    std::string path = command.file;
    if (path.empty()) {
        auto loaded_config = command_config(command.config_file);
        if (!loaded_config) return 1;
        config::Config cfg = std::move(*loaded_config);
        path = cfg.auth.users_file;
    }
    if (path.empty()) {
        std::cerr << "ehlo: no credentials file: set [auth] users_file or give --file\n";
        return 1;
    }
    try {
        auto users = policy::read_credentials_file(path);
        auto same = [&](const policy::UserEntry& u) {
            std::string a = u.name, b = command.name;
            std::transform(a.begin(), a.end(), a.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
            std::transform(b.begin(), b.end(), b.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
            return a == b;
        };
        if (command.action == "list") {
            for (const auto& u : users) {
                std::cout << u.name << " " << u.hash.substr(0, u.hash.find('$', 1) + 1);
                for (std::size_t i = 0; i < u.senders.size(); ++i) std::cout << (i ? "," : " ") << u.senders[i];
                std::cout << "\n";
            }
            return 0;
        }
        if (!policy::is_user_name(command.name)) {
            std::cerr << "ehlo: '" << command.name << "' is not a user name (printable ASCII, no ':' or space)\n";
            return 1;
        }
        auto it = std::find_if(users.begin(), users.end(), same);
        if (command.action == "del") {
            if (it == users.end()) {
                std::cerr << "ehlo: no user " << command.name << "\n";
                return 1;
            }
            users.erase(it);
        } else {
            if (command.action == "add" && it != users.end()) {
                std::cerr << "ehlo: user " << command.name << " exists (use passwd)\n";
                return 1;
            }
            if (command.action == "passwd" && it == users.end()) {
                std::cerr << "ehlo: no user " << command.name << "\n";
                return 1;
            }
            auto password = read_password();
            if (!password || password->empty() || password->size() > kMaxPassword) {
                std::cerr << "ehlo: no password given (1 to " << kMaxPassword << " octets)\n";
                return 1;
            }
            const std::string hash = policy::hash_password(*password);
            std::fill(password->begin(), password->end(), '\0');
            if (it == users.end()) {
                users.push_back({command.name, hash, split_senders(command.senders)});
            } else {
                it->hash = hash;
                if (!command.senders.empty()) it->senders = split_senders(command.senders);
            }
        }
        if (auto check = policy::parse_credentials(policy::format_credentials(users)); check.error) {
            std::cerr << "ehlo: " << *check.error << "\n";
            return 1;
        }
        policy::write_credentials_file(path, users);
    } catch (const std::exception& e) {
        std::cerr << "ehlo: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace ehlo::cli
