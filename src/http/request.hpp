// HTTP/1.1 requests for the console (RFC 9112), sans-I/O: bytes in, one request or a refusal
// out; no sockets, no clocks. Parsing is Debian's libhttp-parser (Node's former parser, kept
// and fuzzed for years); this wrapper adds ehlo's limits and keeps only what the console uses.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ehlo::http {

struct Request {
    std::string method;  // "GET", "POST", ...
    std::string target;  // as sent: "/metrics?x=1"
    std::string path;    // the target without its query
    std::string query;   // after '?', without it
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;
    bool keep_alive = true;

    // The first value of a header (name in lower case), if any.
    std::optional<std::string_view> header(std::string_view name) const;
};

struct Limits {
    std::size_t header_bytes = 16 * 1024;  // request line and headers together
    std::size_t body_bytes = 64 * 1024;
};

class RequestReader {
public:
    explicit RequestReader(Limits limits = {});
    ~RequestReader();
    RequestReader(const RequestReader&) = delete;
    RequestReader& operator=(const RequestReader&) = delete;

    enum class Status { NeedMore, Ready, Refused };
    // Feeds bytes from the client. Ready: take() the request (bytes after it are kept for
    // the next one, pipelined). Refused: refusal() is the status to answer (400, 413, 431,
    // 505) before closing; nothing more is read.
    Status feed(std::string_view bytes);
    Request take();
    int refusal() const { return refusal_; }
    // The client closed: whether a request was cut off in the middle (else a clean end).
    bool partial() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    int refusal_ = 0;
};

struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // added to the standard ones
    bool close = false;
    // Server-sent events: no length, the connection closes at the end, and the body is the
    // stream's events, written by the server as they come.
    bool stream = false;
};

// The response on the wire: status line, Content-Type, Content-Length, the security headers
// every console answer carries (no sniffing, no framing, a strict content security policy,
// no caching), the extra headers, the body (left out for HEAD).
std::string serialize(const Response& response, bool head_only = false);

// The value of `key` in a query ("a=1&b=x%20y"), %XX and '+' decoded; "" when absent.
std::string query_parameter(std::string_view query, std::string_view key);

// Text for HTML: & < > " ' as character references, CRLF as LF, other control octets as U+FFFD.
std::string html_escape(std::string_view text);

// "Not Found" for 404, ...
std::string_view reason_phrase(int status);

}  // namespace ehlo::http
