// The console's listener: one io_context on a thread of its own, one coroutine per
// connection feeding http::RequestReader and writing Console's answers.
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <chrono>
#include <thread>

#include "net/console.hpp"
#include "observe/log.hpp"

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

std::string endpoint_text(const config::ListenAddress& a) {
    return a.host.find(':') != std::string::npos ? "[" + a.host + "]:" + std::to_string(a.port)
                                                  : a.host + ":" + std::to_string(a.port);
}

}  // namespace

struct ConsoleServer::Impl {
    Console& console;
    // Before io: coroutine frames still pending when io is destroyed count themselves out.
    int connections = 0;
    int streams = 0;
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    std::thread thread;

    // Closes `socket` when `deadline` passes: whatever the connection waits for (a request, a
    // client that does not read its answer) has that long.
    static void arm(asio::steady_timer& deadline, tcp::socket& socket) {
        deadline.expires_after(kRequestTime);
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
        asio::steady_timer deadline(socket.get_executor());
        http::RequestReader reader;
        std::vector<char> buffer(kReadChunk);
        for (int served = 0; served < kMaxRequestsPerConnection; ++served) {
            arm(deadline, socket);
            http::RequestReader::Status status = reader.feed("");
            while (status == http::RequestReader::Status::NeedMore) {
                auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
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
                try {
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
            auto [ec, n] = co_await asio::async_write(socket, asio::buffer(wire), use_tuple);
            (void)n;
            if (!ec && response.stream && !head) co_await stream(socket, deadline, stream_path);
            if (ec || response.close || response.stream) break;
        }
        asio::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_send, ignored);
        socket.close(ignored);
    }

    // The events of one stream until the client goes, or kStreamTime; on this thread, one
    // event at a time.
    asio::awaitable<void> stream(tcp::socket& socket, asio::steady_timer& deadline, const std::string& path) {
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
            auto [ec, n] = co_await asio::async_write(socket, asio::buffer(event), use_tuple);
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

ConsoleServer::ConsoleServer(const config::ListenAddress& where, Console& console)
    : impl_(std::make_unique<Impl>(console)) {
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
    impl_->thread = std::thread([this] { impl_->io.run(); });
    observe::info("console-listening", {{"address", endpoint_text(where)}, {"url", "http://" + endpoint_text(where) + "/"}});
}

ConsoleServer::~ConsoleServer() {
    impl_->io.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace ehlo::net
