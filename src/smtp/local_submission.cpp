#include "smtp/local_submission.hpp"

#include <algorithm>
#include <cctype>

#include "smtp/header_addresses.hpp"

namespace ehlo::smtp {
namespace {

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// RFC 5322 2.2: printable ASCII but ':' and SP.
bool is_field_name(std::string_view name) {
    if (name.empty()) return false;
    return std::all_of(name.begin(), name.end(), [](char c) { return c > 32 && c < 127 && c != ':'; });
}

struct Field {
    std::string name;
    std::string raw;  // the whole field with its CRLFs
};

}  // namespace

LocalInput local_input(std::string_view raw, bool dot_ends, std::size_t limit) {
    LocalInput in;
    std::size_t i = 0;
    while (i < raw.size()) {
        std::size_t end = raw.find_first_of("\r\n", i);
        std::string_view line = raw.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
        if (end == std::string_view::npos) {
            i = raw.size();
        } else if (raw[end] == '\r' && end + 1 < raw.size() && raw[end + 1] == '\n') {
            i = end + 2;
        } else {
            i = end + 1;
        }
        if (dot_ends && line == ".") break;
        if (in.content.size() + line.size() + 2 > limit) {
            in.truncated = true;
            break;
        }
        in.content.append(line);
        in.content += "\r\n";
    }
    return in;
}

std::string display_name(std::string_view name) {
    std::string clean;
    for (char c : name)
        if (static_cast<unsigned char>(c) >= 32 && c != 127) clean += c;
    const bool plain = std::all_of(clean.begin(), clean.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos ||
               static_cast<unsigned char>(c) >= 0x80;
    });
    if (plain) return clean;
    std::string quoted = "\"";
    for (char c : clean) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
    }
    return quoted + "\"";
}

LocalMessage complete_local_message(std::string content, const LocalHeaders& h) {
    LocalMessage out;
    std::vector<Field> fields;
    std::size_t pos = 0;
    while (pos < content.size()) {
        const std::size_t end = content.find("\r\n", pos);
        if (end == std::string::npos) break;
        const std::string_view line(content.data() + pos, end - pos);
        if (line.empty()) {
            pos = end + 2;
            break;
        }
        if ((line[0] == ' ' || line[0] == '\t') && !fields.empty()) {
            fields.back().raw.append(line);
            fields.back().raw += "\r\n";
            pos = end + 2;
            continue;
        }
        const std::size_t colon = line.find(':');
        std::string_view name = colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        if (!is_field_name(name)) break;  // the body begins here
        fields.push_back({std::string(name), std::string(line) + "\r\n"});
        pos = end + 2;
    }
    const std::string body = content.substr(pos);

    auto has = [&](std::string_view name) {
        return std::any_of(fields.begin(), fields.end(), [&](const Field& f) { return iequal(f.name, name); });
    };
    if (h.extract_recipients) {
        // RFC 5322 3.6.6: a message being resent is addressed by its Resent- fields.
        const bool resent = has("Resent-To") || has("Resent-Cc") || has("Resent-Bcc");
        for (const Field& f : fields) {
            const bool to = resent ? (iequal(f.name, "Resent-To") || iequal(f.name, "Resent-Cc") || iequal(f.name, "Resent-Bcc"))
                                   : (iequal(f.name, "To") || iequal(f.name, "Cc") || iequal(f.name, "Bcc"));
            if (!to) continue;
            const std::string value = f.raw.substr(f.raw.find(':') + 1);
            auto list = header_addresses(value);
            if (!list) {
                out.problem = f.name + ": not a list of addresses";
                continue;
            }
            for (auto& a : *list) out.recipients.push_back(std::move(a));
        }
    }
    std::string headers;
    for (const Field& f : fields) {
        // Bcc is the recipients' secret from one another (RFC 5322 3.6.3).
        if (h.extract_recipients && (iequal(f.name, "Bcc") || iequal(f.name, "Resent-Bcc"))) continue;
        headers += f.raw;
    }
    if (!has("From")) {
        const std::string name = display_name(h.full_name);
        headers += "From: " + (name.empty() ? h.from : name + " <" + h.from + ">") + "\r\n";
    }
    if (!has("Date")) headers += "Date: " + h.date + "\r\n";
    if (!has("Message-ID")) headers += "Message-ID: " + h.message_id + "\r\n";
    out.content = headers + "\r\n" + body;
    return out;
}

}  // namespace ehlo::smtp
