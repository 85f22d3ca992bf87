// DKIM verification (RFC 6376 6, RFC 8463, RFC 8301): every DKIM-Signature of a message, up to
// a limit, each with its own verdict and the reason for it. The header section is given first;
// the body then comes in pieces as it streams to the spool (one hash per distinct body
// canonicalization, never a second read); finish() asks the DNS for the keys, one after the
// other, and answers with the verdicts. The RSA/Ed25519 work runs inside the last DNS
// callback: whoever answers the DNS decides where that CPU time is spent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "msgauth/dkim_key.hpp"
#include "msgauth/dkim_signature.hpp"
#include "msgauth/dns.hpp"
#include "msgauth/message.hpp"
#include "msgauth/result.hpp"

namespace ehlo::msgauth {

struct DkimVerifyOptions {
    // Each signature costs a DNS query and a public-key operation: a message with hundreds of
    // them must not buy that much work. Signatures past this count are reported, not checked.
    std::size_t max_signatures = 5;
    unsigned min_rsa_bits = 1024;     // RFC 8301 3.2: smaller RSA keys MUST NOT be accepted
    std::int64_t clock_skew = 300;    // seconds of t= in the future that are tolerated
};

struct DkimVerdict {
    Result result = Result::None;  // pass, fail, neutral, temperror, permerror
    std::string reason;            // why, in a few words
    std::string domain;            // d=
    std::string selector;          // s=
    std::string identity;          // i=
    std::string algorithm;         // a=
    std::string b;                 // b= as written without whitespace (header.b, RFC 6008)
    bool testing = false;          // the key has t=y
    unsigned key_bits = 0;
};

class DkimVerifier {
public:
    using Done = std::function<void(std::vector<DkimVerdict>)>;

    explicit DkimVerifier(std::vector<HeaderField> fields, DkimVerifyOptions options = {});
    ~DkimVerifier();
    DkimVerifier(DkimVerifier&&) noexcept;
    DkimVerifier& operator=(DkimVerifier&&) noexcept;

    std::size_t signatures() const;  // DKIM-Signature fields in the header section
    void body(std::string_view piece);
    // Ends the body. `done` gets one verdict per signature, top first; none at all when the
    // message is unsigned. `now` is the time in seconds since the epoch. `dns` must outlive
    // the call of `done`; the verifier itself may be destroyed once finish() returns.
    void finish(DnsLookup& dns, std::int64_t now, Done done);

private:
    struct State;
    std::shared_ptr<State> state_;
};

// One signature against its key record: the whole of RFC 6376 6.1.3 once the key is known.
// `body_hash` and `body_length` come from a BodyHasher of the signature's canonicalization.
DkimVerdict check_dkim_signature(const DkimSignature& sig, const DkimKeyRecord& key, const std::vector<HeaderField>& fields,
                                 const HeaderField& signature_field, const std::string& body_hash,
                                 std::uint64_t body_length, const DkimVerifyOptions& options);

// A verdict's start: the fields of `sig` copied in, the result left to fill.
DkimVerdict verdict_for(const DkimSignature& sig);

}  // namespace ehlo::msgauth
