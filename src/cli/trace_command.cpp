// `ehlo trace ID | ADDRESS | MESSAGE-ID`: the whole life of the matching messages, read from
// the history database (which may be written by a running daemon meanwhile: WAL mode lets
// this read without waiting or making it wait).
#include <chrono>
#include <filesystem>
#include <iostream>

#include "cli/command_config.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "observe/history_query.hpp"
#include "observe/terminal_safe.hpp"
#include "observe/time_text.hpp"
#include "observe/trace_format.hpp"

namespace ehlo::cli {

int trace_command(const TraceCommand& command) {
    auto loaded_config = command_config(command.config_file);
    if (!loaded_config) return 1;
    config::Config cfg = std::move(*loaded_config);
    const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::int64_t since_us = 0;
    if (!command.since.empty()) {
        auto since = observe::parse_since(command.since, now_us);
        if (!since) {
            std::cerr << "ehlo: --since " << observe::terminal_safe(command.since)
                      << ": not a time (e.g. 30m, 2h, 7d, 2024-05-01, \"2024-05-01 14:00\")\n";
            return 2;
        }
        since_us = *since;
    }
    const std::string path = config::history_path(cfg).string();
    if (!std::filesystem::exists(path)) {
        std::cerr << "ehlo: no history at " << observe::terminal_safe(path)
                  << (cfg.history.enabled ? "" : " ([history] enabled = false)") << "\n";
        return 1;
    }
    observe::HistoryReader reader;
    if (auto why = reader.open(path); !why.empty()) {
        std::cerr << "ehlo: cannot read the history at " << observe::terminal_safe(path) << ": "
                  << observe::terminal_safe(why) << "\n";
        return 1;
    }
    try {
        const auto traces = reader.find(command.target, since_us, command.limit);
        if (command.json) {
            std::cout << observe::traces_json(traces, now_us);
        } else if (!traces.empty()) {
            std::cout << observe::format_traces(traces, now_us);
        }
        if (traces.empty()) {
            std::cerr << "ehlo: nothing in the history matches " << observe::terminal_safe(command.target)
                      << (since_us ? " since " + observe::local_timestamp(since_us) : std::string()) << "\n";
            return 1;
        }
    } catch (const observe::HistoryError& e) {
        std::cerr << "ehlo: " << observe::terminal_safe(e.what()) << "\n";
        return 1;
    }
    return 0;
}

}  // namespace ehlo::cli
