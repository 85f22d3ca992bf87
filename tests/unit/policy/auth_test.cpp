// Password hashes (argon2id by libsodium; $y$, $6$, $2b$ by libxcrypt), the credentials file,
// the guessing limiter and the hashing pool with its padded answers (RFC 4954 15).
#include <gtest/gtest.h>
#include <crypt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "policy/auth_limiter.hpp"
#include "policy/auth_service.hpp"
#include "policy/credentials.hpp"
#include "policy/password_hash.hpp"

namespace ehlo::policy {
namespace {

using namespace std::chrono_literals;

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char pattern[] = "/tmp/ehlo-auth-unit-XXXXXX";
        path = ::mkdtemp(pattern);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

// A crypt(3) hash of `password` in `prefix`'s scheme, made by libxcrypt itself.
std::string crypt_hash(const char* prefix, const char* password) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    EXPECT_NE(crypt_gensalt_rn(prefix, 0, nullptr, 0, salt, sizeof salt), nullptr) << prefix;
    crypt_data data{};
    const char* h = crypt_rn(password, salt, &data, sizeof data);
    return h ? h : "";
}

TEST(PasswordHash, NewHashesAreArgon2id) {
    const std::string h = hash_password("correct horse");
    EXPECT_EQ(h.rfind("$argon2id$", 0), 0u) << h;
    EXPECT_TRUE(verify_password(h, "correct horse"));
    EXPECT_FALSE(verify_password(h, "correct horsE"));
    EXPECT_NE(hash_password("correct horse"), h);  // salted
}

TEST(PasswordHash, ExistingCryptSchemesVerify) {
    for (const char* prefix : {"$y$", "$6$", "$2b$"}) {
        const std::string h = crypt_hash(prefix, "hunter2");
        ASSERT_EQ(h.rfind(prefix, 0), 0u) << h;
        EXPECT_TRUE(known_hash_scheme(h));
        EXPECT_TRUE(verify_password(h, "hunter2")) << prefix;
        EXPECT_FALSE(verify_password(h, "hunter3")) << prefix;
    }
    EXPECT_FALSE(known_hash_scheme("$1$abc$def"));  // MD5 crypt: not taken
    EXPECT_FALSE(verify_password("$1$abc$def", "x"));
    EXPECT_FALSE(verify_password("plain", "plain"));
}

TEST(CredentialsFile, ParsesAndFormats) {
    const std::string text = "# users\nalice@example.test:$6$salt$hash\nbob:$y$j9T$x$y:bob@example.test,@shop.example\n";
    auto p = parse_credentials(text);
    ASSERT_FALSE(p.error) << *p.error;
    ASSERT_EQ(p.users.size(), 2u);
    EXPECT_EQ(p.users[1].senders, (std::vector<std::string>{"bob@example.test", "@shop.example"}));
    EXPECT_EQ(parse_credentials(format_credentials(p.users)).users, p.users);
    EXPECT_EQ(*parse_credentials("a:$6$x$y\nb c:$6$x$y\n").error, "line 2: bad user name");
    EXPECT_NE(parse_credentials("a:md5:x\n").error->find("unknown hash scheme"), std::string::npos);
    EXPECT_NE(parse_credentials("a:$6$x$y\nA:$6$x$y\n").error->find("twice"), std::string::npos);
    EXPECT_NE(parse_credentials("a:$6$x$y:not-an-address\n").error->find("bad sender"), std::string::npos);
}

TEST(CredentialsFile, WrittenAtomicallyWithMode0600) {
    TempDir d;
    const auto path = d.path / "users";
    write_credentials_file(path, {{"alice", hash_password("pw"), {}}});
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
    EXPECT_EQ(read_credentials_file(path).size(), 1u);
}

TEST(CredentialsFile, ARewriteKeepsTheGroupsReadRightButNeverOthers) {
    // root:ehlo 0640 lets the daemon, running as ehlo, read the file again after a change.
    TempDir d;
    const auto path = d.path / "users";
    write_credentials_file(path, {{"alice", "$6$a$b", {}}});
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    write_credentials_file(path, {{"alice", "$6$a$b", {}}, {"bob", "$6$c$d", {}}});
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    EXPECT_EQ(st.st_gid, ::getegid());
    EXPECT_EQ(read_credentials_file(path).size(), 2u);
}

TEST(Credentials, SeesChangesWithoutRestartAndKeepsOldUsersOnABadFile) {
    TempDir d;
    const auto path = d.path / "users";
    write_credentials_file(path, {{"alice", "$6$a$b", {}}});
    Credentials c(path);
    EXPECT_TRUE(c.find("ALICE"));  // names compare case-insensitively
    EXPECT_FALSE(c.find("bob"));
    write_credentials_file(path, {{"alice", "$6$a$b", {}}, {"bob", "$6$c$d", {}}});
    std::this_thread::sleep_for(1100ms);  // checked at most once a second
    EXPECT_TRUE(c.find("bob"));
    std::ofstream(path) << "garbage line\n";
    std::this_thread::sleep_for(1100ms);
    EXPECT_TRUE(c.find("bob"));  // the users read before stay
    EXPECT_TRUE(c.refresh(true));  // and the reason is known
}

TEST(Credentials, SenderBinding) {
    TempDir d;
    const auto path = d.path / "users";
    write_credentials_file(path, {{"alice@example.test", "$6$a$b", {}},
                                  {"bob", "$6$a$b", {"bob@example.test", "@shop.example"}},
                                  {"carol", "$6$a$b", {}}});
    Credentials bound(path, true);
    EXPECT_TRUE(bound.may_send_as("alice@example.test", "Alice@Example.test"));
    EXPECT_FALSE(bound.may_send_as("alice@example.test", "ceo@example.test"));
    EXPECT_TRUE(bound.may_send_as("bob", "bob@example.test"));
    EXPECT_TRUE(bound.may_send_as("bob", "orders@shop.example"));
    EXPECT_FALSE(bound.may_send_as("bob", "orders@evilshop.example"));
    EXPECT_FALSE(bound.may_send_as("carol", "carol@example.test"));  // not an address, no senders
    EXPECT_FALSE(bound.may_send_as("nobody", "x@y.example"));
    Credentials free(path, false);
    EXPECT_TRUE(free.may_send_as("carol", "anyone@example.test"));
    EXPECT_FALSE(free.may_send_as("bob", "anyone@example.test"));  // listed senders still bind
}

TEST(AuthLimiter, DelayGrowsThenLocksAddressAndUser_Rfc4954_15) {
    AuthLimiter::Settings s;
    s.max_failures = 3;
    s.lockout = 60s;
    s.delay_per_failure = 1000ms;
    s.max_delay = 2500ms;
    AuthLimiter l(s);
    const auto t = AuthLimiter::Clock::now();
    EXPECT_FALSE(l.locked("192.0.2.1", "alice", t));
    EXPECT_EQ(l.failed("192.0.2.1", "alice", t), 1000ms);
    EXPECT_EQ(l.failed("192.0.2.1", "bob", t), 2000ms);   // the address's count
    EXPECT_EQ(l.failed("192.0.2.2", "alice", t), 2000ms);  // the user's count
    EXPECT_EQ(l.failed("192.0.2.1", "carol", t), 2500ms);  // capped
    EXPECT_TRUE(l.locked("192.0.2.1", "dave", t));         // the address is locked out
    EXPECT_FALSE(l.locked("192.0.2.9", "dave", t));
    l.failed("192.0.2.3", "alice", t);
    EXPECT_TRUE(l.locked("192.0.2.9", "alice", t));        // and so is the user
    EXPECT_FALSE(l.locked("192.0.2.1", "dave", t + 61s));  // for the lockout time
    l.succeeded("alice");
    EXPECT_FALSE(l.locked("192.0.2.9", "alice", t));
}

struct Answers {
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::pair<AuthResult, AuthService::Clock::duration>> got;
    AuthService::Answer make(AuthService::Clock::time_point asked) {
        return [this, asked](AuthResult r, AuthService::Clock::time_point not_before) {
            std::lock_guard lock(m);
            got.emplace_back(r, not_before - asked);
            cv.notify_all();
        };
    }
    void wait(std::size_t n) {
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return got.size() >= n; }));
    }
};

TEST(AuthService, RightWrongUnknownAndLocked_Rfc4954_15) {
    TempDir d;
    const auto path = d.path / "users";
    write_credentials_file(path, {{"alice", hash_password("right"), {}}});
    Credentials creds(path);
    AuthLimiter::Settings s;
    s.max_failures = 2;
    s.delay_per_failure = 300ms;
    AuthService service(creds, s, 2, 16);
    Answers a;
    auto ask = [&](const char* user, const char* pw) {
        const auto now = AuthService::Clock::now();
        service.verify("192.0.2.1", user, pw, a.make(now));
    };
    ask("alice", "right");
    a.wait(1);
    ask("alice", "wrong");
    a.wait(2);
    ask("nobody", "x");
    a.wait(3);
    ask("alice", "right");  // the address is locked out now, even with the right password
    a.wait(4);
    EXPECT_EQ(a.got[0].first, AuthResult::Ok);
    EXPECT_GE(a.got[0].second, AuthService::kMinAnswerTime);
    EXPECT_EQ(a.got[1].first, AuthResult::Failed);
    EXPECT_GE(a.got[1].second, AuthService::kMinAnswerTime + 300ms);
    EXPECT_EQ(a.got[2].first, AuthResult::Failed);  // an unknown user is a failure like any
    EXPECT_GE(a.got[2].second, AuthService::kMinAnswerTime + 600ms);
    EXPECT_EQ(a.got[3].first, AuthResult::Locked);
}

TEST(AuthService, UnknownUserCostsAHashLikeAKnownOne) {
    TempDir d;
    const auto path = d.path / "users";
    write_credentials_file(path, {{"alice", hash_password("right"), {}}});
    Credentials creds(path);
    AuthLimiter::Settings s;
    s.max_failures = 1000;
    s.delay_per_failure = 0ms;
    AuthService service(creds, s, 1, 16);
    auto timed = [&](const char* user) {
        Answers a;
        const auto start = std::chrono::steady_clock::now();
        service.verify("192.0.2.7", user, "wrong", a.make(start));
        a.wait(1);
        return std::chrono::steady_clock::now() - start;
    };
    const auto known = timed("alice");
    const auto unknown = timed("nobody");
    // Both ran argon2id (tens of milliseconds); the unknown one is not a fast path.
    EXPECT_GT(unknown, known / 3);
}

TEST(AuthService, FullPoolAnswersUnavailable) {
    TempDir d;
    const auto path = d.path / "users";
    write_credentials_file(path, {{"alice", hash_password("right"), {}}});
    Credentials creds(path);
    AuthService service(creds, {}, 1, 1);
    Answers a;
    for (int i = 0; i < 6; ++i) service.verify("192.0.2.8", "alice", "x" + std::to_string(i), a.make(AuthService::Clock::now()));
    a.wait(6);
    std::size_t unavailable = 0;
    for (const auto& g : a.got) unavailable += g.first == AuthResult::Unavailable;
    EXPECT_GE(unavailable, 1u);
}

}  // namespace
}  // namespace ehlo::policy
