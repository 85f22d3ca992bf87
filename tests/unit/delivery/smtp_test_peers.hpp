// SMTP servers on loopback for tests of onward delivery: no mocks.
//
// SmtpSink runs Postfix's smtp-sink (/usr/sbin/smtp-sink) as a child process: a real server
// that takes mail and throws it away, counting sessions, QUITs and messages (-c) and dumping
// each message to a file (-d). Options such as -r/-f (soft/hard reject listed commands) make it
// refuse on demand. It is killed when the object goes, and gets SIGKILL if the test dies.
//
// ScriptedPeer is a thread with a listening socket that plays a dialog the test writes, for the
// faults no real server produces on demand: a refused greeting, a reply that never comes, a
// connection dropped in the middle of the message. Every read is bounded (kPeerIoTimeout), so a
// test that goes wrong fails instead of hanging.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ehlo::delivery::testing {

inline constexpr const char* kSmtpSinkBinary = "/usr/sbin/smtp-sink";
inline constexpr std::chrono::seconds kPeerStartTimeout{10};  // until smtp-sink listens
inline constexpr std::chrono::seconds kPeerIoTimeout{10};     // a scripted read gives up after this

// A TCP port free on every one of `ips` (loopback addresses, IPv4 or IPv6) at once.
std::uint16_t free_tcp_port(const std::vector<std::string>& ips);

struct SinkCounters {
    int sessions = 0;  // ended
    int quits = 0;
    int messages = 0;
};

class SmtpSink {
public:
    // Listens on `ip`:`port` (IPv4). `options`: more smtp-sink options, e.g. {"-r", "RCPT"}.
    // Throws std::runtime_error, with smtp-sink's output, if it does not listen in time.
    SmtpSink(std::string ip, std::uint16_t port, std::vector<std::string> options = {});
    ~SmtpSink();
    SmtpSink(const SmtpSink&) = delete;
    SmtpSink& operator=(const SmtpSink&) = delete;

    std::uint16_t port() const { return port_; }
    SinkCounters counters() const;  // the latest counters it printed
    // Polls counters() until `done` holds or `limit` passes; returns the last ones read.
    SinkCounters wait_for(const std::function<bool(const SinkCounters&)>& done,
                          std::chrono::milliseconds limit = std::chrono::seconds(5)) const;
    std::vector<std::string> messages() const;  // the dumped transactions (headers it adds, then the message)
    void stop();  // idempotent

private:
    std::string ip_;
    std::uint16_t port_;
    std::filesystem::path dir_;
    pid_t pid_ = -1;
};

class ScriptedPeer;

// One accepted connection, as the script sees it.
class PeerConnection {
public:
    PeerConnection(int fd, ScriptedPeer& peer) : fd_(fd), peer_(peer) {}
    void send(std::string_view bytes);      // best effort
    std::optional<std::string> line();      // the next line without CRLF; empty on EOF, timeout or stop
    std::optional<std::string> data();      // after 354: the content up to and without CRLF "." CRLF
    std::size_t read_bytes(std::size_t n);  // reads about n bytes; returns how many came
    void wait_closed();                     // reads until the client closes (or timeout or stop)

private:
    bool fill();  // more bytes into buffer_; false on EOF, timeout or stop
    int fd_;
    ScriptedPeer& peer_;
    std::string buffer_;
};

class ScriptedPeer {
public:
    using Script = std::function<void(PeerConnection&)>;
    // Listens on `ip`:`port` (0: any free port) and plays `script` on each connection, one
    // connection after another; the connection is closed when the script returns.
    ScriptedPeer(const std::string& ip, std::uint16_t port, Script script, int backlog = 16);
    ~ScriptedPeer();
    ScriptedPeer(const ScriptedPeer&) = delete;
    ScriptedPeer& operator=(const ScriptedPeer&) = delete;

    std::uint16_t port() const { return port_; }
    int connections() const { return accepted_; }  // accepted so far
    int closed() const { return closed_; }         // scripts finished and connections closed
    std::vector<std::string> lines() const;        // every line the clients sent, in order
    bool wait_for_line(std::string_view prefix, std::chrono::milliseconds limit) const;
    bool stopping() const { return stopping_; }
    void stop();  // idempotent

private:
    friend class PeerConnection;
    void run();
    void record(std::string line);

    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    Script script_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> accepted_{0};
    std::atomic<int> closed_{0};
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
    std::thread thread_;
};

// A well-behaved server: 220; EHLO answered with `ehlo_keywords`; 250 to MAIL, RCPT, RSET and
// NOOP; 354 then 250 to DATA; 221 to QUIT, then it closes.
void accept_all(PeerConnection& peer, const std::vector<std::string>& ehlo_keywords = {"PIPELINING", "8BITMIME"});

}  // namespace ehlo::delivery::testing
