#include "msgauth/dkim_sign.hpp"

#include <stdexcept>

#include "msgauth/dkim_signature.hpp"

namespace ehlo::msgauth {

std::vector<std::string> default_signed_headers() {
    return {"from", "reply-to", "subject", "date", "to", "cc", "message-id", "in-reply-to", "references",
            // MIME (RFC 2045 3, RFC 2183): how the body is to be read
            "mime-version", "content-type", "content-transfer-encoding", "content-disposition", "content-id",
            "content-description",
            // RFC 2369, RFC 2919, RFC 8058
            "list-id", "list-help", "list-unsubscribe", "list-unsubscribe-post", "list-subscribe", "list-post",
            "list-owner", "list-archive"};
}

DkimSigner::DkimSigner(std::vector<DkimSigningKey> keys, DkimSignOptions options)
    : keys_(std::move(keys)), options_(std::move(options)), hasher_(options_.body_canon, HashAlg::Sha256) {
    for (const DkimSigningKey& k : keys_)
        if (k.key.type == KeyType::Rsa && k.key.bits < kMinSigningRsaBits)
            throw std::invalid_argument("RSA signing keys need at least " + std::to_string(kMinSigningRsaBits) + " bits");
}

void DkimSigner::body(std::string_view piece) { hasher_.update(piece); }

std::vector<std::string> DkimSigner::header_list(const std::vector<HeaderField>& fields) const {
    std::vector<std::string> names;
    for (const std::string& name : options_.headers) {
        std::size_t count = 0;
        for (const HeaderField& f : fields)
            if (f.is(name)) ++count;
        bool over = false;
        for (const std::string& o : options_.oversigned) over = over || iequals(o, name);
        if (over) ++count;
        for (std::size_t i = 0; i < count; ++i) names.push_back(lower(name));
    }
    return names;
}

std::vector<std::string> DkimSigner::finish(const std::vector<HeaderField>& fields, std::int64_t now) {
    const std::string bh = base64_encode(hasher_.finish());
    const std::vector<std::string> names = header_list(fields);
    std::string h;
    std::size_t line = 4;  // "\th=" and the ';'
    for (const std::string& name : names) {
        if (!h.empty()) {
            h += ':';
            if (line + name.size() > 72) {  // folded before the name: FWS is allowed there (RFC 6376 3.5 h=)
                h += "\r\n\t ";
                line = 2;
            }
        }
        h += name;
        line += name.size() + 1;
    }
    std::vector<std::string> out;
    for (const DkimSigningKey& k : keys_) {
        const bool ed = k.key.type == KeyType::Ed25519;
        std::string field = "DKIM-Signature: v=1; a=";
        field += ed ? "ed25519-sha256" : "rsa-sha256";
        field += std::string("; c=") + canon_name(options_.header_canon) + "/" + canon_name(options_.body_canon);
        field += "; d=" + k.domain + "; s=" + k.selector + ";\r\n\tt=" + std::to_string(now);
        if (options_.expire_after) field += "; x=" + std::to_string(now + *options_.expire_after);
        field += ";\r\n\th=" + h + ";\r\n\tbh=" + bh + ";\r\n\tb=";
        const std::string data = signed_header_data(options_.header_canon, fields, names, field);
        const auto b = ed ? sign(k.key, HashAlg::Sha256, digest(HashAlg::Sha256, data)) : sign(k.key, HashAlg::Sha256, data);
        if (!b) throw std::runtime_error("the key for " + k.domain + " could not sign");
        field += fold_base64(base64_encode(*b), 70);
        out.push_back(std::move(field));
    }
    return out;
}

std::string dkim_sign_message(std::string_view message, const std::vector<DkimSigningKey>& keys, std::int64_t now,
                              const DkimSignOptions& options) {
    const auto parsed = parse_message(message);
    if (!parsed) throw std::invalid_argument("too many header fields");
    DkimSigner signer(keys, options);
    signer.body(message.substr(parsed->body_offset));
    std::string out;
    for (const std::string& field : signer.finish(parsed->fields, now)) out += field + "\r\n";
    out += message;
    return out;
}

}  // namespace ehlo::msgauth
