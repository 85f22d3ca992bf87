#include "msgauth/dkim_key.hpp"

#include "msgauth/message.hpp"
#include "msgauth/tag_list.hpp"

namespace ehlo::msgauth {

namespace {

KeyRecordParse error(std::string why) { return KeyRecordParse{std::nullopt, std::move(why)}; }

// "a:b : c" -> {"a", "b", "c"}, lower case
std::vector<std::string> colon_list(std::string_view text) {
    std::vector<std::string> out;
    const std::string compact = lower(without_whitespace(text));
    std::size_t at = 0;
    while (at <= compact.size()) {
        const std::size_t colon = std::min(compact.find(':', at), compact.size());
        if (colon > at) out.push_back(compact.substr(at, colon - at));
        at = colon + 1;
    }
    return out;
}

}  // namespace

KeyRecordParse parse_dkim_key_record(std::string_view txt) {
    std::string why;
    const auto tags = parse_tag_list(txt, &why);
    if (!tags) return error("malformed key record: " + why);
    DkimKeyRecord r;
    if (const Tag* v = tags->find("v")) {
        if (&tags->tags.front() != v) return error("v= is not the first tag of the key record (RFC 6376 3.6.1)");
        if (v->value != "DKIM1") return error("unknown key record version v=" + v->value);
    }
    if (const Tag* k = tags->find("k")) {
        const std::string type = lower(k->value);
        if (type == "rsa")
            r.type = KeyType::Rsa;
        else if (type == "ed25519")
            r.type = KeyType::Ed25519;
        else
            return error("unknown key type k=" + type);
    }
    if (const Tag* h = tags->find("h")) r.hashes = colon_list(h->value);
    if (const Tag* s = tags->find("s")) {
        bool email = false;
        for (const std::string& service : colon_list(s->value)) email = email || service == "*" || service == "email";
        if (!email) return error("the key is not for email (s=)");
    }
    if (const Tag* t = tags->find("t")) {
        for (const std::string& flag : colon_list(t->value)) {
            r.testing = r.testing || flag == "y";
            r.strict_identity = r.strict_identity || flag == "s";
        }
    }
    const Tag* p = tags->find("p");
    if (!p) return error("the key record has no p= tag");
    auto data = base64_decode(p->value);
    if (!data) return error("p= is not base64");
    r.public_data = std::move(*data);
    return KeyRecordParse{std::move(r), {}};
}

std::string dkim_key_record_text(const Key& key) {
    return std::string("v=DKIM1; k=") + key_type_name(key.type) + "; p=" + base64_encode(public_key_record_data(key));
}

std::string dkim_key_name(std::string_view selector, std::string_view domain) {
    return std::string(selector) + "._domainkey." + std::string(domain);
}

}  // namespace ehlo::msgauth
