// ARC (RFC 8617): verifying the chain of custody a message arrives with (cv=none, pass or
// fail), and sealing it (ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal) when ehlo
// passes it on. The signatures are DKIM's (RFC 6376 3.7) with ARC's instance tag i=; the key
// records are DKIM key records. Like DkimVerifier, the body comes in pieces.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "msgauth/dkim_sign.hpp"
#include "msgauth/dkim_verify.hpp"
#include "msgauth/dns.hpp"
#include "msgauth/message.hpp"
#include "msgauth/result.hpp"

namespace ehlo::msgauth {

constexpr int kArcMaxInstances = 50;  // RFC 8617 4.2.1

struct ArcVerdict {
    Result result = Result::None;  // the chain validation status: none, pass, fail
    int instances = 0;             // the highest i= found
    std::string reason;
    std::string sealer;            // d= of the last ARC-Seal
};

class ArcVerifier {
public:
    using Done = std::function<void(ArcVerdict)>;
    explicit ArcVerifier(std::vector<HeaderField> fields, DkimVerifyOptions options = {});
    ~ArcVerifier();
    ArcVerifier(ArcVerifier&&) noexcept;
    ArcVerifier& operator=(ArcVerifier&&) noexcept;

    void body(std::string_view piece);
    // RFC 8617 5.2. `done` is called once, maybe before finish() returns.
    void finish(DnsLookup& dns, std::int64_t now, Done done);

private:
    struct State;
    static void read_chain(State& s);
    std::shared_ptr<State> state_;
};

// Seals with the next instance. `auth_results` is the payload of our Authentication-Results
// ("mx.example.net; spf=pass ..."), `chain` the ArcVerdict of the chain as it arrived
// (cv= of the new seal). The body hash comes from a BodyHasher fed while the content
// streamed (relaxed, SHA-256). Returns the three fields, to be put on top in this order
// (ARC-Seal first), raw, without the final CRLF; none if the chain already has 50 instances.
// A chain that arrived failed is sealed with cv=fail (RFC 8617 5.1.2).
std::vector<std::string> arc_seal(const std::vector<HeaderField>& fields, const std::string& body_hash,
                                  const DkimSigningKey& key, const std::string& auth_results, const ArcVerdict& chain,
                                  std::int64_t now, const DkimSignOptions& options = {});

// Whole-message conveniences (tests, operator use).
std::string arc_seal_message(std::string_view message, const DkimSigningKey& key, const std::string& auth_results,
                             const ArcVerdict& chain, std::int64_t now);

}  // namespace ehlo::msgauth
