// Structured log lines: one line per event, as key=value pairs, so that every dialog, queue
// decision and delivery attempt can be followed by session id and queue id with grep.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace ehlo::observe {

enum class Level { Debug, Info, Warn, Error };

struct LogOptions {
    Level level = Level::Info;
    std::string file;        // empty = standard error
    bool dialog = false;     // also log every command and reply (never message content)
};

struct Field {
    std::string_view key;
    std::string value;
    Field(std::string_view k, std::string_view v) : key(k), value(v) {}
    Field(std::string_view k, const std::string& v) : key(k), value(v) {}
    Field(std::string_view k, const char* v) : key(k), value(v) {}
    template <typename N, typename = std::enable_if_t<std::is_arithmetic_v<N>>>
    Field(std::string_view k, N n) : key(k), value(std::to_string(n)) {}
};

// Configure the process-wide log; safe to call again (tests, reload): the lines logged
// before are written where they were meant to go first.
void init(const LogOptions& options);
// Waits (a few seconds at most) until every line logged so far has been written.
void flush();
// Writes every line logged so far and stops the writer thread; a later line starts it again
// with the default options. For the end of the process.
void shutdown();
bool dialog_enabled();

// "event=NAME k1=v1 k2=v2": values with spaces, quotes, '=' or anything but printable ASCII
// are quoted and escaped (smtp::append_printable), so one event is always exactly one line.
// Never waits for the disk: the line is written by the log's own thread.
void log(Level level, std::string_view event, std::initializer_list<Field> fields);
inline void info(std::string_view event, std::initializer_list<Field> fields) { log(Level::Info, event, fields); }
inline void warn(std::string_view event, std::initializer_list<Field> fields) { log(Level::Warn, event, fields); }
inline void error(std::string_view event, std::initializer_list<Field> fields) { log(Level::Error, event, fields); }
inline void debug(std::string_view event, std::initializer_list<Field> fields) { log(Level::Debug, event, fields); }

// Formats the key=value part (exposed for tests).
std::string format_fields(std::string_view event, std::initializer_list<Field> fields);

}  // namespace ehlo::observe
