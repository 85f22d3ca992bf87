// One outbound connection's life, as one coroutine that reads like the dialog it drives:
// resolve the destination, connect to its hosts in order until one greets us and accepts
// EHLO/HELO, with STARTTLS as the destination's TLS policy wants (RFC 5321 5.1, RFC 3207),
// carry one message after another, idle a little in case another comes, QUIT.
#include "delivery/remote_internal.hpp"

namespace ehlo::delivery {

asio::awaitable<void> RemoteDelivery::Impl::run(ConnPtr c) {
    Destination& d = c->dest;
    if (co_await establish(c)) {
        c->state = Conn::State::Busy;
        while (c->job) {
            if (!c->session->wants_message()) {
                requeue(d, std::exchange(c->job, nullptr));
                break;
            }
            co_await transfer(c);
            ++c->messages;
            co_await converse(c, Phase::Ready);  // e.g. the reply to RSET after a refused DATA
            if (c->stop_requested || !c->session->wants_message()) break;
            if (c->messages >= options.max_messages_per_connection) break;
            if (!d.waiting.empty()) {
                c->job = d.waiting.front();
                d.waiting.pop_front();
                continue;
            }
            c->state = Conn::State::Idle;
            co_await idle(c);
            if (c->job && (c->stop_requested || !c->session->wants_message()))
                requeue(d, std::exchange(c->job, nullptr));
        }
        c->state = Conn::State::Closing;
        if (!c->session->finished()) {
            c->session->quit();
            co_await converse(c, Phase::Goodbye);
        }
        co_await close_tls(c);
    }
    c->state = Conn::State::Closing;
    release(c);
}

// After QUIT: TLS ends with close_notify (RFC 8446 6.1), within the time QUIT's reply has;
// only a session so ended can be resumed on the next connection (see tls_client.cpp).
asio::awaitable<void> RemoteDelivery::Impl::close_tls(ConnPtr c) {
    if (!c->tls || !c->session || !c->session->tls() || c->session->failed() || !c->socket.is_open()) co_return;
    c->arm(Clock::now() + kQuitWait);
    co_await c->tls->async_shutdown(use_tuple);  // the peer's own close_notify, or its EOF
    c->disarm();
}

// Resolves the destination and connects to its hosts in order (RFC 5321 5.1) until one
// greets us and accepts EHLO or HELO. False: c's job has been completed.
asio::awaitable<bool> RemoteDelivery::Impl::establish(ConnPtr c) {
    const RemoteTarget target = c->job->job.target;
    const RouteLookup route = co_await resolve(c, target);
    if (c->stop_requested) {
        complete_uniform(std::exchange(c->job, nullptr), shutting_down(), Outcome::Deferred);
        co_return false;
    }
    if (route.status != RouteLookup::Status::Ok) {
        smtp::Reply reply = route.reply.value_or(smtp::Reply{451, "4.4.3", "Temporary DNS failure"});
        Outcome outcome = Outcome::Failed;  // null MX, no such domain, a loop: RFC 7505, RFC 5321 5.1
        if (route.status == RouteLookup::Status::TempFail) {
            outcome = Outcome::Deferred;
        } else if (target.host && route.status == RouteLookup::Status::NotFound) {
            // A configured relay without an address is our configuration, not the
            // recipient's fault: held until it is fixed (RFC 3463 X.4.4: unable to route).
            const std::string text = reply.lines.empty() ? std::string("no address") : reply.lines.front();
            reply = smtp::Reply{451, "4.4.4", "Configured route " + *target.host + ": " + text};
            outcome = Outcome::Deferred;
        }
        observe::info("remote-route-failed",
                      {{"id", c->job->job.queue_id}, {"destination", target.key()}, {"error", route.error}});
        give_up(c, reply, outcome, false);
        co_return false;
    }

    smtp::Reply last{451, "4.4.0", "No address to connect to"};
    bool last_remote = false;
    bool last_session = false;               // the last attempt had a session with the peer
    std::optional<TlsHandshake> last_tls;    // over TLS
    std::string last_host, last_ip;
    c->tls_ca_file = target.tls_ca_file;
    c->port = target.port;
    for (const NextHop& hop : route.hops) {
        for (const Address& address : hop.addresses) {
            if (c->stop_requested) break;
            c->host = hop.host;
            c->ip = address.ip;
            last_host = c->host;
            last_ip = c->ip;
            c->policy = target.tls;
            // Twice at most: under `may` a failed TLS handshake is followed by one more
            // connection to the same host, in plaintext (opportunistic TLS is no worse than none).
            for (bool again = true; again;) {
                again = false;
                const std::string error = co_await connect(c, address, target.port);
                if (c->stop_requested) break;
                if (!error.empty()) {
                    observe::info("remote-connect-failed",
                                  {{"id", c->job->job.queue_id}, {"host", c->host}, {"ip", c->ip}, {"error", error}});
                    last = smtp::Reply{451, "4.4.1", error};  // RFC 3463 X.4.1: no answer from host
                    last_remote = false;
                    last_session = false;
                    last_tls.reset();
                    break;
                }
                ClientOptions session_options;
                session_options.tls = c->policy;
                c->session = std::make_unique<ClientSession>(options.helo_name, session_options);
                c->aborted_locally = false;
                co_await converse(c, Phase::Ready);
                if (!c->session->failed() && !c->session->finished()) {
                    if (const auto& refused = c->session->starttls_refused())
                        observe::info("remote-starttls-refused", {{"id", c->job->job.queue_id}, {"host", c->host},
                                                                   {"ip", c->ip}, {"reply", refused->one_line()},
                                                                   {"policy", "may"}, {"note", "sending in plaintext"}});
                    observe::debug("remote-connected", {{"host", c->host}, {"ip", c->ip}});
                    co_return true;
                }
                // RFC 5321 5.1 and 3.1: a host that will not talk to us (a 4xx or 5xx greeting,
                // EHLO and HELO refused, a timeout, a drop) is not the domain's answer; the
                // next address or MX host may be. So is one the TLS policy does not let us use.
                const smtp::Reply& e = c->session->connection_error();
                observe::info("remote-connect-failed",
                              {{"id", c->job->job.queue_id}, {"host", c->host}, {"ip", c->ip}, {"error", e.one_line()}});
                const bool remote = c->session->connection_error_remote() && !c->aborted_locally;
                last_session = true;
                last_tls = c->session->tls();
                if (!remote && e.enhanced.rfind("4.7.", 0) == 0) {
                    // Ours, for the TLS policy: the reason names the host, for `ehlo queue show`.
                    last = smtp::Reply{e.code, e.enhanced, c->label() + ": " + (e.lines.empty() ? std::string{} : e.lines.front())};
                    last_remote = false;
                } else if (c->aborted_locally || e.transient()) {
                    last = e;
                    last_remote = remote;
                } else {
                    // A 5xx here defers, never bounces: another host, or this one later, may accept.
                    last = smtp::Reply{451, "4.4.0", c->label() + " refused the session: " + e.one_line()};
                    last_remote = false;
                }
                if (c->session->retry_in_plaintext() && !c->stop_requested) {
                    observe::info("remote-tls-fallback", {{"id", c->job->job.queue_id}, {"host", c->host}, {"ip", c->ip},
                                                          {"reason", e.one_line()}, {"policy", "may"}});
                    c->policy = TlsPolicy::None;
                    again = true;
                }
                c->session.reset();
                c->close();
            }
        }
        if (c->stop_requested) break;
    }
    if (c->stop_requested) {
        complete_uniform(std::exchange(c->job, nullptr), shutting_down(), Outcome::Deferred);
        co_return false;
    }
    c->host = last_host;
    c->ip = last_ip;
    give_up(c, last, Outcome::Deferred, last_remote, last_session, last_tls);
    co_return false;
}

asio::awaitable<RouteLookup> RemoteDelivery::Impl::resolve(ConnPtr c, RemoteTarget target) {
    if (target.host) {
        asio::error_code ec;
        const auto literal = asio::ip::make_address(*target.host, ec);
        if (!ec) {
            RouteLookup r;
            r.status = RouteLookup::Status::Ok;
            r.hops.push_back(NextHop{*target.host, 0, {Address{literal.to_string(), literal.is_v6()}}, false});
            co_return r;
        }
    }
    // The answer comes on the resolver's thread; it is posted here and wakes the coroutine.
    std::weak_ptr<Conn> weak = c;
    Resolver::Done done = [box = inbox, weak](RouteLookup r) {
        box->post([weak, r = std::move(r)]() mutable {
            if (const auto conn = weak.lock()) {
                conn->route = std::move(r);
                conn->wake.cancel();
            }
        });
    };
    c->route.reset();
    if (target.host)
        resolver.lookup_addresses(*target.host, std::move(done));
    else
        resolver.lookup_mx(target.domain, std::move(done));
    while (!c->route && !c->stop_requested) {
        c->wake.expires_at(Clock::time_point::max());
        co_await c->wake.async_wait(use_tuple);
    }
    if (!c->route) co_return RouteLookup{};
    RouteLookup r = std::move(*c->route);
    c->route.reset();
    co_return r;
}

// Empty when connected; else why not, for the log and the deferral.
asio::awaitable<std::string> RemoteDelivery::Impl::connect(ConnPtr c, Address address, std::uint16_t port) {
    c->tls.reset();  // of an earlier connection: nothing of it is waiting any more
    c->tls_buffer = {};
    c->close();
    asio::error_code ec;
    const auto ip = asio::ip::make_address(address.ip, ec);
    if (ec) co_return "not an IP address: " + c->label();
    const tcp::endpoint endpoint(ip, port);
    c->socket.open(endpoint.protocol(), ec);
    if (ec) co_return "cannot connect to " + c->label() + ": " + ec.message();
    c->arm(Clock::now() + options.connect_timeout);
    auto [error] = co_await c->socket.async_connect(endpoint, use_tuple);
    const bool timed_out = c->disarm();
    if (error) {
        c->close();
        if (timed_out) co_return "connection to " + c->label() + " timed out";
        if (error == asio::error::connection_refused) co_return "connection refused by " + c->label();
        co_return "cannot connect to " + c->label() + ": " + error.message();
    }
    c->socket.set_option(tcp::no_delay(true), ec);
    c->socket.non_blocking(true, ec);  // read_some() after a readiness wait must not block
    co_return std::string{};
}

}  // namespace ehlo::delivery
