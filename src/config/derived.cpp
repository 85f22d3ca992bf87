// Values that follow from several keys together, worked out in one place so that every user
// of the configuration reads them alike.
#include "config/config.hpp"

namespace ehlo::config {

std::string failure_notice_address(const Config& config) {
    const std::string& to = config.delivery.null_sender_failures_to;
    if (to.empty() || to.find('@') != std::string::npos) return to;
    if (config.domains.empty()) return {};
    return to + "@" + config.domains.front().name;
}

std::vector<Listener> all_listeners(const Config& config) {
    std::vector<Listener> out;
    for (const auto& a : config.server.listen) out.push_back({a, ListenerKind::Smtp});
    out.insert(out.end(), config.listeners.begin(), config.listeners.end());
    return out;
}

std::filesystem::path control_socket_path(const Config& config) {
    if (!config.control.socket.empty()) return config.control.socket;
    return std::filesystem::path(config.spool.path) / "control.sock";
}

namespace {
// The folder that holds the spool: "./var" for "./var/spool" (and for "./var/spool/").
std::filesystem::path beside_spool(const Config& config) {
    std::filesystem::path spool = std::filesystem::path(config.spool.path).lexically_normal();
    if (!spool.has_filename()) spool = spool.parent_path();
    return spool.parent_path();
}
}  // namespace

std::filesystem::path maildrop_path(const Config& config) {
    if (!config.sendmail.maildrop.empty()) return config.sendmail.maildrop;
    return beside_spool(config) / "maildrop";
}

std::filesystem::path pickup_socket_path(const Config& config) {
    if (!config.sendmail.socket.empty()) return config.sendmail.socket;
    return beside_spool(config) / "public" / "pickup.sock";
}

std::filesystem::path history_path(const Config& config) {
    if (!config.history.path.empty()) return config.history.path;
    return std::filesystem::path(config.spool.path) / "history.db";
}

}  // namespace ehlo::config
