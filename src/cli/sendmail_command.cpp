// `ehlo sendmail` (and the sendmail and mailq names): the sendmail(1) interface every Unix
// program expects, over the maildrop (queue/maildrop.hpp). Runs as whoever calls it, never
// set-uid: the message is written into the maildrop and synced before the exit status says 0,
// and the running daemon is told at once over its pickup socket; when it is down the file waits
// for its next start. Exit codes from sysexits.h. See docs/sendmail.md.
#include <poll.h>
#include <pwd.h>
#include <sysexits.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/sendmail_session.hpp"
#include "config/config.hpp"
#include "net/control_server.hpp"
#include "queue/maildrop.hpp"
#include "smtp/address.hpp"
#include "smtp/header_addresses.hpp"
#include "smtp/local_submission.hpp"
#include "smtp/received.hpp"

namespace ehlo::cli {
namespace {

enum class Mode { Deliver, ListQueue, Flush, Smtp };

struct SendmailArgs {
    Mode mode = Mode::Deliver;
    std::string config_file;
    std::optional<std::string> sender;  // -f / -r
    std::string full_name;              // -F
    bool dot_ends = true;               // -i / -oi turn it off
    bool extract = false;               // -t
    bool verbose = false;               // -v
    std::vector<std::string> recipients;
};

int usage(const std::string& why) {
    std::cerr << "ehlo sendmail: " << why << "\n"
              << "usage: sendmail [-t] [-i|-oi] [-f sender] [-F name] [-v] [-C config] [recipient ...]\n"
              << "       sendmail -bp (mailq) | -q (flush) | -bs (SMTP on standard input)\n";
    return EX_USAGE;
}

// sendmail's options, as Postfix's sendmail takes them: a value may follow the letter or be
// the next argument; options of the original sendmail that do not apply are accepted and
// ignored, so that the programs that give them keep working.
std::optional<int> parse(int argc, char** argv, SendmailArgs& a) {
    int i = 0;
    auto value = [&](const std::string& arg, std::size_t at, std::string& out) -> bool {
        if (arg.size() > at) {
            out = arg.substr(at);
            return true;
        }
        if (i + 1 >= argc) return false;
        out = argv[++i];
        return true;
    };
    for (; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") {
            ++i;
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') break;
        std::string v;
        if (arg == "--config") {
            if (!value("", 0, v)) return usage("--config needs a file");
            a.config_file = v;
        } else if (arg[1] == 'C') {
            if (!value(arg, 2, v)) return usage("-C needs a file");
            a.config_file = v;
        } else if (arg[1] == 'f' || arg[1] == 'r') {
            if (!value(arg, 2, v)) return usage("-f needs a sender");
            a.sender = v;
        } else if (arg[1] == 'F') {
            if (!value(arg, 2, v)) return usage("-F needs a name");
            a.full_name = v;
        } else if (arg == "-t") {
            a.extract = true;
        } else if (arg == "-i" || arg == "-oi") {
            a.dot_ends = false;
        } else if (arg == "-v") {
            a.verbose = true;
        } else if (arg == "-bm") {
            a.mode = Mode::Deliver;
        } else if (arg == "-bp") {
            a.mode = Mode::ListQueue;
        } else if (arg == "-bs") {
            a.mode = Mode::Smtp;
        } else if (arg.rfind("-q", 0) == 0) {  // -q, -q30m, -qI...: run the queue now
            a.mode = Mode::Flush;
        } else if (arg[1] == 'N' || arg[1] == 'R' || arg[1] == 'V' || arg[1] == 'B' || arg[1] == 'L' ||
                   arg[1] == 'h' || arg[1] == 'O' || arg[1] == 'X') {
            if (!value(arg, 2, v)) return usage(arg.substr(0, 2) + " needs a value");  // taken, ignored
        } else if (arg[1] == 'o' || arg[1] == 'e' || arg == "-m" || arg == "-U" || arg == "-n" || arg == "-G" ||
                   arg[1] == 'd') {
            // -odi, -oem, -m, -U, ...: no meaning here
        } else if (arg.rfind("-b", 0) == 0) {
            return usage("the mode " + arg + " is not supported (only -bm, -bp, -bs)");
        } else {
            return usage("unknown option " + arg);
        }
    }
    for (; i < argc; ++i) {
        // A recipient argument may itself be a list ("a@x, b@y").
        auto list = smtp::header_addresses(argv[i]);
        if (list && !list->empty()) {
            for (auto& r : *list) a.recipients.push_back(std::move(r));
        } else {
            a.recipients.emplace_back(argv[i]);  // a bare user name, checked below
        }
    }
    return std::nullopt;
}

// -C FILE, else $EHLO_CONFIG, else /etc/ehlo/ehlo.toml when there is one, else the embedded
// defaults (""): programs run sendmail without telling it where ehlo's configuration is.
std::string config_path(const std::string& given) {
    if (!given.empty()) return given;
    if (const char* env = std::getenv("EHLO_CONFIG"); env && *env) return env;
    if (::access("/etc/ehlo/ehlo.toml", R_OK) == 0) return "/etc/ehlo/ehlo.toml";
    return {};
}

std::optional<config::Config> load_config(const std::string& path) {
    if (path.empty()) return std::optional<config::Config>(std::in_place);
    auto loaded = config::load_file(path);
    if (loaded.error) {
        std::cerr << loaded.error->str() << "\n";
        return std::nullopt;
    }
    return std::move(*loaded.config);
}

// "alice" -> "alice@HOST"; an address is kept. Checked against RFC 5321's grammar.
std::optional<std::string> envelope_address(const std::string& given, const std::string& hostname) {
    const std::string address = given.find('@') == std::string::npos ? given + "@" + hostname : given;
    const std::string path = "<" + address + ">";
    auto parsed = smtp::parse_forward_path(path, true);
    if (!parsed.mailbox || parsed.consumed != path.size() || parsed.mailbox->domain.empty()) return std::nullopt;
    return address;
}

struct Account {
    std::string login;
    std::string gecos;
};

Account caller() {
    Account a;
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found) {
        a.login = found->pw_name;
        a.gecos = found->pw_gecos ? found->pw_gecos : "";
        a.gecos = a.gecos.substr(0, a.gecos.find(','));  // the full name is GECOS' first field
    } else {
        a.login = "uid" + std::to_string(::getuid());
    }
    return a;
}

std::string random_hex(std::size_t bytes) {
    std::string out;
    static constexpr char digits[] = "0123456789abcdef";
    std::vector<unsigned char> r(bytes);
    if (::getentropy(r.data(), r.size()) != 0) {
        for (auto& b : r) b = static_cast<unsigned char>(std::rand());
    }
    for (unsigned char b : r) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::string local_date() {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    ::localtime_r(&now, &local);
    return smtp::rfc5322_date(static_cast<std::int64_t>(now), static_cast<int>(local.tm_gmtoff / 60));
}

int list_queue(const std::string& config_file) {
    QueueCommand q;
    q.config_file = config_file;
    q.action = "list";
    return queue_command(q) == 0 ? EX_OK : EX_UNAVAILABLE;
}

int flush_queue(const std::string& config_file) {
    QueueCommand q;
    q.config_file = config_file;
    q.action = "flush";
    return queue_command(q) == 0 ? EX_OK : EX_UNAVAILABLE;
}

}  // namespace

Handover hand_to_daemon(const config::Config& cfg, const queue::MaildropEntry& entry) {
    Handover h;
    if (!cfg.sendmail.enabled) {
        h.status = EX_UNAVAILABLE;
        h.text = "local submission is off ([sendmail] enabled = false)";
        return h;
    }
    const auto maildrop = config::maildrop_path(cfg);
    std::error_code ec;
    const std::string name = queue::write_maildrop(maildrop, entry, ec);
    if (name.empty()) {
        h.status = ec == std::errc::no_such_file_or_directory ? EX_UNAVAILABLE : EX_CANTCREAT;
        h.text = "cannot write into the maildrop " + maildrop.string() + ": " + ec.message() +
                 (ec == std::errc::no_such_file_or_directory ? " (it is made when `ehlo serve` first starts)" : "");
        return h;
    }
    // Durable from here on: whatever the daemon says, the message is not lost.
    auto answer = net::control_request(config::pickup_socket_path(cfg), "pickup " + name);
    std::string line = answer ? answer->substr(0, answer->find('\n')) : std::string();
    if (!answer || line.empty()) {
        h.text = "the daemon is not running: the message waits in the maildrop for its start";
        return h;
    }
    if (line.rfind("ok ", 0) == 0) {
        h.queue_id = line.substr(3);
        h.text = "queued as " + h.queue_id;
    } else if (line.rfind("later: ", 0) == 0) {
        h.text = "the daemon takes it later: " + line.substr(7);
    } else if (line.rfind("refused: ", 0) == 0) {
        h.refused = true;
        h.text = line.substr(9);
        // RFC 3463: X.1.x is about the address (EX_NOUSER), the rest is the service's.
        h.status = line.find(" 5.1.") != std::string::npos ? EX_NOUSER : EX_UNAVAILABLE;
    } else {
        h.status = EX_SOFTWARE;
        h.text = line.rfind("error: ", 0) == 0 ? line.substr(7) : line;
    }
    return h;
}

LocalSender local_sender(const config::Config& cfg, const std::optional<std::string>& given, const std::string& full_name) {
    const Account me = caller();
    LocalSender s;
    // The account's own name only beside its own address.
    s.full_name = !full_name.empty() ? full_name : given ? std::string() : me.gecos;
    s.header_from = me.login + "@" + cfg.server.hostname;
    if (!given) {
        s.envelope = s.header_from;
    } else if (*given == "<>" || given->empty()) {
        s.envelope = "";  // the null sender (RFC 5321 4.5.5)
    } else {
        std::string address = *given;
        if (address.size() >= 2 && address.front() == '<' && address.back() == '>') address = address.substr(1, address.size() - 2);
        auto checked = envelope_address(address, cfg.server.hostname);
        if (!checked) {
            s.problem = "the sender " + *given + " is not an address";
            return s;
        }
        s.envelope = *checked;
        s.header_from = *checked;
    }
    return s;
}

smtp::LocalHeaders local_headers(const config::Config& cfg, const LocalSender& sender, bool extract) {
    smtp::LocalHeaders h;
    h.from = sender.header_from;
    h.full_name = sender.full_name;
    h.date = local_date();
    h.message_id = "<" + random_hex(12) + "@" + cfg.server.hostname + ">";
    h.extract_recipients = extract;
    return h;
}

int sendmail_main(int argc, char** argv, bool as_mailq) {
    SendmailArgs a;
    if (as_mailq) a.mode = Mode::ListQueue;
    if (auto status = parse(argc, argv, a)) return *status;
    a.config_file = config_path(a.config_file);
    auto cfg = load_config(a.config_file);
    if (!cfg) return EX_CONFIG;
    if (a.mode == Mode::ListQueue) return list_queue(a.config_file);
    if (a.mode == Mode::Flush) return flush_queue(a.config_file);

    const LocalSender sender = local_sender(*cfg, a.sender, a.full_name);
    if (!sender.problem.empty()) return usage(sender.problem);
    if (a.mode == Mode::Smtp) return sendmail_smtp_session(*cfg, sender);

    // The message, from standard input, to its end (or the lone dot).
    std::string raw;
    const std::size_t limit = static_cast<std::size_t>(cfg->limits.message_size);
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            std::cerr << "ehlo sendmail: cannot read standard input\n";
            return EX_IOERR;
        }
        if (n == 0) break;
        raw.append(buf, static_cast<std::size_t>(n));
        // Room for line ends growing LF -> CRLF; past twice the limit it is too large anyway.
        if (raw.size() > 2 * limit + 2) break;
    }
    smtp::LocalInput input = smtp::local_input(raw, a.dot_ends, limit);
    std::string().swap(raw);
    if (input.truncated) {
        std::cerr << "ehlo sendmail: the message is larger than limits.message_size (" << limit << " octets)\n";
        return EX_DATAERR;
    }
    smtp::LocalMessage message = smtp::complete_local_message(std::move(input.content), local_headers(*cfg, sender, a.extract));
    if (!message.problem.empty()) {
        std::cerr << "ehlo sendmail: " << message.problem << "\n";
        return EX_DATAERR;
    }
    if (message.content.size() > limit) {
        std::cerr << "ehlo sendmail: the message is larger than limits.message_size (" << limit << " octets)\n";
        return EX_DATAERR;
    }

    queue::MaildropEntry entry;
    entry.sender = sender.envelope;
    std::vector<std::string> given = a.recipients;
    given.insert(given.end(), message.recipients.begin(), message.recipients.end());
    for (const std::string& r : given) {
        auto address = envelope_address(r, cfg->server.hostname);
        if (!address) {
            std::cerr << "ehlo sendmail: " << r << ": not an address\n";
            return EX_DATAERR;
        }
        entry.recipients.push_back(*address);
    }
    if (entry.recipients.empty()) return usage(a.extract ? "no recipient in To, Cc or Bcc" : "no recipient given (or use -t)");
    if (entry.recipients.size() > cfg->limits.recipients) {
        std::cerr << "ehlo sendmail: more than limits.recipients (" << cfg->limits.recipients << ") recipients\n";
        return EX_DATAERR;
    }
    entry.content = std::move(message.content);

    const Handover h = hand_to_daemon(*cfg, entry);
    if (h.status != EX_OK) {
        std::cerr << "ehlo sendmail: " << h.text << "\n";
        return h.status;
    }
    if (a.verbose) std::cerr << "ehlo sendmail: " << h.text << "\n";
    return EX_OK;
}

}  // namespace ehlo::cli
