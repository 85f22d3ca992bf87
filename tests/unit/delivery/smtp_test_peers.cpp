#include "smtp_test_peers.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ehlo::delivery::testing {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStopTimeout = std::chrono::seconds(5);  // after SIGTERM, before SIGKILL
constexpr int kPollSliceMs = 50;                         // how often a blocked peer checks stop()

std::string last_error(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A socket address for `ip` (IPv4 or IPv6) and `port`.
struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = AF_INET;
};

SocketAddress socket_address(const std::string& ip, std::uint16_t port) {
    SocketAddress a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.length = sizeof *v4;
        a.family = AF_INET;
    } else if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.length = sizeof *v6;
        a.family = AF_INET6;
    } else {
        throw std::invalid_argument("not an IP address: " + ip);
    }
    return a;
}

// A TCP socket bound to ip:port, or -1 if the port is taken.
int bound_tcp(const std::string& ip, std::uint16_t port) {
    const SocketAddress a = socket_address(ip, port);
    const int fd = ::socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(last_error("socket"));
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::uint16_t port_of(int fd) {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) throw std::runtime_error(last_error("getsockname"));
    if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
}

// Whether process `pid` listens on the IPv4 ip:port. Read from /proc (the socket's inode in
// /proc/net/tcp, then among the process's descriptors), not by connecting, which smtp-sink would
// count as a session; and the listener must be its own, not another test's on the same port.
bool listening(pid_t pid, const std::string& ip, std::uint16_t port) {
    in_addr addr{};
    if (::inet_pton(AF_INET, ip.c_str(), &addr) != 1) return false;
    char local[32];
    // The kernel prints the address as the 32-bit value in memory, the port in host order.
    std::snprintf(local, sizeof local, "%08X:%04X", static_cast<unsigned>(addr.s_addr), static_cast<unsigned>(port));
    std::ifstream in("/proc/net/tcp");
    std::string line;
    std::string inode;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string slot, local_address, remote_address, state, queues, timer, retransmits, uid, timeout;
        fields >> slot >> local_address >> remote_address >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
        if (local_address == local && state == "0A") break;  // TCP_LISTEN
        inode.clear();
    }
    if (inode.empty()) return false;
    const std::string target = "socket:[" + inode + "]";
    std::error_code ec;
    for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        std::error_code link_ec;
        if (std::filesystem::read_symlink(fd.path(), link_ec).string() == target) return true;
    }
    return false;
}

bool reaped_within(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (true) {
        const pid_t r = ::waitpid(pid, nullptr, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::filesystem::path make_temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ehlo-sink-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error(last_error("mkdtemp"));
    return tmpl;
}

}  // namespace

std::uint16_t free_tcp_port(const std::vector<std::string>& ips) {
    for (int attempt = 0; attempt < 50; ++attempt) {
        const int first = bound_tcp(ips.at(0), 0);
        if (first < 0) continue;
        const std::uint16_t port = port_of(first);
        std::vector<int> fds{first};
        bool all = true;
        for (std::size_t i = 1; i < ips.size() && all; ++i) {
            const int fd = bound_tcp(ips[i], port);
            if (fd < 0)
                all = false;
            else
                fds.push_back(fd);
        }
        for (int fd : fds) ::close(fd);
        if (all) return port;
    }
    throw std::runtime_error("no TCP port free on every address asked for");
}

// ---- smtp-sink ----------------------------------------------------------------------------

SmtpSink::SmtpSink(std::string ip, std::uint16_t port, std::vector<std::string> options)
    : ip_(std::move(ip)), port_(port), dir_(make_temp_dir()) {
    if (::access(kSmtpSinkBinary, X_OK) != 0) {
        std::filesystem::remove_all(dir_);
        throw std::runtime_error(std::string(kSmtpSinkBinary) + " is not installed (Debian package postfix)");
    }
    // Run as root, smtp-sink must drop to another user (-u) before it writes the dump files.
    // mkdtemp made dir_ private; the other user must be able to reach the dump directory in it.
    const auto dumps = dir_ / "dump";
    std::filesystem::create_directory(dumps);
    std::filesystem::permissions(dumps, std::filesystem::perms::all);
    std::filesystem::permissions(dir_, std::filesystem::perms::others_exec | std::filesystem::perms::group_exec,
                                 std::filesystem::perm_options::add);
    const auto out_path = dir_ / "sink.out";

    std::vector<std::string> args = {"smtp-sink"};
    if (::geteuid() == 0) args.insert(args.end(), {"-u", "nobody"});
    args.insert(args.end(), {"-c", "-d", (dumps / "%H%M%S.").string()});
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(ip_ + ":" + std::to_string(port_));
    args.push_back("64");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out_fd < 0 || null_fd < 0) throw std::runtime_error(last_error("open"));
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(last_error("fork"));
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec: the test process has threads.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(null_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(out_fd, 2);
        ::execv(kSmtpSinkBinary, argv.data());
        ::_exit(127);
    }
    ::close(out_fd);
    ::close(null_fd);
    pid_ = pid;

    const auto deadline = Clock::now() + kPeerStartTimeout;
    while (Clock::now() < deadline) {
        if (listening(pid_, ip_, port_)) return;
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
            pid_ = -1;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop();
    const std::string output = read_all(out_path);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw std::runtime_error("smtp-sink did not listen on " + ip_ + ":" + std::to_string(port_) + "; its output:\n" + output);
}

SmtpSink::~SmtpSink() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

void SmtpSink::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (!reaped_within(pid_, kStopTimeout)) {
        ::kill(pid_, SIGKILL);
        reaped_within(pid_, kStopTimeout);
    }
    pid_ = -1;
}

SinkCounters SmtpSink::counters() const {
    // -c prints "sess=N quit=N mesg=N" (ended by CR) at each session end, QUIT and message.
    const std::string out = read_all(dir_ / "sink.out");
    SinkCounters c;
    const std::size_t at = out.rfind("sess=");
    if (at != std::string::npos)
        std::sscanf(out.c_str() + at, "sess=%d quit=%d mesg=%d", &c.sessions, &c.quits, &c.messages);
    return c;
}

SinkCounters SmtpSink::wait_for(const std::function<bool(const SinkCounters&)>& done,
                                std::chrono::milliseconds limit) const {
    const auto deadline = Clock::now() + limit;
    SinkCounters c = counters();
    while (!done(c) && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        c = counters();
    }
    return c;
}

std::vector<std::string> SmtpSink::messages() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_ / "dump")) out.push_back(read_all(e.path()));
    return out;
}

// ---- scripted peer ------------------------------------------------------------------------

ScriptedPeer::ScriptedPeer(const std::string& ip, std::uint16_t port, Script script, int backlog)
    : script_(std::move(script)) {
    listen_fd_ = bound_tcp(ip, port);
    if (listen_fd_ < 0) throw std::runtime_error("cannot bind " + ip + ":" + std::to_string(port) + ": " + std::strerror(errno));
    if (::listen(listen_fd_, backlog) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error(last_error("listen"));
    }
    port_ = port_of(listen_fd_);
    thread_ = std::thread([this] { run(); });
}

ScriptedPeer::~ScriptedPeer() { stop(); }

void ScriptedPeer::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
        listen_fd_ = -1;
    }
}

void ScriptedPeer::run() {
    while (!stopping_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, kPollSliceMs) != 1) continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++accepted_;
        PeerConnection connection(fd, *this);
        try {
            script_(connection);
        } catch (...) {
            // A script that fails still closes its connection; the test sees the outcome.
        }
        ::shutdown(fd, SHUT_RDWR);
        ::close(fd);
        ++closed_;
    }
}

void ScriptedPeer::record(std::string line) {
    std::lock_guard lock(mutex_);
    lines_.push_back(std::move(line));
}

std::vector<std::string> ScriptedPeer::lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
}

bool ScriptedPeer::wait_for_line(std::string_view prefix, std::chrono::milliseconds limit) const {
    const auto deadline = Clock::now() + limit;
    while (true) {
        for (const std::string& l : lines())
            if (l.starts_with(prefix)) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void PeerConnection::send(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

bool PeerConnection::fill() {
    const auto deadline = Clock::now() + kPeerIoTimeout;
    while (!peer_.stopping() && Clock::now() < deadline) {
        pollfd p{fd_, POLLIN, 0};
        const int r = ::poll(&p, 1, kPollSliceMs);
        if (r < 0 && errno != EINTR) return false;
        if (r != 1) continue;
        char chunk[16384];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }
    return false;
}

std::optional<std::string> PeerConnection::line() {
    while (true) {
        const std::size_t end = buffer_.find("\r\n");
        if (end != std::string::npos) {
            std::string l = buffer_.substr(0, end);
            buffer_.erase(0, end + 2);
            peer_.record(l);
            return l;
        }
        if (!fill()) return std::nullopt;
    }
}

std::optional<std::string> PeerConnection::data() {
    while (true) {
        if (buffer_.starts_with(".\r\n")) {  // an empty message
            buffer_.erase(0, 3);
            return std::string{};
        }
        const std::size_t end = buffer_.find("\r\n.\r\n");
        if (end != std::string::npos) {
            std::string content = buffer_.substr(0, end + 2);
            buffer_.erase(0, end + 5);
            return content;
        }
        if (!fill()) return std::nullopt;
    }
}

std::size_t PeerConnection::read_bytes(std::size_t n) {
    while (buffer_.size() < n)
        if (!fill()) break;
    const std::size_t got = std::min(n, buffer_.size());
    buffer_.erase(0, got);
    return got;
}

void PeerConnection::wait_closed() {
    while (fill()) buffer_.clear();
}

void accept_all(PeerConnection& peer, const std::vector<std::string>& ehlo_keywords) {
    peer.send("220 peer.example ESMTP\r\n");
    while (auto l = peer.line()) {
        std::string verb = l->substr(0, 4);
        for (char& ch : verb) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (verb == "EHLO") {
            std::string reply = "250";
            reply += ehlo_keywords.empty() ? " " : "-";
            reply += "peer.example\r\n";
            for (std::size_t i = 0; i < ehlo_keywords.size(); ++i)
                reply += std::string(i + 1 < ehlo_keywords.size() ? "250-" : "250 ") + ehlo_keywords[i] + "\r\n";
            peer.send(reply);
        } else if (verb == "HELO") {
            peer.send("250 peer.example\r\n");
        } else if (verb == "MAIL" || verb == "RCPT" || verb == "RSET" || verb == "NOOP") {
            peer.send("250 2.0.0 Ok\r\n");
        } else if (verb == "DATA") {
            peer.send("354 End data with <CR><LF>.<CR><LF>\r\n");
            if (!peer.data()) return;
            peer.send("250 2.0.0 Ok: queued\r\n");
        } else if (verb == "QUIT") {
            peer.send("221 2.0.0 Bye\r\n");
            return;
        } else {
            peer.send("502 5.5.2 Command not recognized\r\n");
        }
    }
}

}  // namespace ehlo::delivery::testing
