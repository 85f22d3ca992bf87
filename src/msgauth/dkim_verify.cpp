#include "msgauth/dkim_verify.hpp"

#include <optional>

namespace ehlo::msgauth {

namespace {

struct Pending {
    std::size_t field = 0;                  // index of the DKIM-Signature field
    std::optional<DkimSignature> signature;
    std::string parse_error;
    std::size_t hasher = 0;                 // index into State::hashers
    DkimVerdict verdict;
    bool decided = false;                   // verdict known without a key
};

struct HasherKey {
    Canon canon;
    HashAlg hash;
    std::optional<std::uint64_t> length;
    bool operator==(const HasherKey&) const = default;
};

DkimVerdict with(DkimVerdict v, Result result, std::string reason) {
    v.result = result;
    v.reason = std::move(reason);
    return v;
}

}  // namespace

struct DkimVerifier::State : std::enable_shared_from_this<DkimVerifier::State> {
    std::vector<HeaderField> fields;
    DkimVerifyOptions options;
    std::vector<Pending> pending;
    std::vector<HasherKey> hasher_keys;
    std::vector<BodyHasher> hashers;
    std::vector<std::string> digests;
    std::vector<std::uint64_t> lengths;
    DnsLookup* dns = nullptr;
    Done done;

    void next(std::size_t i);
    void key_answered(std::size_t i, const DnsAnswer& answer);
};

DkimVerdict verdict_for(const DkimSignature& sig) {
    DkimVerdict v;
    v.domain = sig.domain;
    v.selector = sig.selector;
    v.identity = sig.identity;
    v.algorithm = sig.algorithm;
    v.b = sig.b_text;
    return v;
}

DkimVerifier::DkimVerifier(std::vector<HeaderField> fields, DkimVerifyOptions options)
    : state_(std::make_shared<State>()) {
    State& s = *state_;
    s.fields = std::move(fields);
    s.options = options;
    for (std::size_t i = 0; i < s.fields.size(); ++i) {
        if (!s.fields[i].is("DKIM-Signature")) continue;
        Pending p;
        p.field = i;
        if (s.pending.size() >= s.options.max_signatures) {
            p.decided = true;
            p.verdict = with(p.verdict, Result::Neutral,
                             "not checked: more than " + std::to_string(s.options.max_signatures) + " signatures");
            s.pending.push_back(std::move(p));
            continue;
        }
        SignatureParse parsed = parse_dkim_signature(s.fields[i].value());
        if (!parsed.signature) {
            p.decided = true;
            p.verdict = with(p.verdict, Result::PermError, parsed.error);
            s.pending.push_back(std::move(p));
            continue;
        }
        const DkimSignature& sig = *parsed.signature;
        p.verdict = verdict_for(sig);
        const HasherKey key{sig.body_canon, sig.hash, sig.length};
        std::size_t h = 0;
        while (h < s.hasher_keys.size() && !(s.hasher_keys[h] == key)) ++h;
        if (h == s.hasher_keys.size()) {
            s.hasher_keys.push_back(key);
            s.hashers.emplace_back(key.canon, key.hash, key.length);
        }
        p.hasher = h;
        p.signature = std::move(parsed.signature);
        s.pending.push_back(std::move(p));
    }
}

DkimVerifier::~DkimVerifier() = default;
DkimVerifier::DkimVerifier(DkimVerifier&&) noexcept = default;
DkimVerifier& DkimVerifier::operator=(DkimVerifier&&) noexcept = default;

std::size_t DkimVerifier::signatures() const { return state_->pending.size(); }

void DkimVerifier::body(std::string_view piece) {
    for (BodyHasher& h : state_->hashers) h.update(piece);
}

void DkimVerifier::finish(DnsLookup& dns, std::int64_t now, Done done) {
    std::shared_ptr<State> s = std::move(state_);
    state_ = std::make_shared<State>();
    for (BodyHasher& h : s->hashers) {
        s->lengths.push_back(h.canonical_length());
        s->digests.push_back(h.finish());
    }
    s->hashers.clear();
    s->dns = &dns;
    s->done = std::move(done);
    // What needs no key is decided first: RFC 8301 3.1 (no SHA-1), x= and t= (RFC 6376 3.5).
    for (Pending& p : s->pending) {
        if (p.decided || !p.signature) continue;
        const DkimSignature& sig = *p.signature;
        if (sig.hash == HashAlg::Sha1) {
            p.verdict = with(p.verdict, Result::PermError, "rsa-sha1 is not accepted (RFC 8301 3.1)");
            p.decided = true;
        } else if (sig.expiration && now > *sig.expiration) {
            p.verdict = with(p.verdict, Result::Fail, "signature expired (x=" + std::to_string(*sig.expiration) + ")");
            p.decided = true;
        } else if (sig.timestamp && *sig.timestamp > now + s->options.clock_skew) {
            p.verdict = with(p.verdict, Result::Fail, "signature time t= is in the future");
            p.decided = true;
        }
    }
    s->next(0);
}

void DkimVerifier::State::next(std::size_t i) {
    while (i < pending.size() && pending[i].decided) ++i;
    if (i == pending.size()) {
        std::vector<DkimVerdict> verdicts;
        for (Pending& p : pending) verdicts.push_back(std::move(p.verdict));
        Done d = std::move(done);
        d(std::move(verdicts));
        return;
    }
    const DkimSignature& sig = *pending[i].signature;
    const std::string name = dkim_key_name(sig.selector, sig.domain);
    // The callback holds the state: the verifier may be gone by the time the DNS answers.
    dns->txt(name, [self = shared_from_this(), i](DnsAnswer answer) {
        self->key_answered(i, answer);
        self->next(i + 1);
    });
}

void DkimVerifier::State::key_answered(std::size_t i, const DnsAnswer& answer) {
    Pending& p = pending[i];
    const DkimSignature& sig = *p.signature;
    const std::string name = dkim_key_name(sig.selector, sig.domain);
    // RFC 6376 6.1.2: a DNS failure is temporary; no key at all is permanent.
    if (answer.status == DnsStatus::TempError) {
        p.verdict = with(p.verdict, Result::TempError, "key lookup " + name + " failed: " + answer.error);
        return;
    }
    if (answer.status != DnsStatus::Ok) {
        p.verdict = with(p.verdict, Result::PermError, "no key record at " + name);
        return;
    }
    KeyRecordParse key;
    for (const std::string& txt : answer.records) {
        key = parse_dkim_key_record(txt);
        if (key.record) break;
    }
    if (!key.record) {
        p.verdict = with(p.verdict, Result::PermError, key.error);
        return;
    }
    p.verdict = check_dkim_signature(sig, *key.record, fields, fields[p.field], digests[p.hasher], lengths[p.hasher], options);
}

DkimVerdict check_dkim_signature(const DkimSignature& sig, const DkimKeyRecord& key, const std::vector<HeaderField>& fields,
                                 const HeaderField& signature_field, const std::string& body_hash,
                                 std::uint64_t body_length, const DkimVerifyOptions& options) {
    DkimVerdict v = verdict_for(sig);
    v.testing = key.testing;
    if (key.public_data.empty()) return with(v, Result::PermError, "the key is revoked (empty p=)");
    if (key.type != sig.key_type)
        return with(v, Result::PermError, std::string("the key is of type ") + key_type_name(key.type) + ", not for " + sig.algorithm);
    if (!key.hashes.empty()) {
        const std::string wanted = sig.hash == HashAlg::Sha1 ? "sha1" : "sha256";
        bool allowed = false;
        for (const std::string& h : key.hashes) allowed = allowed || h == wanted;
        if (!allowed) return with(v, Result::PermError, "the key does not allow " + wanted + " (h=)");
    }
    if (key.strict_identity) {
        const std::string i_domain = normal_dns_name(sig.identity.substr(sig.identity.rfind('@') + 1));
        if (i_domain != sig.domain) return with(v, Result::PermError, "the key requires i= in d= itself (t=s)");
    }
    std::string error;
    const auto public_key = public_key_from_record(key.type, key.public_data, &error);
    if (!public_key) return with(v, Result::PermError, "unusable key: " + error);
    v.key_bits = public_key->bits;
    if (public_key->type == KeyType::Rsa && public_key->bits < options.min_rsa_bits)
        return with(v, Result::PermError,
                    "RSA key of " + std::to_string(public_key->bits) + " bits, under " + std::to_string(options.min_rsa_bits) +
                        " (RFC 8301 3.2)");
    if (sig.length && *sig.length > body_length) return with(v, Result::Fail, "the body is shorter than l=");
    if (body_hash != sig.bh) return with(v, Result::Fail, "body hash mismatch (the body was changed)");

    const std::string data = signed_header_data(sig.header_canon, fields, sig.headers,
                                                without_tag_value(signature_field.raw, "b"), &signature_field);
    // RFC 8463 3: Ed25519 signs the SHA-256 hash of the data; RSA hashes it itself.
    const bool good = sig.key_type == KeyType::Ed25519 ? verify(*public_key, sig.hash, digest(HashAlg::Sha256, data), sig.b)
                                                       : verify(*public_key, sig.hash, data, sig.b);
    if (!good) return with(v, Result::Fail, "signature does not verify (signed header fields changed, or another key)");
    return with(v, Result::Pass, key.testing ? "good signature (key in testing mode, t=y)" : "good signature");
}

}  // namespace ehlo::msgauth
