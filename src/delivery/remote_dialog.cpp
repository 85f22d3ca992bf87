// The conversation on one connection: bytes between the socket and the ClientSession, each
// awaited reply under its RFC 5321 4.5.3.2 timeout, and the message content streamed from its
// source a piece at a time, read off the loop, as the socket takes it. After STARTTLS the same
// bytes go through the connection's TLS stream, whose handshake is done here too.
#include "delivery/remote_internal.hpp"
#include "observe/ehlo_metrics.hpp"

namespace ehlo::delivery {

asio::awaitable<Io> RemoteDelivery::Impl::read(ConnPtr c, Clock::time_point deadline, std::string& bytes) {
    if (c->tls) {
        // TLS may hold decrypted bytes the socket no longer signals: read through the stream.
        c->arm(deadline);
        auto [ec, n] = co_await c->tls->async_read_some(asio::buffer(c->tls_buffer), use_tuple);
        const bool timed_out = c->disarm();
        if (ec) co_return timed_out ? Io::Timeout : ec == asio::error::operation_aborted ? Io::Interrupted : Io::Lost;
        bytes.assign(c->tls_buffer.data(), n);
        if (options.metrics) options.metrics->outbound_received_bytes.inc(n);
        co_return Io::Ok;
    }
    while (true) {
        c->arm(deadline);
        auto [ec] = co_await c->socket.async_wait(tcp::socket::wait_read, use_tuple);
        const bool timed_out = c->disarm();
        if (ec) co_return timed_out ? Io::Timeout : ec == asio::error::operation_aborted ? Io::Interrupted : Io::Lost;
        // Read at once, before anything else runs on the loop: the buffer is shared.
        asio::error_code rec;
        const std::size_t n = c->socket.read_some(asio::buffer(read_buffer), rec);
        if (rec == asio::error::would_block || rec == asio::error::try_again) continue;
        if (rec) co_return Io::Lost;  // end of stream included
        bytes.assign(read_buffer.data(), n);
        if (options.metrics) options.metrics->outbound_received_bytes.inc(n);
        co_return Io::Ok;
    }
}

asio::awaitable<Io> RemoteDelivery::Impl::write(ConnPtr c, std::string bytes) {
    std::size_t offset = 0;
    while (offset < bytes.size()) {
        const std::size_t n = std::min(kWriteChunk, bytes.size() - offset);
        c->arm(Clock::now() + scaled(kDataBlockTimeout));  // RFC 5321 4.5.3.2.5
        auto [ec, written] = c->tls ? co_await asio::async_write(*c->tls, asio::buffer(bytes.data() + offset, n), use_tuple)
                                    : co_await asio::async_write(c->socket, asio::buffer(bytes.data() + offset, n), use_tuple);
        const bool timed_out = c->disarm();
        if (ec) co_return timed_out ? Io::Timeout : ec == asio::error::operation_aborted ? Io::Interrupted : Io::Lost;
        offset += written;
        if (options.metrics) options.metrics->outbound_sent_bytes.inc(written);
    }
    co_return Io::Ok;
}

void RemoteDelivery::Impl::abort(const ConnPtr& c, const std::string& reason) {
    c->aborted_locally = true;
    c->session->abort(reason);
}

// The peer said 220 to STARTTLS (RFC 3207 4): the client handshake on this connection, with
// SNI and the host name to verify, under a timeout; the session learns how it went.
asio::awaitable<void> RemoteDelivery::Impl::start_tls(ConnPtr c) {
    ClientSession& s = *c->session;
    SSL* ssl = nullptr;
    try {
        ssl = tls_client.new_ssl(c->tls_ca_file, c->host, c->label() + ":" + std::to_string(c->port));
    } catch (const std::exception& e) {
        observe::error("remote-tls-failed", {{"host", c->host}, {"ip", c->ip}, {"error", e.what()}});
        s.tls_failed(e.what());
        co_return;
    }
    c->tls = std::make_unique<TlsStream>(c->socket, ssl);
    c->tls_buffer.resize(kTlsReadChunk);
    c->arm(Clock::now() + scaled(kTlsHandshakeTimeout));
    auto [ec] = co_await c->tls->async_handshake(asio::ssl::stream_base::client, use_tuple);
    const bool timed_out = c->disarm();
    if (ec && c->stop_requested) {
        abort(c, kShutdownReason);
        co_return;
    }
    if (ec) {
        // An old or broken server, no common cipher, a middlebox: under `may` establish() tries
        // the host again in plaintext; under `encrypt` and `verify` the message waits.
        const std::string why = timed_out ? std::string("timed out") : ec.message();
        observe::info("remote-tls-failed", {{"host", c->host}, {"ip", c->ip}, {"policy", tls_policy_name(c->policy)},
                                            {"error", why}});
        c->aborted_locally = true;
        s.tls_failed(why);
        co_return;
    }
    const TlsHandshake h = TlsClient::result(c->tls->native_handle());
    observe::info("remote-tls", {{"host", c->host}, {"ip", c->ip}, {"policy", tls_policy_name(c->policy)},
                                 {"protocol", h.protocol}, {"cipher", h.cipher}, {"bits", h.bits},
                                 {"verified", h.verified ? "yes" : "no"}, {"verify_error", h.verify_error},
                                 {"resumed", h.resumed ? "yes" : "no"}});
    s.tls_established(h);
}

// Writes what the session says and feeds it what the peer answers, each reply awaited for
// its RFC 5321 4.5.3.2 time (scaled), until `phase` is reached or the session is over.
asio::awaitable<std::optional<MessageResult>> RemoteDelivery::Impl::converse(ConnPtr c, Phase phase) {
    ClientSession& s = *c->session;
    // The time allowed for a reply runs from when it is awaited, not from the last byte:
    // a peer that drips a byte now and then must still time out (RFC 5321 4.5.3.2).
    ClientWait timed = ClientWait::Nothing;
    Clock::time_point deadline{};
    while (true) {
        if (phase != Phase::Goodbye && c->stop_requested && !s.finished()) abort(c, kShutdownReason);
        if (std::string out = s.take_output(); !out.empty()) {
            timed = ClientWait::Nothing;  // a new command: its reply gets its own time
            switch (co_await write(c, std::move(out))) {
            case Io::Ok: break;
            case Io::Timeout: abort(c, "Timed out sending to " + c->label()); break;
            case Io::Interrupted: abort(c, kShutdownReason); break;  // only stop() interrupts a write
            case Io::Lost: abort(c, "Connection lost with " + c->label()); break;
            }
        }
        if (phase == Phase::Message)
            if (auto result = s.take_result()) co_return result;
        // A session that failed while connecting may still await the reply to its QUIT; the
        // next host is more use than that reply.
        if (s.finished() || (phase == Phase::Ready && s.failed())) co_return std::nullopt;
        if (s.wants_tls()) {
            co_await start_tls(c);
            continue;
        }
        if (s.wants_content()) {
            // The peer said 354: the next piece of content, then (at the top) its writing.
            co_await give_content(c);
            continue;
        }
        const ClientWait wait = s.awaiting();
        if (wait == ClientWait::Nothing) co_return std::nullopt;
        if (wait != timed) {
            Millis limit = scaled(timeout_of(wait));
            if (phase == Phase::Goodbye) limit = std::min(limit, kQuitWait);
            deadline = Clock::now() + limit;
            timed = wait;
        }
        std::string bytes;
        switch (co_await read(c, deadline, bytes)) {
        case Io::Ok: s.feed(bytes); break;
        case Io::Timeout: abort(c, "Timed out waiting for " + awaited_reply(wait) + " from " + c->label()); break;
        case Io::Lost: abort(c, "Connection lost with " + c->label()); break;
        case Io::Interrupted: break;  // stop(): seen at the top
        }
    }
}

namespace {

struct ContentPiece {
    std::shared_ptr<ContentReader> reader;
    std::string text;
    std::error_code error;
};

// Runs on the file thread. Its arguments are copied into the coroutine's frame, so they live
// as long as the read, whatever becomes of the connection meanwhile.
asio::awaitable<ContentPiece> read_piece(std::shared_ptr<const ContentSource> source,
                                         std::shared_ptr<ContentReader> reader) {
    ContentPiece p;
    if (!reader) {
        reader = source->open(p.error);
        if (!reader) co_return p;
    }
    p.error = reader->next(p.text);
    p.reader = std::move(reader);
    co_return p;
}

}  // namespace

// One piece of the current message's content for the session, read on the file thread (the
// spool is a disk: no read on the loop), or its end. A piece that cannot be read ends the
// connection without the final ".", so the peer never takes a truncated message for whole.
asio::awaitable<void> RemoteDelivery::Impl::give_content(ConnPtr c) {
    ClientSession& s = *c->session;
    if (!c->current || !c->current->job.content) {
        abort(c, "No content to send");
        co_return;
    }
    ContentPiece piece =
        co_await asio::co_spawn(files, read_piece(c->current->job.content, c->content), asio::use_awaitable);
    if (!s.wants_content()) co_return;  // ended meanwhile (stop)
    if (piece.error || !piece.reader) {
        observe::error("remote-content-error",
                       {{"id", c->current->job.queue_id}, {"error", piece.error ? piece.error.message() : "cannot open"}});
        abort(c, "Cannot read the message content: " + (piece.error ? piece.error.message() : std::string("cannot open")));
        c->content.reset();
        co_return;
    }
    c->content = std::move(piece.reader);
    if (piece.text.empty()) {
        s.end_content();
        c->content.reset();
    } else {
        s.send_content(piece.text);
    }
}

// One message: the job's recipients get the engine's outcomes.
asio::awaitable<void> RemoteDelivery::Impl::transfer(ConnPtr c) {
    JobPtr j = std::exchange(c->job, nullptr);
    c->current = j;
    const RemoteJob& job = j->job;
    OutboundMessage m;
    m.envelope = job.envelope;
    m.recipient_indexes = job.recipients;
    m.content_size = job.content_size;
    m.eight_bit = job.eight_bit;
    m.needs_smtputf8 = job.needs_smtputf8;
    c->session->send(std::move(m));
    std::optional<MessageResult> result = co_await converse(c, Phase::Message);
    c->current = nullptr;
    c->content.reset();
    RemoteOutcome outcome;
    if (result) {
        outcome.recipients = std::move(result->recipients);
        outcome.remote_mta = c->label();
        outcome.dsn_passed_on = result->dsn_passed_on;
    } else {
        // The engine settles every message it was given; this is only a safety net.
        outcome = uniform(job, smtp::Reply{421, "4.4.2", "Connection lost with " + c->label()}, Outcome::Deferred,
                          false, c->label());
    }
    outcome.connected = true;
    outcome.tls = c->session->tls();
    complete(j, std::move(outcome), c->host, c->ip);
}

// Between messages: wait up to idle_keep for dispatch() to give a job, unless reclaim_idle()
// or stop() wants the connection closed first. A server may close an idle connection at any
// time, saying 421 first (RFC 5321 3.8); the session hears it here and the connection ends.
asio::awaitable<void> RemoteDelivery::Impl::idle(ConnPtr c) {
    ClientSession& s = *c->session;
    const auto until = Clock::now() + options.idle_keep;
    while (!c->job && !c->stop_requested && !s.finished() && c->state == Conn::State::Idle) {
        if (Clock::now() >= until) co_return;
        std::string bytes;
        switch (co_await read(c, until, bytes)) {
        case Io::Ok: s.feed(bytes); break;
        case Io::Timeout: co_return;
        case Io::Lost: abort(c, "Connection lost with " + c->label()); break;
        case Io::Interrupted: break;
        }
    }
}

}  // namespace ehlo::delivery
