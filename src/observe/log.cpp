#include "observe/log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>

namespace ehlo::observe {
namespace {

std::atomic<bool> g_dialog{false};
std::shared_ptr<spdlog::logger> g_logger;

spdlog::level::level_enum to_spd(Level l) {
    switch (l) {
        case Level::Debug: return spdlog::level::debug;
        case Level::Info: return spdlog::level::info;
        case Level::Warn: return spdlog::level::warn;
        case Level::Error: return spdlog::level::err;
    }
    return spdlog::level::info;
}

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (unsigned char c : v)
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
    return false;
}

void append_value(std::string& out, std::string_view v) {
    if (!needs_quotes(v)) {
        out += v;
        return;
    }
    out += '"';
    for (unsigned char c : v) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\r': out += "\\r"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    static const char hex[] = "0123456789abcdef";
                    out += "\\x";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

spdlog::logger& logger() {
    if (!g_logger) init(LogOptions{});
    return *g_logger;
}

}  // namespace

void init(const LogOptions& options) {
    std::shared_ptr<spdlog::logger> l;
    if (options.file.empty())
        l = std::make_shared<spdlog::logger>("ehlo", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    else
        l = std::make_shared<spdlog::logger>("ehlo", std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file));
    // UTC timestamps with milliseconds, then level, then the key=value fields.
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    l->set_level(to_spd(options.level));
    l->flush_on(spdlog::level::debug);
    g_logger = std::move(l);
    g_dialog = options.dialog;
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
    l.log(to_spd(level), "{}", format_fields(event, fields));
}

}  // namespace ehlo::observe
