// What the real-peer tests of msgauth share: running a program and reading its output, the
// tools they need (skipped when missing), and blocking on an asynchronous answer.
#pragma once

#include <unistd.h>

#include <array>
#include <cstdio>
#include <future>
#include <string>

namespace ehlo::msgauth::testing {

inline constexpr const char* kPython = "/usr/bin/python3";  // Debian's, where python3-spf/-dkim live

inline bool has_program(const char* path) { return ::access(path, X_OK) == 0; }

inline bool python_has(const char* module) {
    const std::string cmd = std::string(kPython) + " -c 'import " + module + "' 2>/dev/null";
    return has_program(kPython) && std::system(cmd.c_str()) == 0;
}

// Runs `command` through the shell; its standard output, and its exit status in `status`.
inline std::string run_command(const std::string& command, int* status = nullptr) {
    std::string out;
    FILE* p = ::popen(command.c_str(), "r");
    if (!p) return out;
    std::array<char, 4096> buffer{};
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), p)) > 0) out.append(buffer.data(), n);
    const int rc = ::pclose(p);
    if (status) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

}  // namespace ehlo::msgauth::testing
