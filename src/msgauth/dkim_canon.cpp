#include "msgauth/dkim_canon.hpp"

#include <algorithm>

namespace ehlo::msgauth {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

}  // namespace

const char* canon_name(Canon c) { return c == Canon::Simple ? "simple" : "relaxed"; }

std::string canonicalize_header(Canon canon, std::string_view raw) {
    if (canon == Canon::Simple) return std::string(raw) + "\r\n";
    const std::size_t colon = raw.find(':');
    std::string out;
    out.reserve(raw.size() + 2);
    // RFC 6376 3.4.2: the name in lower case, without whitespace before the colon.
    std::string_view name = raw.substr(0, colon);
    while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
    out += lower(name);
    out += ':';
    if (colon != std::string_view::npos) {
        // Unfold (every CRLF inside a field is folding), WSP runs to one SP, none at either end.
        bool space = false;
        bool started = false;
        for (char c : raw.substr(colon + 1)) {
            if (c == '\r' || c == '\n') continue;
            if (is_wsp(c)) {
                space = true;
                continue;
            }
            if (space && started) out += ' ';
            space = false;
            started = true;
            out += c;
        }
    }
    out += "\r\n";
    return out;
}

std::string canonicalize_header(Canon canon, const HeaderField& field) { return canonicalize_header(canon, field.raw); }

void BodyCanonicalizer::content_byte(char c, std::string& out) {
    if (canon_ == Canon::Relaxed && is_wsp(c)) {
        held_space_ = true;  // RFC 6376 3.4.4: runs become one SP; none at the end of a line
        return;
    }
    for (; held_crlfs_ > 0; --held_crlfs_) out += "\r\n";
    if (held_space_) out += ' ';
    held_space_ = false;
    out += c;
    emitted_ = true;
}

void BodyCanonicalizer::feed(std::string_view in, std::string& out) {
    for (char c : in) {
        if (held_cr_) {
            held_cr_ = false;
            if (c == '\n') {
                held_space_ = false;  // whitespace at the end of a line is ignored (relaxed)
                ++held_crlfs_;
                continue;
            }
            content_byte('\r', out);  // a CR not followed by LF is content
        }
        if (c == '\r')
            held_cr_ = true;
        else
            content_byte(c, out);
    }
}

void BodyCanonicalizer::finish(std::string& out) {
    if (held_cr_) content_byte('\r', out);
    held_cr_ = false;
    held_space_ = false;
    // RFC 6376 3.4.3: trailing empty lines go and the body ends with one CRLF; an empty body is
    // one CRLF. 3.4.4 (and erratum 1384): relaxed drops them too, and an empty body stays empty.
    if (canon_ == Canon::Simple || emitted_) out += "\r\n";
    held_crlfs_ = 0;
}

BodyHasher::BodyHasher(Canon canon, HashAlg hash, std::optional<std::uint64_t> limit)
    : canon_(canon), hasher_(hash), limit_(limit) {}

void BodyHasher::consume(std::string_view canonical) {
    std::uint64_t take = canonical.size();
    if (limit_) take = std::min<std::uint64_t>(take, *limit_ > length_ ? *limit_ - length_ : 0);
    hasher_.update(canonical.substr(0, static_cast<std::size_t>(take)));
    length_ += canonical.size();
}

void BodyHasher::update(std::string_view content) {
    buffer_.clear();
    canon_.feed(content, buffer_);
    consume(buffer_);
}

std::string BodyHasher::finish() {
    buffer_.clear();
    canon_.finish(buffer_);
    consume(buffer_);
    return hasher_.finish();
}

}  // namespace ehlo::msgauth
