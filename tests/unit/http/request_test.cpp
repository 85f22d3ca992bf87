// The console's HTTP/1.1 request reader (RFC 9112) and response writer.
#include <gtest/gtest.h>

#include <string>

#include "http/request.hpp"

namespace ehlo::http {
namespace {

TEST(RequestReader, ASimpleGet_Rfc9112_3) {
    RequestReader r;
    ASSERT_EQ(r.feed("GET /metrics?name=x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n"),
              RequestReader::Status::Ready);
    const Request q = r.take();
    EXPECT_EQ(q.method, "GET");
    EXPECT_EQ(q.target, "/metrics?name=x");
    EXPECT_EQ(q.path, "/metrics");
    EXPECT_EQ(q.query, "name=x");
    EXPECT_EQ(q.header("host"), "127.0.0.1");
    EXPECT_EQ(q.header("accept"), "text/plain");
    EXPECT_TRUE(q.keep_alive);
}

TEST(RequestReader, OneOctetAtATimeGivesTheSameRequest) {
    const std::string wire = "POST /api/v1/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    RequestReader r;
    RequestReader::Status s = RequestReader::Status::NeedMore;
    for (std::size_t i = 0; i < wire.size(); ++i) {
        ASSERT_EQ(s, RequestReader::Status::NeedMore) << i;
        s = r.feed(wire.substr(i, 1));
    }
    ASSERT_EQ(s, RequestReader::Status::Ready);
    const Request q = r.take();
    EXPECT_EQ(q.method, "POST");
    EXPECT_EQ(q.body, "hello");
}

TEST(RequestReader, PipelinedRequestsComeOneAtATime_Rfc9112_9_3_2) {
    RequestReader r;
    ASSERT_EQ(r.feed("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c"),
              RequestReader::Status::Ready);
    EXPECT_EQ(r.take().path, "/a");
    ASSERT_EQ(r.feed(""), RequestReader::Status::Ready);
    EXPECT_EQ(r.take().path, "/b");
    EXPECT_EQ(r.feed(""), RequestReader::Status::NeedMore);
    EXPECT_TRUE(r.partial());
    ASSERT_EQ(r.feed(" HTTP/1.1\r\nHost: h\r\n\r\n"), RequestReader::Status::Ready);
    EXPECT_EQ(r.take().path, "/c");
    EXPECT_FALSE(r.partial());
}

TEST(RequestReader, ConnectionCloseAndHttp10EndTheConnection_Rfc9112_9_3) {
    RequestReader a;
    ASSERT_EQ(a.feed("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"), RequestReader::Status::Ready);
    EXPECT_FALSE(a.take().keep_alive);
    RequestReader b;
    ASSERT_EQ(b.feed("GET / HTTP/1.0\r\n\r\n"), RequestReader::Status::Ready);
    EXPECT_FALSE(b.take().keep_alive);
}

TEST(RequestReader, HeadersOverTheLimitGet431_Rfc6585_5) {
    RequestReader r(Limits{1024, 1024});
    EXPECT_EQ(r.feed("GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n"), RequestReader::Status::Refused);
    EXPECT_EQ(r.refusal(), 431);
    EXPECT_EQ(r.feed("GET / HTTP/1.1\r\n\r\n"), RequestReader::Status::Refused);  // nothing more is read
}

TEST(RequestReader, ABodyOverTheLimitGets413_Rfc9110_15_5_14) {
    RequestReader declared(Limits{1024, 10});
    EXPECT_EQ(declared.feed("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n"), RequestReader::Status::Refused);
    EXPECT_EQ(declared.refusal(), 413);
    RequestReader chunked(Limits{1024, 10});
    EXPECT_EQ(chunked.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n"),
              RequestReader::Status::Refused);
    EXPECT_EQ(chunked.refusal(), 413);
}

TEST(RequestReader, GarbageAndOtherVersionsAreRefused) {
    RequestReader garbage;
    EXPECT_EQ(garbage.feed("\x16\x03\x01\x02\x00 hello\r\n\r\n"), RequestReader::Status::Refused);
    EXPECT_EQ(garbage.refusal(), 400);
    RequestReader v2;
    EXPECT_EQ(v2.feed("GET / HTTP/2.0\r\n\r\n"), RequestReader::Status::Refused);
    EXPECT_EQ(v2.refusal(), 505);
    RequestReader smuggled;  // both framings at once: RFC 9112 6.3 says treat as an error
    EXPECT_EQ(smuggled.feed("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
              RequestReader::Status::Refused);
    RequestReader upgrade;
    EXPECT_EQ(upgrade.feed("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
              RequestReader::Status::Refused);
}

TEST(Response, CarriesLengthAndTheSecurityHeaders) {
    Response resp;
    resp.status = 404;
    resp.body = "no such page\n";
    const std::string wire = serialize(resp);
    EXPECT_EQ(wire.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << wire;
    EXPECT_NE(wire.find("Content-Length: 13\r\n"), std::string::npos);
    EXPECT_NE(wire.find("X-Content-Type-Options: nosniff\r\n"), std::string::npos);
    EXPECT_NE(wire.find("Content-Security-Policy: default-src 'self'"), std::string::npos);
    EXPECT_EQ(wire.substr(wire.size() - 13), "no such page\n");
    const std::string head = serialize(resp, true);
    EXPECT_NE(head.find("Content-Length: 13\r\n"), std::string::npos);  // RFC 9110 9.3.2: as GET, no body
    EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

TEST(HtmlEscape, MarkupAndControlsDoNotPassThrough) {
    EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>\x1b[2J"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;\xEF\xBF\xBD[2J");
    EXPECT_EQ(html_escape("Subject: a\r\nFrom: b\rc\n"), "Subject: a\nFrom: b\xEF\xBF\xBD" "c\n");
}

}  // namespace
}  // namespace ehlo::http
