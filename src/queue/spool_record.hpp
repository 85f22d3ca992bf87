// The spool's record format (after Postfix's queue files): each record is a type byte, a
// payload length (4 bytes, little-endian) and the payload. Fields inside a payload are
// length-prefixed too. Nothing is delimited by text, so no byte a client sends, newline or
// otherwise, can end a record early or forge one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ehlo::queue {

enum class RecordType : std::uint8_t {
    Magic = 'M',           // "EHLOSPOOL" + format version: always the first record
    Identity = 'I',        // queue id, arrival time
    Sender = 'F',          // reverse-path (or none: "<>")
    Parameters = 'P',      // BODY, SMTPUTF8, RET, SIZE, ENVID
    Recipient = 'R',       // forward-path with ORCPT and NOTIFY, one record per recipient
    Reception = 'T',       // session id, client address, HELO name
    Content = 'C',         // a piece of the content, in order
    // Header fields that go above all of the content (Authentication-Results, DKIM-Signature),
    // known only once the content has streamed in: written just before End, read first.
    Top = 'H',
    End = 'E',             // content size and checksum of everything before: written last
    RecipientState = 'S',  // after End: an outcome for one recipient (see recipient_state.hpp)
    MessageEvent = 'G',    // after End: held, released, reported (see message_event.hpp)
};

inline constexpr std::size_t kRecordHeaderSize = 5;
// A length read from a damaged file must not make us allocate gigabytes: no record we write
// is longer than this.
inline constexpr std::size_t kMaxRecordPayload = 1u << 20;
// Content is cut into records of at most this size.
inline constexpr std::size_t kMaxContentRecord = 256u * 1024;

void append_record_header(std::string& out, RecordType type, std::size_t payload_size);
void append_record(std::string& out, RecordType type, std::string_view payload);

// Records appended after End stand alone: each ends with a CRC-32C of its header (with the
// final length) and payload, so one torn by a crash is recognised and ignored.
std::string sealed_record(RecordType type, std::string_view payload);
// The payload of a sealed record without its checksum; empty if the checksum does not match.
std::optional<std::string_view> unseal_payload(RecordType type, std::string_view payload);

// Builds a payload of fixed-width little-endian integers and length-prefixed strings.
class PayloadWriter {
public:
    explicit PayloadWriter(std::string& out) : out_(out) {}
    void u8(std::uint8_t v) { out_ += static_cast<char>(v); }
    void u32(std::uint32_t v);
    void u64(std::uint64_t v);
    void str(std::string_view s);

private:
    std::string& out_;
};

// Reads what PayloadWriter wrote. Reading past the end yields zeros and clears ok(), so a
// decoder reads every field and checks once.
class PayloadReader {
public:
    explicit PayloadReader(std::string_view in) : in_(in) {}
    std::uint8_t u8();
    std::uint32_t u32();
    std::uint64_t u64();
    std::string str();
    bool ok() const { return ok_; }
    bool ok_and_done() const { return ok_ && in_.empty(); }

private:
    bool take(std::size_t n, std::string_view& out);
    std::string_view in_;
    bool ok_ = true;
};

std::uint32_t load_u32(const char* p);
void store_u32(char* p, std::uint32_t v);

// Reads records in order from a file descriptor, buffered, keeping the checksum of all
// bytes before the record it returned last (what an End record must match).
class RecordReader {
public:
    explicit RecordReader(int fd) : fd_(fd) {}

    enum class Status {
        Record,     // `type` and `payload` hold the next record
        EndOfFile,  // the file ends exactly after the previous record
        Cut,        // the file ends inside a record (a write a crash interrupted)
        Impossible, // a length no writer of ours writes: damage, not a crash
        IoError,
    };
    Status next();
    // The same, but a Content record's payload is skipped (seeked over, not read): its
    // `payload()` is empty, and the checksum is no longer kept (for listing, never for a
    // verdict on the file).
    Status next_skipping_content();

    RecordType type() const { return type_; }
    const std::string& payload() const { return payload_; }
    void take_payload(std::string& out) { out.swap(payload_); }
    std::uint64_t record_offset() const { return record_offset_; }  // of the record returned
    std::uint64_t offset() const { return offset_; }                // just after it
    std::uint32_t checksum_before_record() const { return crc_before_; }
    int error() const { return errno_; }

private:
    bool fill(std::size_t need);  // makes `need` bytes available from buffer_[pos_]
    Status read_next(bool skip_content);

    int fd_;
    std::string buffer_;
    std::size_t pos_ = 0;
    bool eof_ = false;
    int errno_ = 0;
    RecordType type_{};
    std::string payload_;
    std::uint64_t record_offset_ = 0, offset_ = 0;
    std::uint32_t crc_before_ = 0, crc_ = 0;
};

}  // namespace ehlo::queue
