// The tables behind the explanations: reply codes (RFC 5321 4.2.1 theory, 4.2.2 and 4.2.3
// list), enhanced status codes (RFC 3463 and the registry RFC 5248 set up: RFC 4954, 6531,
// 7372, 7505) and the EHLO keywords. Data, mostly; the words are the tutor's.
#include <array>
#include <cstdint>
#include <string>

#include "smtp/text.hpp"
#include "tutor/lessons.hpp"
#include "tutor/safe_text.hpp"

namespace ehlo::tutor::lessons {

namespace {

struct CodeText {
    int code;
    std::string_view words;
};

// RFC 5321 4.2.2 and 4.2.3, plus RFC 3207 (454), RFC 4954 (235, 334, 432, 454, 530, 534,
// 535, 538) and RFC 7504 (521, 556). In the RFC's own words where they are clear.
constexpr std::array kCodes = {
    CodeText{211, "System status, or system help reply"},
    CodeText{214, "Help message, for a person"},
    CodeText{220, "Service ready"},
    CodeText{221, "Service closing transmission channel"},
    CodeText{235, "Authentication succeeded"},
    CodeText{250, "Requested mail action okay, completed"},
    CodeText{251, "User not local; will forward"},
    CodeText{252, "Cannot verify the user, but will accept the message and attempt delivery"},
    CodeText{334, "Authentication challenge: send the next part of your answer"},
    CodeText{354, "Start mail input; end with <CRLF>.<CRLF>"},
    CodeText{421, "Service not available, closing transmission channel"},
    CodeText{432, "A password transition is needed"},
    CodeText{450, "Requested mail action not taken: mailbox unavailable (for now)"},
    CodeText{451, "Requested action aborted: local error in processing"},
    CodeText{452, "Requested action not taken: insufficient system storage"},
    CodeText{454, "TLS, or authentication, temporarily not available"},
    CodeText{455, "Server unable to accommodate parameters"},
    CodeText{500, "Syntax error, command unrecognized"},
    CodeText{501, "Syntax error in parameters or arguments"},
    CodeText{502, "Command not implemented"},
    CodeText{503, "Bad sequence of commands"},
    CodeText{504, "Command parameter not implemented"},
    CodeText{521, "Host does not accept mail"},
    CodeText{530, "Authentication required"},
    CodeText{534, "Authentication mechanism is too weak"},
    CodeText{535, "Authentication credentials invalid"},
    CodeText{538, "Encryption required for the requested authentication mechanism"},
    CodeText{550, "Requested action not taken: mailbox unavailable"},
    CodeText{551, "User not local"},
    CodeText{552, "Requested mail action aborted: exceeded storage allocation"},
    CodeText{553, "Requested action not taken: mailbox name not allowed"},
    CodeText{554, "Transaction failed (or, as a greeting: no SMTP service here)"},
    CodeText{555, "MAIL FROM or RCPT TO parameters not recognized or not implemented"},
    CodeText{556, "Domain does not accept mail"},
};

// RFC 5321 4.2.1: the first digit says how it went, the second what it is about.
constexpr std::array<std::string_view, 6> kFirstDigit = {
    "", "",
    "2yz, positive completion: done as asked.",
    "3yz, positive intermediate: so far so good, the server waits for more (the message after "
    "DATA, the next part of a login after AUTH).",
    "4yz, transient negative completion: not now. Nothing was done, but the same command may work "
    "later; a mail program tries again in a while.",
    "5yz, permanent negative completion: no. Sending the same thing again will fail again; "
    "something must change first.",
};
constexpr std::array<std::string_view, 6> kSecondDigit = {
    "x0z: about syntax.",
    "x1z: information.",
    "x2z: about the connection.",
    "x3z: (not used)",
    "x4z: (not used)",
    "x5z: about the mail system.",
};

// RFC 3463 3.1: the class, the first number of an enhanced code.
std::string_view enhanced_class(char c) {
    switch (c) {
        case '2': return "success";
        case '4': return "persistent transient failure";
        case '5': return "permanent failure";
        default: return "unknown class";
    }
}

// RFC 3463 2 and 3.1-3.8: the subject, the second number.
constexpr std::array<std::string_view, 8> kSubjects = {
    "other or undefined", "addressing", "mailbox", "mail system",
    "network and routing", "mail delivery protocol", "message content or media", "security or policy",
};

struct Detail {
    std::string_view code;  // "subject.detail"
    std::string_view words;
    std::string_view rfc;
};

// The enhanced codes one meets, in RFC 3463's words (others from the RFCs named).
constexpr std::array kDetails = {
    Detail{"0.0", "other undefined status", "RFC 3463 3.1"},
    Detail{"1.0", "other address status", "RFC 3463 3.2"},
    Detail{"1.1", "bad destination mailbox address: no such mailbox here", "RFC 3463 3.2"},
    Detail{"1.2", "bad destination system address: no such domain, or not one this system takes mail for",
           "RFC 3463 3.2"},
    Detail{"1.3", "bad destination mailbox address syntax", "RFC 3463 3.2"},
    Detail{"1.4", "destination mailbox address ambiguous", "RFC 3463 3.2"},
    Detail{"1.5", "destination address valid", "RFC 3463 3.2"},
    Detail{"1.6", "destination mailbox has moved, no forwarding address", "RFC 3463 3.2"},
    Detail{"1.7", "bad sender's mailbox address syntax", "RFC 3463 3.2"},
    Detail{"1.8", "bad sender's system address", "RFC 3463 3.2"},
    Detail{"1.10", "recipient address has null MX: the domain takes no mail", "RFC 7505"},
    Detail{"2.0", "other or undefined mailbox status", "RFC 3463 3.3"},
    Detail{"2.1", "mailbox disabled, not accepting messages", "RFC 3463 3.3"},
    Detail{"2.2", "mailbox full", "RFC 3463 3.3"},
    Detail{"2.3", "message length exceeds administrative limit", "RFC 3463 3.3"},
    Detail{"2.4", "mailing list expansion problem", "RFC 3463 3.3"},
    Detail{"3.0", "other or undefined mail system status", "RFC 3463 3.4"},
    Detail{"3.1", "mail system full", "RFC 3463 3.4"},
    Detail{"3.2", "system not accepting network messages (shutting down, or refusing)", "RFC 3463 3.4"},
    Detail{"3.3", "system not capable of selected features", "RFC 3463 3.4"},
    Detail{"3.4", "message too big for system", "RFC 3463 3.4"},
    Detail{"3.5", "system incorrectly configured", "RFC 3463 3.4"},
    Detail{"4.0", "other or undefined network or routing status", "RFC 3463 3.5"},
    Detail{"4.1", "no answer from host", "RFC 3463 3.5"},
    Detail{"4.2", "bad connection (or the connection timed out)", "RFC 3463 3.5"},
    Detail{"4.3", "directory server failure (DNS, typically)", "RFC 3463 3.5"},
    Detail{"4.4", "unable to route", "RFC 3463 3.5"},
    Detail{"4.5", "mail system congestion", "RFC 3463 3.5"},
    Detail{"4.6", "routing loop detected", "RFC 3463 3.5"},
    Detail{"4.7", "delivery time expired", "RFC 3463 3.5"},
    Detail{"5.0", "other or undefined protocol status", "RFC 3463 3.6"},
    Detail{"5.1", "invalid command (or not in this order)", "RFC 3463 3.6"},
    Detail{"5.2", "syntax error", "RFC 3463 3.6"},
    Detail{"5.3", "too many recipients", "RFC 3463 3.6"},
    Detail{"5.4", "invalid command arguments", "RFC 3463 3.6"},
    Detail{"5.5", "wrong protocol version", "RFC 3463 3.6"},
    Detail{"5.6", "authentication exchange line is too long", "RFC 4954 6"},
    Detail{"6.0", "other or undefined media error", "RFC 3463 3.7"},
    Detail{"6.1", "media not supported", "RFC 3463 3.7"},
    Detail{"6.2", "conversion required and prohibited", "RFC 3463 3.7"},
    Detail{"6.3", "conversion required but not supported", "RFC 3463 3.7"},
    Detail{"6.4", "conversion with loss performed", "RFC 3463 3.7"},
    Detail{"6.5", "conversion failed", "RFC 3463 3.7"},
    Detail{"6.7", "non-ASCII addresses not permitted (SMTPUTF8 needed)", "RFC 6531 3.5"},
    Detail{"7.0", "other or undefined security status (often: log in, or start TLS, first)", "RFC 3463 3.8"},
    Detail{"7.1", "delivery not authorized, message refused (a policy said no: relaying, a block list, ...)",
           "RFC 3463 3.8"},
    Detail{"7.2", "mailing list expansion prohibited", "RFC 3463 3.8"},
    Detail{"7.3", "security conversion required but not possible", "RFC 3463 3.8"},
    Detail{"7.4", "security features not supported", "RFC 3463 3.8"},
    Detail{"7.5", "cryptographic failure", "RFC 3463 3.8"},
    Detail{"7.6", "cryptographic algorithm not supported", "RFC 3463 3.8"},
    Detail{"7.7", "message integrity failure", "RFC 3463 3.8"},
    Detail{"7.8", "authentication credentials invalid", "RFC 4954 6"},
    Detail{"7.9", "authentication mechanism is too weak", "RFC 4954 6"},
    Detail{"7.11", "encryption required for the requested authentication mechanism", "RFC 4954 6"},
    Detail{"7.12", "a password transition is needed", "RFC 4954 6"},
    Detail{"7.23", "SPF validation failed", "RFC 7372 3"},
    Detail{"7.25", "reverse DNS validation failed", "RFC 7372 3"},
    Detail{"7.26", "multiple authentication checks failed", "RFC 7372 3"},
    Detail{"7.27", "sender address has null MX: replies could not reach it", "RFC 7505"},
};

std::string number(std::uint64_t n) { return std::to_string(n); }

// "26214400" -> "25 MiB"; small numbers stay in octets.
std::string size_words(std::uint64_t octets) {
    if (octets >= (1u << 20) && octets % (1u << 20) == 0) return number(octets >> 20) + " MiB";
    if (octets >= (1u << 20)) return number(octets / 1000000) + " MB";
    if (octets >= 1024 && octets % 1024 == 0) return number(octets >> 10) + " KiB";
    return number(octets) + " octets";
}

}  // namespace

std::string_view code_meaning(int code) {
    for (const auto& c : kCodes)
        if (c.code == code) return c.words;
    return {};
}

Note explain_code(const smtp::Reply& reply) {
    const int first = reply.code / 100, second = reply.code / 10 % 10;
    std::string title = std::to_string(reply.code);
    if (!reply.enhanced.empty()) title += " " + reply.enhanced;
    std::string text = std::to_string(reply.code);
    const std::string_view meaning = code_meaning(reply.code);
    if (!meaning.empty()) text += ": " + std::string(meaning) + ".";
    if (first >= 2 && first <= 5) text += " " + std::string(kFirstDigit[first]);
    if (second >= 0 && second <= 5 && second != 3 && second != 4) text += " " + std::string(kSecondDigit[second]);
    std::string rfc = "RFC 5321 4.2.1";

    if (!reply.enhanced.empty()) {
        const std::string& e = reply.enhanced;
        const std::size_t dot = e.find('.', 2);
        const std::string subject = e.substr(2, dot - 2);
        const std::string detail = e.substr(dot + 1);
        text += "\n" + e + ": class " + e.substr(0, 1) + " (" + std::string(enhanced_class(e[0])) + "), subject " +
                subject + " (";
        const bool known_subject = subject.size() == 1 && subject[0] >= '0' && subject[0] <= '7';
        text += known_subject ? std::string(kSubjects[subject[0] - '0']) : std::string("not defined");
        text += "), detail " + detail;
        std::string_view detail_rfc = "RFC 3463 2";
        const std::string key = subject + "." + detail;
        bool found = false;
        for (const auto& d : kDetails) {
            if (d.code == key) {
                text += ": " + std::string(d.words) + ".";
                detail_rfc = d.rfc;
                found = true;
                break;
            }
        }
        if (!found) text += known_subject ? " (a detail the tutor does not know)." : ".";
        rfc += ", " + std::string(detail_rfc);
    }
    return note(NoteKind::Code, std::move(title), std::move(text), std::move(rfc));
}

std::string extension_words(std::string_view keyword, std::string_view params) {
    const auto is = [&](std::string_view k) { return smtp::iequals(keyword, k); };
    if (is("PIPELINING")) return "PIPELINING: you may send several commands without waiting for each reply (RFC 2920).";
    if (is("SIZE")) {
        std::uint64_t n = 0;
        bool digits = !params.empty() && params.size() < 20;
        for (char c : params) {
            if (!smtp::is_digit(c)) digits = false;
            if (digits) n = n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (digits && n > 0) return "SIZE " + number(n) + ": messages up to " + size_words(n) + " (RFC 1870).";
        return "SIZE: you may declare a message's size in MAIL FROM (RFC 1870).";
    }
    if (is("8BITMIME")) return "8BITMIME: message text may use octets above 127, as in UTF-8 text (RFC 6152).";
    if (is("ENHANCEDSTATUSCODES"))
        return "ENHANCEDSTATUSCODES: replies carry a detailed code such as 2.1.5 after the three digits (RFC 2034, "
               "RFC 3463).";
    if (is("SMTPUTF8")) return "SMTPUTF8: addresses may contain UTF-8, such as jos\xc3\xa9@example.org (RFC 6531).";
    if (is("CHUNKING"))
        return "CHUNKING: BDAT may send the message in counted chunks instead of DATA's lone dot (RFC 3030).";
    if (is("BINARYMIME")) return "BINARYMIME: binary content is allowed with BDAT (RFC 3030).";
    if (is("DSN")) return "DSN: you may ask for delivery notifications with NOTIFY= and RET= (RFC 3461).";
    if (is("STARTTLS"))
        return "STARTTLS: the dialog can switch to TLS encryption; after it, you say EHLO again (RFC 3207).";
    if (is("AUTH"))
        return "AUTH " + std::string(params) + ": you may log in with one of these mechanisms (RFC 4954).";
    if (is("REQUIRETLS")) return "REQUIRETLS: a message can demand TLS on every hop (RFC 8689).";
    if (is("DELIVERBY")) return "DELIVERBY: a message can set a delivery deadline (RFC 2852).";
    if (is("ETRN")) return "ETRN: a client can ask the server to flush its queue for a domain (RFC 1985).";
    if (is("VRFY")) return "VRFY: the server may say whether an address exists (RFC 5321 3.5).";
    if (is("HELP")) return "HELP: the server answers HELP (RFC 5321 4.1.1.8).";
    if (is("MT-PRIORITY")) return "MT-PRIORITY: messages can carry a priority (RFC 6710).";
    return {};
}

}  // namespace ehlo::tutor::lessons
