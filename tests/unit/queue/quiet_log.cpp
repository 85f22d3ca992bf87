// The queue logs every message; the tests keep only warnings and errors.
#include <gtest/gtest.h>

#include "observe/log.hpp"

namespace {

class QuietLog : public ::testing::Environment {
public:
    void SetUp() override { ehlo::observe::init({ehlo::observe::Level::Warn, "", false}); }
};

[[maybe_unused]] const auto* const kQuietLog = ::testing::AddGlobalTestEnvironment(new QuietLog);

}  // namespace
