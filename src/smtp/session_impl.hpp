// The inside of Session, shared by the files that implement it:
//   session.cpp              input loop, replies, error counting, closing
//   session_commands.cpp     EHLO, HELO, RSET, NOOP, HELP, VRFY, QUIT, STARTTLS
//   session_transaction.cpp  MAIL and RCPT
//   session_message.cpp      DATA and BDAT: content framing, checks, hand-over to the host
//   session_auth.cpp         AUTH: PLAIN and LOGIN, hand-over to the host
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/command.hpp"
#include "smtp/content_check.hpp"
#include "smtp/data_reader.hpp"
#include "smtp/line_reader.hpp"
#include "smtp/session.hpp"

namespace ehlo::smtp {

// Input kept while the host makes a message durable. The network layer stops reading then;
// a client that pipelines beyond this is abusing RFC 2920 and is closed after the reply.
inline constexpr std::size_t kMaxPendingInput = 64 * 1024;

struct Session::Impl {
    // What the next input octets are.
    enum class State {
        Command,       // command lines
        Data,          // content after 354, up to <CRLF>.<CRLF>
        Chunk,         // the octets announced by BDAT
        AwaitingHost,  // end_message() called; input is held until message_done()
        StartTls,      // 220 to STARTTLS sent; input is discarded until tls_started()
        Auth,          // 334 sent: the next line is an AUTH response
        AwaitingAuth,  // authenticate() called; input is held until auth_done()
        Closed,
    };
    // What the client said to open the session (RFC 5321 4.1.1.1).
    enum class Greeting { None, Helo, Ehlo };

    // The BDAT command being read (RFC 3030 2).
    struct Chunk {
        std::uint64_t size = 0;
        std::uint64_t remaining = 0;
        bool last = false;
        std::optional<Reply> refusal;   // the chunk is read and discarded, then this is sent
        bool refusal_counts = false;    // a sequence error, counted towards max_errors
        bool refusal_ends_transaction = false;
    };

    Impl(const SessionConfig& c, ClientInfo ci, SessionHost& h);

    using Handler = void (Impl::*)(std::string_view argument);
    static const std::array<Handler, kVerbCount> kHandlers;

    // session.cpp
    void receive(std::string_view bytes);
    void process();
    bool step_command();
    void execute(std::string_view line);
    void reply(const Reply& r);
    void fail(const Reply& r);
    // Replies as usual; past max_junk_commands such commands count as errors, so a client
    // cannot keep a session (and the log) busy forever with commands that never send mail.
    void junk(const Reply& r);
    // One more error; at max_errors the session logs `event` and closes with `closing`.
    void count_error(std::string_view event, std::string_view detail, const Reply& closing);
    void close();
    void close_with(const Reply& r);
    void close_or_defer(const Reply& r);
    void reset_transaction();
    bool enhanced_codes() const;
    bool authenticated() const { return !authenticated_user_.empty(); }
    bool auth_offered() const;
    std::string protocol() const;

    // session_commands.cpp
    void on_helo(std::string_view arg);
    void on_ehlo(std::string_view arg);
    void on_rset(std::string_view arg);
    void on_noop(std::string_view arg);
    void on_help(std::string_view arg);
    void on_vrfy(std::string_view arg);
    void on_quit(std::string_view arg);
    void on_starttls(std::string_view arg);
    void on_not_implemented(std::string_view arg);
    void tls_started();

    // session_auth.cpp
    enum class AuthMechanism { Plain, Login };
    void on_auth(std::string_view arg);
    bool step_auth();
    void auth_response(std::string_view base64);
    void submit_credentials(std::string user, std::string password);
    void auth_done(AuthVerdict verdict);

    // session_transaction.cpp
    void on_mail(std::string_view arg);
    void on_rcpt(std::string_view arg);

    // session_message.cpp
    void on_data(std::string_view arg);
    void on_bdat(std::string_view arg);
    bool step_data();
    bool step_chunk();
    void finish_chunk();
    void pass_content(std::string_view piece);
    void finish_message();
    void message_done(const Reply& r);

    const SessionConfig config_;
    ClientInfo client_;
    SessionHost& host_;

    State state_ = State::Command;
    Greeting greeting_ = Greeting::None;
    std::string helo_;
    std::size_t errors_ = 0;
    std::size_t junk_ = 0;  // commands that move no mail: RSET, NOOP, HELP, VRFY, EHLO, HELO
    std::size_t overshoot_ = 0;  // RCPTs refused for max_recipients in this session

    std::string in_;        // received, not yet processed
    std::size_t pos_ = 0;   // processed prefix of in_
    std::string out_;       // replies not yet taken
    bool processing_ = false;
    bool input_overflow_ = false;
    std::optional<Reply> close_after_message_;  // timeout/shutdown while awaiting the host
    bool answering_ehlo_ = false;

    LineReader lines_;
    DataReader data_;
    std::string piece_;  // scratch buffer for unstuffed content

    std::optional<Envelope> transaction_;  // MAIL accepted
    bool message_open_ = false;            // begin_message() called, not yet ended or aborted
    bool bdat_used_ = false;               // this transaction's content goes by BDAT
    ContentCheck content_;
    Chunk chunk_;

    LineReader auth_lines_{kMaxAuthLine};
    AuthMechanism auth_mechanism_ = AuthMechanism::Plain;
    std::string auth_user_;           // the user of the exchange under way
    std::string authenticated_user_;  // after 235
};

}  // namespace ehlo::smtp
