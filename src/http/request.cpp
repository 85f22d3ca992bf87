#include "http/request.hpp"

#include <http_parser.h>

#include <algorithm>
#include <climits>

namespace ehlo::http {

struct RequestReader::Impl {
    Limits limits;
    http_parser parser{};
    http_parser_settings settings{};
    Request current;
    std::optional<Request> ready;
    std::string leftover;    // bytes after a complete request, for the next one
    std::size_t header_bytes = 0;
    bool in_value = false;   // the last header callback was for a value
    bool started = false;    // some octet of the current request was seen
    int refusal = 0;         // what a callback found wrong

    explicit Impl(Limits l) : limits(l) {
        http_parser_init(&parser, HTTP_REQUEST);
        parser.data = this;
        http_parser_settings_init(&settings);
        settings.on_message_begin = [](http_parser* p) {
            auto& self = *static_cast<Impl*>(p->data);
            self.started = true;
            return 0;
        };
        settings.on_url = [](http_parser* p, const char* at, std::size_t n) {
            auto& self = *static_cast<Impl*>(p->data);
            if (!self.count_header(n)) return 1;
            self.current.target.append(at, n);
            return 0;
        };
        settings.on_header_field = [](http_parser* p, const char* at, std::size_t n) {
            auto& self = *static_cast<Impl*>(p->data);
            if (!self.count_header(n)) return 1;
            if (self.in_value || self.current.headers.empty()) self.current.headers.emplace_back();
            self.in_value = false;
            std::string& name = self.current.headers.back().first;
            for (std::size_t i = 0; i < n; ++i)
                name += static_cast<char>(at[i] >= 'A' && at[i] <= 'Z' ? at[i] - 'A' + 'a' : at[i]);
            return 0;
        };
        settings.on_header_value = [](http_parser* p, const char* at, std::size_t n) {
            auto& self = *static_cast<Impl*>(p->data);
            if (!self.count_header(n)) return 1;
            if (self.current.headers.empty()) return 1;
            self.in_value = true;
            self.current.headers.back().second.append(at, n);
            return 0;
        };
        settings.on_headers_complete = [](http_parser* p) {
            auto& self = *static_cast<Impl*>(p->data);
            if (p->http_major != 1 || p->http_minor > 1) {
                self.refusal = 505;
                return -1;
            }
            if (p->upgrade || p->method == HTTP_CONNECT) {
                self.refusal = 400;  // the console speaks plain HTTP/1.1 only
                return -1;
            }
            if (p->content_length != ULLONG_MAX && p->content_length > self.limits.body_bytes) {
                self.refusal = 413;
                return -1;
            }
            return 0;
        };
        settings.on_body = [](http_parser* p, const char* at, std::size_t n) {
            auto& self = *static_cast<Impl*>(p->data);
            if (self.current.body.size() + n > self.limits.body_bytes) {
                self.refusal = 413;
                return 1;
            }
            self.current.body.append(at, n);
            return 0;
        };
        settings.on_message_complete = [](http_parser* p) {
            auto& self = *static_cast<Impl*>(p->data);
            Request& r = self.current;
            r.method = http_method_str(static_cast<http_method>(p->method));
            r.keep_alive = http_should_keep_alive(p) != 0;
            const std::size_t q = r.target.find('?');
            r.path = r.target.substr(0, q);
            r.query = q == std::string::npos ? std::string{} : r.target.substr(q + 1);
            self.ready = std::move(r);
            self.current = Request{};
            self.header_bytes = 0;
            self.in_value = false;
            self.started = false;
            // One request at a time: the rest waits until this one is answered.
            http_parser_pause(p, 1);
            return 0;
        };
    }

    bool count_header(std::size_t n) {
        header_bytes += n;
        if (header_bytes <= limits.header_bytes) return true;
        refusal = 431;
        return false;
    }

    Status run(std::string_view bytes, int& out_refusal) {
        const std::size_t used = http_parser_execute(&parser, &settings, bytes.data(), bytes.size());
        const http_errno e = HTTP_PARSER_ERRNO(&parser);
        if (ready) {
            leftover.assign(bytes.substr(std::min(used, bytes.size())));
            return Status::Ready;
        }
        if (e != HPE_OK) {
            out_refusal = refusal ? refusal : (e == HPE_HEADER_OVERFLOW ? 431 : 400);
            return Status::Refused;
        }
        return Status::NeedMore;
    }
};

RequestReader::RequestReader(Limits limits) : impl_(std::make_unique<Impl>(limits)) {}
RequestReader::~RequestReader() = default;

RequestReader::Status RequestReader::feed(std::string_view bytes) {
    if (refusal_) return Status::Refused;
    if (impl_->ready) return Status::Ready;
    // No octets is not the end of the stream (which http_parser takes a zero length for).
    if (bytes.empty()) return Status::NeedMore;
    return impl_->run(bytes, refusal_);
}

Request RequestReader::take() {
    Request r = std::move(*impl_->ready);
    impl_->ready.reset();
    http_parser_pause(&impl_->parser, 0);
    if (!impl_->leftover.empty()) {
        const std::string rest = std::move(impl_->leftover);
        impl_->leftover.clear();
        (void)impl_->run(rest, refusal_);  // feed() tells the caller what came of it
    }
    return r;
}

bool RequestReader::partial() const { return impl_->started && !impl_->ready; }

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (k == name) return std::string_view(v);
    return std::nullopt;
}

std::string query_parameter(std::string_view query, std::string_view key) {
    for (std::size_t start = 0; start <= query.size();) {
        const std::size_t end = std::min(query.find('&', start), query.size());
        const std::string_view pair = query.substr(start, end - start);
        const std::size_t eq = pair.find('=');
        if (pair.substr(0, eq) == key) {
            std::string out;
            const std::string_view v = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
            for (std::size_t i = 0; i < v.size(); ++i) {
                auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
                if (v[i] == '+') {
                    out += ' ';
                } else if (v[i] == '%' && i + 2 < v.size() && hex(v[i + 1]) >= 0 && hex(v[i + 2]) >= 0) {
                    out += static_cast<char>(hex(v[i + 1]) * 16 + hex(v[i + 2]));
                    i += 2;
                } else {
                    out += v[i];
                }
            }
            return out;
        }
        start = end + 1;
    }
    return {};
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        // CRLF (a header section, a transcript) is a line break; a bare CR is not text.
        if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default:
                if ((static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
                    out += "\xEF\xBF\xBD";
                else
                    out += c;
        }
    }
    return out;
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 204: return "No Content";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 415: return "Unsupported Media Type";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

std::string serialize(const Response& response, bool head_only) {
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + std::string(reason_phrase(response.status)) + "\r\n";
    out += "Content-Type: " + response.content_type + "\r\n";
    if (!response.stream) out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    // The console's pages are its own: nothing framed, sniffed, cached, or loaded from elsewhere.
    out += "X-Content-Type-Options: nosniff\r\n";
    out += "X-Frame-Options: DENY\r\n";
    out += "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n";
    out += "Cache-Control: no-store\r\n";
    for (const auto& [k, v] : response.headers) out += k + ": " + v + "\r\n";
    if (response.close || response.stream) out += "Connection: close\r\n";
    out += "\r\n";
    if (!head_only) out += response.body;
    return out;
}

}  // namespace ehlo::http
