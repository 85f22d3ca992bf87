// The organisational domain (RFC 7489 3.2) from the Public Suffix List: the public suffix of a
// name plus one label. The list is parsed from text (public_suffix_file.cpp reads Debian's
// file) and then only read: one instance serves every thread.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

namespace ehlo::msgauth {

// Debian package publicsuffix.
inline constexpr const char* kPublicSuffixFile = "/usr/share/publicsuffix/public_suffix_list.dat";

class PublicSuffixList {
public:
    // The list's format (https://publicsuffix.org/list/ "Format"): one rule a line, "//"
    // comments, "*." wildcards, "!" exceptions. Rules that are not ASCII (the list writes IDNs
    // in Unicode) are kept as written; mail domains arrive as A-labels, so they do not match.
    static PublicSuffixList parse(std::string_view text);

    std::size_t rules() const { return rules_.size() + wildcards_.size() + exceptions_.size(); }

    // "mail.example.co.uk" -> "example.co.uk"; a public suffix itself, or a name the list does
    // not know beyond its last label ("example" -> "example"), is its own organisational domain.
    std::string organizational_domain(std::string_view domain) const;

private:
    std::unordered_set<std::string> rules_, wildcards_, exceptions_;
};

// Reads `path` (kPublicSuffixFile). nullopt-like: an empty list if it cannot be read, `error` set.
PublicSuffixList load_public_suffix_list(const std::string& path, std::string* error = nullptr);

}  // namespace ehlo::msgauth
