// Log lines leave the calling thread at once: an event loop formats its line and hands it to
// spdlog's asynchronous logger, whose own thread writes it. A loop never waits for the disk or
// a slow terminal; should the writer fall so far behind that its queue is full, the oldest
// lines are dropped rather than the loop blocked, and the count of dropped lines is logged.
#include "observe/log.hpp"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <memory>

#include "smtp/text.hpp"

namespace ehlo::observe {
namespace {

// Lines waiting for the writer thread. Each slot is a few hundred octets, allocated up front.
constexpr std::size_t kQueuedLines = 16384;
// How often (in lines) a logging thread looks whether lines were dropped.
constexpr std::uint64_t kDropCheckEvery = 1024;
// flush() waits at most this long for the writer (a terminal that does not read, say).
constexpr auto kFlushWait = std::chrono::seconds(5);

std::atomic<bool> g_dialog{false};
std::shared_ptr<spdlog::logger> g_logger;
std::shared_ptr<spdlog::details::thread_pool> g_writer;  // after g_logger: destroyed before it
std::atomic<std::uint64_t> g_lines{0};    // handed to the writer
std::atomic<std::uint64_t> g_written{0};  // written by it
std::atomic<std::uint64_t> g_dropped_reported{0};

// The file or terminal sink, counting the lines the writer thread has written, so that
// flush() can wait for the ones logged before it.
class CountingSink final : public spdlog::sinks::sink {
public:
    explicit CountingSink(spdlog::sink_ptr target) : target_(std::move(target)) {}
    void log(const spdlog::details::log_msg& msg) override {
        target_->log(msg);
        g_written.fetch_add(1, std::memory_order_release);
    }
    void flush() override { target_->flush(); }
    void set_pattern(const std::string& pattern) override { target_->set_pattern(pattern); }
    void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override { target_->set_formatter(std::move(formatter)); }

private:
    spdlog::sink_ptr target_;
};

void emit(spdlog::logger& l, spdlog::level::level_enum level, const std::string& line) {
    g_lines.fetch_add(1, std::memory_order_relaxed);
    l.log(level, "{}", line);
}

spdlog::level::level_enum to_spd(Level l) {
    switch (l) {
        case Level::Debug: return spdlog::level::debug;
        case Level::Info: return spdlog::level::info;
        case Level::Warn: return spdlog::level::warn;
        case Level::Error: return spdlog::level::err;
    }
    return spdlog::level::info;
}

// A value is written bare only when it is plain printable ASCII without '"', '=' or '\\';
// anything else goes in quotes, escaped by smtp::append_printable (controls, invalid UTF-8,
// line separators and bidirectional controls), so one event is always exactly one line that
// reads as it is.
bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (unsigned char c : v)
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return true;
    return false;
}

void append_value(std::string& out, std::string_view v) {
    if (!needs_quotes(v)) {
        out += v;
        return;
    }
    out += '"';
    smtp::append_printable(out, v, true);
    out += '"';
}

spdlog::logger& logger() {
    if (!g_logger) init(LogOptions{});
    return *g_logger;
}

}  // namespace

void init(const LogOptions& options) {
    flush();  // what the last configuration took goes where it was meant to
    if (!g_writer) g_writer = std::make_shared<spdlog::details::thread_pool>(kQueuedLines, 1);
    spdlog::sink_ptr sink;
    if (options.file.empty())
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    else
        sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file);
    auto l = std::make_shared<spdlog::async_logger>("ehlo", std::make_shared<CountingSink>(std::move(sink)), g_writer,
                                                    spdlog::async_overflow_policy::overrun_oldest);
    // UTC timestamps with milliseconds, then level, then the key=value fields.
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    l->set_level(to_spd(options.level));
    l->flush_on(spdlog::level::debug);  // on the writer thread: every line reaches the file at once
    g_logger = std::move(l);
    g_dialog = options.dialog;
}

void flush() {
    if (!g_writer || !g_logger) return;
    const std::uint64_t target = g_lines.load(std::memory_order_relaxed);
    const auto deadline = std::chrono::steady_clock::now() + kFlushWait;
    while (g_written.load(std::memory_order_acquire) + g_writer->overrun_counter() < target &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void shutdown() {
    // The writer thread writes every line queued before it is told to end, then is joined.
    g_logger.reset();
    g_writer.reset();
}

bool dialog_enabled() { return g_dialog.load(std::memory_order_relaxed); }

std::string format_fields(std::string_view event, std::initializer_list<Field> fields) {
    std::string out;
    out.reserve(128);
    out += "event=";
    append_value(out, event);
    for (const auto& f : fields) {
        out += ' ';
        out += f.key;
        out += '=';
        append_value(out, f.value);
    }
    return out;
}

void log(Level level, std::string_view event, std::initializer_list<Field> fields) {
    auto& l = logger();
    if (!l.should_log(to_spd(level))) return;
    emit(l, to_spd(level), format_fields(event, fields));
    if (g_lines.load(std::memory_order_relaxed) % kDropCheckEvery == 0 && g_writer) {
        const std::uint64_t dropped = g_writer->overrun_counter();
        std::uint64_t reported = g_dropped_reported.load(std::memory_order_relaxed);
        if (dropped > reported && g_dropped_reported.compare_exchange_strong(reported, dropped))
            emit(l, spdlog::level::warn, format_fields("log-dropped", {{"lines", dropped - reported}}));
    }
}

}  // namespace ehlo::observe
