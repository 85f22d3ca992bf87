// The queue logs every message; the tests keep only warnings and errors (EHLO_TEST_LOG=debug
// shows everything, for a failure to be understood).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string_view>

#include "observe/log.hpp"

namespace {

class QuietLog : public ::testing::Environment {
public:
    void SetUp() override {
        const char* wanted = std::getenv("EHLO_TEST_LOG");
        const bool all = wanted && std::string_view(wanted) == "debug";
        ehlo::observe::init({all ? ehlo::observe::Level::Debug : ehlo::observe::Level::Warn, "", false});
    }
};

[[maybe_unused]] const auto* const kQuietLog = ::testing::AddGlobalTestEnvironment(new QuietLog);

}  // namespace
