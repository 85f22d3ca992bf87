// Resolver::query(): one question of any type, answered with the records' raw rdata, its TTL
// and a status; on the resolver's thread and within its timeout like the route lookups.
#include <string_view>

#include "delivery/dns_wire.hpp"
#include "delivery/resolver_impl.hpp"
#include "observe/log.hpp"

namespace ehlo::delivery {

namespace resolver_detail {

// A callback that throws must not take the resolver thread with it.
void deliver_raw(const Resolver::RawDone& done, RawAnswer answer) {
    try {
        done(std::move(answer));
    } catch (const std::exception& e) {
        observe::error("dns_callback_failed", {{"error", e.what()}});
    } catch (...) {
        observe::error("dns_callback_failed", {{"error", "unknown exception"}});
    }
}

RawAnswer raw_temp_fail(std::string error) {
    RawAnswer a;
    a.status = RawAnswer::Status::TempFail;
    a.error = std::move(error);
    return a;
}

}  // namespace resolver_detail

using namespace resolver_detail;

namespace {

std::string normal_query_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::string out(name);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// A name for query(): labels of 1..63 visible ASCII octets (underscores too: "_dmarc", RFC 8552),
// no backslash (libunbound reads escapes in text names), 253 in all.
bool is_query_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > dns::kMaxNameText) return false;
    std::size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
        } else if (c <= ' ' || c > '~' || c == '\\' || ++label > dns::kMaxLabel) {
            return false;
        }
    }
    return label > 0;
}

}  // namespace

void Resolver::Impl::start_raw(Request request) {
    if (!is_query_name(request.name)) {
            RawAnswer a;
            a.status = RawAnswer::Status::NxDomain;
            return deliver_raw(request.raw_done, std::move(a));
        }
        const std::uint64_t key = next_key++;
        Lookup& lookup = lookups[key];
        lookup.domain = normal_query_name(request.name);
        lookup.deadline = request.deadline;
        lookup.raw_type = request.raw_type;
        lookup.raw_done = std::move(request.raw_done);
        if (!ask(key, lookup, 0, request.raw_type, lookup.domain)) finish_raw(key, raw_temp_fail("cannot send the query"));
        return;
}

void Resolver::Impl::submit_raw(std::string name, std::uint16_t type, RawDone done) {
    Request request{false, std::move(name), nullptr, Clock::now() + options.timeout, type, std::move(done)};
    {
        std::lock_guard lock(mutex);
        if (!stopping) {
            inbox.push_back(std::move(request));
            wake();
            return;
        }
    }
    deliver_raw(request.raw_done, raw_temp_fail("resolver stopped"));
}

void Resolver::Impl::raw_answered(std::uint64_t key, Lookup& lookup, int err, const ub_result* result) {
    if (err != 0 || !result) return finish_raw(key, raw_temp_fail(std::string("query: ") + ub_strerror(err)));
    if (options.dnssec && result->bogus)
        return finish_raw(key, raw_temp_fail(std::string("answer is DNSSEC-bogus: ") + (result->why_bogus ? result->why_bogus : "")));
    RawAnswer a;
    a.ttl = result->ttl > 0 ? static_cast<std::uint32_t>(result->ttl) : 0;
    a.secure = result->secure != 0;
    if (result->rcode == kRcodeNxDomain) {
        a.status = RawAnswer::Status::NxDomain;
    } else if (result->rcode != kRcodeNoError) {
        return finish_raw(key, raw_temp_fail("rcode " + std::to_string(result->rcode)));
    } else if (!result->havedata) {
        a.status = RawAnswer::Status::NoData;
    } else {
        a.status = RawAnswer::Status::Ok;
        for (int i = 0; result->data[i]; ++i) {
            const auto bytes = rdata(result, i);
            a.rdata.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        }
    }
    (void)lookup;
    finish_raw(key, std::move(a));
}

void Resolver::Impl::finish_raw(std::uint64_t key, RawAnswer answer) {
    const auto it = lookups.find(key);
    if (it == lookups.end()) return;
    Lookup lookup = std::move(it->second);
    lookups.erase(it);
    for (std::uint64_t query_key : lookup.queries) {
        const auto q = queries.find(query_key);
        if (q == queries.end()) continue;
        ub_cancel(ctx, q->second.async_id);
        queries.erase(q);
    }
    deliver_raw(lookup.raw_done, std::move(answer));
}

void Resolver::query(std::string name, std::uint16_t rrtype, RawDone done) {
    impl_->submit_raw(std::move(name), rrtype, std::move(done));
}

}  // namespace ehlo::delivery
