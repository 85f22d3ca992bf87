// The console's answers, without a socket: which Host names it serves (DNS rebinding), and
// what each path and method gets.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "net/console.hpp"

namespace ehlo::net {
namespace {

TEST(ConsoleHost, OnlyLoopbackNamesAreServed) {
    for (const char* ok : {"127.0.0.1", "127.0.0.1:8025", "127.1.2.3:80", "localhost", "localhost:8025", "[::1]", "[::1]:8025"})
        EXPECT_TRUE(is_loopback_host_header(ok)) << ok;
    for (const char* bad : {"", "evil.example", "evil.example:8025", "127.0.0.1.evil.example", "127.0.0.1evil",
                            "[::2]:8025", "[::1]x", "localhost.evil.example", "10.0.0.1:8025", "127.0.0"})
        EXPECT_FALSE(is_loopback_host_header(bad)) << bad;
}

class ConsoleAnswers : public ::testing::Test {
protected:
    ConsoleAnswers() {
        dir_ = std::filesystem::temp_directory_path() / ("ehlo-console-" + std::to_string(::getpid()));
        queue::QueueOptions o;
        o.spool_dir = dir_ / "spool";
        queue_ = std::make_unique<queue::Queue>(o, [](const smtp::Mailbox&) { return queue::Route{}; });
        queue_->start();
        console_ = std::make_unique<Console>(*queue_, registry_, metrics_, "mx.example");
    }
    ~ConsoleAnswers() override {
        console_.reset();
        queue_.reset();
        std::filesystem::remove_all(dir_);
    }
    http::Response get(std::string path, std::string host = "127.0.0.1:8025", std::string method = "GET") {
        http::Request r;
        r.method = std::move(method);
        r.target = r.path = std::move(path);
        r.headers.emplace_back("host", std::move(host));
        return console_->answer(r);
    }

    std::filesystem::path dir_;
    observe::metrics::Registry registry_;
    observe::EhloMetrics metrics_{registry_};
    std::unique_ptr<queue::Queue> queue_;
    std::unique_ptr<Console> console_;
};

TEST_F(ConsoleAnswers, MetricsInTheTextFormat) {
    metrics_.messages_accepted.inc(3);
    const http::Response r = get("/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, observe::metrics::Registry::kContentType);
    EXPECT_NE(r.body.find("\nehlo_messages_accepted_total 3\n"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("ehlo_queue_recipients{state=\"pending\"} 0\n"), std::string::npos);
}

TEST_F(ConsoleAnswers, RefusalsByHostMethodAndPath) {
    EXPECT_EQ(get("/metrics", "evil.example").status, 403);
    http::Request no_host;
    no_host.method = "GET";
    no_host.path = "/metrics";
    EXPECT_EQ(console_->answer(no_host).status, 403);
    EXPECT_EQ(get("/metrics", "localhost", "POST").status, 405);
    EXPECT_EQ(get("/metrics/../../etc/passwd").status, 404);
    EXPECT_EQ(get("/nowhere").status, 404);
    EXPECT_EQ(get("/", "[::1]:8025", "HEAD").status, 200);
}

TEST_F(ConsoleAnswers, SearchWantsTheHistoryAndSomethingToLookFor) {
    EXPECT_EQ(get("/api/v1/search?q=x").status, 404);  // the history is off
    Console c(*queue_, registry_, metrics_, "mx.example", (dir_ / "history.db").string());
    const auto search = [&](std::string query, std::string method = "GET") {
        http::Request r;
        r.method = std::move(method);
        r.path = "/api/v1/search";
        r.query = std::move(query);
        r.headers.emplace_back("host", "127.0.0.1:8025");
        r.headers.emplace_back("content-type", "application/json");
        return c.answer(r).status;
    };
    EXPECT_EQ(search(""), 400);
    // Longer than what the history looks for: refused, not cut to a prefix search.
    EXPECT_EQ(search("q=" + std::string(observe::HistoryReader::kMaxSearchText + 1, 'a')), 400);
    EXPECT_EQ(search("q=" + std::string(observe::HistoryReader::kMaxSearchText, 'a')), 503);
    EXPECT_EQ(search("q=x", "POST"), 405);
    EXPECT_EQ(search("q=x"), 503);  // the history not written yet
}

TEST_F(ConsoleAnswers, TheIndexEscapesTheHostName) {
    Console c(*queue_, registry_, metrics_, "<script>x</script>");
    http::Request r;
    r.method = "GET";
    r.path = "/";
    r.headers.emplace_back("host", "localhost");
    const http::Response page = c.answer(r);
    EXPECT_EQ(page.body.find("<script>"), std::string::npos);
    EXPECT_NE(page.body.find("&lt;script&gt;"), std::string::npos);
}

}  // namespace
}  // namespace ehlo::net
