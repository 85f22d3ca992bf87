// Message content: DATA (RFC 5321 4.1.1.4, dot transparency 4.5.2) and BDAT (RFC 3030), both
// through the same content checks, and the hand-over to the host.
#include "smtp/session_impl.hpp"
#include "smtp/text.hpp"

namespace ehlo::smtp {

namespace {

struct BdatArgument {
    std::uint64_t size = 0;
    bool last = false;
    bool bad_marker = false;  // the size is readable but what follows it is not "LAST"
};

// "BDAT" SP chunk-size [ SP end-marker ]; chunk-size = 1*DIGIT; end-marker = "LAST".
// A size beyond 64 bits cannot be counted off, so it is a syntax error like any other.
std::optional<BdatArgument> parse_bdat_argument(std::string_view arg) {
    BdatArgument b;
    std::size_t i = 0;
    while (i < arg.size() && is_digit(arg[i])) {
        const auto d = static_cast<std::uint64_t>(arg[i] - '0');
        if (b.size > (UINT64_MAX - d) / 10) return std::nullopt;
        b.size = b.size * 10 + d;
        ++i;
    }
    if (i == 0) return std::nullopt;
    const std::string_view rest = trim_blanks(arg.substr(i));
    if (rest.empty()) return b;
    if (i == arg.size() || arg[i] != ' ' || !iequals(rest, "LAST"))
        b.bad_marker = true;  // still a size to count off, so the chunk is not read as commands
    else
        b.last = true;
    return b;
}

}  // namespace

void Session::Impl::on_data(std::string_view) {
    if (!transaction_) {
        fail(Reply(503, "5.5.1", "Need MAIL command"));
        return;
    }
    if (bdat_used_) {
        fail(Reply(503, "5.5.1", "DATA not allowed after BDAT"));  // RFC 3030 2
        return;
    }
    if (transaction_->recipients.empty()) {
        // RFC 2920 3.1 / RFC 5321 3.3: a pipelined DATA after every RCPT was refused.
        reply(Reply(554, "5.5.1", "No valid recipients"));
        return;
    }
    if (auto refusal = host_.begin_message(*transaction_)) {
        reply(*refusal);
        return;
    }
    message_open_ = true;
    content_ = ContentCheck(config_.max_message_size);
    data_.reset();
    state_ = State::Data;
    reply(Reply(354, "", "End data with <CR><LF>.<CR><LF>"));  // RFC 2034: no code on 354
}

bool Session::Impl::step_data() {
    if (pos_ >= in_.size()) return false;
    piece_.clear();
    pos_ += data_.feed(std::string_view(in_).substr(pos_), piece_);
    // Content goes to the host as it arrives: a message is never held whole in memory.
    if (!piece_.empty()) pass_content(piece_);
    if (data_.done()) {
        state_ = State::Command;
        finish_message();
    }
    return true;
}

void Session::Impl::pass_content(std::string_view piece) {
    content_.feed(piece);
    // Once the message is known to be refused, its content is only counted, never stored.
    if (content_.acceptable()) host_.message_data(piece);
}

void Session::Impl::on_bdat(std::string_view arg) {
    const auto bdat = parse_bdat_argument(arg);
    if (!bdat) {
        // Without a size nothing can be counted off: what follows is read as commands.
        fail(Reply(501, "5.5.4", "Syntax: BDAT size [LAST]"));
        return;
    }
    const std::uint64_t max = config_.max_message_size;
    if (max != 0 && bdat->size > max) {
        // RFC 3030 2 wants a refused chunk read and discarded, to stay in step with the client.
        // A chunk larger than the SIZE we advertised (RFC 1870) on its own has no honest sender,
        // and reading it could mean gigabytes; the only way not to read it is to close. The
        // reply goes first, then 421 (RFC 5321 3.8); the network layer stops reading at once.
        host_.event("chunk-too-big", std::to_string(bdat->size));
        reset_transaction();
        reply(Reply(552, "5.3.4", "Chunk larger than the message size limit"));
        close_with(Reply(421, "4.7.0", config_.hostname + " Cannot skip a chunk of that size, closing connection"));
        return;
    }
    chunk_ = Chunk{bdat->size, bdat->size, bdat->last, std::nullopt, false, false};
    // RFC 3030 2: whatever is wrong, the chunk's octets follow the command and are read (and
    // discarded) before the reply, or they would be taken for commands.
    auto refuse = [&](Reply r, bool counts, bool ends_transaction) {
        chunk_.refusal = std::move(r);
        chunk_.refusal_counts = counts;
        chunk_.refusal_ends_transaction = ends_transaction;
    };
    if (bdat->bad_marker) {
        refuse(Reply(501, "5.5.4", "Syntax: BDAT size [LAST]"), true, true);
    } else if (greeting_ != Greeting::Ehlo) {
        refuse(Reply(503, "5.5.1", "Send EHLO first: CHUNKING is an ESMTP extension"), true, false);
    } else if (!transaction_) {
        refuse(Reply(503, "5.5.1", "Need MAIL command"), true, false);
    } else if (transaction_->recipients.empty()) {
        refuse(Reply(554, "5.5.1", "No valid recipients"), false, false);
    } else if (max != 0 && (bdat->size > max || content_.size() > max - bdat->size)) {
        refuse(Reply(552, "5.3.4", "Message too big"), true, true);  // read: at most `max` octets
    } else if (!message_open_) {
        if (auto refusal = host_.begin_message(*transaction_)) {
            refuse(std::move(*refusal), false, true);
        } else {
            message_open_ = true;
            bdat_used_ = true;
            content_ = ContentCheck(max);
        }
    }
    state_ = State::Chunk;
    if (chunk_.remaining == 0) finish_chunk();
}

bool Session::Impl::step_chunk() {
    if (pos_ >= in_.size()) return false;
    const auto available = static_cast<std::uint64_t>(in_.size() - pos_);
    const auto take = static_cast<std::size_t>(std::min(available, chunk_.remaining));
    // Binary framing: exactly the announced octets, no dot or line handling (RFC 3030 2).
    if (!chunk_.refusal) pass_content(std::string_view(in_).substr(pos_, take));
    pos_ += take;
    chunk_.remaining -= take;
    if (chunk_.remaining == 0) finish_chunk();
    return true;
}

void Session::Impl::finish_chunk() {
    state_ = State::Command;
    const Chunk chunk = std::move(chunk_);
    chunk_ = Chunk{};
    if (chunk.refusal) {
        // RFC 3030 2: after a failed chunk the client sends no more; any already pipelined
        // meet no transaction and are discarded with 503.
        if (chunk.refusal_ends_transaction) reset_transaction();
        if (chunk.refusal_counts) {
            fail(*chunk.refusal);
        } else {
            reply(*chunk.refusal);
        }
        return;
    }
    if (!chunk.last) {
        reply(Reply(250, "2.0.0", std::to_string(chunk.size) + " octets received"));
        return;
    }
    // A message ends with CRLF (RFC 5322 2.1); BDAT content may lack the last one, which is
    // added so that the host always gets whole lines.
    if (!content_.at_line_start()) pass_content("\r\n");
    finish_message();
}

void Session::Impl::finish_message() {
    content_.finish();
    if (auto refusal = content_.verdict()) {
        // RFC 5321 2.3.8 and 4.5.3.1: the whole message is refused and nothing is queued;
        // the transaction is over either way (4.1.1.4). Too big counts as an error: SIZE said
        // the limit.
        reset_transaction();
        if (refusal->code == 552)
            fail(*refusal);
        else
            reply(*refusal);
        return;
    }
    message_open_ = false;
    host_.event("data", "size=" + std::to_string(content_.size()));
    state_ = State::AwaitingHost;
    // A copy: message_done() (even one called from within end_message) ends the transaction.
    const Envelope envelope = *transaction_;
    host_.end_message(envelope);
}

void Session::Impl::message_done(const Reply& r) {
    if (state_ != State::AwaitingHost) return;
    state_ = State::Command;
    reply(r);
    reset_transaction();
    // A message taken forgives the idle and bad commands before it, as Postfix's smtpd does: a
    // client that reuses its connection (RSET between messages) is sending mail, not idling.
    if (r.code < 300) errors_ = junk_ = 0;
    if (close_after_message_) {
        close_with(*close_after_message_);
        return;
    }
    if (input_overflow_) {
        close_with(Reply(421, "4.7.0", config_.hostname + " Too much pipelined input, closing connection"));
        return;
    }
    process();
}

}  // namespace ehlo::smtp
