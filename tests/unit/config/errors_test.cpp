// Every mistake in a file is reported with the line (and column) of the offending key or value,
// as "FILE:LINE:COLUMN: message".
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace ehlo::config {
namespace {

ConfigError error_of(std::string_view toml) {
    auto r = load_string(toml, "test.toml");
    EXPECT_FALSE(r.config);
    if (!r.error) return ConfigError{"", 0, 0, "(no error)"};
    return *r.error;
}

// Checks line, column (0 = any) and a fragment of the message; the message is printed on failure.
void check_error(std::string_view toml, std::size_t line, std::size_t column, std::string_view fragment) {
    const ConfigError e = error_of(toml);
    EXPECT_EQ(e.file, "test.toml");
    EXPECT_EQ(e.line, line) << e.str();
    if (column != 0) {
        EXPECT_EQ(e.column, column) << e.str();
    }
    EXPECT_NE(e.message.find(fragment), std::string::npos) << e.str();
}

#define EXPECT_CONFIG_ERROR(toml, line, column, fragment) \
    do {                                                   \
        SCOPED_TRACE(toml);                                \
        check_error(toml, line, column, fragment);         \
    } while (false)

// ---- syntax ----------------------------------------------------------------------------------

TEST(ConfigErrors, TomlSyntaxErrorHasLineAndColumn) {
    EXPECT_CONFIG_ERROR("[server]\nthreads = 4\nhostname = \"unterminated\n", 3, 0, "");
    const auto e = error_of("[server]\nthreads = 4\nhostname = \"unterminated\n");
    EXPECT_GT(e.column, 0u);
}

TEST(ConfigErrors, SyntaxErrorMessageIsOneLine) {
    const auto e = error_of("[log]\ndialog = fals\n");
    EXPECT_EQ(e.line, 2u);
    EXPECT_EQ(e.str().find('\n'), std::string::npos) << e.str();
}

TEST(ConfigErrors, DuplicateKeyIsASyntaxError) {
    EXPECT_CONFIG_ERROR("[server]\nthreads = 1\nthreads = 2\n", 3, 0, "");
}

// ---- unknown names ---------------------------------------------------------------------------

// ---- accounts (least privilege) ----------------------------------------------------------------

TEST(ConfigErrors, ServerUserMustNotBeRoot) {
    EXPECT_CONFIG_ERROR("[server]\nuser = \"root\"\n", 2, 0, "must not be root");
}

TEST(ConfigErrors, TheConsoleListensOnLoopbackOnly) {
    EXPECT_CONFIG_ERROR("[console]\nlisten = \"0.0.0.0:8025\"\n", 2, 0, "must be a loopback address");
    EXPECT_CONFIG_ERROR("[console]\nlisten = \"[::]:8025\"\n", 2, 0, "must be a loopback address");
    EXPECT_CONFIG_ERROR("[console]\nlisten = \"127.0.0.1\"\n", 2, 0, "has '127.0.0.1'");
    // Off loopback only with TLS, and TLS only with a login to ask for.
    EXPECT_CONFIG_ERROR("[console]\ntls = true\n", 2, 0, "asks for a login");
    EXPECT_TRUE(load_string("[console]\nlisten = \"0.0.0.0:8443\"\ntls = true\ntoken_file = \"/etc/t\"\n").config);
}

TEST(ConfigErrors, AccountNamesAreNames) {
    EXPECT_CONFIG_ERROR("[server]\nuser = \"\"\n", 2, 0, "must be an account name");
    EXPECT_CONFIG_ERROR("[server]\nuser = \"-rf\"\n", 2, 0, "must be an account name");
    EXPECT_CONFIG_ERROR("[server]\ngroup = \"a b\"\n", 2, 0, "must be a group name");
    EXPECT_CONFIG_ERROR("[control]\ngroup = \"x/y\"\n", 2, 0, "must be a group name");
}

TEST(ConfigErrors, UnknownKeyNamesKeyAndTable) {
    const auto e = error_of("[server]\nhostname = \"a.example\"\nlistne = [\"127.0.0.1:25\"]\n");
    EXPECT_EQ(e.line, 3u);
    EXPECT_EQ(e.column, 1u);
    EXPECT_EQ(e.message, "unknown key 'listne' in [server]");
    EXPECT_EQ(e.str(), "test.toml:3:1: unknown key 'listne' in [server]");
}

TEST(ConfigErrors, UnknownKeyInEveryTable) {
    EXPECT_CONFIG_ERROR("[limits]\n\nrecipient = 100\n", 3, 1, "unknown key 'recipient' in [limits]");
    EXPECT_CONFIG_ERROR("[spool]\npath = \"x\"\nsynch = \"fsync\"\n", 3, 1, "unknown key 'synch' in [spool]");
    EXPECT_CONFIG_ERROR("[relay]\n  trusted = []\n", 2, 3, "unknown key 'trusted' in [relay]");
    EXPECT_CONFIG_ERROR("[smtp]\nvrfy = true\nexpn = true\n", 3, 1, "unknown key 'expn' in [smtp]");
    EXPECT_CONFIG_ERROR("[log]\nlevle = \"info\"\n", 2, 1, "unknown key 'levle' in [log]");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\ncatchall = true\n", 3, 1,
                        "unknown key 'catchall' in [[domain]]");
}

TEST(ConfigErrors, UnknownTable) {
    EXPECT_CONFIG_ERROR("[server]\n\n[sevrer]\nthreads = 1\n", 3, 0, "unknown table [sevrer]");
}

TEST(ConfigErrors, UnknownTopLevelKey) {
    EXPECT_CONFIG_ERROR("# comment\nthreads = 4\n", 2, 1, "unknown key 'threads'");
}

TEST(ConfigErrors, ControlCharactersInAKeyAreEscapedSoTheMessageIsOneLine) {
    const auto e = error_of("[log]\n\"a\\nb\" = 1\n");
    EXPECT_EQ(e.line, 2u);
    EXPECT_EQ(e.message, "unknown key 'a\\nb' in [log]");
}

// Found by tests/fuzz/fuzz_config.cpp: an unknown table's name went into the message raw.
TEST(ConfigErrors, ControlCharactersInAnUnknownTableNameAreEscapedToo) {
    const auto e = error_of("[\"\\u0007bell\"]\n[\"x\\ny\"]\n");
    EXPECT_EQ(e.line, 1u);
    EXPECT_TRUE(e.message.starts_with("unknown table [") && e.message.ends_with("bell]")) << e.str();
    for (char c : e.str()) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << e.str();
}

TEST(ConfigErrors, KnownTableGivenAsValue) {
    EXPECT_CONFIG_ERROR("\nserver = 1\n", 2, 1, "'server' must be a table");
}

TEST(ConfigErrors, FirstErrorInFileOrderIsReported) {
    // toml++ keeps keys sorted; the report must still be the earliest line.
    EXPECT_CONFIG_ERROR("[server]\nzzz = 1\naaa = 2\n", 2, 1, "unknown key 'zzz'");
    EXPECT_CONFIG_ERROR("[spool]\nsync = \"x\"\n[limits]\nrecipients = 1\n", 2, 0, "'sync' in [spool]");
}

// ---- types -----------------------------------------------------------------------------------

TEST(ConfigErrors, WrongTypes) {
    EXPECT_CONFIG_ERROR("[server]\nthreads = \"4\"\n", 2, 11, "'threads' in [server] must be an integer, not a string");
    EXPECT_CONFIG_ERROR("[server]\nhostname = 1\n", 2, 12, "must be a string, not an integer");
    EXPECT_CONFIG_ERROR("[server]\nlisten = \"127.0.0.1:25\"\n", 2, 10, "must be an array, not a string");
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"127.0.0.1:25\", 26]\n", 2, 27, "must hold strings, not an integer");
    EXPECT_CONFIG_ERROR("[limits]\nmessage_size = 1.5e6\n", 2, 0, "must be an integer, not a floating-point number");
    EXPECT_CONFIG_ERROR("[smtp]\nvrfy = \"yes\"\n", 2, 8, "must be a boolean, not a string");
    EXPECT_CONFIG_ERROR("[log]\ndialog = 1\n", 2, 0, "must be a boolean");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nmailboxes = \"alice\"\n", 3, 0, "must be an array");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\ncatch_all = \"true\"\n", 3, 0, "must be a boolean");
}

TEST(ConfigErrors, DomainMustBeArrayOfTables) {
    EXPECT_CONFIG_ERROR("\n[domain]\nname = \"a.example\"\n", 2, 0, "[[domain]]");
    EXPECT_CONFIG_ERROR("\n\ndomain = []\n", 3, 1, "[[domain]]");
    EXPECT_CONFIG_ERROR("domain = [1]\n", 1, 1, "[[domain]]");
}

TEST(ConfigErrors, ControlCharactersInStrings) {
    EXPECT_CONFIG_ERROR("[spool]\npath = \"/var/spool\\u0000x\"\n", 2, 8, "control characters");
    EXPECT_CONFIG_ERROR("[log]\nfile = \"a\\nb\"\n", 2, 0, "control characters");
}

// ---- ranges ----------------------------------------------------------------------------------

TEST(ConfigErrors, RecipientsBelow100_Rfc5321_4_5_3_1_8) {
    EXPECT_CONFIG_ERROR("[limits]\nerrors = 5\nrecipients = 99\n", 3, 14, "RFC 5321 4.5.3.1.8");
    EXPECT_CONFIG_ERROR("[limits]\nrecipients = -1\n", 2, 0, "at least 100");
}

TEST(ConfigErrors, MessageSizeBelow1024) {
    EXPECT_CONFIG_ERROR("[limits]\nmessage_size = 1023\n", 2, 16, "at least 1024");
}

TEST(ConfigErrors, TimeoutsAtLeastOneSecond) {
    EXPECT_CONFIG_ERROR("[limits]\ncommand_timeout = 0\n", 2, 0, "'command_timeout' in [limits] must be 1 to 86400");
    EXPECT_CONFIG_ERROR("[limits]\n\ndata_timeout = 0\n", 3, 0, "'data_timeout' in [limits] must be 1 to 86400");
    EXPECT_CONFIG_ERROR("[limits]\ndata_timeout = 86401\n", 2, 0, "must be 1 to 86400");
}

TEST(ConfigErrors, OtherLimits) {
    EXPECT_CONFIG_ERROR("[limits]\nconnections = 0\n", 2, 0, "'connections' in [limits] must be at least 1");
    EXPECT_CONFIG_ERROR("[limits]\nconnections_per_client = -5\n", 2, 0, "at least 0");
    EXPECT_CONFIG_ERROR("[limits]\nconnection_rate = -1\n", 2, 0, "at least 0");
    EXPECT_CONFIG_ERROR("[limits]\nmessage_rate = -1\n", 2, 0, "at least 0");
    EXPECT_CONFIG_ERROR("[limits]\nrecipient_rate = -1\n", 2, 0, "at least 0");
    EXPECT_CONFIG_ERROR("[limits]\ngreeting_delay = 61\n", 2, 0, "must be 0 to 60");
    EXPECT_CONFIG_ERROR("[limits]\nerrors = 0\n", 2, 0, "'errors' in [limits] must be at least 1");
    EXPECT_CONFIG_ERROR("[server]\nthreads = -1\n", 2, 0, "must be 0 to 1024");
    EXPECT_CONFIG_ERROR("[server]\nthreads = 1025\n", 2, 0, "must be 0 to 1024");
}

// ---- listen addresses ------------------------------------------------------------------------

TEST(ConfigErrors, ListenPortsOneTo65535) {
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\n  \"127.0.0.1:25\",\n  \"127.0.0.1:0\",\n]\n", 4, 3, "port must be 1 to 65535");
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"127.0.0.1:65536\"]\n", 2, 11, "port must be 1 to 65535");
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"127.0.0.1:\"]\n", 2, 0, "port");
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"127.0.0.1:+25\"]\n", 2, 0, "port");
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"127.0.0.1:2a\"]\n", 2, 0, "port");
}

TEST(ConfigErrors, BadListenAddresses) {
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"127.0.0.1\"]\n", 2, 0, "HOST:PORT");
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"::1:25\"]\n", 2, 0, "brackets");
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"localhost:25\"]\n", 2, 0, "not an IPv4 address");
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"[::1:25\"]\n", 2, 0, "");
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"[127.0.0.1]:25\"]\n", 2, 0, "not an IPv6 address");
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"256.0.0.1:25\"]\n", 2, 0, "");
    EXPECT_CONFIG_ERROR("[server]\nlisten = []\n", 2, 0, "at least one");
    EXPECT_CONFIG_ERROR("[server]\nlisten = [\"[::1]:25\", \"[::1]:25\"]\n", 2, 23, "twice");
}

// ---- networks --------------------------------------------------------------------------------

TEST(ConfigErrors, BadCidr) {
    EXPECT_CONFIG_ERROR("[relay]\ntrusted_networks = [\"10.0.0.0/8\",\n  \"10.0.0.0/33\"]\n", 3, 3, "prefix length must be 0 to 32");
    EXPECT_CONFIG_ERROR("[relay]\ntrusted_networks = [\"::/129\"]\n", 2, 0, "0 to 128");
    EXPECT_CONFIG_ERROR("[relay]\ntrusted_networks = [\"10.0.0/8\"]\n", 2, 0, "not an IPv4 or IPv6 address");
    EXPECT_CONFIG_ERROR("[relay]\ntrusted_networks = [\"example.org\"]\n", 2, 0, "not an IPv4 or IPv6 address");
    EXPECT_CONFIG_ERROR("[relay]\ntrusted_networks = [\"10.0.0.0/\"]\n", 2, 0, "prefix length");
    EXPECT_CONFIG_ERROR("[relay]\ntrusted_networks = [\"10.0.0.0/-8\"]\n", 2, 0, "prefix length");
    EXPECT_CONFIG_ERROR("[relay]\ntrusted_networks = [\"10.0.0.1/8\"]\n", 2, 0, "did you mean '10.0.0.0/8'");
}

// ---- spool, smtp, log, server ----------------------------------------------------------------

TEST(ConfigErrors, EnumeratedStrings) {
    EXPECT_CONFIG_ERROR("[spool]\nsync = \"fdatasync\"\n", 2, 8, "\"syncfs\" or \"fsync\"");
    EXPECT_CONFIG_ERROR("[log]\nlevel = \"verbose\"\n", 2, 9, "\"debug\", \"info\", \"warn\" or \"error\"");
    EXPECT_CONFIG_ERROR("[log]\nlevel = \"INFO\"\n", 2, 0, "not 'INFO'");
}

TEST(ConfigErrors, EmptyPaths) {
    EXPECT_CONFIG_ERROR("[spool]\npath = \"\"\n", 2, 0, "must not be empty");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nmaildir_root = \"\"\n", 3, 0, "must not be empty");
}

TEST(ConfigErrors, RecipientDelimiter) {
    EXPECT_CONFIG_ERROR("[smtp]\nrecipient_delimiter = \"++\"\n", 2, 23, "recipient_delimiter");
    EXPECT_CONFIG_ERROR("[smtp]\nrecipient_delimiter = \"a\"\n", 2, 0, "recipient_delimiter");
    EXPECT_CONFIG_ERROR("[smtp]\nrecipient_delimiter = \"@\"\n", 2, 0, "recipient_delimiter");
    EXPECT_CONFIG_ERROR("[smtp]\nrecipient_delimiter = \".\"\n", 2, 0, "recipient_delimiter");
}

TEST(ConfigErrors, Hostname) {
    EXPECT_CONFIG_ERROR("[server]\nhostname = \"mx example\"\n", 2, 12, "must be a domain name");
    EXPECT_CONFIG_ERROR("[server]\nhostname = \"[192.0.2.1]\"\n", 2, 0, "must be a domain name");
}

// ---- domains ---------------------------------------------------------------------------------

TEST(ConfigErrors, DomainNameMissing) {
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\n\n[[domain]]\ncatch_all = true\n", 4, 0, "'name' in [[domain]] is missing");
}

TEST(ConfigErrors, InvalidDomainNames) {
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"bad..example\"\n", 2, 8, "must be a domain name");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"\"\n", 2, 0, "must be a domain name");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"[192.0.2.1]\"\n", 2, 0, "must be a domain name");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a_b.example\"\n", 2, 0, "must be a domain name");
}

TEST(ConfigErrors, DuplicateDomainsCompareCaseInsensitively) {
    const auto e = error_of("[[domain]]\nname = \"a.example\"\n\n[[domain]]\nname = \"A.Example\"\n");
    EXPECT_EQ(e.line, 5u) << e.str();
    EXPECT_EQ(e.column, 8u) << e.str();
    EXPECT_NE(e.message.find("repeats 'a.example' (first on line 2)"), std::string::npos) << e.str();
}

TEST(ConfigErrors, InvalidMailboxNames) {
    const char* bad[] = {"Alice", ".hidden", "..", "a..b", "a/b", "a b", "", "x+y", "caf\\u00e9",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};  // 65
    for (const char* name : bad) {
        const std::string toml = std::string("[[domain]]\nname = \"a.example\"\nmailboxes = [\"ok\", \"") + name + "\"]\n";
        const auto e = error_of(toml);
        EXPECT_EQ(e.line, 3u) << name << ": " << e.str();
        EXPECT_EQ(e.column, 20u) << name << ": " << e.str();
        EXPECT_NE(e.message.find("not a mailbox name"), std::string::npos) << e.str();
    }
}

TEST(ConfigErrors, DuplicateMailbox) {
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\nmailboxes = [\"bob\", \"bob\"]\n", 3, 21, "names 'bob' twice");
}

TEST(ConfigErrors, PostmasterMustBeAMailboxName_Rfc5321_4_5_1) {
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\npostmaster = \"../root\"\n", 3, 14, "not a mailbox name");
    EXPECT_CONFIG_ERROR("[[domain]]\nname = \"a.example\"\npostmaster = \"\"\n", 3, 0, "not a mailbox name");
}

// ---- files -----------------------------------------------------------------------------------

TEST(ConfigErrors, UnreadableFileIsNamed) {
    auto r = load_file("/nonexistent/ehlo.toml");
    ASSERT_FALSE(r.config);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->file, "/nonexistent/ehlo.toml");
    EXPECT_EQ(r.error->line, 0u);
    EXPECT_EQ(r.error->str().rfind("/nonexistent/ehlo.toml: cannot read", 0), 0u) << r.error->str();
}

TEST(ConfigErrors, DirectoryIsNotAFile) {
    auto r = load_file("/");
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->str(), "/: cannot read: is a directory");
}

TEST(ConfigErrors, ParseErrorFromFileNamesTheFile) {
    auto r = load_string("[server\n", "/etc/ehlo.toml");
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->str().rfind("/etc/ehlo.toml:1:", 0), 0u) << r.error->str();
}

// ---- ConfigError::str ------------------------------------------------------------------------

TEST(ConfigErrorStr, OmitsZeroColumnAndLine) {
    EXPECT_EQ((ConfigError{"f.toml", 3, 7, "bad"}).str(), "f.toml:3:7: bad");
    EXPECT_EQ((ConfigError{"f.toml", 3, 0, "bad"}).str(), "f.toml:3: bad");
    EXPECT_EQ((ConfigError{"f.toml", 0, 0, "bad"}).str(), "f.toml: bad");
}

}  // namespace
}  // namespace ehlo::config
