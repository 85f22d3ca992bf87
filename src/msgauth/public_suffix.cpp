#include "msgauth/public_suffix.hpp"

#include <vector>

#include "msgauth/dns.hpp"
#include "msgauth/message.hpp"

namespace ehlo::msgauth {

PublicSuffixList PublicSuffixList::parse(std::string_view text) {
    PublicSuffixList list;
    while (!text.empty()) {
        const std::size_t eol = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(std::min(eol + 1, text.size()));
        // A rule is the first whitespace-free part of the line.
        const std::size_t space = line.find_first_of(" \t\r");
        line = line.substr(0, space);
        if (line.empty() || line.substr(0, 2) == "//") continue;
        std::string rule = lower(line);
        if (rule.size() > 2 && rule.compare(0, 2, "*.") == 0)
            list.wildcards_.insert(rule.substr(2));
        else if (rule[0] == '!')
            list.exceptions_.insert(rule.substr(1));
        else
            list.rules_.insert(std::move(rule));
    }
    return list;
}

std::string PublicSuffixList::organizational_domain(std::string_view domain_in) const {
    const std::string domain = normal_dns_name(domain_in);
    std::vector<std::size_t> starts = {0};  // where each suffix begins: "a.b.c", "b.c", "c"
    for (std::size_t i = 0; i < domain.size(); ++i)
        if (domain[i] == '.') starts.push_back(i + 1);
    // The longest matching rule wins; an exception rule is the suffix minus its leftmost label.
    std::size_t suffix_labels = 1;  // the implicit rule "*"
    for (std::size_t k = 0; k < starts.size(); ++k) {
        const std::string_view suffix = std::string_view(domain).substr(starts[k]);
        const std::size_t labels = starts.size() - k;
        const std::string s(suffix);
        if (exceptions_.count(s)) {
            suffix_labels = labels - 1;
            break;
        }
        if (rules_.count(s) && labels > suffix_labels) suffix_labels = labels;
        // "*.ck" matches "x.ck": a suffix of one more label than the wildcard's base
        if (k + 1 < starts.size() && wildcards_.count(std::string(std::string_view(domain).substr(starts[k + 1]))) &&
            labels > suffix_labels)
            suffix_labels = labels;
    }
    if (suffix_labels >= starts.size()) return domain;  // a public suffix: its own
    return domain.substr(starts[starts.size() - suffix_labels - 1]);
}

}  // namespace ehlo::msgauth
