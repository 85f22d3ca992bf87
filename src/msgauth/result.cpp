#include "msgauth/result.hpp"

namespace ehlo::msgauth {

const char* result_name(Result r) {
    switch (r) {
        case Result::None: return "none";
        case Result::Pass: return "pass";
        case Result::Fail: return "fail";
        case Result::SoftFail: return "softfail";
        case Result::Neutral: return "neutral";
        case Result::Policy: return "policy";
        case Result::TempError: return "temperror";
        case Result::PermError: return "permerror";
    }
    return "?";
}

}  // namespace ehlo::msgauth
