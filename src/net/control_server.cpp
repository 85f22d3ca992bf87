#include "net/control_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <system_error>
#include <thread>

#include "delivery/file_io.hpp"
#include "net/queue_report.hpp"
#include "observe/log.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::net {
namespace {

// A request is one short line; anything longer is not a request.
constexpr std::size_t kMaxRequest = 1024;
// A client that says nothing, or does not read its answer, must not hold the control thread
// (nor a stopping server, which waits for it): a whole request gets this long, and each send.
constexpr int kClientTimeoutMs = 5000;
// `ehlo queue` waits this long for the daemon's answer.
constexpr int kAnswerTimeoutMs = 30000;

void set_timeouts(int fd, int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Only a socket is replaced: a control.socket that names some other file is a mistake.
bool remove_stale_socket(const std::filesystem::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT;
    if (!S_ISSOCK(st.st_mode)) return false;
    return ::unlink(path.c_str()) == 0;
}

sockaddr_un socket_address(const std::filesystem::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = path.string();
    if (p.size() >= sizeof addr.sun_path)
        throw std::system_error(ENAMETOOLONG, std::generic_category(), "control socket path " + p);
    std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
    return addr;
}

std::string read_line(int fd, int timeout_ms) {
    std::string line;
    char buf[256];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (line.size() < kMaxRequest && line.find('\n') == std::string::npos) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        line.append(buf, static_cast<std::size_t>(n));
    }
    auto end = line.find('\n');
    if (end != std::string::npos) line.resize(end);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

std::pair<std::string, std::string> split_verb(const std::string& request) {
    auto space = request.find(' ');
    if (space == std::string::npos) return {request, {}};
    return {request.substr(0, space), request.substr(space + 1)};
}

}  // namespace

std::string answer_control_request(queue::Queue& queue, const std::string& request) {
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    auto [verb, arg] = split_verb(request);
    auto needs_id = [&](bool ok, const char* what) {
        return ok ? "ok\n" + std::string(what) + " " + arg + "\n" : "error: no message " + arg + " in the queue\n";
    };
    if (verb == "list" && arg.empty()) return "ok\n" + format_queue_list(queue.list(), now);
    if (verb == "show" && !arg.empty()) {
        auto detail = queue.show(arg);
        return detail ? "ok\n" + format_queue_detail(*detail, now) : "error: no message " + arg + " in the queue\n";
    }
    if (verb == "flush") {
        auto n = queue.flush(arg);
        return "ok\n" + std::to_string(n) + " recipient(s) scheduled now\n";
    }
    if (verb == "hold" && !arg.empty()) return needs_id(queue.hold(arg), "held");
    if (verb == "release" && !arg.empty()) return needs_id(queue.release(arg), "released");
    if (verb == "delete" && !arg.empty()) return needs_id(queue.remove(arg), "deleted");
    if (verb == "bounce" && !arg.empty())
        return queue.bounce(arg) ? "ok\nbounced " + arg + ": the sender is sent a delivery status notification\n"
                                 : "error: no message " + arg + " in the queue with a recipient left to return\n";
    return "error: unknown request (list | show ID | flush [ID|DOMAIN] | hold ID | release ID | delete ID | bounce ID | reload)\n";
}

struct RequestSocket::Impl {
    std::filesystem::path path;
    Answer answer;
    std::string log_event;
    int listener = -1;
    int stop_event = -1;
    std::thread thread;

    void serve() {
        for (;;) {
            pollfd fds[2] = {{listener, POLLIN, 0}, {stop_event, POLLIN, 0}};
            if (::poll(fds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                return;
            }
            if (fds[1].revents) return;
            int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0) continue;
            set_timeouts(client, kClientTimeoutMs);
            std::string request = read_line(client, kClientTimeoutMs);
            std::string reply = answer(request);
            observe::info(log_event, {{"request", request}, {"result", reply.substr(0, reply.find('\n'))}});
            (void)delivery::write_all(client, reply);  // a client gone meanwhile only misses its answer
            ::close(client);
        }
    }
};

RequestSocket::RequestSocket(std::filesystem::path socket_path, unsigned mode, std::optional<unsigned> group,
                             Answer answer, std::string log_event)
    : impl_(std::make_unique<Impl>()) {
    auto& d = *impl_;
    d.path = std::move(socket_path);
    d.answer = std::move(answer);
    d.log_event = std::move(log_event);
    (void)socket_address(d.path);  // the real name must fit too: refused now, not at rename
    d.listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (d.listener < 0) throw std::system_error(errno, std::generic_category(), "socket " + d.path.string());
    // Bound under a temporary name, given its mode and group, then renamed into place: under
    // its real name it never has wider permissions. (Not by umask alone: the daemon's is 077,
    // but a socket's mode is what is checked on connect, so it is set explicitly.)
    const std::filesystem::path temporary = d.path.string() + ".new";
    sockaddr_un tmp_addr = socket_address(temporary);
    auto fail = [&](const std::string& what) {
        int e = errno;
        ::close(d.listener);
        ::unlink(temporary.c_str());
        throw std::system_error(e, std::generic_category(), what + " " + d.path.string());
    };
    ::unlink(temporary.c_str());
    if (::bind(d.listener, reinterpret_cast<sockaddr*>(&tmp_addr), sizeof tmp_addr) < 0) fail("socket");
    if (::chmod(temporary.c_str(), mode) < 0) fail("socket");
    if (group && ::chown(temporary.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(*group)) < 0) fail("socket group");
    // A socket left by a crash is ours to replace: only one daemon owns the spool (its lock is
    // taken before this).
    if (!remove_stale_socket(d.path)) {
        errno = EEXIST;
        fail("socket: not a socket, left alone:");
    }
    if (::rename(temporary.c_str(), d.path.c_str()) < 0 || ::listen(d.listener, 16) < 0) fail("socket");
    d.stop_event = ::eventfd(0, EFD_CLOEXEC);
    if (d.stop_event < 0) fail("socket eventfd");
    d.thread = std::thread([&d] {
        observe::name_this_thread("ehlo-control");
        d.serve();
    });
    observe::info(d.log_event + "-listening", {{"socket", d.path.string()}});
}

RequestSocket::~RequestSocket() {
    auto& d = *impl_;
    std::uint64_t one = 1;
    if (::write(d.stop_event, &one, sizeof one) < 0) {
        // The thread still ends when the listener closes below.
    }
    if (d.thread.joinable()) d.thread.join();
    ::close(d.listener);
    ::close(d.stop_event);
    ::unlink(d.path.c_str());
}

ControlServer::ControlServer(std::filesystem::path socket_path, queue::Queue& queue, Reload reload,
                             std::optional<unsigned> group)
    : socket_(std::move(socket_path), group ? 0660 : 0600, group,
              [&queue, reload = std::move(reload)](const std::string& request) -> std::string {
                  if (request != "reload") return answer_control_request(queue, request);
                  if (!reload) return "error: nothing to reload\n";
                  auto failure = reload();
                  return failure ? "error: " + *failure + "\n" : "ok\nreloaded\n";
              },
              "control") {}

std::optional<std::string> control_request(const std::filesystem::path& socket_path, const std::string& request) {
    sockaddr_un addr = socket_address(socket_path);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    set_timeouts(fd, kAnswerTimeoutMs);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        ::close(fd);
        return std::nullopt;
    }
    (void)delivery::write_all(fd, request + "\n");  // a failure shows as no answer below
    std::string answer;
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        answer.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return answer;
}

}  // namespace ehlo::net
