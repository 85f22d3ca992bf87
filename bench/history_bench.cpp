// The cost of History::record() to its callers (the event loops and the queue threads), from
// one to many threads at once, and how fast the writer thread empties the queue into SQLite.
//
//     ninja -C build bench_history && build/bench/bench_history
//
// BM_Record builds an event as the session code does (a RCPT decision: session id, address,
// reply) and records it, with the writer running on a database in $TMPDIR. Producers that
// outrun the writer fill the queue; record() then drops, and the dropped share is reported,
// so the figure is that of the call either way. BM_RecordWhenFull is the drop path alone.
// BM_WriterThroughput is events written per second, batch after batch, one thread recording.
// BM_StoreWriteLives and BM_StoreWriteKeptSessions are the writer's own work per transaction:
// a whole life per message, and the shared benchmark's kept-open sessions, 50 or 512 a batch.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "observe/history.hpp"
#include "observe/history_store.hpp"
#include "observe/log.hpp"

namespace {

using ehlo::observe::Event;
using ehlo::observe::EventKind;
using ehlo::observe::History;
using ehlo::observe::HistoryOptions;

std::string g_dir;
std::unique_ptr<History> g_history;

std::string temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ehlo-bench-history-XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    return tmpl;
}

void start(HistoryOptions o, bool run_writer) {
    ehlo::observe::init({ehlo::observe::Level::Error, "", false});  // no drop warnings in the figures
    g_dir = temp_dir();
    o.path = g_dir + "/history.db";
    g_history = std::make_unique<History>(o);
    if (run_writer) g_history->start();
}

void finish() {
    g_history.reset();
    std::filesystem::remove_all(g_dir);
}

Event rcpt_event(int thread, std::int64_t n) {
    Event e;
    e.kind = EventKind::RcptTo;
    e.session_id = "0SD3XM5K2W8G" + std::to_string(thread);
    e.recipient = "recipient" + std::to_string(n % 1000) + "@example.net";
    e.reply = "250 2.1.5 Ok";
    return e;
}

void BM_Record(benchmark::State& state) {
    std::int64_t n = 0, dropped = 0;
    for (auto _ : state) {
        if (!g_history->record(rcpt_event(state.thread_index(), n++))) ++dropped;
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["dropped_share"] =
        benchmark::Counter(static_cast<double>(dropped) / static_cast<double>(std::max<std::int64_t>(n, 1)),
                           benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_Record)
    ->Setup([](const benchmark::State&) { start(HistoryOptions{}, true); })
    ->Teardown([](const benchmark::State&) { finish(); })
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->Threads(8)
    ->UseRealTime();

// The accepted path alone: a queue large enough for every event of the run, no writer. Its
// memory is all fresh (nothing is freed for reuse), so page faults are in this figure.
void BM_RecordAccepted(benchmark::State& state) {
    std::int64_t n = 0, dropped = 0;
    for (auto _ : state)
        if (!g_history->record(rcpt_event(state.thread_index(), n++))) ++dropped;
    state.SetItemsProcessed(state.iterations());
    state.counters["dropped"] = benchmark::Counter(static_cast<double>(dropped), benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_RecordAccepted)
    ->Setup([](const benchmark::State&) {
        HistoryOptions o;
        o.queue_events = 1u << 20;
        o.queue_bytes = std::uint64_t{1} << 31;
        start(o, false);
    })
    ->Teardown([](const benchmark::State&) { finish(); })
    ->Iterations(50000)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->Threads(8)
    ->UseRealTime();

void BM_RecordWhenFull(benchmark::State& state) {
    std::int64_t n = 0;
    for (auto _ : state) benchmark::DoNotOptimize(g_history->record(rcpt_event(state.thread_index(), n++)));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordWhenFull)
    ->Setup([](const benchmark::State&) {
        HistoryOptions o;
        o.queue_events = 2;
        start(o, false);
        g_history->record(rcpt_event(0, 0));
        g_history->record(rcpt_event(0, 1));
    })
    ->Teardown([](const benchmark::State&) { finish(); })
    ->Threads(1)
    ->Threads(8)
    ->UseRealTime();

// The event alone, without record(): what building it costs the caller anyway.
void BM_BuildEventOnly(benchmark::State& state) {
    std::int64_t n = 0;
    for (auto _ : state) benchmark::DoNotOptimize(rcpt_event(0, n++));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuildEventOnly);

void BM_WriterThroughput(benchmark::State& state) {
    constexpr int kBatch = 20000;
    std::int64_t n = 0;
    for (auto _ : state) {
        for (int i = 0; i < kBatch; ++i) g_history->record(rcpt_event(0, n++));
        g_history->flush();
    }
    const auto s = g_history->stats();
    state.SetItemsProcessed(static_cast<std::int64_t>(s.written));
    state.counters["dropped"] = static_cast<double>(s.dropped_full + s.dropped_failed);
}
BENCHMARK(BM_WriterThroughput)
    ->Setup([](const benchmark::State&) {
        HistoryOptions o;
        o.batch_wait = std::chrono::milliseconds(5);
        start(o, true);
    })
    ->Teardown([](const benchmark::State&) { finish(); })
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

Event& append(std::vector<std::unique_ptr<Event>>& out, EventKind kind) {
    out.push_back(std::make_unique<Event>());
    out.back()->kind = kind;
    return *out.back();
}

// One message's transaction and delivery to one local mailbox, in session `session`: MAIL,
// RCPT, queued, routed, delivered (what the server records for each message).
void add_message(std::vector<std::unique_ptr<Event>>& out, const std::string& session, std::int64_t n,
                 const std::string& rcpt, const std::string& sender_domain) {
    const std::string id = "0SD3XM5K2W" + std::to_string(100000 + n);
    Event& m = append(out, EventKind::MailFrom);
    m.session_id = session;
    m.sender = "sender" + std::to_string(n % 700) + "@" + sender_domain;
    m.reply = "250 2.1.0 Ok";
    Event& r = append(out, EventKind::RcptTo);
    r.session_id = session;
    r.recipient = rcpt;
    r.reply = "250 2.1.5 Ok";
    Event& q = append(out, EventKind::Queued);
    q.queue_id = id;
    q.session_id = session;
    q.sender = m.sender;
    q.recipients = {rcpt};
    q.size = 1500;
    q.reply = "250 2.0.0 Ok: queued as " + id;
    q.message_id = "<" + id + "@" + sender_domain + ">";
    q.header_from = q.sender;
    q.header_to = rcpt;
    q.subject = "Message " + std::to_string(n);
    Event& ro = append(out, EventKind::Routed);
    ro.queue_id = id;
    ro.recipient = rcpt;
    ro.next_hop = "mailbox " + rcpt.substr(0, rcpt.find('@'));
    Event& d = append(out, EventKind::Delivered);
    d.queue_id = id;
    d.recipient = rcpt;
    d.mailbox = "var/mail/user/new/1714564992." + id + "_0.mail.example.com";
}

// The eight events of an ordinary life: a session, one message to one local mailbox.
void add_life(std::vector<std::unique_ptr<Event>>& out, std::int64_t n) {
    const std::string session = "66a1b2c3" + std::to_string(1000000 + n);
    Event& c = append(out, EventKind::Connect);
    c.session_id = session;
    c.remote_address = "192.0.2." + std::to_string(n % 250);
    Event& h = append(out, EventKind::Helo);
    h.session_id = session;
    h.helo = "client.example.org";
    h.reply = "250 mail.example.com greets client.example.org";
    add_message(out, session, n, "user" + std::to_string(n % 5000) + "@example.net", "example.org");
    Event& end = append(out, EventKind::SessionEnd);
    end.session_id = session;
    end.detail = "QUIT";
}

// The shared benchmark's load (smtp-source -d): ten sessions kept open, each sending message
// after message, so that a session's events pile up.
void add_message_in_session(std::vector<std::unique_ptr<Event>>& out, std::int64_t n) {
    add_message(out, "66a1b2c3" + std::to_string(1000000 + n % 10), n, "alice@example.test", "client.test");
}

// The writer's own work: `messages` messages built by `add` in one transaction per iteration,
// as it commits them; CPU time is the thread's own, whatever else the machine runs.
void store_writes(benchmark::State& state, void (*add)(std::vector<std::unique_ptr<Event>>&, std::int64_t),
                  std::int64_t messages) {
    const std::string dir = temp_dir();
    ehlo::observe::HistoryStore store;
    if (!store.open(dir + "/history.db", 0).empty()) std::abort();
    std::int64_t n = 0, t = 1714564992000000, events = 0;
    std::vector<std::unique_ptr<Event>> batch;
    for (auto _ : state) {
        state.PauseTiming();
        batch.clear();
        for (std::int64_t i = 0; i < messages; ++i) add(batch, n++);
        for (auto& e : batch) e->time_us = t += 100;
        events += static_cast<std::int64_t>(batch.size());
        state.ResumeTiming();
        if (!store.write(batch).error.empty()) std::abort();
    }
    state.SetItemsProcessed(events);
    state.counters["messages_per_second"] =
        benchmark::Counter(static_cast<double>(state.iterations() * messages), benchmark::Counter::kIsRate);
    store.close();
    std::filesystem::remove_all(dir);
}

// 512 whole lives a transaction (4096 events).
void BM_StoreWriteLives(benchmark::State& state) { store_writes(state, add_life, 512); }
BENCHMARK(BM_StoreWriteLives)->Unit(benchmark::kMillisecond);

// Kept-open sessions, 50 or 512 messages a transaction.
void BM_StoreWriteKeptSessions(benchmark::State& state) { store_writes(state, add_message_in_session, state.range(0)); }
BENCHMARK(BM_StoreWriteKeptSessions)->Unit(benchmark::kMillisecond)->Arg(50)->Arg(512)->Iterations(400);

}  // namespace

BENCHMARK_MAIN();
