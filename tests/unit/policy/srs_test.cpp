// SRS: the forms of libsrs2 and postsrsd (SRS0, SRS1), round trips, forged and expired
// addresses refused, case-folded hashes accepted, the secret file; and the same answers as a
// real postsrsd (Debian's, on loopback) when it is installed.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "alias_fixture.hpp"
#include "policy/srs.hpp"

namespace ehlo::policy {
namespace {

constexpr std::int64_t kDay = 24 * 60 * 60;
// 2024-05-01 12:00:00 UTC.
constexpr std::int64_t kNow = 1714564800;

Srs make_srs(std::vector<std::string> secrets = {"testsecret"}, unsigned max_age = kSrsDefaultMaxAgeDays) {
    return Srs(SrsOptions{"forwarder.example", std::move(secrets), kSrsDefaultHashLength, max_age});
}

smtp::Mailbox mbox(std::string local, std::string domain) { return {std::move(local), std::move(domain)}; }

TEST(Srs, TimestampIsTheDayInTwoBase32Characters) {
    EXPECT_EQ(Srs::timestamp(0), "AA");
    EXPECT_EQ(Srs::timestamp(kDay), "AB");
    EXPECT_EQ(Srs::timestamp(31 * kDay), "A7");
    EXPECT_EQ(Srs::timestamp(32 * kDay), "BA");
    EXPECT_EQ(Srs::timestamp(1023 * kDay + kDay - 1), "77");
    EXPECT_EQ(Srs::timestamp(1024 * kDay), "AA");  // modulo 1024 days
}

// Answers of Debian's postsrsd 1.10 (secret "testsecret", domain forwarder.example): the hash
// over the lower-cased parts, the first four characters of base64(HMAC-SHA1).
TEST(Srs, HashesAreThoseOfPostsrsd) {
    EXPECT_EQ(Srs::hash("testsecret", {"JV", "orig.example", "alice"}, 4), "x+kx");
    EXPECT_EQ(Srs::hash("testsecret", {"first.example", "=abcd=AB=orig.example=alice"}, 4), "SZyj");
    EXPECT_EQ(Srs::hash("testsecret", {"first.example", "=hhh=TT=orig.example=alice"}, 4), "Qyhl");
    EXPECT_EQ(Srs::hash("testsecret", {"jv", "ORIG.example", "Alice"}, 4), "x+kx");  // lower-cased first
}

TEST(Srs, Srs0Form) {
    const auto srs = make_srs();
    const auto forwarded = srs.forward(mbox("alice", "Orig.Example"), kNow);
    ASSERT_TRUE(forwarded);
    const std::string stamp = Srs::timestamp(kNow);
    EXPECT_EQ(forwarded->str(), "SRS0=" + Srs::hash("testsecret", {stamp, "orig.example", "alice"}, 4) + "=" + stamp +
                                    "=orig.example=alice@forwarder.example");
}

TEST(Srs, Srs0RoundTrip) {
    const auto srs = make_srs();
    const auto forwarded = srs.forward(mbox("Alice.Smith", "orig.example"), kNow);
    ASSERT_TRUE(forwarded);
    const auto back = srs.reverse(*forwarded, kNow + kDay);
    EXPECT_EQ(back.error, Srs::Error::None);
    ASSERT_TRUE(back.address);
    EXPECT_EQ(back.address->str(), "Alice.Smith@orig.example");
}

// Mail from another forwarder's SRS0 address: SRS1, whose bounces go back to that forwarder.
TEST(Srs, Srs1FromAnotherForwardersSrs0) {
    const auto srs = make_srs();
    const smtp::Mailbox theirs = mbox("SRS0=abcd=AB=orig.example=alice", "first.example");
    const auto forwarded = srs.forward(theirs, kNow);
    ASSERT_TRUE(forwarded);
    EXPECT_EQ(forwarded->str(), "SRS1=SZyj=first.example==abcd=AB=orig.example=alice@forwarder.example");
    const auto back = srs.reverse(*forwarded, kNow + 400 * kDay);  // SRS1 has no timestamp of ours
    ASSERT_EQ(back.error, Srs::Error::None);
    EXPECT_EQ(back.address->str(), theirs.str());
}

TEST(Srs, Srs1FromSrs1KeepsTheFirstForwarder) {
    const auto srs = make_srs();
    const auto forwarded = srs.forward(mbox("SRS1=xxxx=first.example==hhh=TT=orig.example=alice", "second.example"), kNow);
    ASSERT_TRUE(forwarded);
    EXPECT_EQ(forwarded->str(), "SRS1=Qyhl=first.example==hhh=TT=orig.example=alice@forwarder.example");
    const auto back = srs.reverse(*forwarded, kNow);
    ASSERT_EQ(back.error, Srs::Error::None);
    EXPECT_EQ(back.address->str(), "SRS0=hhh=TT=orig.example=alice@first.example");
}

TEST(Srs, ForgedHashRefused) {
    const auto srs = make_srs();
    auto forwarded = *srs.forward(mbox("alice", "orig.example"), kNow);
    // Another local part under the same hash, then another hash.
    auto tampered = forwarded;
    tampered.local_part.replace(tampered.local_part.rfind("alice"), 5, "admin");
    EXPECT_EQ(srs.reverse(tampered, kNow).error, Srs::Error::BadHash);
    auto wrong_hash = forwarded;
    wrong_hash.local_part[5] = wrong_hash.local_part[5] == 'A' ? 'B' : 'A';
    EXPECT_EQ(srs.reverse(wrong_hash, kNow).error, Srs::Error::BadHash);
    // Made with another secret.
    const auto other = make_srs({"another secret"});
    EXPECT_EQ(srs.reverse(*other.forward(mbox("alice", "orig.example"), kNow), kNow).error, Srs::Error::BadHash);
    EXPECT_EQ(srs.reverse(mbox("SRS1=AAAA=first.example==x=y=z", "forwarder.example"), kNow).error, Srs::Error::BadHash);
}

TEST(Srs, ExpiredTimestampRefused) {
    const auto srs = make_srs({"testsecret"}, 21);
    const auto forwarded = *srs.forward(mbox("alice", "orig.example"), kNow);
    EXPECT_EQ(srs.reverse(forwarded, kNow + 21 * kDay).error, Srs::Error::None);
    EXPECT_EQ(srs.reverse(forwarded, kNow + 22 * kDay).error, Srs::Error::Expired);
    // A stamp from the future is as old as the slots go round.
    EXPECT_EQ(srs.reverse(forwarded, kNow - 2 * kDay).error, Srs::Error::Expired);
}

// Some servers fold local parts to lower case: the hash and the timestamp still match.
TEST(Srs, CaseFoldedAddressAccepted) {
    const auto srs = make_srs();
    auto forwarded = *srs.forward(mbox("alice", "orig.example"), kNow);
    for (char& c : forwarded.local_part) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto back = srs.reverse(forwarded, kNow);
    ASSERT_EQ(back.error, Srs::Error::None);
    EXPECT_EQ(back.address->str(), "alice@orig.example");
    for (char& c : forwarded.local_part) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(srs.reverse(forwarded, kNow).error, Srs::Error::None);
}

TEST(Srs, AnOlderSecretStillReverses) {
    const auto old = make_srs({"old secret"});
    const auto rotated = make_srs({"new secret", "old secret"});
    const auto forwarded = *old.forward(mbox("alice", "orig.example"), kNow);
    EXPECT_EQ(rotated.reverse(forwarded, kNow).error, Srs::Error::None);
    // And the new one signs.
    EXPECT_EQ(old.reverse(*rotated.forward(mbox("alice", "orig.example"), kNow), kNow).error, Srs::Error::BadHash);
}

TEST(Srs, MalformedAndOrdinaryAddresses) {
    const auto srs = make_srs();
    EXPECT_EQ(srs.reverse(mbox("alice", "forwarder.example"), kNow).error, Srs::Error::NotSrs);
    EXPECT_EQ(srs.reverse(mbox("SRS0", "forwarder.example"), kNow).error, Srs::Error::NotSrs);
    EXPECT_EQ(srs.reverse(mbox("SRS0=abcd", "forwarder.example"), kNow).error, Srs::Error::Malformed);
    EXPECT_EQ(srs.reverse(mbox("SRS0=abcd=AB=orig.example=", "forwarder.example"), kNow).error, Srs::Error::Malformed);
    EXPECT_EQ(srs.reverse(mbox("SRS0==AB=orig.example=alice", "forwarder.example"), kNow).error, Srs::Error::Malformed);
    EXPECT_EQ(srs.reverse(mbox("SRS1=abcd", "forwarder.example"), kNow).error, Srs::Error::Malformed);
    EXPECT_TRUE(Srs::is_srs("srs0=x"));
    EXPECT_TRUE(Srs::is_srs("SRS1+x"));
    EXPECT_FALSE(Srs::is_srs("srs0x"));
    EXPECT_FALSE(Srs::is_srs("srs2=x"));
}

// RFC 5321 4.5.3.1.1: a local part of more than 64 octets could not come back.
TEST(Srs, NotRewrittenWhenTooLong_Rfc5321_4_5_3_1_1) {
    const auto srs = make_srs();
    EXPECT_FALSE(srs.forward(mbox(std::string(40, 'a'), "a-rather-long-domain.example"), kNow));
    EXPECT_TRUE(srs.forward(mbox(std::string(20, 'a'), "short.example"), kNow));
    EXPECT_FALSE(srs.forward(mbox("\"quoted local\"", "orig.example"), kNow));
}

// ---- the secret file -------------------------------------------------------------------------

unsigned mode_of(const std::filesystem::path& p) {
    struct stat st{};
    ::stat(p.c_str(), &st);
    return st.st_mode & 07777;
}

TEST(SrsSecret, CreatedPrivateWhenMissingThenReadAgain) {
    test::TempDir dir;
    const auto file = dir / "srs.secret";
    const auto first = load_srs_secrets(file);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_GE(first[0].size(), 32u);
    EXPECT_EQ(mode_of(file), 0600u);
    EXPECT_EQ(load_srs_secrets(file), first);
    const auto other = dir / "other.secret";
    EXPECT_NE(load_srs_secrets(other), first);  // random
}

TEST(SrsSecret, SeveralSecretsCommentsAndBlankLines) {
    test::TempDir dir;
    const auto file = dir / "srs.secret";
    test::write_file(file, "# rotated 2024-05\nnew-one\r\n\nold-one  \n");
    ::chmod(file.c_str(), 0600);
    EXPECT_EQ(load_srs_secrets(file), (std::vector<std::string>{"new-one", "old-one"}));
}

TEST(SrsSecret, RefusedWhenReadableByAllOrEmpty) {
    test::TempDir dir;
    const auto file = dir / "srs.secret";
    test::write_file(file, "secret\n");
    ::chmod(file.c_str(), 0644);
    EXPECT_THROW(load_srs_secrets(file), std::runtime_error);
    test::write_file(file, "# nothing\n\n");
    ::chmod(file.c_str(), 0600);
    EXPECT_THROW(load_srs_secrets(file), std::runtime_error);
    EXPECT_THROW(load_srs_secrets(dir / "no" / "such" / "dir"), std::runtime_error);
}

// ---- against a real postsrsd -----------------------------------------------------------------

constexpr const char* kPostsrsd = "/usr/sbin/postsrsd";

// A loopback port nobody listens on now.
std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// One Postfix tcp_table query ("get KEY"), its answer line; empty when nothing answers.
std::string ask(std::uint16_t port, const std::string& key) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    std::string answer;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        const std::string line = "get " + key + "\n";
        if (::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
            char buf[512];
            ssize_t n = 0;
            while (answer.find('\n') == std::string::npos && (n = ::read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    if (const auto nl = answer.find('\n'); nl != std::string::npos) answer.resize(nl);
    return answer;
}

class Postsrsd : public ::testing::Test {
protected:
    void SetUp() override {
        if (::access(kPostsrsd, X_OK) != 0) GTEST_SKIP() << kPostsrsd << " not installed (Debian package postsrsd)";
        secret_ = dir_ / "secret";
        test::write_file(secret_, "testsecret\n");
        ::chmod(secret_.c_str(), 0600);
        forward_port_ = free_port();
        reverse_port_ = free_port();
        pid_ = ::fork();
        if (pid_ == 0) {
            const std::string s = "-s" + secret_.string(), f = "-f" + std::to_string(forward_port_),
                              r = "-r" + std::to_string(reverse_port_);
            ::execl(kPostsrsd, kPostsrsd, s.c_str(), "-dforwarder.example", f.c_str(), r.c_str(), "-4", "-t5",
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ASSERT_GT(pid_, 0);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (ask(forward_port_, "alice@orig.example").empty()) {
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "postsrsd did not answer";
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    void TearDown() override {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    test::TempDir dir_;
    std::filesystem::path secret_;
    std::uint16_t forward_port_ = 0, reverse_port_ = 0;
    pid_t pid_ = -1;
};

TEST_F(Postsrsd, SameForwardingAndEachReversesTheOther) {
    const auto srs = make_srs();
    for (const std::string sender : {"alice@orig.example", "Bob.Smith@Orig.Example", "SRS0=abcd=AB=orig.example=carol@first.example",
                                     "SRS1=zzzz=first.example==hhh=TT=orig.example=dave@second.example"}) {
        SCOPED_TRACE(sender);
        const auto at = sender.rfind('@');
        const smtp::Mailbox m{sender.substr(0, at), sender.substr(at + 1)};
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        const std::string theirs = ask(forward_port_, sender);
        const auto ours = srs.forward(m, now);
        ASSERT_TRUE(ours);
        ASSERT_TRUE(theirs.starts_with("200 ")) << theirs;
        const std::string their_address = theirs.substr(4);
        // The same but for the case of the domain (postsrsd keeps it as given).
        EXPECT_EQ(lower(their_address), lower(ours->str()));
        // postsrsd reverses ours, and we reverse theirs.
        EXPECT_EQ(lower(ask(reverse_port_, ours->str())), lower("200 " + (m.local_part.starts_with("SRS1")
                                                                                       ? std::string("SRS0=hhh=TT=orig.example=dave@first.example")
                                                                                       : sender)));
        const auto their_at = their_address.rfind('@');
        const auto back = srs.reverse({their_address.substr(0, their_at), their_address.substr(their_at + 1)}, now);
        ASSERT_EQ(back.error, Srs::Error::None);
        EXPECT_EQ(lower(back.address->str()), lower(m.local_part.starts_with("SRS1")
                                                                    ? std::string("SRS0=hhh=TT=orig.example=dave@first.example")
                                                                    : sender));
    }
}

}  // namespace
}  // namespace ehlo::policy
