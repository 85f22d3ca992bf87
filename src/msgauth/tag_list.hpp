// The tag=value lists of DKIM (RFC 6376 3.2), used also by ARC (RFC 8617 4.1) and, in the same
// shape, DMARC records (RFC 7489 6.4): "v=1; a=rsa-sha256; d=example.org".
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ehlo::msgauth {

struct Tag {
    std::string name;
    std::string value;        // without surrounding whitespace; inner FWS kept as written
    std::size_t value_begin;  // offsets of the value in the parsed text (for b= removal)
    std::size_t value_end;
};

struct TagList {
    std::vector<Tag> tags;
    const Tag* find(std::string_view name) const;  // tag names are case-sensitive (RFC 6376 3.2)
};

// Strict RFC 6376 3.2 grammar: tag-name = ALPHA *(ALPHA / DIGIT / "_"), values of VALCHAR
// (%x21-3A / %x3C-7E) separated by whitespace or folding; a duplicate tag is an error
// ("Tags with duplicate names MUST NOT occur"). nullopt with `error` set when malformed.
std::optional<TagList> parse_tag_list(std::string_view text, std::string* error = nullptr);

// Whitespace removed (FWS inside base64 values, RFC 6376 3.5 b= and bh=).
std::string without_whitespace(std::string_view text);

}  // namespace ehlo::msgauth
