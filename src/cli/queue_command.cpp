#include <ctime>
#include <iostream>
#include <system_error>
#include <vector>

#include "cli/command_config.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "net/control_server.hpp"
#include "net/queue_report.hpp"
#include "queue/queue.hpp"

namespace ehlo::cli {

int queue_command(const QueueCommand& command) {
    auto loaded_config = command_config(command.config_file);
    if (!loaded_config) return 1;
    config::Config cfg = std::move(*loaded_config);
    std::string request = command.action;
    if (!command.argument.empty()) request += " " + command.argument;

    auto answer = net::control_request(config::control_socket_path(cfg), request);
    if (!answer) {
        // The daemon is down: `list` still works, read-only, from the spool files themselves.
        if (command.action != "list") {
            std::cerr << "ehlo: the daemon is not running (no answer on " << config::control_socket_path(cfg).string()
                      << "); only 'list' works without it\n";
            return 1;
        }
        std::vector<queue::MessageSummary> messages;
        try {
            messages = queue::list_spool(cfg.spool.path);
        } catch (const std::system_error& e) {
            std::cerr << "ehlo: the daemon is not running and the spool cannot be read: " << e.what() << "\n";
            return 1;
        }
        std::cout << "(daemon not running: read-only view of " << cfg.spool.path << ")\n"
                  << net::format_queue_list(messages, static_cast<std::int64_t>(std::time(nullptr)));
        return 0;
    }
    auto newline = answer->find('\n');
    std::string status = answer->substr(0, newline);
    std::string body = newline == std::string::npos ? std::string{} : answer->substr(newline + 1);
    if (status.empty()) {
        std::cerr << "ehlo: the daemon closed the control connection without an answer\n";
        return 1;
    }
    if (status != "ok") {
        std::cerr << "ehlo: " << (status.rfind("error: ", 0) == 0 ? status.substr(7) : status) << "\n";
        return 1;
    }
    std::cout << body;
    return 0;
}

}  // namespace ehlo::cli
