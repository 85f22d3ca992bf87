// One connection: the coroutine that feeds the sans-I/O smtp::Session and writes its replies,
// the TLS handshake, the idle, message and handshake timers, and the last words before a close.
#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "net/server_impl.hpp"

namespace ehlo::net {
namespace {

std::string client_address(const tcp::endpoint& ep) {
    auto a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
    return a.to_string();
}

observe::TranscriptMode transcript_mode(config::HistoryTranscripts t) {
    switch (t) {
        case config::HistoryTranscripts::Off: return observe::TranscriptMode::Off;
        case config::HistoryTranscripts::All: return observe::TranscriptMode::All;
        case config::HistoryTranscripts::Errors: break;
    }
    return observe::TranscriptMode::Errors;
}

std::string new_session_id() {
    // Unique across restarts: the start time in the high bits, a counter in the low ones.
    static std::atomic<std::uint64_t> next{static_cast<std::uint64_t>(std::time(nullptr)) << 24};
    char buf[17];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(next.fetch_add(1)));
    return buf;
}


}  // namespace

void Server::Impl::arm_watchdog(const std::shared_ptr<Connection>& c) {
    // The message's overall limit applies only while its content is coming in (not while the
    // queue commits it: then the client waits for us).
    const bool in_message = c->session && c->session->in_message();
    c->watchdog.expires_at(in_message ? std::min({c->deadline, c->message_deadline, c->rate_check}) : c->deadline);
    c->watchdog.async_wait([this, c](asio::error_code ec) {
        if (ec || c->closed) return;
        const auto now = Clock::now();
        if (c->handshaking) {
            if (now < c->deadline) return arm_watchdog(c);
            // Nothing to say in plaintext in the middle of a handshake: just close.
            observe::info("tls-failed", {{"session", c->host->session_id()}, {"client", c->address}, {"error", "handshake timeout"}});
            c->close();
            return;
        }
        if (now >= c->message_deadline && c->session->in_message()) {
            c->session->message_timeout();
        } else if (now >= c->deadline) {
            c->session->timeout();
        } else if (now >= c->rate_check && c->session->in_message()) {
            const double seconds = std::chrono::duration<double>(now - c->message_started).count();
            if (static_cast<double>(c->message_octets) >= seconds * static_cast<double>(config.limits.min_data_rate)) {
                c->rate_check = now + kDataRateCheck;
                return arm_watchdog(c);
            }
            c->session->message_too_slow(fmt::format("{} octets in {:.1f} s, under {} octets/s", c->message_octets,
                                                     seconds, config.limits.min_data_rate));
        } else {
            return arm_watchdog(c);  // activity moved the deadline
        }
        if (c->tls && !c->expired) {
            // The coroutine writes the 421 through TLS once its read is cancelled; if even
            // that does not get through in time, the next expiry closes.
            c->expired = true;
            c->deadline = now + kFinalWriteTime;
            asio::error_code e;
            c->socket.cancel(e);
            return arm_watchdog(c);
        }
        c->write_now();
        c->close();
    });
}

asio::awaitable<void> Server::Impl::linger(std::shared_ptr<Connection> c) {
    asio::error_code ec;
    // The watchdog ends the wait: the session is over, so it only has to close.
    c->deadline = Clock::now() + kLingerTime;
    c->message_deadline = Clock::time_point::max();
    c->watchdog.expires_at(c->deadline);
    c->watchdog.async_wait([c](asio::error_code e) {
        if (!e) c->close();
    });
    // TLS ends with close_notify (RFC 8446 6.1), so the client can tell the end from a cut.
    if (c->tls) {
        co_await c->tls->async_shutdown(use_tuple);
        if (c->closed) co_return;
    }
    c->socket.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    thread_local std::vector<char> sink(kReadChunk);
    std::size_t drained = 0;
    while (!c->closed && drained < kLingerBytes) {
        auto [wait_ec] = co_await c->socket.async_wait(tcp::socket::wait_read, use_tuple);
        if (wait_ec || c->closed) break;
        const std::size_t n = c->socket.read_some(asio::buffer(sink), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
        if (ec) break;
        drained += n;
    }
}

asio::awaitable<void> Server::Impl::flush(std::shared_ptr<Connection> c, std::string out) {
    out += c->session->take_output();
    while (!out.empty() && !c->closed) {
        c->writing = true;
        auto [ec, n] = c->tls ? co_await asio::async_write(*c->tls, asio::buffer(out), use_tuple)
                              : co_await asio::async_write(c->socket, asio::buffer(out), use_tuple);
        c->writing = false;
        if (metrics) metrics->inbound_sent_bytes.inc(n);
        if (ec) {
            c->close();
            break;
        }
        out = c->session->take_output();
    }
}

asio::awaitable<bool> Server::Impl::start_tls(std::shared_ptr<Connection> c) {
    auto fresh = tls->new_session();
    c->tls_keep = std::move(fresh.keep);
    c->tls = std::make_unique<TlsStream>(c->socket, fresh.ssl);
    c->tls_buffer.resize(kTlsReadChunk);
    c->handshaking = true;
    c->deadline = Clock::now() + std::chrono::seconds(config.tls.handshake_timeout);
    arm_watchdog(c);
    auto [ec] = co_await c->tls->async_handshake(asio::ssl::stream_base::server, use_tuple);
    c->handshaking = false;
    if (c->closed) co_return false;  // timed out: logged by the watchdog
    if (ec) {
        // Garbage instead of a ClientHello, an old protocol, no common cipher: one log line,
        // the connection closed, nothing else spent on it.
        observe::info("tls-failed", {{"session", c->host->session_id()}, {"client", c->address}, {"error", ec.message()}});
        c->close();
        co_return false;
    }
    c->host->tls_established(tls_parameters(c->tls->native_handle()));
    c->deadline = Clock::now() + std::chrono::seconds(config.limits.command_timeout);
    arm_watchdog(c);
    co_return true;
}

// Waits [limits] greeting_delay for the client to say something; true when it did (a close
// before the greeting is not speaking: the connection is simply gone, and marked closed).
asio::awaitable<bool> Server::Impl::spoke_before_greeting(std::shared_ptr<Connection> c) {
    auto pause = std::make_shared<asio::steady_timer>(
        c->socket.get_executor(), std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(config.limits.greeting_delay)));
    // The loop is one thread, so `waited` is read and set there only: a timer that fires after
    // the wait ended must not cancel whatever the connection waits for next.
    auto waited = std::make_shared<bool>(false);
    std::weak_ptr<Connection> weak = c;
    pause->async_wait([weak, waited](asio::error_code e) {
        if (e || *waited) return;
        if (auto conn = weak.lock()) conn->socket.cancel();
    });
    auto [wait_ec] = co_await c->socket.async_wait(tcp::socket::wait_read, use_tuple);
    *waited = true;
    pause->cancel();
    if (wait_ec) co_return false;  // the delay ran out in silence: greet
    asio::error_code ec;
    if (c->socket.available(ec) > 0 && !ec) co_return true;
    c->peer_gone = true;
    c->close();
    co_return false;
}

asio::awaitable<msgauth::ClientName> Server::Impl::client_name(std::shared_ptr<Connection> c) {
    const auto ip = msgauth::parse_ip(c->address);
    if (!ip) co_return msgauth::ClientName{"", "not an IP address"};
    const auto bound = std::min<Clock::duration>(std::chrono::seconds(config.dns.timeout), kMaxClientNameWait);
    // The answer comes on the resolver's thread (or at once, from the cache) and is posted to
    // the loop, the only thread that reads or sets `answer` and `waited`: an answer after the
    // wait ended must not cancel whatever the connection waits for next on `wake`.
    auto answer = std::make_shared<std::optional<msgauth::ClientName>>();
    auto waited = std::make_shared<bool>(false);
    std::weak_ptr<Connection> weak = c;
    auto executor = c->socket.get_executor();
    c->wake.expires_after(bound);
    msgauth::look_up_client_name(*client_names, *ip, [weak, executor, answer, waited](msgauth::ClientName name) {
        asio::post(executor, [weak, answer, waited, name = std::move(name)]() mutable {
            auto conn = weak.lock();
            if (!conn || conn->closed || *waited) return;
            *answer = std::move(name);
            conn->wake.cancel();
        });
    });
    co_await c->wake.async_wait(use_tuple);
    *waited = true;
    if (*answer) co_return std::move(**answer);
    co_return msgauth::ClientName{"", fmt::format("lookup failed: no answer within {} s",
                                                  std::chrono::duration_cast<std::chrono::seconds>(bound).count())};
}

asio::awaitable<void> Server::Impl::serve(Worker& w, tcp::socket socket, const Listener& listener) {
    asio::error_code ec;
    auto peer = socket.remote_endpoint(ec);
    if (ec) co_return;
    socket.set_option(tcp::no_delay(true), ec);
    socket.non_blocking(true, ec);

    auto c = std::make_shared<Connection>(std::move(socket));
    c->address = client_address(peer);
    const bool implicit_tls = listener.kind == config::ListenerKind::Submissions;
    smtp::ClientInfo client{c->address, peer.port(), implicit_tls, {}};
    std::weak_ptr<Connection> weak = c;
    auto executor = c->socket.get_executor();
    c->host = std::make_unique<SessionHost>(
        new_session_id(), client, hostname, policy, queue, [weak, executor](smtp::Reply reply) {
            asio::post(executor, [weak, reply = std::move(reply)] {
                auto conn = weak.lock();
                if (!conn || conn->closed) return;
                conn->session->message_done(reply);
                conn->wake.cancel();
            });
        },
        auth, [weak, executor](smtp::AuthVerdict verdict, Clock::time_point not_before) {
            // The verdict waits for its time (padding and the failure delay) on a timer of the
            // connection's loop, never on a hashing thread.
            asio::post(executor, [weak, verdict, not_before] {
                auto conn = weak.lock();
                if (!conn || conn->closed) return;
                auto timer = std::make_shared<asio::steady_timer>(conn->socket.get_executor(), not_before);
                timer->async_wait([weak, verdict, timer](asio::error_code) {
                    auto waiting = weak.lock();
                    if (!waiting || waiting->closed) return;
                    waiting->session->auth_done(verdict);
                    waiting->wake.cancel();
                });
            });
        });
    smtp::SessionConfig connection_config = listener.session;
    const auto peer_address = peer.address();
    const bool loopback = peer_address.is_loopback() ||
                          (peer_address.is_v6() && peer_address.to_v6().is_v4_mapped() &&
                           asio::ip::make_address_v4(asio::ip::v4_mapped, peer_address.to_v6()).is_loopback());
    connection_config.auth_plaintext = config.auth.plaintext_loopback && loopback;
    c->session = std::make_unique<smtp::Session>(connection_config, client, *c->host);
    c->host->attach(*c->session);
    // Trusted networks are not rate limited nor kept waiting for the greeting (as Postfix's
    // smtpd_client_event_limit_exceptions, $mynetworks by default): they are our own hosts,
    // and they send in bulk.
    const bool trusted = c->host->client_trusted();
    const std::string rate_client = policy::rate_limit_key(c->address);
    if (!trusted) c->host->count_rates(&message_rate, &recipient_rate, rate_client);
    c->host->count_in(metrics);
    c->host->verify_with(msgauth, [weak, executor](std::function<void()> step) {
        asio::post(executor, [weak, step = std::move(step)] {
            auto conn = weak.lock();
            if (!conn || conn->closed) return;
            step();
        });
    });
    auto it = w.connections.insert(w.connections.end(), c);
    // Runs however the coroutine ends (also by an exception or the loop's destruction), so a
    // connection slot is never leaked.
    struct Departure {
        Server::Impl& server;
        Worker& worker;
        std::list<std::weak_ptr<Connection>>::iterator entry;
        std::shared_ptr<Connection> connection;
        ~Departure() {
            connection->close();
            if (connection->admitted) server.limiter.release(connection->address);
            if (connection->counted_open) server.metrics->open_connections.dec();
            worker.connections.erase(entry);
        }
    } departure{*this, w, it, c};

    auto verdict = limiter.admit(c->address);
    c->admitted = verdict == policy::ConnectionLimiter::Verdict::Admitted;
    const bool too_fast =
        c->admitted && !trusted && !connection_rate.hit(rate_client, policy::RateLimiter::Clock::now());
    const bool refused = stopping || !c->admitted || too_fast;
    if (metrics) {
        if (refused) {
            metrics->connections_refused.inc();
        } else {
            metrics->connections_accepted.inc();
            metrics->open_connections.inc();
            c->counted_open = true;
        }
    }
    // As Postfix (smtpd_peername_lookup), the name is known before the greeting, and before the
    // TLS of a submissions port: the log's connect line, the history and Received all name it.
    // A refused connection costs no query.
    std::optional<msgauth::ClientName> named;
    if (!refused && client_names) {
        named = co_await client_name(c);
        if (c->closed) co_return;
        c->host->client_named(named->name, named->reason);
    }
    if (!named)
        observe::info("connect", {{"session", c->host->session_id()}, {"client", c->address}, {"port", peer.port()},
                                  {"listener", kind_name(listener.kind)}});
    else
        observe::info("connect", {{"session", c->host->session_id()}, {"client", c->address}, {"port", peer.port()},
                                  {"listener", kind_name(listener.kind)},
                                  named->name.empty() ? observe::Field{"no_name", named->reason}
                                                      : observe::Field{"name", named->name}});
    c->host->record_in(history, transcript_mode(config.history.transcripts));
    if (verdict == policy::ConnectionLimiter::Verdict::TooManyTotal)
        observe::warn("too-many-connections", {{"session", c->host->session_id()}, {"client", c->address},
                                               {"limit", "connections"}, {"max", config.limits.connections}});
    if (verdict == policy::ConnectionLimiter::Verdict::TooManyFromClient)
        observe::warn("too-many-connections", {{"session", c->host->session_id()}, {"client", c->address},
                                               {"limit", "connections_per_client"},
                                               {"max", config.limits.connections_per_client}});
    if (too_fast)
        observe::warn("rate-limited", {{"session", c->host->session_id()}, {"client", c->address},
                                       {"limit", "connection_rate"},
                                       {"per_minute", config.limits.connection_rate}});
    // RFC 8314 3.3: on a submissions port TLS comes first, the 220 after it. A connection
    // refused anyway is closed without a handshake.
    if (implicit_tls) {
        if (refused) {
            observe::info("disconnect", {{"session", c->host->session_id()}, {"client", c->address}, {"refused", "limits"}});
            co_return;
        }
        if (!co_await start_tls(c)) co_return;
    }
    // No EHLO yet, so the engine writes no enhanced code; these refusals carry theirs in the
    // text, as clients and Postfix expect at greeting ("421 4.7.0 ...", RFC 3463 X.7.0, X.3.2).
    if (stopping) {
        c->session->start_refused({421, "", "4.3.2 " + hostname + " Service shutting down"});
    } else if (verdict == policy::ConnectionLimiter::Verdict::TooManyTotal) {
        c->session->start_refused({421, "", "4.7.0 " + hostname + " Too many connections, try again later"});
    } else if (verdict == policy::ConnectionLimiter::Verdict::TooManyFromClient) {
        c->session->start_refused({421, "", "4.7.0 " + hostname + " Too many connections from your address"});
    } else if (too_fast) {
        c->session->start_refused(
            {421, "", "4.7.0 " + hostname + " Error: too many connections from your address, try again later"});
    } else if (!implicit_tls && !trusted && config.limits.greeting_delay > 0 &&
               co_await spoke_before_greeting(c)) {
        // As Postfix's postscreen pregreet test: an SMTP client waits for the 220 (RFC 5321
        // 3.1); what talks first is a spam engine that does not listen. It is not served.
        observe::warn("pregreet", {{"session", c->host->session_id()}, {"client", c->address}});
        c->session->start_refused({554, "", "5.5.1 " + hostname + " Protocol error: you spoke before my greeting"});
    } else if (!c->closed) {
        c->session->start();
    }
    if (c->closed) co_return;
    const auto command_timeout = std::chrono::seconds(config.limits.command_timeout);
    const auto data_timeout = std::chrono::seconds(config.limits.data_timeout);
    const auto data_total_timeout = std::chrono::seconds(config.limits.data_total_timeout);
    c->deadline = Clock::now() + command_timeout;
    arm_watchdog(c);
    co_await flush(c);

    thread_local std::vector<char> plain_buffer(kReadChunk);
    while (!c->closed && !c->session->wants_close()) {
        if (c->session->awaiting_host()) {
            // The queue is making the message durable; the client waits for our reply, so no
            // idle timeout runs meanwhile.
            c->deadline = Clock::time_point::max();
            c->message_deadline = Clock::time_point::max();
            // Message authentication's verdict is awaited at most verdict_wait() (the spool's
            // is always given; then the wait just starts again).
            c->wake.expires_after(c->host->verdict_wait());
            auto [waited] = co_await c->wake.async_wait(use_tuple);
            if (c->closed) break;
            if (!waited && c->session->awaiting_host()) c->host->verification_overdue();
            if (!c->session->awaiting_host()) {
                c->deadline = Clock::now() + command_timeout;
                c->message_deadline = Clock::time_point::max();
                arm_watchdog(c);
            }
            co_await flush(c);
            continue;
        }
        const char* data = nullptr;
        std::size_t n = 0;
        if (c->tls) {
            // The stream's own buffering: the read waits with this connection's buffer.
            auto [read_ec, got] = co_await c->tls->async_read_some(asio::buffer(c->tls_buffer), use_tuple);
            if (c->closed || c->expired) break;
            ec = read_ec;
            data = c->tls_buffer.data();
            n = got;
        } else {
            auto [wait_ec] = co_await c->socket.async_wait(tcp::socket::wait_read, use_tuple);
            if (wait_ec || c->closed) break;
            n = c->socket.read_some(asio::buffer(plain_buffer), ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
            data = plain_buffer.data();
        }
        if (ec) {
            c->peer_gone = true;
            c->session->peer_closed();
            break;
        }
        const bool was_in_message = c->session->in_message();
        if (metrics) metrics->inbound_received_bytes.inc(n);
        c->session->receive(std::string_view(data, n));
        // The idle timer restarts on progress, not on any byte: in command mode only a complete
        // command (which always gets a reply) counts, so a client trickling one byte a second
        // cannot hold a connection open (RFC 5321 4.5.3.2.7); message content counts as it flows.
        const bool in_message = c->session->in_message();
        if (in_message || was_in_message) c->deadline = Clock::now() + data_timeout;
        // The overall limit runs from the message's first octet to its last, however steadily
        // it flows: a client sending a byte every few seconds keeps no session for days.
        if (in_message && !was_in_message) {
            c->message_deadline = Clock::now() + data_total_timeout;
            c->message_started = Clock::now();
            c->message_octets = n;
            c->rate_check = config.limits.min_data_rate > 0 ? c->message_started + kDataRateGrace
                                                             : Clock::time_point::max();
            arm_watchdog(c);
        } else if (in_message) {
            c->message_octets += n;
        } else {
            c->message_deadline = Clock::time_point::max();
            c->rate_check = Clock::time_point::max();
        }
        std::string replies = c->session->take_output();
        if (!replies.empty() && !c->session->in_message()) c->deadline = Clock::now() + command_timeout;
        co_await flush(c, std::move(replies));
        // RFC 3207 4.2: STARTTLS's 220 has gone out in plaintext; the handshake follows, and the
        // engine discarded whatever the client sent after the command (CVE-2011-0411). Bytes
        // still in the socket are read by the handshake as TLS records, which they are not.
        if (c->session->tls_handshake_pending() && !c->closed) {
            if (!co_await start_tls(c)) break;
            c->session->tls_started();
            continue;
        }
        // Back-pressure: while the spool thread has not written this message's earlier chunks,
        // read no more of it (TCP flow control then slows the client down).
        if (!c->closed && c->host->backlogged()) {
            const auto paused_at = Clock::now();
            while (!c->closed && c->host->backlogged()) {
                c->deadline = Clock::now() + data_timeout;
                asio::steady_timer pause(c->socket.get_executor(), kBackPressurePause);
                co_await pause.async_wait(use_tuple);
            }
            // We did not read meanwhile: that time is not the client's slowness.
            c->message_started += Clock::now() - paused_at;
        }
    }
    co_await flush(c);
    if (!c->closed && !c->peer_gone) co_await linger(c);
    observe::info("disconnect", {{"session", c->host->session_id()}, {"client", c->address}, {"tls", c->host->tls_summary()}});
}


}  // namespace ehlo::net
