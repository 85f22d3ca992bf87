// ehlo spf IP SENDER [HELO] and ehlo dmarc FILE: verdicts with their reasons.
#include <ctime>
#include <iostream>
#include <random>

#include "cli/auth_support.hpp"
#include "cli/commands.hpp"
#include "msgauth/auth_results.hpp"
#include "msgauth/dmarc.hpp"
#include "msgauth/inbound.hpp"
#include "msgauth/spf.hpp"

namespace ehlo::cli {

namespace {

using msgauth::printable;

std::optional<msgauth::SpfVerdict> spf_verdict(CommandDns& dns, const std::string& ip, const std::string& sender,
                                               const std::string& helo) {
    msgauth::SpfRequest r{ip, sender, helo, "unknown", static_cast<std::int64_t>(std::time(nullptr))};
    return wait_for<msgauth::SpfVerdict>(dns, [&](auto done) { msgauth::check_spf(dns.dns(), r, std::move(done)); });
}

void print_path(const msgauth::SpfVerdict& v) {
    for (const std::string& line : v.path) std::cout << "  " << line << "\n";  // already printable()
}

}  // namespace

int spf_command(const SpfCommand& c) {
    auto dns = command_dns(c.config_file);
    if (!dns) return 2;
    std::string sender = c.sender == "<>" ? std::string() : c.sender;
    const auto v = spf_verdict(*dns, c.ip, sender, c.helo);
    if (!v) {
        std::cerr << "ehlo: no answer from the DNS\n";
        return 1;
    }
    std::cout << msgauth::result_name(v->result) << "\n";
    if (!v->problem.empty()) std::cout << "problem: " << printable(v->problem) << "\n";
    if (!v->explanation.empty()) std::cout << "explanation: " << v->explanation << "\n";
    std::cout << "path (" << v->lookups << " DNS lookups, " << v->void_lookups << " void):\n";
    print_path(*v);
    return v->result == msgauth::Result::Pass ? 0 : 1;
}

int dmarc_command(const DmarcCommand& c) {
    const auto message = read_message_file(c.file);
    if (!message) return 1;
    const auto parsed = msgauth::parse_message(*message);
    if (!parsed) {
        std::cerr << "ehlo: too many header fields\n";
        return 1;
    }
    std::string psl_error;
    const msgauth::PublicSuffixList psl = msgauth::load_public_suffix_list(msgauth::kPublicSuffixFile, &psl_error);
    if (!psl_error.empty()) std::cerr << "ehlo: " << psl_error << " (package publicsuffix): organisational domains are guessed\n";
    auto dns = command_dns(c.config_file);
    if (!dns) return 2;

    msgauth::DmarcInput input;
    const msgauth::AuthorDomain author = msgauth::header_from_domain(parsed->fields);
    if (!author.problem.empty()) std::cout << "From: " << author.problem << " (RFC 7489 6.6.1: refused on reception)\n";
    input.from_domain = author.domain;
    msgauth::AuthResultsInput ar;
    ar.authserv_id = "ehlo";
    if (!c.ip.empty()) {
        const auto spf = spf_verdict(*dns, c.ip, c.mail_from, c.helo);
        if (!spf) {
            std::cerr << "ehlo: no answer from the DNS\n";
            return 1;
        }
        input.spf = spf->result;
        input.spf_domain = spf->domain;
        ar.spf = *spf;
        std::cout << "spf=" << msgauth::result_name(spf->result) << " (" << printable(spf->sender) << " from " << printable(c.ip)
                  << (spf->mechanism.empty() ? "" : ", by " + printable(spf->mechanism)) << ")\n";
    } else {
        std::cout << "spf: not checked (no --ip)\n";
    }

    msgauth::DkimVerifier verifier(parsed->fields);
    verifier.body(std::string_view(*message).substr(parsed->body_offset));
    const auto dkim = wait_for<std::vector<msgauth::DkimVerdict>>(*dns, [&](auto done) {
        verifier.finish(dns->dns(), std::time(nullptr), std::move(done));
    });
    if (!dkim) {
        std::cerr << "ehlo: no answer from the DNS\n";
        return 1;
    }
    for (const msgauth::DkimVerdict& d : *dkim)
        std::cout << "dkim=" << msgauth::result_name(d.result) << " d=" << printable(d.domain) << " s=" << printable(d.selector)
                  << " (" << printable(d.reason) << ")\n";
    if (dkim->empty()) std::cout << "dkim=none\n";
    input.dkim = *dkim;
    ar.dkim = *dkim;
    ar.dkim_checked = true;

    std::random_device random;
    const unsigned draw = std::uniform_int_distribution<unsigned>(0, 99)(random);
    const auto dmarc = wait_for<msgauth::DmarcVerdict>(*dns, [&](auto done) {
        msgauth::check_dmarc(dns->dns(), psl, input, draw, std::move(done));
    });
    if (!dmarc) {
        std::cerr << "ehlo: no answer from the DNS\n";
        return 1;
    }
    std::cout << "dmarc=" << msgauth::result_name(dmarc->result) << " header.from=" << printable(dmarc->from_domain)
              << " policy=" << msgauth::dmarc_policy_name(dmarc->policy) << "\n";
    for (const std::string& r : dmarc->reasons) std::cout << "  " << printable(r) << "\n";
    ar.dmarc = *dmarc;
    std::cout << msgauth::authentication_results_field(ar) << "\n";
    return dmarc->result == msgauth::Result::Pass ? 0 : 1;
}

}  // namespace ehlo::cli
