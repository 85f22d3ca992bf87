#include "queue/spool_record.hpp"

#include <algorithm>
#include <cerrno>
#include <unistd.h>

#include "queue/checksum.hpp"

namespace ehlo::queue {
namespace {

constexpr std::size_t kReadBuffer = 64 * 1024;

}  // namespace

std::uint32_t load_u32(const char* p) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return std::uint32_t{u[0]} | std::uint32_t{u[1]} << 8 | std::uint32_t{u[2]} << 16 | std::uint32_t{u[3]} << 24;
}

void store_u32(char* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}

void append_record_header(std::string& out, RecordType type, std::size_t payload_size) {
    char header[kRecordHeaderSize];
    header[0] = static_cast<char>(type);
    store_u32(header + 1, static_cast<std::uint32_t>(payload_size));
    out.append(header, kRecordHeaderSize);
}

void append_record(std::string& out, RecordType type, std::string_view payload) {
    append_record_header(out, type, payload.size());
    out.append(payload);
}

std::string sealed_record(RecordType type, std::string_view payload) {
    std::string record;
    append_record_header(record, type, payload.size() + 4);
    record += payload;
    PayloadWriter(record).u32(crc32c(record));
    return record;
}

std::optional<std::string_view> unseal_payload(RecordType type, std::string_view payload) {
    if (payload.size() < 4) return std::nullopt;
    std::string header;
    append_record_header(header, type, payload.size());
    std::string_view body = payload.substr(0, payload.size() - 4);
    if (crc32c(body, crc32c(header)) != load_u32(payload.data() + body.size())) return std::nullopt;
    return body;
}

void PayloadWriter::u32(std::uint32_t v) {
    char b[4];
    store_u32(b, v);
    out_.append(b, 4);
}

void PayloadWriter::u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v & 0xFFFFFFFFu));
    u32(static_cast<std::uint32_t>(v >> 32));
}

void PayloadWriter::str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
}

bool PayloadReader::take(std::size_t n, std::string_view& out) {
    if (!ok_ || in_.size() < n) {
        ok_ = false;
        return false;
    }
    out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
}

std::uint8_t PayloadReader::u8() {
    std::string_view b;
    return take(1, b) ? static_cast<std::uint8_t>(b[0]) : 0;
}

std::uint32_t PayloadReader::u32() {
    std::string_view b;
    return take(4, b) ? load_u32(b.data()) : 0;
}

std::uint64_t PayloadReader::u64() {
    std::uint64_t lo = u32();
    std::uint64_t hi = u32();
    return lo | hi << 32;
}

std::string PayloadReader::str() {
    std::uint32_t n = u32();
    std::string_view b;
    return take(n, b) ? std::string(b) : std::string{};
}

bool RecordReader::fill(std::size_t need) {
    while (buffer_.size() - pos_ < need) {
        if (eof_) return false;
        if (pos_ > 0) {
            buffer_.erase(0, pos_);
            pos_ = 0;
        }
        std::size_t have = buffer_.size();
        std::size_t want = std::max(kReadBuffer, need - have);
        buffer_.resize(have + want);
        ssize_t n;
        do {
            n = ::read(fd_, buffer_.data() + have, want);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            errno_ = errno;
            buffer_.resize(have);
            return false;
        }
        buffer_.resize(have + static_cast<std::size_t>(n));
        if (n == 0) eof_ = true;
    }
    return true;
}

RecordReader::Status RecordReader::next() { return read_next(false); }

RecordReader::Status RecordReader::next_skipping_content() { return read_next(true); }

RecordReader::Status RecordReader::read_next(bool skip_content) {
    if (!fill(kRecordHeaderSize)) {
        if (errno_) return Status::IoError;
        return buffer_.size() == pos_ ? Status::EndOfFile : Status::Cut;
    }
    const char* header = buffer_.data() + pos_;
    std::size_t length = load_u32(header + 1);
    if (length > kMaxRecordPayload) return Status::Impossible;
    if (skip_content && static_cast<RecordType>(static_cast<unsigned char>(header[0])) == RecordType::Content) {
        const std::uint64_t next = offset_ + kRecordHeaderSize + length;
        const std::size_t buffered = buffer_.size() - pos_;
        if (buffered >= kRecordHeaderSize + length) {
            pos_ += kRecordHeaderSize + length;
        } else {
            // Past what is buffered: seek, so a large message is not read to be listed.
            const off_t end = ::lseek(fd_, 0, SEEK_END);
            if (end < 0) {
                errno_ = errno;
                return Status::IoError;
            }
            if (static_cast<std::uint64_t>(end) < next) return Status::Cut;
            if (::lseek(fd_, static_cast<off_t>(next), SEEK_SET) < 0) {
                errno_ = errno;
                return Status::IoError;
            }
            buffer_.clear();
            pos_ = 0;
            eof_ = false;
        }
        type_ = RecordType::Content;
        payload_.clear();
        record_offset_ = offset_;
        offset_ = next;
        return Status::Record;
    }
    if (!fill(kRecordHeaderSize + length)) return errno_ ? Status::IoError : Status::Cut;
    header = buffer_.data() + pos_;
    type_ = static_cast<RecordType>(static_cast<unsigned char>(header[0]));
    payload_.assign(header + kRecordHeaderSize, length);
    crc_before_ = crc_;
    crc_ = crc32c(std::string_view(header, kRecordHeaderSize + length), crc_);
    record_offset_ = offset_;
    offset_ += kRecordHeaderSize + length;
    pos_ += kRecordHeaderSize + length;
    return Status::Record;
}

}  // namespace ehlo::queue
