// The network side of the receiving server: listeners, one event loop per core, one
// coroutine per connection, TLS, idle timeouts and connection limits. Asio stays inside the
// files behind server_impl.hpp.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "policy/auth_service.hpp"
#include "policy/policy.hpp"
#include "queue/queue.hpp"

namespace ehlo::observe {
class EhloMetrics;
class History;
}

namespace ehlo::msgauth {
class DnsLookup;
}

namespace ehlo::net {

class TlsContexts;
struct MsgauthService;

class Server {
public:
    // Binds every listener (throws std::system_error naming the address if it cannot, and
    // std::runtime_error for a submission listener without certificates). `tls` (may be null:
    // no STARTTLS) must outlive the server.
    // `auth` (may be null: no AUTH) answers AUTH off the loops; it must outlive the server too,
    // as must `metrics` (may be null), which the sessions count into, and `history` (may be
    // null), where each session records its part of the messages' lives.
    Server(const config::Config& config, const policy::Policy& policy, queue::Queue& queue, TlsContexts* tls = nullptr,
           policy::AuthService* auth = nullptr, observe::EhloMetrics* metrics = nullptr,
           observe::History* history = nullptr);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Serves until SIGINT or SIGTERM (or stop()), then closes the listeners, says 421 4.3.2 to
    // every open session, waits briefly for messages being committed, and returns.
    void run();
    // Thread-safe; makes run() return.
    void stop();
    // Reads certificates and keys again (SIGHUP does the same); sessions keep theirs. Nothing
    // on success, else why the old ones stay (also logged). Thread-safe; reads files.
    std::optional<std::string> reload();
    // Something else to read again on every reload, before the certificates (the alias files):
    // nothing when it went well, else why. Set before run().
    void also_reload(std::function<std::optional<std::string>()> hook);
    // Message authentication of mail from outside (reception_auth.hpp); it must outlive the
    // server. Set before run().
    void verify_with(const MsgauthService* service);
    // Each admitted client's name (msgauth/client_name.hpp) looked up through `dns` before its
    // greeting, for at most [dns] timeout and kMaxClientNameWait; it must outlive the server.
    // None (the default): no lookup. Set before run().
    void name_clients_with(msgauth::DnsLookup* dns);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::net
