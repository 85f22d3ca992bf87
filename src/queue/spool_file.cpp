#include "queue/spool_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "delivery/file_io.hpp"
#include "queue/checksum.hpp"
#include "queue/message_event.hpp"
#include "queue/spool_record.hpp"

namespace ehlo::queue {
namespace {

std::string encode_magic() {
    std::string p(kSpoolMagic);
    PayloadWriter(p).u32(kSpoolFormatVersion);
    return p;
}

std::string encode_identity(const SpoolHeader& h) {
    std::string p;
    PayloadWriter w(p);
    w.str(h.id);
    w.u64(h.arrival_us);
    return p;
}

std::string encode_sender(const std::optional<smtp::Mailbox>& sender) {
    std::string p;
    PayloadWriter w(p);
    w.u8(sender ? 1 : 0);
    w.str(sender ? std::string_view(sender->local_part) : std::string_view{});
    w.str(sender ? std::string_view(sender->domain) : std::string_view{});
    return p;
}

std::string encode_parameters(const smtp::Envelope& e) {
    std::string p;
    PayloadWriter w(p);
    w.u8(static_cast<std::uint8_t>(e.body));
    w.u8(e.smtputf8 ? 1 : 0);
    w.u8(static_cast<std::uint8_t>(e.ret));
    w.u8(e.declared_size ? 1 : 0);
    w.u64(e.declared_size.value_or(0));
    w.str(e.envid);
    return p;
}

std::string encode_recipient(const smtp::Recipient& r) {
    std::string p;
    PayloadWriter w(p);
    w.str(r.address.local_part);
    w.str(r.address.domain);
    w.str(r.orcpt);
    w.u32(r.notify);
    // Written only when set: the record of every other recipient stays as older versions
    // wrote it (and read it).
    if (r.forwarded) w.u8(1);
    return p;
}

std::string encode_reception(const Reception& r) {
    std::string p;
    PayloadWriter w(p);
    w.str(r.session_id);
    w.str(r.client_address);
    w.str(r.helo);
    return p;
}

// Decoders of the envelope records: false if the payload is not what the writer wrote.
bool decode_identity(std::string_view payload, SpoolHeader& h) {
    PayloadReader r(payload);
    h.id = r.str();
    h.arrival_us = r.u64();
    return r.ok_and_done();
}

bool decode_sender(std::string_view payload, smtp::Envelope& e) {
    PayloadReader r(payload);
    bool present = r.u8() == 1;
    smtp::Mailbox m{r.str(), r.str()};
    if (!r.ok_and_done()) return false;
    if (present)
        e.sender = std::move(m);
    else
        e.sender.reset();
    return true;
}

bool decode_parameters(std::string_view payload, smtp::Envelope& e) {
    PayloadReader r(payload);
    std::uint8_t body = r.u8();
    bool smtputf8 = r.u8() == 1;
    std::uint8_t ret = r.u8();
    bool has_size = r.u8() == 1;
    std::uint64_t size = r.u64();
    e.envid = r.str();
    if (!r.ok_and_done() || body > static_cast<std::uint8_t>(smtp::BodyType::BinaryMime) ||
        ret > static_cast<std::uint8_t>(smtp::DsnRet::Headers))
        return false;
    e.body = static_cast<smtp::BodyType>(body);
    e.smtputf8 = smtputf8;
    e.ret = static_cast<smtp::DsnRet>(ret);
    e.declared_size = has_size ? std::optional<std::uint64_t>(size) : std::nullopt;
    return true;
}

bool decode_recipient(std::string_view payload, smtp::Envelope& e) {
    PayloadReader r(payload);
    smtp::Recipient rcpt;
    rcpt.address.local_part = r.str();
    rcpt.address.domain = r.str();
    rcpt.orcpt = r.str();
    rcpt.notify = r.u32();
    if (r.ok() && !r.ok_and_done()) rcpt.forwarded = r.u8() == 1;
    if (!r.ok_and_done()) return false;
    e.recipients.push_back(std::move(rcpt));
    return true;
}

bool decode_reception(std::string_view payload, Reception& out) {
    PayloadReader r(payload);
    out.session_id = r.str();
    out.client_address = r.str();
    out.helo = r.str();
    return r.ok_and_done();
}

bool decode_end(std::string_view payload, std::uint64_t& content_size, std::uint32_t& checksum) {
    PayloadReader r(payload);
    content_size = r.u64();
    checksum = r.u32();
    return r.ok_and_done();
}

SpoolReadResult fail(SpoolFileStatus status, std::string detail) {
    SpoolReadResult r;
    r.status = status;
    r.detail = std::move(detail);
    return r;
}

void apply_message_event(const MessageEvent& event, SpoolFileContents& c) {
    switch (event.kind) {
        case MessageEventKind::Held: c.held = true; break;
        case MessageEventKind::Released: c.held = false; break;
        case MessageEventKind::Reported:
            for (std::uint32_t i : event.recipients) c.reported[i] = true;
            break;
        case MessageEventKind::DelayReported:
            for (std::uint32_t i : event.recipients) c.delay_reported[i] = true;
            break;
        case MessageEventKind::Flushed:
            for (std::uint32_t i : event.recipients) {
                RecipientState& state = c.recipients[i];
                if (state.status == DeliveryStatus::Deferred) state.next_attempt_us = std::min(state.next_attempt_us, event.time_us);
            }
            break;
    }
}

SpoolReadResult io_error(int err) { return fail(SpoolFileStatus::IoError, std::error_code(err, std::system_category()).message()); }

// The End record's header as written: its type and its payload length (u64 + u32).
constexpr std::size_t kEndPayloadSize = 12;

// Whether the bytes from `from` to the end of the file are what follows an End record: sealed
// state and event records, each with its checksum right, the last one perhaps cut short.
bool reads_as_records_after_end(int fd, std::uint64_t from, std::uint64_t size) {
    std::string record;
    for (std::uint64_t at = from; at < size;) {
        char header[kRecordHeaderSize];
        if (size - at < kRecordHeaderSize) return true;  // a torn last header
        if (::pread(fd, header, sizeof header, static_cast<off_t>(at)) != static_cast<ssize_t>(sizeof header)) return false;
        const auto type = static_cast<RecordType>(header[0]);
        if (type != RecordType::RecipientState && type != RecordType::MessageEvent) return false;
        const std::uint32_t length = load_u32(header + 1);
        if (length > kMaxRecordPayload) return false;
        if (size - at - kRecordHeaderSize < length) return true;  // a torn last record
        record.resize(length);
        if (::pread(fd, record.data(), length, static_cast<off_t>(at + kRecordHeaderSize)) != static_cast<ssize_t>(length))
            return false;
        // A bad checksum is a torn append only as the very last record.
        if (!unseal_payload(type, record)) return at + kRecordHeaderSize + length == size;
        at += kRecordHeaderSize + length;
    }
    return true;
}

// Whether an End record stands anywhere in a file that reads as torn: a damaged length can hide
// it from the record reader, and the damage itself makes its checksum wrong, so neither is
// asked for. What is asked: an End type byte, a content size no larger than what precedes it,
// and after it exactly what follows an End (nothing, or sealed records). The writer writes in
// order, so a file cut by a crash before its 250 has none of this; content bytes that happen
// to look like it make a torn file pass for damaged, which keeps it (the safe side).
bool holds_end_record(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return true;  // unknown: keep it
    const auto size = static_cast<std::uint64_t>(st.st_size);
    constexpr std::size_t kEndRecord = kRecordHeaderSize + kEndPayloadSize;
    constexpr std::size_t kChunk = 64 * 1024;
    std::string window(kChunk + kEndRecord, '\0');
    for (std::uint64_t base = 0; base + kEndRecord <= size; base += kChunk) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(window.size(), size - base));
        ssize_t n;
        do {
            n = ::pread(fd, window.data(), want, static_cast<off_t>(base));
        } while (n < 0 && errno == EINTR);
        if (n < 0) return true;
        const auto got = static_cast<std::size_t>(n);
        for (std::size_t i = 0; i < kChunk && i + kEndRecord <= got; ++i) {
            if (window[i] != static_cast<char>(RecordType::End)) continue;
            const std::uint64_t at = base + i;
            std::uint64_t content_size = 0;
            for (int b = 7; b >= 0; --b)
                content_size = (content_size << 8) | static_cast<unsigned char>(window[i + kRecordHeaderSize + b]);
            if (content_size > at) continue;
            if (reads_as_records_after_end(fd, at + kEndRecord, size)) return true;
        }
        if (got < want) break;
    }
    return false;
}

// A Top record holds whole header fields: CRLF-ended lines, none of them empty, so that it
// reads the same above the content as on its own (its ContentFacts add up).
bool whole_header_fields(std::string_view top) {
    if (!top.ends_with("\r\n")) return false;
    for (std::size_t at = 0; at < top.size();) {
        const std::size_t end = top.find("\r\n", at);
        const std::string_view line = top.substr(at, end - at);
        // No empty line, and no CR or LF but the line's own end (a bare LF ends a line too).
        if (line.empty() || line.find_first_of("\r\n") != std::string_view::npos) return false;
        at = end + 2;
    }
    return true;
}

// The file reads as the torn beginning of a spool file: deleted as unacknowledged, unless a
// matching End is found further on (then a damaged length hid it).
SpoolReadResult torn_or_damaged(int fd, std::string what) {
    if (holds_end_record(fd)) return fail(SpoolFileStatus::Damaged, what + ", yet an end record follows: damaged");
    return fail(SpoolFileStatus::Torn, what);
}

}  // namespace

std::string encode_spool_head(const SpoolHeader& h) {
    std::string out;
    append_record(out, RecordType::Magic, encode_magic());
    append_record(out, RecordType::Identity, encode_identity(h));
    append_record(out, RecordType::Sender, encode_sender(h.envelope.sender));
    append_record(out, RecordType::Parameters, encode_parameters(h.envelope));
    for (const auto& rcpt : h.envelope.recipients) append_record(out, RecordType::Recipient, encode_recipient(rcpt));
    append_record(out, RecordType::Reception, encode_reception(h.reception));
    return out;
}

void append_content_records(std::string& out, std::string_view content) {
    while (!content.empty()) {
        std::string_view piece = content.substr(0, kMaxContentRecord);
        append_record(out, RecordType::Content, piece);
        content.remove_prefix(piece.size());
    }
}

std::string encode_end_record(std::uint64_t content_size, std::uint32_t checksum) {
    std::string p;
    PayloadWriter w(p);
    w.u64(content_size);
    w.u32(checksum);
    std::string out;
    append_record(out, RecordType::End, p);
    return out;
}

SpoolReadResult read_spool_file(const std::filesystem::path& path, SpoolRead mode) {
    const bool light = mode == SpoolRead::Light;
    std::error_code ec;
    delivery::FileDescriptor fd = delivery::open_file(path, O_RDONLY | O_NOFOLLOW, 0, ec);
    if (ec) return fail(SpoolFileStatus::IoError, ec.message());
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) return io_error(errno);

    // A file that does not even begin like a spool file is not a torn one of ours: it must
    // not be deleted as an unacknowledged transaction.
    char first = 0;
    if (::pread(fd.get(), &first, 1, 0) == 1 && first != static_cast<char>(RecordType::Magic))
        return fail(SpoolFileStatus::Damaged, "not a spool file");

    RecordReader reader(fd.get());
    using S = RecordReader::Status;

    // The magic record first: a file cut inside it is torn; anything else is not ours.
    switch (reader.next()) {
        case S::Record: break;
        case S::IoError: return io_error(reader.error());
        case S::Impossible: return fail(SpoolFileStatus::Damaged, "impossible length in the first record");
        default: return torn_or_damaged(fd.get(), "cut inside the first record");
    }
    if (reader.type() != RecordType::Magic || !reader.payload().starts_with(kSpoolMagic))
        return fail(SpoolFileStatus::Damaged, "not a spool file");
    {
        PayloadReader r(std::string_view(reader.payload()).substr(kSpoolMagic.size()));
        std::uint32_t version = r.u32();
        if (!r.ok_and_done()) return fail(SpoolFileStatus::Damaged, "bad magic record");
        if (version != kSpoolFormatVersion)
            return fail(SpoolFileStatus::UnknownVersion, "format version " + std::to_string(version));
    }

    SpoolReadResult result;
    SpoolFileContents& c = result.contents;
    // A malformed record before End is only known to matter once End proves the file whole:
    // until then it is just as likely to be the torn end of an unacknowledged transaction.
    std::string malformed;
    ContentFactsScanner facts, top_facts;
    unsigned tops = 0;
    unsigned identities = 0, senders = 0, parameters = 0, receptions = 0;
    for (bool ended = false; !ended;) {
        switch (light ? reader.next_skipping_content() : reader.next()) {
            case S::Record: break;
            case S::IoError: return io_error(reader.error());
            case S::Impossible:
                return fail(SpoolFileStatus::Damaged,
                            "impossible record length at offset " + std::to_string(reader.offset()));
            case S::Cut:
                return light ? fail(SpoolFileStatus::Torn, "cut") : torn_or_damaged(fd.get(), "cut inside a record before the end record");
            case S::EndOfFile: return light ? fail(SpoolFileStatus::Torn, "no end record") : torn_or_damaged(fd.get(), "no end record");
        }
        std::string_view payload = reader.payload();
        bool ok = true;
        switch (reader.type()) {
            case RecordType::Identity: ok = decode_identity(payload, c.header) && ++identities == 1; break;
            case RecordType::Sender: ok = decode_sender(payload, c.header.envelope) && ++senders == 1; break;
            case RecordType::Parameters: ok = decode_parameters(payload, c.header.envelope) && ++parameters == 1; break;
            case RecordType::Recipient: ok = decode_recipient(payload, c.header.envelope); break;
            case RecordType::Reception: ok = decode_reception(payload, c.header.reception) && ++receptions == 1; break;
            case RecordType::Content:
                c.content_size += payload.size();
                facts.feed(payload);
                break;
            case RecordType::Top:
                c.content_size += payload.size();
                top_facts.feed(payload);
                ok = ++tops == 1 && whole_header_fields(payload);
                break;
            case RecordType::End: {
                std::uint64_t size = 0;
                std::uint32_t checksum = 0;
                if (!decode_end(payload, size, checksum))
                    return fail(SpoolFileStatus::Damaged, "malformed end record at offset " +
                                                              std::to_string(reader.record_offset()));
                if (light) {
                    c.content_size = size;  // the content was not read: the End record tells
                } else if (checksum != reader.checksum_before_record())
                    return fail(SpoolFileStatus::Damaged, "checksum does not match (end record at offset " +
                                                              std::to_string(reader.record_offset()) + ")");
                else if (size != c.content_size)
                    return fail(SpoolFileStatus::Damaged, "content size " + std::to_string(c.content_size) +
                                                              " where the end record says " + std::to_string(size));
                ended = true;
                break;
            }
            default: ok = false; break;
        }
        if (!ok && malformed.empty())
            malformed = "malformed record at offset " + std::to_string(reader.record_offset());
    }

    if (!malformed.empty()) return fail(SpoolFileStatus::Damaged, malformed);
    c.facts = with_top(facts.facts(), top_facts.facts());
    if (identities != 1 || senders != 1 || parameters != 1 || receptions != 1)
        return fail(SpoolFileStatus::Damaged, "envelope records missing");
    if (c.header.id != path.filename().string()) return fail(SpoolFileStatus::Damaged, "queue id differs from file name");

    // State records and message events: each stands alone. Appends are sequential and a failed
    // one is cut off again before the next (DeliveryScheduler::append), so only the last
    // record can be torn: one cut by the end of the file, or whose checksum fails with nothing
    // after it, is the tail of an interrupted append and ends the intact part. A record that
    // fails with more after it, or a length no writer writes, is damage: the state can no
    // longer be trusted, and the message is kept for a person rather than delivered again.
    const std::size_t count = c.header.envelope.recipients.size();
    c.recipients.resize(count);
    c.reported.resize(count);
    c.delay_reported.resize(count);
    c.intact_length = reader.offset();
    for (;;) {
        const S s = reader.next();
        if (s == S::IoError) return io_error(reader.error());
        if (s == S::Impossible)
            return fail(SpoolFileStatus::Damaged, "impossible state record length at offset " + std::to_string(reader.offset()));
        if (s != S::Record) break;  // the end, or a torn tail
        bool intact = false;
        if (reader.type() == RecordType::RecipientState) {
            auto record = decode_state_record(reader.payload());
            intact = record && record->recipient_index < count;
            if (intact) {
                c.attempts.push_back(attempt_of(record->recipient_index, record->state));
                if (c.attempts.size() > kMaxAttemptRecords) c.attempts.pop_front();
                c.recipients[record->recipient_index] = std::move(record->state);
            }
        } else if (reader.type() == RecordType::MessageEvent) {
            auto event = decode_message_event(reader.payload(), count);
            intact = event.has_value();
            if (intact) apply_message_event(*event, c);
        }
        if (!intact) {
            if (reader.offset() < static_cast<std::uint64_t>(st.st_size))
                return fail(SpoolFileStatus::Damaged, "damaged state record at offset " + std::to_string(reader.record_offset()));
            break;  // the last record, torn
        }
        c.intact_length = reader.offset();
    }
    c.file_length = static_cast<std::uint64_t>(st.st_size);
    result.status = SpoolFileStatus::Ok;
    return result;
}

namespace {

// Reads the content records of a spool file one by one and, at its End, checks the file's
// checksum: a piece is handed out before the whole is known to be intact, so the end of the
// content is only reported when it is (a damaged file must never be sent with its final ".").
class SpoolContentReader final : public delivery::ContentReader {
public:
    explicit SpoolContentReader(delivery::FileDescriptor fd) : fd_(std::move(fd)), reader_(fd_.get()) {}

    std::error_code next(std::string& piece) override {
        piece.clear();
        if (ended_) return {};
        if (!looked_for_top_) {
            if (auto ec = find_top(piece)) return ec;
            looked_for_top_ = true;
            if (!piece.empty()) return {};
        }
        for (;;) {
            switch (reader_.next()) {
                case RecordReader::Status::Record: break;
                case RecordReader::Status::IoError: return {reader_.error(), std::system_category()};
                default: return std::make_error_code(std::errc::bad_message);  // no End: cut short
            }
            if (reader_.type() == RecordType::Content || reader_.type() == RecordType::Top) {
                content_size_ += reader_.payload().size();
                if (reader_.payload().empty() || reader_.type() == RecordType::Top) continue;  // given first
                reader_.take_payload(piece);
                return {};
            }
            if (reader_.type() == RecordType::End) {
                std::uint64_t size = 0;
                std::uint32_t checksum = 0;
                if (!decode_end(reader_.payload(), size, checksum) || size != content_size_ ||
                    checksum != reader_.checksum_before_record())
                    return std::make_error_code(std::errc::bad_message);
                ended_ = true;
                return {};
            }
        }
    }

private:
    // The Top record lies after the content, just before End: one pass over the record headers
    // (content skipped, not read) finds it, and it is handed out first.
    std::error_code find_top(std::string& top) {
        if (::lseek(fd_.get(), 0, SEEK_SET) < 0) return {errno, std::system_category()};
        RecordReader scan(fd_.get());
        for (;;) {
            switch (scan.next_skipping_content()) {
                case RecordReader::Status::Record: break;
                case RecordReader::Status::IoError: return {scan.error(), std::system_category()};
                default: return std::make_error_code(std::errc::bad_message);
            }
            if (scan.type() == RecordType::Top) scan.take_payload(top);
            if (scan.type() != RecordType::End) continue;
            // Both readers read through the descriptor's offset: back to the start.
            if (::lseek(fd_.get(), 0, SEEK_SET) < 0) return {errno, std::system_category()};
            return {};
        }
    }

    delivery::FileDescriptor fd_;
    RecordReader reader_;
    std::uint64_t content_size_ = 0;
    bool looked_for_top_ = false;
    bool ended_ = false;
};

}  // namespace

std::unique_ptr<delivery::ContentReader> SpoolContent::open(std::error_code& ec) const {
    delivery::FileDescriptor fd = delivery::open_file(path_, O_RDONLY | O_NOFOLLOW, 0, ec);
    if (ec) return nullptr;
    return std::make_unique<SpoolContentReader>(std::move(fd));
}

std::error_code read_spool_content(const std::filesystem::path& path, const delivery::ContentSink& sink) {
    return SpoolContent(path).write_to(sink);
}

}  // namespace ehlo::queue
