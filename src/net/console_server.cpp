// The console's listener: one io_context on a thread of its own, one coroutine per
// connection feeding http::RequestReader and writing Console's answers; with [console] tls,
// TLS first (the SMTP listeners' certificates) and a login checked before any answer.
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "net/console.hpp"
#include "net/tls_context.hpp"
#include "observe/log.hpp"
#include "policy/auth_limiter.hpp"
#include "policy/auth_service.hpp"
#include "policy/credentials.hpp"
#include "smtp/sasl.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::net {
namespace {

using asio::ip::tcp;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
// A client has this long to send each request (slowloris), and it may keep a connection
// for this many requests; beyond this many connections new ones are refused at once.
constexpr auto kRequestTime = std::chrono::seconds(10);
constexpr int kMaxRequestsPerConnection = 100;
constexpr int kMaxConnections = 32;
// Event streams are long-lived: fewer of them, so that pages and scrapes always find room.
constexpr int kMaxStreams = 8;
constexpr std::size_t kReadChunk = 8192;
// A stream of server-sent events: one event this often, for at most this long (the browser's
// EventSource reconnects by itself).
constexpr auto kEventInterval = std::chrono::seconds(1);
constexpr auto kStreamTime = std::chrono::minutes(10);
// A browser sends its Basic login with every request: a password once checked (on the
// password threads, with their guessing limits and padded answer time) is taken again without
// hashing for this long, from a few remembered digests.
constexpr auto kLoginKept = std::chrono::minutes(10);
constexpr std::size_t kLoginsKept = 16;
constexpr auto kHandshakeTime = std::chrono::seconds(10);

using TlsStream = asio::ssl::stream<tcp::socket&>;

std::string sha256(std::string_view text) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(text.data(), text.size(), out, &n, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<const char*>(out), n);
}

bool same_secret(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string endpoint_text(const config::ListenAddress& a) {
    return a.host.find(':') != std::string::npos ? "[" + a.host + "]:" + std::to_string(a.port)
                                                  : a.host + ":" + std::to_string(a.port);
}

}  // namespace

struct ConsoleServer::Impl {
    Console& console;
    TlsContexts* tls = nullptr;
    ConsoleLogin login;
    // Logins checked lately, by the digest of "user:password": until when, and the user's hash
    // then (a changed password, or a user removed, ends it at once).
    struct Kept {
        std::chrono::steady_clock::time_point until;
        std::string user, hash;
    };
    std::map<std::string, Kept> logins;
    // Token guesses, counted per client address as AUTH counts password guesses.
    std::unique_ptr<policy::AuthLimiter> token_guesses;
    // The password threads answer after the console may have stopped: they post only while
    // the io_context still runs.
    struct Gate {
        std::mutex m;
        bool open = true;
    };
    std::shared_ptr<Gate> gate = std::make_shared<Gate>();
    // Before io: coroutine frames still pending when io is destroyed count themselves out.
    int connections = 0;
    int streams = 0;
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    std::thread thread;
    // The slow lane: answers that wait on something else (Talk SMTP waits for an SMTP server's
    // replies) are made on a thread of their own, one at a time, so that scrapes, pages and
    // event streams never wait behind them.
    std::mutex slow_m;
    std::condition_variable slow_cv;
    std::deque<std::function<void()>> slow_work;
    bool slow_stop = false;
    std::thread slow_thread;

    void slow_loop() {
        std::unique_lock lock(slow_m);
        for (;;) {
            slow_cv.wait(lock, [this] { return slow_stop || !slow_work.empty(); });
            if (slow_stop) return;  // what waits is dropped: its connection is gone with the loop
            auto work = std::move(slow_work.front());
            slow_work.pop_front();
            lock.unlock();
            work();
            lock.lock();
        }
    }

    // console.answer(request) on the slow lane; this coroutine waits without holding the loop.
    asio::awaitable<http::Response> answer_slowly(const http::Request& request) {
        auto executor = co_await asio::this_coro::executor;
        auto done = std::make_shared<asio::steady_timer>(executor, std::chrono::steady_clock::time_point::max());
        auto response = std::make_shared<http::Response>();
        std::weak_ptr<asio::steady_timer> wake = done;
        {
            std::lock_guard lock(slow_m);
            slow_work.push_back([this, request, response, wake, executor, gate = gate] {
                try {
                    *response = console.answer(request);
                } catch (const std::exception& e) {
                    observe::error("console-error", {{"path", request.path}, {"error", e.what()}});
                    response->status = 500;
                    response->body = "Internal error (logged).\n";
                }
                std::lock_guard g(gate->m);
                if (!gate->open) return;
                asio::post(executor, [wake] {
                    if (auto timer = wake.lock()) timer->cancel();
                });
            });
        }
        slow_cv.notify_one();
        co_await done->async_wait(use_tuple);
        co_return std::move(*response);
    }

    // Closes `socket` when `deadline` passes: whatever the connection waits for (a request, a
    // client that does not read its answer) has that long.
    static void arm(asio::steady_timer& deadline, tcp::socket& socket, std::chrono::seconds time = kRequestTime) {
        deadline.expires_after(time);
        deadline.async_wait([&socket](asio::error_code ec) {
            if (!ec) {
                asio::error_code ignored;
                socket.close(ignored);  // the pending read or write ends with an error
            }
        });
    }

    explicit Impl(Console& c) : console(c) {}

    asio::awaitable<void> serve(tcp::socket socket) {
        ++connections;
        struct Leave {
            int& n;
            ~Leave() { --n; }
        } leave{connections};
        if (!tls) {
            co_await serve_on(socket, socket);
            co_return;
        }
        auto fresh = tls->new_session();
        TlsStream stream(socket, fresh.ssl);
        asio::steady_timer deadline(socket.get_executor());
        arm(deadline, socket, kHandshakeTime);
        auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
        deadline.cancel();
        if (ec) {
            asio::error_code ignored;
            socket.close(ignored);
            co_return;
        }
        co_await serve_on(stream, socket);
    }

    // Who is asking, when a login is required: nothing (go on), or the refusal to send.
    asio::awaitable<std::optional<http::Response>> check_login(const http::Request& request, const std::string& client) {
        http::Response refusal;
        refusal.status = 401;
        refusal.headers.emplace_back("WWW-Authenticate", "Basic realm=\"ehlo console\", charset=\"UTF-8\"");
        refusal.body = "A login is needed: a user of [auth] users_file, or Authorization: Bearer with the console token.\n";
        http::Response locked;
        locked.status = 429;
        locked.headers.emplace_back("Retry-After", std::to_string(login.limits.lockout.count()));
        locked.body = "Too many failed logins from this address or for this user; try again later.\n";
        const auto header = request.header("authorization");
        if (!header) co_return refusal;
        const std::string_view value = *header;
        if (value.starts_with("Bearer ")) {
            const auto now = std::chrono::steady_clock::now();
            if (token_guesses->locked(client, "", now)) co_return locked;
            // Digests of equal length: the comparison tells nothing of the token's length either.
            if (!login.token.empty() && same_secret(sha256(value.substr(7)), sha256(login.token))) co_return std::nullopt;
            observe::warn("console-login-failed", {{"client", client}, {"how", "token"}});
            asio::steady_timer wait(co_await asio::this_coro::executor, token_guesses->failed(client, "", now));
            co_await wait.async_wait(use_tuple);
            co_return token_guesses->locked(client, "", std::chrono::steady_clock::now()) ? locked : refusal;
        }
        if (!value.starts_with("Basic ") || !login.users) co_return refusal;
        const auto decoded = smtp::base64_decode(value.substr(6));
        const std::size_t colon = decoded ? decoded->find(':') : std::string::npos;
        if (colon == std::string::npos) co_return refusal;
        const std::string user = decoded->substr(0, colon);
        const std::string digest = sha256(*decoded);
        const auto now = std::chrono::steady_clock::now();
        for (auto it = logins.begin(); it != logins.end();) it = it->second.until < now ? logins.erase(it) : std::next(it);
        if (auto it = logins.find(digest); it != logins.end()) {
            const auto entry = login.users->credentials().find(it->second.user);
            if (entry && entry->hash == it->second.hash) co_return std::nullopt;
            logins.erase(it);  // the password changed or the user went since: checked again
        }
        // Checked as AUTH checks it: on the password threads, counted against guessing.
        auto executor = co_await asio::this_coro::executor;
        auto answered = std::make_shared<asio::steady_timer>(executor, std::chrono::steady_clock::time_point::max());
        auto result = std::make_shared<policy::AuthResult>(policy::AuthResult::Unavailable);
        auto not_before = std::make_shared<std::chrono::steady_clock::time_point>();
        // The password thread holds the timer only weakly: should the console stop first, the
        // timer goes with the coroutine's frame, never later on that thread.
        std::weak_ptr<asio::steady_timer> wake = answered;
        login.users->verify(client, user, decoded->substr(colon + 1),
                            [executor, wake, result, not_before, gate = gate](policy::AuthResult r, auto when) {
                                std::lock_guard lock(gate->m);
                                if (!gate->open) return;
                                asio::post(executor, [wake, result, not_before, r, when] {
                                    *result = r;
                                    *not_before = when;
                                    if (auto timer = wake.lock()) timer->cancel();
                                });
                            });
        co_await answered->async_wait(use_tuple);
        asio::steady_timer pad(executor, *not_before);
        co_await pad.async_wait(use_tuple);
        if (*result == policy::AuthResult::Ok) {
            if (logins.size() >= kLoginsKept) logins.erase(logins.begin());
            if (const auto entry = login.users->credentials().find(user))
                logins[digest] = Kept{std::chrono::steady_clock::now() + kLoginKept, user, entry->hash};
            observe::info("console-login", {{"client", client}, {"user", user}});
            co_return std::nullopt;
        }
        observe::warn("console-login-failed", {{"client", client}, {"user", user},
                                               {"result", *result == policy::AuthResult::Locked ? "locked" : "failed"}});
        co_return *result == policy::AuthResult::Locked ? locked : refusal;
    }

    template <class Stream>
    asio::awaitable<void> serve_on(Stream& stream_, tcp::socket& socket) {
        asio::steady_timer deadline(socket.get_executor());
        asio::error_code endpoint_error;
        const std::string client = socket.remote_endpoint(endpoint_error).address().to_string();
        http::RequestReader reader;
        std::vector<char> buffer(kReadChunk);
        for (int served = 0; served < kMaxRequestsPerConnection; ++served) {
            arm(deadline, socket);
            http::RequestReader::Status status = reader.feed("");
            while (status == http::RequestReader::Status::NeedMore) {
                auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer), use_tuple);
                if (ec) co_return;  // closed, reset, or the deadline passed
                status = reader.feed(std::string_view(buffer.data(), n));
            }
            arm(deadline, socket);  // the answer must be read within the same time
            http::Response response;
            bool head = false;
            std::string stream_path;
            if (status == http::RequestReader::Status::Refused) {
                response.status = reader.refusal();
                response.body = std::string(http::reason_phrase(response.status)) + "\n";
                response.close = true;
            } else {
                const http::Request request = reader.take();
                head = request.method == "HEAD";
                std::optional<http::Response> refused;
                if (login.required()) refused = co_await check_login(request, client);
                try {
                    if (refused)
                        response = std::move(*refused);
                    else if (console.is_slow(request))
                        response = co_await answer_slowly(request);
                    else
                        response = console.answer(request);
                    if (response.stream && streams >= kMaxStreams) {
                        response = {};
                        response.status = 503;
                        response.headers.emplace_back("Retry-After", "10");
                        response.body = "Too many event streams open.\n";
                    }
                    if (response.stream) stream_path = request.path;
                } catch (const std::exception& e) {
                    observe::error("console-error", {{"path", request.path}, {"error", e.what()}});
                    response = {};
                    response.status = 500;
                    response.body = "Internal error (logged).\n";
                }
                response.close = response.close || !request.keep_alive || served + 1 == kMaxRequestsPerConnection;
            }
            const std::string wire = http::serialize(response, head);
            auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(wire), use_tuple);
            (void)n;
            if (!ec && response.stream && !head) co_await events(stream_, socket, deadline, stream_path);
            if (ec || response.close || response.stream) break;
        }
        asio::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_send, ignored);
        socket.close(ignored);
    }

    // The events of one stream until the client goes, or kStreamTime; on this thread, one
    // event at a time.
    template <class Stream>
    asio::awaitable<void> events(Stream& stream_, tcp::socket& socket, asio::steady_timer& deadline, const std::string& path) {
        ++streams;
        struct Leave {
            int& n;
            ~Leave() { --n; }
        } leave{streams};
        asio::steady_timer tick(socket.get_executor());
        const auto end = std::chrono::steady_clock::now() + kStreamTime;
        while (std::chrono::steady_clock::now() < end && socket.is_open()) {
            std::string event;
            try {
                event = console.stream_event(path);
            } catch (const std::exception& e) {
                observe::error("console-error", {{"path", path}, {"error", e.what()}});
                co_return;
            }
            arm(deadline, socket);  // a client that stops reading is closed
            auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(event), use_tuple);
            (void)n;
            if (ec) co_return;
            tick.expires_after(kEventInterval);
            co_await tick.async_wait(use_tuple);
        }
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            if (ec) continue;  // EMFILE and the like: the next accept may do
            if (connections >= kMaxConnections) {
                asio::error_code ignored;
                socket.close(ignored);
                continue;
            }
            asio::co_spawn(io, serve(std::move(socket)), asio::detached);
        }
    }
};

ConsoleServer::ConsoleServer(const config::ListenAddress& where, Console& console, TlsContexts* tls, ConsoleLogin login)
    : impl_(std::make_unique<Impl>(console)) {
    impl_->tls = tls;
    impl_->login = std::move(login);
    impl_->token_guesses = std::make_unique<policy::AuthLimiter>(impl_->login.limits);
    asio::error_code ec;
    const auto address = asio::ip::make_address(where.host, ec);
    tcp::endpoint ep(address, where.port);
    auto& a = impl_->acceptor;
    if (!ec) a.open(ep.protocol(), ec);
    if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(64, ec);
    if (ec) throw std::system_error(ec, "console: cannot listen on " + endpoint_text(where));
    asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
    impl_->slow_thread = std::thread([this] {
        observe::name_this_thread("ehlo-console-q");
        impl_->slow_loop();
    });
    impl_->thread = std::thread([this] {
        observe::name_this_thread("ehlo-console");
        impl_->io.run();
    });
    observe::info("console-listening", {{"address", endpoint_text(where)},
                                        {"url", std::string(tls ? "https://" : "http://") + endpoint_text(where) + "/"},
                                        {"login", impl_->login.required() ? "required" : "none (loopback)"}});
}

ConsoleServer::~ConsoleServer() {
    {
        std::lock_guard lock(impl_->gate->m);
        impl_->gate->open = false;
    }
    impl_->io.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
    {
        std::lock_guard lock(impl_->slow_m);
        impl_->slow_stop = true;
    }
    impl_->slow_cv.notify_all();
    if (impl_->slow_thread.joinable()) impl_->slow_thread.join();
}

}  // namespace ehlo::net
