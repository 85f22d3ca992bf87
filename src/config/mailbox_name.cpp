#include "config/mailbox_name.hpp"

namespace ehlo::config {

bool is_mailbox_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxMailboxName) return false;
    // A leading '.' would make ".", ".." or a hidden entry beside the Maildirs.
    if (name.front() == '.') return false;
    if (name.find("..") != std::string_view::npos) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

}  // namespace ehlo::config
