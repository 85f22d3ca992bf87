// `ehlo reload`: asks the running daemon, over its control socket, to read its certificates
// and keys again, and says whether it could (a bad file leaves the old ones in use).
#include <iostream>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "net/control_server.hpp"

namespace ehlo::cli {

int reload_command(const std::string& config_file) {
    config::Config cfg;
    if (!config_file.empty()) {
        auto loaded = config::load_file(config_file);
        if (loaded.error) {
            std::cerr << loaded.error->str() << "\n";
            return 1;
        }
        cfg = std::move(*loaded.config);
    }
    const auto socket = config::control_socket_path(cfg);
    auto answer = net::control_request(socket, "reload");
    if (!answer) {
        std::cerr << "ehlo: the daemon is not running (no answer on " << socket.string() << ")\n";
        return 1;
    }
    const std::string status = answer->substr(0, answer->find('\n'));
    if (status != "ok") {
        std::cerr << "ehlo: " << (status.rfind("error: ", 0) == 0 ? status.substr(7) : status) << "\n";
        return 1;
    }
    std::cout << "reloaded\n";
    return 0;
}

}  // namespace ehlo::cli
