#include <gtest/gtest.h>

#include "config/mailbox_name.hpp"

namespace ehlo::config {
namespace {

TEST(MailboxName, Accepts) {
    for (const char* s : {"alice", "bob.smith", "c_d-e", "0", "a.b.c", "-x", "_", "x.", "postmaster"}) {
        EXPECT_TRUE(is_mailbox_name(s)) << s;
    }
    EXPECT_TRUE(is_mailbox_name(std::string(kMaxMailboxName, 'a')));
}

// These would name a directory outside maildir_root, a hidden entry, or a different file.
TEST(MailboxName, RejectsPathsAndOddities) {
    for (const char* s : {"", ".", "..", ".hidden", "a..b", "../etc", "a/b", "/abs", "a\\b", "Alice", "a b", "a+b",
                          "a@b", "a\"b", "caf\xc3\xa9", "a\tb"}) {
        EXPECT_FALSE(is_mailbox_name(s)) << s;
    }
    EXPECT_FALSE(is_mailbox_name(std::string_view("a\0b", 3)));
    EXPECT_FALSE(is_mailbox_name(std::string(kMaxMailboxName + 1, 'a')));  // RFC 5321 4.5.3.1.1
}

}  // namespace
}  // namespace ehlo::config
