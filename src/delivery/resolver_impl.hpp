// The resolver's insides, shared by resolver.cpp (the route lookups) and resolver_query.cpp
// (query(): one question of any type). Not a public header: only those two include it.
#pragma once

#include <unbound.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "delivery/resolver.hpp"

namespace ehlo::delivery {

namespace resolver_detail {

using Clock = std::chrono::steady_clock;

// RFC 1035 3.2.4 (class), 4.1.1 (response codes).
constexpr int kClassIn = 1;
constexpr int kRcodeNoError = 0;
constexpr int kRcodeNxDomain = 3;

inline std::span<const unsigned char> rdata(const ub_result* result, int i) {
    return {reinterpret_cast<const unsigned char*>(result->data[i]), static_cast<std::size_t>(result->len[i])};
}

// Calls `done`; an exception from it is logged, not passed on (resolver_query.cpp).
void deliver_raw(const Resolver::RawDone& done, RawAnswer answer);
RawAnswer raw_temp_fail(std::string error);

}  // namespace resolver_detail

struct Resolver::Impl {
    struct Request {
        bool via_mx = false;
        std::string name;
        Done done;
        resolver_detail::Clock::time_point deadline;
        std::uint16_t raw_type = 0;  // query(): the type asked for; 0 for route lookups
        RawDone raw_done;
    };
    struct Host {
        std::string name;
        std::uint16_t preference = 0;
        std::vector<Address> v4, v6;
        bool temp_failed = false;  // an address query failed: the host may have addresses after all
        bool secure = true;
    };
    struct Lookup {
        std::string domain;  // normalized and checked
        Done done;
        resolver_detail::Clock::time_point deadline;
        bool via_mx = false;
        bool implicit_mx = false;
        bool mx_secure = false;
        std::vector<Host> hosts;
        std::vector<std::uint64_t> queries;  // outstanding, keys of Impl::queries
        std::uint16_t raw_type = 0;          // a query(), answered through raw_done
        RawDone raw_done;
    };
    struct Query {
        std::uint64_t lookup = 0;
        std::size_t host = 0;
        int type = 0;
        int async_id = 0;
    };

    explicit Impl(ResolverOptions o);
    ~Impl();

    void submit(bool via_mx, std::string name, Done done);
    void start_raw(Request request);
    void submit_raw(std::string name, std::uint16_t type, RawDone done);
    void stop();

    // Everything below runs on the resolver thread only, and is the only code that touches ctx.
    void run();
    void start(Request request);
    bool ask(std::uint64_t lookup_key, Lookup& lookup, std::size_t host, int type, const std::string& name);
    static void on_answer(void* user_data, int err, ub_result* result);
    void answered(std::uint64_t query_key, int err, const ub_result* result);
    void mx_answered(std::uint64_t key, Lookup& lookup, int err, const ub_result* result);
    void address_answered(std::uint64_t key, Lookup& lookup, const Query& query, int err, const ub_result* result);
    void complete(std::uint64_t key, Lookup& lookup);
    void finish(std::uint64_t key, RouteLookup result);
    void raw_answered(std::uint64_t key, Lookup& lookup, int err, const ub_result* result);
    void finish_raw(std::uint64_t key, RawAnswer answer);
    void fail_pending(std::uint64_t key, const std::string& error);  // either kind: TempFail
    void expire(resolver_detail::Clock::time_point now);
    int poll_timeout_ms(resolver_detail::Clock::time_point now) const;
    void wake();

    const ResolverOptions options;
    ub_ctx* ctx = nullptr;
    int wake_fd = -1;  // an eventfd: new requests or stop()

    std::mutex mutex;  // guards inbox and stopping
    std::deque<Request> inbox;
    bool stopping = false;
    std::mutex join_mutex;
    std::thread thread;

    std::map<std::uint64_t, Lookup> lookups;
    std::map<std::uint64_t, Query> queries;
    std::uint64_t next_key = 1;
    std::mt19937 rng{std::random_device{}()};

    // libunbound calls back only from inside ub_process(), which only the resolver thread calls.
    static thread_local Impl* current;
};

}  // namespace ehlo::delivery
