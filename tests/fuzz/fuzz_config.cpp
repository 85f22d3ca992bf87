// Fuzz target for the configuration loader (src/config, config::load_string(), which
// load_file() reads every file through): whatever text a configuration file holds, the loader
// gives either a Config or one error, and never crashes or lets an exception escape.
//
// The run fails (abort) when
//   - both or neither of config and error are set;
//   - an error has no message, or is not one printable line (escape_controls() promises that:
//     a quoted TOML key may hold any octet, and `ehlo check-config` prints the message as is);
//   - an error's line lies beyond the text, or carries a column without a line;
//   - an exception leaves load_string();
//   - loading the same text twice gives different answers (the first error in file order is
//     reported, whatever order toml++ stores keys in);
//   - the functions that derive values from a loaded Config throw or crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace {

using namespace ehlo;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_config: %s\n", what);
    std::abort();
}

config::LoadResult load(std::string_view text) {
    try {
        return config::load_string(text, "fuzz.toml");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_config: exception: %s\n", e.what());
        fail("an exception left load_string()");
    } catch (...) {
        fail("an exception of unknown type left load_string()");
    }
}

void check_error(std::string_view text, const config::ConfigError& e) {
    if (e.message.empty()) fail("an error without a message");
    for (char c : e.str()) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) fail("an error message that is not one printable line");
    }
    if (e.file != "fuzz.toml") fail("an error that names another file");
    std::size_t lines = 1;
    for (char c : text) lines += c == '\n' ? 1 : 0;
    if (e.line > lines + 1) fail("an error on a line beyond the text");
    if (e.line == 0 && e.column != 0) fail("an error with a column but no line");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const config::LoadResult first = load(text);
    if (first.config.has_value() == first.error.has_value()) fail("neither or both of a config and an error");
    const config::LoadResult second = load(text);
    if (first.error) {
        check_error(text, *first.error);
        if (!second.error || second.error->str() != first.error->str()) fail("the same text gave another error");
        return 0;
    }
    if (!second.config) fail("the same text failed the second time");
    try {
        const config::Config& c = *first.config;
        (void)config::failure_notice_address(c);
        (void)config::control_socket_path(c);
        (void)config::history_path(c);
        if (config::all_listeners(c).empty()) fail("a loaded config without a listener");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_config: exception: %s\n", e.what());
        fail("an exception from a function of a loaded Config");
    }
    return 0;
}
