#include "delivery/mx.hpp"

namespace ehlo::delivery {

namespace {

// DNS names compare case-insensitively; "mx.example." and "mx.example" are the same name.
std::string normal_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::string out(name);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

}  // namespace

MxCandidates mx_candidates(std::string_view domain, std::vector<MxRecord> records,
                           const std::vector<std::string>& local_names) {
    MxCandidates c;
    for (auto& r : records) r.host = normal_name(r.host);
    const std::string name = normal_name(domain);

    if (records.empty()) {
        records.push_back({0, name});  // RFC 5321 5.1: the implicit MX
    } else if (std::all_of(records.begin(), records.end(), [](const MxRecord& r) { return r.host.empty(); })) {
        // RFC 7505 3 and 4.2: "no mail here"; the sender learns it at once instead of after
        // days of retries.
        c.error = smtp::Reply{556, "5.1.10", "Recipient address has null MX: " + name + " accepts no mail"};
        return c;
    }
    std::erase_if(records, [](const MxRecord& r) { return r.host.empty(); });
    std::stable_sort(records.begin(), records.end(),
                     [](const MxRecord& a, const MxRecord& b) { return a.preference < b.preference; });

    for (auto& r : records) {
        const bool seen = std::any_of(c.records.begin(), c.records.end(),
                                      [&](const MxRecord& kept) { return kept.host == r.host; });
        if (!seen) c.records.push_back(std::move(r));
    }

    // RFC 5321 5.1: a client that finds itself in the list discards every record of a
    // preference equal to or greater than its own.
    for (std::size_t i = 0; i < c.records.size(); ++i) {
        const bool local = std::any_of(local_names.begin(), local_names.end(),
                                       [&](const std::string& n) { return normal_name(n) == c.records[i].host; });
        if (!local) continue;
        const std::uint16_t cut = c.records[i].preference;
        std::erase_if(c.records, [&](const MxRecord& r) { return r.preference >= cut; });
        break;  // sorted: the first local name found has the lowest preference
    }
    if (c.records.empty())
        c.error = smtp::Reply{554, "5.4.6", "Mail for " + name + " loops back to myself"};
    return c;
}

}  // namespace ehlo::delivery
