#include "msgauth/arc.hpp"

#include <map>
#include <optional>

#include "msgauth/dkim_key.hpp"
#include "msgauth/tag_list.hpp"

namespace ehlo::msgauth {

namespace {

struct ArcSig {
    int instance = 0;
    DkimSignature sig;
    std::string cv;  // ARC-Seal only
};

std::optional<int> instance_number(std::string_view text) {
    text = trim(text);
    if (text.empty() || text.size() > 2) return std::nullopt;
    int n = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    if (n < 1 || n > kArcMaxInstances) return std::nullopt;
    return n;
}

// RFC 8617 4.1.1: "i=N; ..." at the start of ARC-Authentication-Results.
std::optional<int> aar_instance(std::string_view value) {
    const std::size_t semi = value.find(';');
    if (semi == std::string_view::npos) return std::nullopt;
    std::string_view tag = trim(value.substr(0, semi));
    if (tag.size() < 3 || tag.substr(0, 2) != "i=") return std::nullopt;
    return instance_number(tag.substr(2));
}

// RFC 8617 4.1.2 (ARC-Message-Signature) and 4.1.3 (ARC-Seal, relaxed only, no h= or bh=).
std::optional<ArcSig> parse_arc_signature(std::string_view value, bool seal, std::string& error) {
    const auto tags = parse_tag_list(value, &error);
    if (!tags) return std::nullopt;
    const auto get = [&](const char* name) -> const std::string* {
        const Tag* t = tags->find(name);
        return t ? &t->value : nullptr;
    };
    std::vector<const char*> required = {"i", "a", "b", "d", "s"};
    if (seal) required.push_back("cv");
    else {
        required.push_back("bh");
        required.push_back("h");
    }
    for (const char* r : required)
        if (!get(r)) {
            error = std::string("no ") + r + "= tag";
            return std::nullopt;
        }
    ArcSig a;
    const auto i = instance_number(*get("i"));
    if (!i) {
        error = "bad i=";
        return std::nullopt;
    }
    a.instance = *i;
    DkimSignature& s = a.sig;
    s.algorithm = lower(*get("a"));
    if (s.algorithm == "ed25519-sha256")
        s.key_type = KeyType::Ed25519;
    else if (s.algorithm != "rsa-sha256") {
        error = "unsupported a=" + s.algorithm;
        return std::nullopt;
    }
    s.b_text = without_whitespace(*get("b"));
    const auto b = base64_decode(s.b_text);
    s.domain = normal_dns_name(*get("d"));
    s.selector = lower(*get("s"));
    s.identity = "@" + s.domain;
    if (!b || b->empty() || !is_query_name(dkim_key_name(s.selector, s.domain))) {
        error = "bad b=, d= or s=";
        return std::nullopt;
    }
    s.b = *b;
    s.header_canon = Canon::Relaxed;
    if (seal) {
        a.cv = lower(*get("cv"));
        if (a.cv != "none" && a.cv != "pass" && a.cv != "fail") {
            error = "bad cv=";
            return std::nullopt;
        }
        return a;
    }
    const auto bh = base64_decode(*get("bh"));
    if (!bh) {
        error = "bad bh=";
        return std::nullopt;
    }
    s.bh = *bh;
    if (const std::string* c = get("c")) {
        const std::string text = lower(without_whitespace(*c));
        const std::size_t slash = text.find('/');
        const std::string header = text.substr(0, slash), body = slash == std::string::npos ? "simple" : text.substr(slash + 1);
        if ((header != "simple" && header != "relaxed") || (body != "simple" && body != "relaxed")) {
            error = "bad c=";
            return std::nullopt;
        }
        s.header_canon = header == "simple" ? Canon::Simple : Canon::Relaxed;
        s.body_canon = body == "simple" ? Canon::Simple : Canon::Relaxed;
    } else {
        s.header_canon = s.body_canon = Canon::Simple;
    }
    const std::string h = without_whitespace(*get("h"));
    for (std::size_t at = 0; at <= h.size();) {
        const std::size_t colon = std::min(h.find(':', at), h.size());
        if (colon > at) s.headers.push_back(lower(h.substr(at, colon - at)));
        at = colon + 1;
    }
    return a;
}

// RFC 8617 5.1.1: the ARC sets 1..n in order (AAR, AMS, AS), relaxed; the last AS with b= empty
// and without its final CRLF.
std::string seal_data(const std::vector<const HeaderField*>& ordered) {
    std::string data;
    for (std::size_t k = 0; k < ordered.size(); ++k) {
        if (k + 1 < ordered.size()) {
            data += canonicalize_header(Canon::Relaxed, *ordered[k]);
        } else {
            std::string last = canonicalize_header(Canon::Relaxed, without_tag_value(ordered[k]->raw, "b"));
            last.resize(last.size() - 2);
            data += last;
        }
    }
    return data;
}

std::optional<std::string> sign_data(const Key& key, const std::string& data) {
    return key.type == KeyType::Ed25519 ? sign(key, HashAlg::Sha256, digest(HashAlg::Sha256, data)) : sign(key, HashAlg::Sha256, data);
}

bool verify_data(const Key& key, const std::string& data, const std::string& sig) {
    return key.type == KeyType::Ed25519 ? verify(key, HashAlg::Sha256, digest(HashAlg::Sha256, data), sig)
                                        : verify(key, HashAlg::Sha256, data, sig);
}

bool is_arc_field(const HeaderField& f) {
    return f.is("ARC-Seal") || f.is("ARC-Message-Signature") || f.is("ARC-Authentication-Results");
}

}  // namespace

struct ArcVerifier::State : std::enable_shared_from_this<ArcVerifier::State> {
    std::vector<HeaderField> fields;
    DkimVerifyOptions options;
    std::map<int, std::size_t> aar, ams, as;  // instance -> field index
    std::map<int, ArcSig> seals;
    std::optional<ArcSig> last_ams;
    std::optional<BodyHasher> hasher;
    std::string digest_value;
    std::uint64_t length = 0;
    ArcVerdict verdict;
    bool decided = false;
    DnsLookup* dns = nullptr;
    Done done;

    void decide(Result r, std::string reason) {
        verdict.result = r;
        verdict.reason = std::move(reason);
        decided = true;
    }
    void finish() {
        Done d = std::move(done);
        d(verdict);
    }

    void key(const DkimSignature& sig, std::function<void(std::optional<DkimKeyRecord>, std::string)> then) {
        const std::string name = dkim_key_name(sig.selector, sig.domain);
        dns->txt(name, [name, then = std::move(then)](DnsAnswer a) {
            if (a.status != DnsStatus::Ok) return then(std::nullopt, "no key at " + name + " (" + dns_status_name(a.status) + ")");
            KeyRecordParse k;
            for (const std::string& txt : a.records)
                if ((k = parse_dkim_key_record(txt)).record) break;
            then(k.record, k.error);
        });
    }

    // RFC 8617 5.2 step 5: the most recent AMS, as a DKIM signature.
    void check_ams() {
        const ArcSig& a = *last_ams;
        key(a.sig, [self = shared_from_this()](std::optional<DkimKeyRecord> k, std::string why) {
            if (!k) {
                self->decide(Result::Fail, "ARC-Message-Signature: " + why);
                return self->finish();
            }
            const ArcSig& last = *self->last_ams;
            const HeaderField& field = self->fields[self->ams.at(last.instance)];
            const DkimVerdict v =
                check_dkim_signature(last.sig, *k, self->fields, field, self->digest_value, self->length, self->options);
            if (v.result != Result::Pass) {
                self->decide(Result::Fail, "ARC-Message-Signature i=" + std::to_string(last.instance) + ": " + v.reason);
                return self->finish();
            }
            self->check_seal(self->verdict.instances);
        });
    }

    // RFC 8617 5.2 step 6: every ARC-Seal, newest first.
    void check_seal(int i) {
        if (i == 0) {
            decide(Result::Pass, "chain of " + std::to_string(verdict.instances) + " verified");
            return finish();
        }
        key(seals.at(i).sig, [self = shared_from_this(), i](std::optional<DkimKeyRecord> k, std::string why) {
            const ArcSig& s = self->seals.at(i);
            std::string error;
            const auto public_key = k && !k->public_data.empty() ? public_key_from_record(k->type, k->public_data, &error) : std::nullopt;
            if (!public_key || public_key->type != s.sig.key_type ||
                (public_key->type == KeyType::Rsa && public_key->bits < self->options.min_rsa_bits)) {
                self->decide(Result::Fail, "ARC-Seal i=" + std::to_string(i) + ": unusable key " + why + error);
                return self->finish();
            }
            std::vector<const HeaderField*> ordered;
            for (int j = 1; j <= i; ++j) {
                ordered.push_back(&self->fields[self->aar.at(j)]);
                ordered.push_back(&self->fields[self->ams.at(j)]);
                ordered.push_back(&self->fields[self->as.at(j)]);
            }
            if (!verify_data(*public_key, seal_data(ordered), s.sig.b)) {
                self->decide(Result::Fail, "ARC-Seal i=" + std::to_string(i) + " does not verify");
                return self->finish();
            }
            self->check_seal(i - 1);
        });
    }
};

ArcVerifier::ArcVerifier(std::vector<HeaderField> fields, DkimVerifyOptions options) : state_(std::make_shared<State>()) {
    state_->fields = std::move(fields);
    state_->options = options;
    read_chain(*state_);
}

void ArcVerifier::read_chain(State& s) {
    std::string error;
    for (std::size_t i = 0; i < s.fields.size() && !s.decided; ++i) {
        const HeaderField& f = s.fields[i];
        if (!is_arc_field(f)) continue;
        std::optional<int> n;
        std::map<int, std::size_t>* slot = nullptr;
        if (f.is("ARC-Authentication-Results")) {
            n = aar_instance(f.value());
            slot = &s.aar;
        } else {
            const bool seal = f.is("ARC-Seal");
            auto parsed = parse_arc_signature(f.value(), seal, error);
            if (parsed) {
                n = parsed->instance;
                if (seal)
                    s.seals[*n] = *parsed;
                else if (!s.last_ams || s.last_ams->instance < *n)
                    s.last_ams = *parsed;
            }
            slot = seal ? &s.as : &s.ams;
        }
        if (!n) s.decide(Result::Fail, "malformed " + f.name + (error.empty() ? "" : ": " + error));
        else if (!slot->emplace(*n, i).second) s.decide(Result::Fail, "two " + f.name + " fields with i=" + std::to_string(*n));
    }
    if (s.decided) return;
    if (s.aar.empty() && s.ams.empty() && s.as.empty()) return s.decide(Result::None, "no ARC fields");
    // RFC 8617 5.2 steps 2-4: sets 1..N complete, cv=none at 1 only, no cv=fail.
    int n = 0;
    for (const auto* m : {&s.aar, &s.ams, &s.as})
        if (!m->empty()) n = std::max(n, m->rbegin()->first);
    s.verdict.instances = n;
    for (int i = 1; i <= n; ++i)
        if (!s.aar.count(i) || !s.ams.count(i) || !s.as.count(i))
            return s.decide(Result::Fail, "ARC set " + std::to_string(i) + " is incomplete");
    s.verdict.sealer = s.seals.at(n).sig.domain;
    for (int i = 1; i <= n; ++i) {
        const std::string& cv = s.seals.at(i).cv;
        if (cv == "fail") return s.decide(Result::Fail, "ARC-Seal i=" + std::to_string(i) + " says cv=fail");
        if ((i == 1) != (cv == "none")) return s.decide(Result::Fail, "ARC-Seal i=" + std::to_string(i) + " has cv=" + cv);
    }
    s.hasher.emplace(s.last_ams->sig.body_canon, HashAlg::Sha256);
}

ArcVerifier::~ArcVerifier() = default;
ArcVerifier::ArcVerifier(ArcVerifier&&) noexcept = default;
ArcVerifier& ArcVerifier::operator=(ArcVerifier&&) noexcept = default;

void ArcVerifier::body(std::string_view piece) {
    if (state_->hasher) state_->hasher->update(piece);
}

void ArcVerifier::finish(DnsLookup& dns, std::int64_t now, Done done) {
    (void)now;
    std::shared_ptr<State> s = std::move(state_);
    state_ = std::make_shared<State>();
    s->dns = &dns;
    s->done = std::move(done);
    if (s->decided) return s->finish();
    s->length = s->hasher->canonical_length();
    s->digest_value = s->hasher->finish();
    s->check_ams();
}

std::vector<std::string> arc_seal(const std::vector<HeaderField>& fields, const std::string& body_hash, const DkimSigningKey& key,
                                  const std::string& auth_results, const ArcVerdict& chain, std::int64_t now,
                                  const DkimSignOptions& options) {
    const int n = chain.instances + 1;
    if (n > kArcMaxInstances) return {};
    const std::string i = "i=" + std::to_string(n);
    const bool ed = key.key.type == KeyType::Ed25519;
    const std::string a = ed ? "ed25519-sha256" : "rsa-sha256";
    const std::string common = "; a=" + a + "; d=" + key.domain + "; s=" + key.selector + ";\r\n\tt=" + std::to_string(now);

    const std::string aar = "ARC-Authentication-Results: " + i + "; " + auth_results;

    // The message signature: DKIM's, over the usual fields (never ARC's own), relaxed/relaxed.
    std::vector<HeaderField> signable;
    for (const HeaderField& f : fields)
        if (!is_arc_field(f)) signable.push_back(f);
    std::vector<std::string> names;
    for (const std::string& name : options.headers) {
        std::size_t count = 0;
        for (const HeaderField& f : signable) count += f.is(name) ? 1 : 0;
        bool over = false;
        for (const std::string& o : options.oversigned) over = over || iequals(o, name);
        for (std::size_t k = 0; k < count + (over ? 1 : 0); ++k) names.push_back(name);
    }
    std::string h;
    for (const std::string& name : names) h += (h.empty() ? "" : ":") + name;
    std::string ams = "ARC-Message-Signature: " + i + common + "; c=relaxed/relaxed;\r\n\th=" + h + ";\r\n\tbh=" +
                      base64_encode(body_hash) + ";\r\n\tb=";
    const auto ams_b = sign_data(key.key, signed_header_data(Canon::Relaxed, signable, names, ams));
    if (!ams_b) return {};
    ams += fold_base64(base64_encode(*ams_b), 70);

    std::string seal = "ARC-Seal: " + i + common + "; cv=" + (n == 1 ? "none" : chain.result == Result::Pass ? "pass" : "fail") +
                       ";\r\n\tb=";
    // The earlier sets in instance order, then the new one.
    std::vector<HeaderField> set_fields;
    for (int k = 1; k < n; ++k)
        for (const char* name : {"ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal"})
            for (const HeaderField& f : fields) {
                if (!f.is(name)) continue;
                const auto inst = f.is("ARC-Authentication-Results") ? aar_instance(f.value()) : [&] {
                    std::string e;
                    const auto p = parse_arc_signature(f.value(), f.is("ARC-Seal"), e);
                    return p ? std::optional<int>(p->instance) : std::nullopt;
                }();
                if (inst == k) set_fields.push_back(f);
            }
    for (const std::string* raw : std::vector<const std::string*>{&aar, &ams, &seal}) set_fields.push_back(HeaderField{raw->substr(0, raw->find(':')), *raw});
    std::vector<const HeaderField*> ordered;
    for (const HeaderField& f : set_fields) ordered.push_back(&f);
    const auto seal_b = sign_data(key.key, seal_data(ordered));
    if (!seal_b) return {};
    seal += fold_base64(base64_encode(*seal_b), 70);
    return {seal, ams, aar};
}

std::string arc_seal_message(std::string_view message, const DkimSigningKey& key, const std::string& auth_results,
                             const ArcVerdict& chain, std::int64_t now) {
    const auto parsed = parse_message(message);
    if (!parsed) return std::string(message);
    BodyHasher hasher(Canon::Relaxed, HashAlg::Sha256);
    hasher.update(message.substr(parsed->body_offset));
    std::string out;
    for (const std::string& f : arc_seal(parsed->fields, hasher.finish(), key, auth_results, chain, now)) out += f + "\r\n";
    return out + std::string(message);
}

}  // namespace ehlo::msgauth
