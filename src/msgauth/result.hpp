// The verdict words shared by every method (RFC 8601 2.7, RFC 7208 2.6).
#pragma once

namespace ehlo::msgauth {

enum class Result { None, Pass, Fail, SoftFail, Neutral, Policy, TempError, PermError };

// "none", "pass", "fail", "softfail", "neutral", "policy", "temperror", "permerror"
const char* result_name(Result r);

}  // namespace ehlo::msgauth
