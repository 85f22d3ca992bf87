// A SessionHost that records every call, and a Dialog that drives a Session through it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "smtp/session.hpp"

namespace ehlo::smtp::test {

struct FakeHost : SessionHost {
    // Decisions; the defaults accept everything.
    std::function<Reply(const Envelope&)> mail_verdict = [](const Envelope&) { return Reply(250, "2.1.0", "Ok"); };
    std::function<Reply(const Envelope&, const Recipient&)> rcpt_verdict = [](const Envelope&, const Recipient&) {
        return Reply(250, "2.1.5", "Ok");
    };
    std::optional<Reply> begin_refusal;
    // Called from within end_message() when set (a host that answers at once).
    Session* answer_at_once = nullptr;
    Reply queued{250, "2.0.0", "Ok: queued as TESTID"};

    // What happened.
    std::vector<Envelope> mails;
    std::vector<Recipient> rcpts;
    int begins = 0, ends = 0, aborts = 0;
    bool open = false;             // between begin_message and end/abort
    std::string content;           // of the message being received
    std::vector<std::size_t> pieces;
    std::vector<std::string> messages;      // content of each ended message
    std::vector<Envelope> envelopes;        // envelope of each ended message
    std::vector<std::string> trace_in, trace_out;
    std::vector<std::pair<std::string, std::string>> events;

    Reply check_mail(const Envelope& e) override {
        mails.push_back(e);
        return mail_verdict(e);
    }
    Reply check_rcpt(const Envelope& e, const Recipient& r) override {
        rcpts.push_back(r);
        return rcpt_verdict(e, r);
    }
    std::optional<Reply> begin_message(const Envelope&) override {
        if (begin_refusal) return begin_refusal;
        ++begins;
        open = true;
        content.clear();
        return std::nullopt;
    }
    void message_data(std::string_view piece) override {
        if (!open) throw std::logic_error("message_data outside a message");
        pieces.push_back(piece.size());
        content += piece;
    }
    void end_message(const Envelope& e) override {
        if (!open) throw std::logic_error("end_message outside a message");
        ++ends;
        open = false;
        messages.push_back(content);
        envelopes.push_back(e);
        if (answer_at_once) answer_at_once->message_done(queued);
    }
    void abort_message() override {
        if (!open) throw std::logic_error("abort_message outside a message");
        ++aborts;
        open = false;
    }
    void trace(bool from_client, std::string_view line) override {
        (from_client ? trace_in : trace_out).emplace_back(line);
    }
    void event(std::string_view what, std::string_view detail) override { events.emplace_back(what, detail); }

    bool saw_event(std::string_view what) const {
        for (const auto& e : events)
            if (e.first == what) return true;
        return false;
    }
};

inline SessionConfig test_config() {
    SessionConfig c;
    c.hostname = "mx.example";
    c.max_message_size = 1000000;
    c.max_recipients = 100;
    c.max_errors = 10;
    return c;
}

// One session with a fake host. send() feeds bytes and returns what the session answered;
// while `auto_answer` is set, a message handed to the host is answered with `host.queued` right
// after the receive() call, as the network layer does once the queue has committed it.
struct Dialog {
    SessionConfig config;
    FakeHost host;
    std::unique_ptr<Session> session;
    bool auto_answer = true;

    explicit Dialog(SessionConfig c = test_config(), ClientInfo client = {"192.0.2.1", 40000, false, {}})
        : config(std::move(c)), session(std::make_unique<Session>(config, std::move(client), host)) {}

    std::string start() {
        session->start();
        return session->take_output();
    }
    std::string send(std::string_view bytes) {
        session->receive(bytes);
        std::string out = session->take_output();
        while (auto_answer && session->awaiting_host()) {
            session->message_done(host.queued);
            out += session->take_output();
        }
        return out;
    }
    // The same bytes, one receive() call per octet.
    std::string send_bytewise(std::string_view bytes) {
        std::string out;
        for (char c : bytes) out += send(std::string_view(&c, 1));
        return out;
    }
    std::string ehlo() { return send("EHLO client.example\r\n"); }
    std::string helo() { return send("HELO client.example\r\n"); }
    // EHLO, MAIL and one RCPT, accepted.
    void open_transaction(std::string_view mail_params = "") {
        ehlo();
        send("MAIL FROM:<sender@client.example>" + std::string(mail_params.empty() ? "" : " ") +
             std::string(mail_params) + "\r\n");
        send("RCPT TO:<alice@mx.example>\r\n");
    }
};

}  // namespace ehlo::smtp::test
