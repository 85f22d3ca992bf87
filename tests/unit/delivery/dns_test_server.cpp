#include "dns_test_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ehlo::delivery::testing {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kStartAttempts = 3;  // another process may take the chosen port before unbound binds it

std::string last_error(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int bound_socket(int type, std::uint16_t port) {
    const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(last_error("socket"));
    sockaddr_in a = loopback(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::uint16_t port_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) throw std::runtime_error(last_error("getsockname"));
    return ntohs(a.sin_port);
}

// A port free for both UDP and TCP on 127.0.0.1 (unbound listens on both).
std::uint16_t free_port() {
    for (int attempt = 0; attempt < 50; ++attempt) {
        const int udp = bound_socket(SOCK_DGRAM, 0);
        if (udp < 0) continue;
        const std::uint16_t port = port_of(udp);
        const int tcp = bound_socket(SOCK_STREAM, port);
        ::close(udp);
        if (tcp < 0) continue;
        ::close(tcp);
        return port;
    }
    throw std::runtime_error("no free loopback port");
}

std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// unbound.conf strings are quoted; a record with double quotes in it (TXT) is single-quoted.
std::string quoted(const std::string& value) {
    if (value.find_first_of("\r\n") != std::string::npos) throw std::invalid_argument("newline in a DNS record");
    if (value.find('"') == std::string::npos) return '"' + value + '"';
    if (value.find('\'') != std::string::npos) throw std::invalid_argument("both quote kinds in a DNS record");
    return '\'' + value + '\'';
}

std::filesystem::path make_temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ehlo-dns-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error(last_error("mkdtemp"));
    return tmpl;
}

// Waits for the child to end, at most `limit`; true if it did (and was reaped).
bool reaped_within(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (true) {
        const pid_t r = ::waitpid(pid, nullptr, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace

std::string DnsTestServer::unbound_config(std::uint16_t port, const std::filesystem::path& dir,
                                          const std::vector<std::string>& records,
                                          const std::vector<std::string>& refused_zones) {
    std::ostringstream c;
    c << "server:\n"
      << "  interface: 127.0.0.1\n"
      << "  port: " << port << "\n"
      << "  do-ip6: no\n"
      << "  do-daemonize: no\n"
      << "  chroot: \"\"\n"
      << "  username: \"\"\n"
      << "  directory: " << quoted(dir.string()) << "\n"
      << "  pidfile: \"\"\n"
      << "  use-syslog: no\n"
      << "  logfile: \"\"\n"
      << "  verbosity: 1\n"
      << "  num-threads: 1\n"
      << "  so-reuseport: no\n"
      << "  access-control: 127.0.0.0/8 allow\n"
      // No validator (no trust anchor to fetch) and no address to send a query to: every answer
      // comes from the local data below, and nothing leaves the machine.
      << "  module-config: \"iterator\"\n"
      << "  do-not-query-address: 0.0.0.0/0\n"
      << "  do-not-query-address: ::/0\n"
      << "  local-zone: \".\" static\n";
    for (const std::string& zone : refused_zones) c << "  local-zone: " << quoted(zone) << " refuse\n";
    for (const std::string& record : records) c << "  local-data: " << quoted(record) << "\n";
    c << "remote-control:\n"
      << "  control-enable: no\n";
    return c.str();
}

DnsTestServer::DnsTestServer(std::vector<std::string> records, std::vector<std::string> refused_zones)
    : records_(std::move(records)), refused_zones_(std::move(refused_zones)), dir_(make_temp_dir()) {
    if (::access(kUnboundBinary, X_OK) != 0) {
        std::filesystem::remove_all(dir_);
        throw std::runtime_error(std::string(kUnboundBinary) + " is not installed (Debian package unbound)");
    }
    std::string log;
    for (int attempt = 0; attempt < kStartAttempts; ++attempt)
        if (try_start(free_port(), log)) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw std::runtime_error("unbound did not start; its log:\n" + log);
}

bool DnsTestServer::try_start(std::uint16_t port, std::string& log) {
    config_ = unbound_config(port, dir_, records_, refused_zones_);
    const auto conf = dir_ / "unbound.conf";
    const auto log_path = dir_ / "unbound.log";
    {
        std::ofstream out(conf, std::ios::trunc);
        out << config_;
        if (!out) throw std::runtime_error("cannot write " + conf.string());
    }
    const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) throw std::runtime_error(last_error("open"));

    const std::string conf_arg = conf.string();
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(last_error("fork"));
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec: the test process has threads.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the server dies with the test process
        if (::getppid() != parent) ::_exit(127);
        ::dup2(null_fd, 0);
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        char* const argv[] = {const_cast<char*>("unbound"), const_cast<char*>("-d"), const_cast<char*>("-p"),
                              const_cast<char*>("-c"), const_cast<char*>(conf_arg.c_str()), nullptr};
        ::execv(kUnboundBinary, argv);
        ::_exit(127);
    }
    ::close(log_fd);
    ::close(null_fd);
    pid_ = pid;
    port_ = port;

    const auto deadline = Clock::now() + kDnsStartTimeout;
    while (Clock::now() < deadline) {
        if (dns_answers(port, std::chrono::milliseconds(100))) return true;
        if (::waitpid(pid, nullptr, WNOHANG) == pid) {  // exited: most likely the port was taken
            pid_ = -1;
            log = read_all(log_path);
            return false;
        }
    }
    stop();
    log = read_all(log_path);
    return false;
}

std::string DnsTestServer::forwarder() const { return "127.0.0.1@" + std::to_string(port_); }

void DnsTestServer::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (!reaped_within(pid_, kDnsStopTimeout)) {
        ::kill(pid_, SIGKILL);
        reaped_within(pid_, kDnsStopTimeout);
    }
    pid_ = -1;
}

DnsTestServer::~DnsTestServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

SilentDnsServer::SilentDnsServer() {
    for (int attempt = 0; attempt < 50 && tcp_ < 0; ++attempt) {
        udp_ = bound_socket(SOCK_DGRAM, 0);
        if (udp_ < 0) continue;
        port_ = port_of(udp_);
        tcp_ = bound_socket(SOCK_STREAM, port_);
        if (tcp_ >= 0 && ::listen(tcp_, 64) == 0) break;
        if (tcp_ >= 0) ::close(tcp_);
        ::close(udp_);
        tcp_ = udp_ = -1;
    }
    if (tcp_ < 0) throw std::runtime_error("no free loopback port for a silent DNS server");
}

SilentDnsServer::~SilentDnsServer() {
    ::close(tcp_);
    ::close(udp_);
}

std::string SilentDnsServer::forwarder() const { return "127.0.0.1@" + std::to_string(port_); }

std::uint16_t unused_loopback_port() {
    const int udp = bound_socket(SOCK_DGRAM, 0);
    if (udp < 0) throw std::runtime_error(last_error("bind"));
    const std::uint16_t port = port_of(udp);
    ::close(udp);
    return port;
}

bool dns_answers(std::uint16_t port, std::chrono::milliseconds timeout) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    // RFC 1035 4.1: id 0x4548, RD set, one question: "probe." A IN.
    const std::array<unsigned char, 23> query = {0x45, 0x48, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                                 5, 'p', 'r', 'o', 'b', 'e', 0, 0, 1, 0, 1};
    sockaddr_in to = loopback(port);
    bool answered = false;
    if (::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
        static_cast<ssize_t>(query.size())) {
        pollfd p{fd, POLLIN, 0};
        std::array<unsigned char, 512> reply{};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1 && (p.revents & POLLIN)) {
            const ssize_t n = ::recv(fd, reply.data(), reply.size(), 0);
            answered = n >= 12 && reply[0] == query[0] && reply[1] == query[1];
        }
    }
    ::close(fd);
    // An ICMP refusal makes poll return at once; the caller's loop must not spin on it.
    if (!answered) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return answered;
}

}  // namespace ehlo::delivery::testing
