#include "delivery/resolver.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unbound.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <span>
#include <stdexcept>
#include <thread>

#include "delivery/dns_wire.hpp"
#include "delivery/mx.hpp"
#include "delivery/resolver_impl.hpp"
#include "observe/log.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::delivery {

using namespace resolver_detail;

namespace {

using Status = RouteLookup::Status;

// RFC 1035 3.2.2 and RFC 3596 2.1 (types), 3.2.4 (class), 4.1.1 (response codes).
constexpr int kTypeA = 1;
constexpr int kTypeMx = 15;
constexpr int kTypeAaaa = 28;

// DNS names compare case-insensitively, and "a.example." is "a.example".
std::string normal_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::string out(name);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

const char* status_name(Status s) {
    switch (s) {
        case Status::Ok: return "ok";
        case Status::NullMx: return "null_mx";
        case Status::NotFound: return "not_found";
        case Status::Loop: return "loop";
        case Status::TempFail: return "temp_fail";
    }
    return "?";
}

// Reply texts name the domain only once it passed dns::is_host_name(): nothing a peer wrote
// reaches a reply or a DSN unchecked.
RouteLookup temp_fail(const std::string& domain, std::string error) {
    RouteLookup r;
    r.status = Status::TempFail;
    // RFC 3463 4.4.3: directory server failure
    r.reply = smtp::Reply{451, "4.4.3", domain.empty() ? "Temporary DNS failure" : "Temporary DNS failure looking up " + domain};
    r.error = std::move(error);
    return r;
}

RouteLookup not_found(std::string reply_text, std::string error) {
    RouteLookup r;
    r.status = Status::NotFound;
    r.reply = smtp::Reply{550, "5.1.2", std::move(reply_text)};  // RFC 3463 5.1.2: bad destination system
    r.error = std::move(error);
    return r;
}

// RFC 5321 4.1.3: "[192.0.2.1]" or "[IPv6:2001:db8::1]" (the tag is case-insensitive, as ABNF
// strings are). Other tagged literals (General-address-literal) name no protocol we speak.
std::optional<Address> address_literal(std::string_view text) {
    if (text.size() < 3 || text.front() != '[' || text.back() != ']') return std::nullopt;
    std::string_view inner = text.substr(1, text.size() - 2);
    constexpr std::string_view kIpv6Tag = "IPv6:";
    const bool v6 = inner.size() > kIpv6Tag.size() && ::strncasecmp(inner.data(), kIpv6Tag.data(), kIpv6Tag.size()) == 0;
    if (v6) inner.remove_prefix(kIpv6Tag.size());
    if (inner.find('\0') != std::string_view::npos) return std::nullopt;  // inet_pton would stop there

    const std::string c_string(inner);
    std::array<unsigned char, 16> bytes{};
    const int family = v6 ? AF_INET6 : AF_INET;
    if (::inet_pton(family, c_string.c_str(), bytes.data()) != 1) return std::nullopt;
    std::array<char, INET6_ADDRSTRLEN> canonical{};
    if (!::inet_ntop(family, bytes.data(), canonical.data(), static_cast<socklen_t>(canonical.size())))
        return std::nullopt;
    return Address{canonical.data(), v6};
}

void* as_user_data(std::uint64_t key) { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(key)); }
std::uint64_t from_user_data(void* p) { return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)); }

}  // namespace


thread_local Resolver::Impl* Resolver::Impl::current = nullptr;

namespace {

// A callback that throws must not take the resolver thread (and every other lookup) with it.
void deliver(const Resolver::Done& done, RouteLookup result) {
    try {
        done(std::move(result));
    } catch (const std::exception& e) {
        observe::error("dns_callback_failed", {{"error", e.what()}});
    } catch (...) {
        observe::error("dns_callback_failed", {{"error", "unknown exception"}});
    }
}

}  // namespace

Resolver::Impl::Impl(ResolverOptions o) : options(std::move(o)) {
    ctx = ub_ctx_create();
    if (!ctx) throw std::runtime_error("resolver: cannot create a libunbound context");
    auto check = [&](int rc, const std::string& what) {
        if (rc == 0) return;
        ub_ctx_delete(ctx);
        ctx = nullptr;
        throw std::runtime_error("resolver: " + what + ": " + ub_strerror(rc));
    };
    // libunbound's own log lines are not key=value events; failures reach our log as results.
    ub_ctx_debugout(ctx, nullptr);
    // A forwarder on 127.0.0.1 (a local cache, or a test's server) must be allowed.
    check(ub_ctx_set_option(ctx, "do-not-query-localhost:", "no"), "do-not-query-localhost");
    if (options.forward_loopback_reverse) {
        // Our own zone replaces the default one, so its one record is given again.
        check(ub_ctx_set_option(ctx, "local-zone:", "127.in-addr.arpa. transparent"), "loopback reverse zone");
        check(ub_ctx_set_option(ctx, "local-data:", "1.0.0.127.in-addr.arpa. 10800 IN PTR localhost."), "loopback reverse zone");
    }
    for (const std::string& forwarder : options.forwarders) check(ub_ctx_set_fwd(ctx, forwarder.c_str()), "forwarder " + forwarder);
    if (options.forwarders.empty()) {
        if (const int rc = ub_ctx_resolvconf(ctx, nullptr); rc != 0)
            observe::warn("dns_resolvconf_unusable", {{"error", ub_strerror(rc)}, {"fallback", "recursion"}});
    }
    if (options.dnssec) check(ub_ctx_add_ta_file(ctx, options.trust_anchor_file.c_str()), "trust anchor " + options.trust_anchor_file);
    // A libunbound worker thread does the DNS work; ub_fd() turns readable when it has answers.
    check(ub_ctx_async(ctx, 1), "async");

    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) {
        ub_ctx_delete(ctx);
        throw std::runtime_error(std::string("resolver: eventfd: ") + std::strerror(errno));
    }
    try {
        thread = std::thread([this] {
            observe::name_this_thread("ehlo-resolver");
            run();
        });
    } catch (...) {
        ub_ctx_delete(ctx);
        ::close(wake_fd);
        throw;
    }
}

Resolver::Impl::~Impl() {
    stop();
    if (ctx) ub_ctx_delete(ctx);
    if (wake_fd >= 0) ::close(wake_fd);
}

void Resolver::Impl::wake() {
    const std::uint64_t one = 1;
    // Nonblocking; the counter cannot realistically overflow, and a pending wake-up is enough.
    [[maybe_unused]] const ssize_t n = ::write(wake_fd, &one, sizeof one);
}

void Resolver::Impl::submit(bool via_mx, std::string name, Done done) {
    Request request{via_mx, std::move(name), std::move(done), Clock::now() + options.timeout, 0, nullptr};
    {
        std::lock_guard lock(mutex);
        if (!stopping) {
            inbox.push_back(std::move(request));
            wake();
            return;
        }
    }
    deliver(request.done, temp_fail("", "resolver stopped"));
}

void Resolver::Impl::fail_pending(std::uint64_t key, const std::string& error) {
    const auto it = lookups.find(key);
    if (it == lookups.end()) return;
    if (it->second.raw_type != 0) return finish_raw(key, raw_temp_fail(error));
    finish(key, temp_fail(it->second.domain, error));
}

void Resolver::Impl::stop() {
    {
        std::lock_guard lock(mutex);
        stopping = true;
    }
    wake();
    std::lock_guard lock(join_mutex);
    // From one of its own callbacks the thread cannot join itself; it ends after that callback.
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
}

void Resolver::Impl::run() {
    current = this;
    int ub_fd_to_poll = ub_fd(ctx);
    std::deque<Request> batch;
    while (true) {
        {
            std::lock_guard lock(mutex);
            if (stopping) break;
            batch.swap(inbox);
        }
        for (Request& r : batch) start(std::move(r));
        batch.clear();
        expire(Clock::now());

        std::array<pollfd, 2> fds{{{ub_fd_to_poll, POLLIN, 0}, {wake_fd, POLLIN, 0}}};
        if (::poll(fds.data(), fds.size(), poll_timeout_ms(Clock::now())) < 0) {
            if (errno != EINTR) observe::error("dns_poll_failed", {{"error", std::strerror(errno)}});
            continue;
        }
        if (fds[1].revents & POLLIN) {
            std::uint64_t count = 0;
            [[maybe_unused]] const ssize_t n = ::read(wake_fd, &count, sizeof count);
        }
        if (fds[0].revents & POLLIN) {
            if (const int rc = ub_process(ctx); rc != 0) observe::error("dns_process_failed", {{"error", ub_strerror(rc)}});
        } else if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            // The libunbound worker is gone: no answer will come. Stop polling its pipe (or this
            // loop would spin) and let every lookup end in its timeout.
            observe::error("dns_worker_lost", {});
            ub_fd_to_poll = -1;
        }
    }

    {
        std::lock_guard lock(mutex);
        batch.swap(inbox);
    }
    std::vector<std::uint64_t> pending;
    for (const auto& [key, lookup] : lookups) pending.push_back(key);
    for (std::uint64_t key : pending) fail_pending(key, "resolver stopped");
    for (Request& r : batch) {
        if (r.raw_type != 0)
            deliver_raw(r.raw_done, raw_temp_fail("resolver stopped"));
        else
            deliver(r.done, temp_fail("", "resolver stopped"));
    }
    current = nullptr;
}

int Resolver::Impl::poll_timeout_ms(Clock::time_point now) const {
    if (lookups.empty()) return -1;
    Clock::time_point earliest = Clock::time_point::max();
    for (const auto& [key, lookup] : lookups) earliest = std::min(earliest, lookup.deadline);
    if (earliest <= now) return 0;
    // Rounded up: waking a little before the deadline would only spin until it passes.
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(earliest - now).count();
    return static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX));
}

void Resolver::Impl::start(Request request) {
    if (request.raw_type != 0) return start_raw(std::move(request));
    if (auto literal = address_literal(request.name)) {
        RouteLookup r;
        r.status = Status::Ok;
        r.hops.push_back(NextHop{request.name, 0, {std::move(*literal)}, false});
        deliver(request.done, std::move(r));
        return;
    }
    std::string name = normal_name(request.name);
    if (!dns::is_host_name(name)) {
        deliver(request.done, not_found("Not a valid domain", "not a valid domain: " + request.name));
        return;
    }

    const std::uint64_t key = next_key++;
    Lookup& lookup = lookups[key];
    lookup.domain = name;
    lookup.done = std::move(request.done);
    lookup.deadline = request.deadline;
    lookup.via_mx = request.via_mx;
    if (request.via_mx) {
        if (!ask(key, lookup, 0, kTypeMx, name)) finish(key, temp_fail(name, "cannot send the MX query"));
        return;
    }
    lookup.hosts.push_back(Host{name, 0, {}, {}, false, true});
    ask(key, lookup, 0, kTypeA, name);
    ask(key, lookup, 0, kTypeAaaa, name);
    if (lookup.queries.empty()) complete(key, lookup);
}

bool Resolver::Impl::ask(std::uint64_t lookup_key, Lookup& lookup, std::size_t host, int type, const std::string& name) {
    const std::uint64_t query_key = next_key++;
    int async_id = 0;
    const int rc = ub_resolve_async(ctx, name.c_str(), type, kClassIn, as_user_data(query_key), &Impl::on_answer, &async_id);
    if (rc != 0) {
        observe::warn("dns_query_failed", {{"name", name}, {"type", type}, {"error", ub_strerror(rc)}});
        if (lookup.raw_type == 0 && type != kTypeMx) lookup.hosts[host].temp_failed = true;
        return false;
    }
    queries[query_key] = Query{lookup_key, host, type, async_id};
    lookup.queries.push_back(query_key);
    return true;
}

void Resolver::Impl::on_answer(void* user_data, int err, ub_result* result) {
    struct Free {
        void operator()(ub_result* r) const { ub_resolve_free(r); }
    };
    const std::unique_ptr<ub_result, Free> owned(result);
    if (current) current->answered(from_user_data(user_data), err, result);
}

void Resolver::Impl::answered(std::uint64_t query_key, int err, const ub_result* result) {
    const auto q = queries.find(query_key);
    if (q == queries.end()) return;  // its lookup already ended (timeout) and the cancel came too late
    const Query query = q->second;
    queries.erase(q);
    const auto l = lookups.find(query.lookup);
    if (l == lookups.end()) return;
    std::erase(l->second.queries, query_key);
    if (l->second.raw_type != 0)
        raw_answered(query.lookup, l->second, err, result);
    else if (query.type == kTypeMx)
        mx_answered(query.lookup, l->second, err, result);
    else
        address_answered(query.lookup, l->second, query, err, result);
}

void Resolver::Impl::mx_answered(std::uint64_t key, Lookup& lookup, int err, const ub_result* result) {
    const std::string domain = lookup.domain;
    if (err != 0 || !result) return finish(key, temp_fail(domain, std::string("MX query: ") + ub_strerror(err)));
    if (options.dnssec && result->bogus)
        return finish(key, temp_fail(domain, std::string("MX answer is DNSSEC-bogus: ") +
                                                 (result->why_bogus ? result->why_bogus : "")));
    if (result->rcode == kRcodeNxDomain)
        return finish(key, not_found("Domain " + domain + " does not exist", "NXDOMAIN for " + domain));
    if (result->rcode != kRcodeNoError)
        return finish(key, temp_fail(domain, "MX query: rcode " + std::to_string(result->rcode)));

    std::vector<MxRecord> records;
    std::size_t malformed = 0;
    if (result->havedata) {
        for (int i = 0; result->data[i]; ++i) {
            if (auto record = dns::parse_mx(rdata(result, i))) {
                record->host = normal_name(record->host);
                records.push_back(std::move(*record));
            } else {
                ++malformed;
            }
        }
    }
    if (malformed > 0) observe::warn("dns_malformed_mx", {{"domain", domain}, {"records", malformed}});
    // The domain has MX records but none we can read: it is not the implicit-MX case, which
    // would send mail to the domain's own address against its owner's wishes.
    if (records.empty() && malformed > 0) return finish(key, temp_fail(domain, "no readable MX record"));
    lookup.implicit_mx = records.empty();
    lookup.mx_secure = result->secure != 0;

    const std::vector<MxRecord> listed = records;
    MxRoute route = order_mx(domain, std::move(records), options.local_names, rng);
    if (route.error) {
        RouteLookup r;
        r.status = route.error->enhanced == "5.1.10" ? Status::NullMx : Status::Loop;
        r.error = route.error->lines.empty() ? std::string() : route.error->lines.front();
        r.reply = std::move(route.error);
        r.secure = lookup.mx_secure;
        return finish(key, std::move(r));
    }
    if (route.hosts.size() > kMaxMxHosts) route.hosts.resize(kMaxMxHosts);  // the lowest preferences stay

    for (std::string& host : route.hosts) {
        std::uint16_t preference = 0;  // the implicit MX is 0; a host listed twice counts at its lowest
        bool found = false;
        for (const MxRecord& r : listed)
            if (r.host == host && (!found || r.preference < preference)) {
                preference = r.preference;
                found = true;
            }
        lookup.hosts.push_back(Host{std::move(host), preference, {}, {}, false, true});
    }
    for (std::size_t i = 0; i < lookup.hosts.size(); ++i) {
        const std::string name = lookup.hosts[i].name;
        ask(key, lookup, i, kTypeA, name);
        ask(key, lookup, i, kTypeAaaa, name);
    }
    if (lookup.queries.empty()) complete(key, lookup);
}

void Resolver::Impl::address_answered(std::uint64_t key, Lookup& lookup, const Query& query, int err,
                                      const ub_result* result) {
    Host& host = lookup.hosts[query.host];
    const bool failed = err != 0 || !result || (options.dnssec && result->bogus) ||
                        (result->rcode != kRcodeNoError && result->rcode != kRcodeNxDomain);
    if (failed) {
        host.temp_failed = true;
        host.secure = false;
    } else {
        if (!result->secure) host.secure = false;
        if (result->rcode == kRcodeNoError && result->havedata) {
            const bool v6 = query.type == kTypeAaaa;
            std::vector<Address>& out = v6 ? host.v6 : host.v4;
            for (int i = 0; result->data[i] && out.size() < kMaxAddressesPerHost; ++i) {
                auto ip = v6 ? dns::parse_aaaa(rdata(result, i)) : dns::parse_a(rdata(result, i));
                if (ip) out.push_back(Address{std::move(*ip), v6});
            }
        }
    }
    if (lookup.queries.empty()) complete(key, lookup);
}

void Resolver::Impl::complete(std::uint64_t key, Lookup& lookup) {
    RouteLookup r;
    r.secure = lookup.mx_secure;
    bool temp_failed = false;
    for (Host& host : lookup.hosts) {
        temp_failed = temp_failed || host.temp_failed;
        std::vector<Address>& first = options.prefer_ipv6 ? host.v6 : host.v4;
        std::vector<Address>& second = options.prefer_ipv6 ? host.v4 : host.v6;
        first.insert(first.end(), std::make_move_iterator(second.begin()), std::make_move_iterator(second.end()));
        if (first.size() > kMaxAddressesPerHost) first.resize(kMaxAddressesPerHost);
        if (first.empty()) continue;  // RFC 5321 5.1: a host without addresses is skipped
        r.hops.push_back(NextHop{host.name, host.preference, std::move(first), host.secure});
    }
    if (!r.hops.empty()) {
        r.status = Status::Ok;
        return finish(key, std::move(r));
    }
    const std::string& domain = lookup.domain;
    if (temp_failed) return finish(key, temp_fail(domain, "address queries failed"));
    if (!lookup.via_mx) return finish(key, not_found("Host " + domain + " has no address", "no A or AAAA for " + domain));
    // RFC 5321 5.1: a domain with neither MX nor address records has no mail route at all.
    if (lookup.implicit_mx)
        return finish(key, not_found("Domain " + domain + " has no MX and no address", "no MX, A or AAAA for " + domain));
    // MX hosts that all lack addresses are usually a zone being fixed: retried until the queue
    // gives up, rather than bounced at once.
    finish(key, temp_fail(domain, "no MX host has an address"));
}

void Resolver::Impl::finish(std::uint64_t key, RouteLookup result) {
    const auto it = lookups.find(key);
    if (it == lookups.end()) return;
    Lookup lookup = std::move(it->second);
    lookups.erase(it);
    for (std::uint64_t query_key : lookup.queries) {
        const auto q = queries.find(query_key);
        if (q == queries.end()) continue;
        // If the answer is already on its way the cancel fails; answered() then drops it.
        ub_cancel(ctx, q->second.async_id);
        queries.erase(q);
    }
    observe::debug("dns_route", {{"domain", lookup.domain},
                                 {"status", status_name(result.status)},
                                 {"hops", result.hops.size()},
                                 {"error", result.error}});
    deliver(lookup.done, std::move(result));
}

void Resolver::Impl::expire(Clock::time_point now) {
    std::vector<std::uint64_t> late;
    for (const auto& [key, lookup] : lookups)
        if (lookup.deadline <= now) late.push_back(key);
    const std::string after = "timed out after " + std::to_string(options.timeout.count()) + " ms";
    for (std::uint64_t key : late) fail_pending(key, after);
}

Resolver::Resolver(ResolverOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Resolver::~Resolver() = default;  // Impl's destructor stops and joins before the context goes

void Resolver::lookup_mx(std::string domain, Done done) { impl_->submit(true, std::move(domain), std::move(done)); }

void Resolver::lookup_addresses(std::string host, Done done) {
    impl_->submit(false, std::move(host), std::move(done));
}

void Resolver::stop() { impl_->stop(); }

}  // namespace ehlo::delivery
