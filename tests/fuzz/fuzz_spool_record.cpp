// Fuzz target for the spool file reader (src/queue/spool_file.hpp, spool_record.hpp): each
// input is the bytes of a file in the queue directory, as a crash, a full disk or a bad block
// may leave it. Recovery acts on the verdict, so the verdict is what is checked.
//
// Each input is read as it is, and once more with its checksums made right (the End record's
// size and CRC-32C, the seal of every record after it), so that the fuzzer gets past them to
// the envelope, state and event records. The run fails (abort) when
//   - a verdict other than Ok comes without a reason;
//   - a file whose content reads to a matching End record is called Torn: Torn files are
//     deleted as never acknowledged, and this one may have been;
//   - an Ok file's content does not read back whole, or its facts (8-bit, Received count)
//     depend on how the content was cut into records;
//   - an Ok file reads differently in the light mode `ehlo queue` lists with;
//   - an Ok file, written again from what was read (encode_spool_head, content records, End,
//     one state record per recipient, the message events), does not read as the same message;
//   - or ASan/UBSan find anything (libFuzzer build).
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "queue/checksum.hpp"
#include "queue/message_event.hpp"
#include "queue/recipient_state.hpp"
#include "queue/spool_file.hpp"
#include "queue/spool_record.hpp"

namespace {

using namespace ehlo;
using namespace ehlo::queue;

// The queue id of every file the target reads: the Identity record must name its file.
constexpr std::string_view kQueueId = "0FUZZ00000000000";

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_spool_record: %s\n", what);
    std::abort();
}

// One directory per process, removed at exit; the file in it is rewritten for each input.
class SpoolDir {
public:
    SpoolDir() {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ehlo-fuzz-spool-XXXXXX";
        if (!::mkdtemp(pattern.data())) fail("cannot make a temporary directory");
        dir_ = pattern;
    }
    ~SpoolDir() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    std::filesystem::path write(std::string_view bytes) const {
        const std::filesystem::path path = dir_ / std::string(kQueueId);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) fail("cannot write the spool file");
        for (std::size_t done = 0; done < bytes.size();) {
            const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
            if (n <= 0) fail("cannot write the spool file");
            done += static_cast<std::size_t>(n);
        }
        ::close(fd);
        return path;
    }

private:
    std::filesystem::path dir_;
};

// The input with its checksums made right: what a writer of ours would have written, had it
// written these records.
std::string with_checksums(std::string bytes) {
    bool ended = false;
    std::uint64_t content = 0;
    for (std::size_t at = 0; at + kRecordHeaderSize <= bytes.size();) {
        const auto type = static_cast<RecordType>(static_cast<unsigned char>(bytes[at]));
        const std::size_t length = load_u32(bytes.data() + at + 1);
        if (length > kMaxRecordPayload || bytes.size() - at - kRecordHeaderSize < length) break;
        char* payload = bytes.data() + at + kRecordHeaderSize;
        if (!ended && (type == RecordType::Content || type == RecordType::Top)) content += length;
        if (!ended && type == RecordType::End && length == 12) {
            for (int i = 0; i < 8; ++i) payload[i] = static_cast<char>((content >> (8 * i)) & 0xFF);
            store_u32(payload + 8, crc32c(std::string_view(bytes.data(), at)));
            ended = true;
        } else if (ended && (type == RecordType::RecipientState || type == RecordType::MessageEvent) && length >= 4) {
            const std::uint32_t seal = crc32c(std::string_view(bytes.data() + at, kRecordHeaderSize + length - 4));
            store_u32(payload + length - 4, seal);
        }
        at += kRecordHeaderSize + length;
    }
    return bytes;
}

std::string content_of(const std::filesystem::path& path, std::error_code& ec, std::vector<std::string>* pieces = nullptr) {
    std::string content;
    ec = read_spool_content(path, [&](std::string_view piece) {
        content += piece;
        if (pieces) pieces->emplace_back(piece);
        return true;
    });
    return content;
}

// A state as a writer of ours writes it: texts are cut to kMaxStateText.
std::string state_bytes(std::size_t index, const RecipientState& state) {
    return encode_state_record(static_cast<std::uint32_t>(index), state);
}

bool same_message(const SpoolFileContents& a, const SpoolFileContents& b) {
    if (encode_spool_head(a.header) != encode_spool_head(b.header)) return false;
    if (a.recipients.size() != b.recipients.size() || a.held != b.held || a.reported != b.reported ||
        a.delay_reported != b.delay_reported)
        return false;
    for (std::size_t i = 0; i < a.recipients.size(); ++i)
        if (state_bytes(i, a.recipients[i]) != state_bytes(i, b.recipients[i])) return false;
    return true;
}

MessageEvent event_for(MessageEventKind kind, const std::vector<bool>& marked) {
    MessageEvent e;
    e.kind = kind;
    e.time_us = 1;
    for (std::size_t i = 0; i < marked.size(); ++i)
        if (marked[i]) e.recipients.push_back(static_cast<std::uint32_t>(i));
    return e;
}

void check_ok(const SpoolDir& dir, std::string_view bytes, const SpoolReadResult& verify) {
    const SpoolFileContents& c = verify.contents;
    const std::size_t count = c.header.envelope.recipients.size();
    if (c.header.id != kQueueId) fail("Ok, yet the queue id is not the file's name");
    if (c.recipients.size() != count || c.reported.size() != count || c.delay_reported.size() != count)
        fail("Ok, yet not one state per recipient");
    if (c.file_length != bytes.size() || c.intact_length > c.file_length) fail("Ok with impossible lengths");
    if (c.attempts.size() > kMaxAttemptRecords) fail("more attempts kept than kMaxAttemptRecords");

    const std::filesystem::path path = dir.write(bytes);
    std::error_code ec;
    std::vector<std::string> pieces;
    const std::string content = content_of(path, ec, &pieces);
    if (ec) fail("Ok, yet its content does not read");
    if (content.size() != c.content_size) fail("Ok, yet its content is not content_size octets");
    ContentFactsScanner whole;
    whole.feed(content);
    ContentFactsScanner by_octet;
    for (char ch : content) by_octet.feed(std::string_view(&ch, 1));
    for (const auto* f : {&whole.facts(), &by_octet.facts()})
        if (f->eight_bit != c.facts.eight_bit || f->utf8_headers != c.facts.utf8_headers || f->received != c.facts.received)
            fail("content facts depend on how the content was cut");

    const SpoolReadResult light = read_spool_file(path, SpoolRead::Light);
    if (light.status != SpoolFileStatus::Ok || !same_message(light.contents, c) || light.contents.content_size != c.content_size)
        fail("an Ok file reads differently in the light mode");

    // Written again from what was read.
    std::string again = encode_spool_head(c.header);
    append_content_records(again, content);
    again += encode_end_record(content.size(), crc32c(again));
    for (std::size_t i = 0; i < count; ++i) {
        RecipientState s = c.recipients[i];
        s.text = s.text.substr(0, kMaxStateText);
        s.peer = s.peer.substr(0, kMaxStateText);
        again += encode_state_record(static_cast<std::uint32_t>(i), s);
    }
    if (c.held) again += encode_message_event(event_for(MessageEventKind::Held, {}));
    again += encode_message_event(event_for(MessageEventKind::Reported, c.reported));
    again += encode_message_event(event_for(MessageEventKind::DelayReported, c.delay_reported));
    const std::filesystem::path rewritten = dir.write(again);
    const SpoolReadResult reread = read_spool_file(rewritten);
    if (reread.status != SpoolFileStatus::Ok) {
        std::fprintf(stderr, "fuzz_spool_record: %s\n", reread.detail.c_str());
        fail("a file written from an Ok one does not read as Ok");
    }
    if (!same_message(reread.contents, c)) fail("a file written from an Ok one reads as another message");
    if (content_of(rewritten, ec) != content || ec) fail("a file written from an Ok one has other content");
}

void check(const SpoolDir& dir, std::string_view bytes) {
    const std::filesystem::path path = dir.write(bytes);
    const SpoolReadResult verify = read_spool_file(path, SpoolRead::Verify);
    const SpoolReadResult light = read_spool_file(path, SpoolRead::Light);
    for (const auto* r : {&verify, &light}) {
        switch (r->status) {
        case SpoolFileStatus::Ok: break;
        case SpoolFileStatus::Torn:
        case SpoolFileStatus::Damaged:
        case SpoolFileStatus::UnknownVersion:
            if (r->detail.empty()) fail("a verdict without a reason");
            break;
        case SpoolFileStatus::IoError: fail("an I/O error on a plain file");
        default: fail("a verdict outside SpoolFileStatus");
        }
    }
    std::error_code ec;
    (void)content_of(path, ec);
    if (!ec && verify.status == SpoolFileStatus::Torn)
        fail("a file whose content reads to a matching End is called Torn (recovery would delete it)");
    if (verify.status == SpoolFileStatus::Ok) check_ok(dir, bytes, verify);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const SpoolDir dir;
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    check(dir, bytes);
    const std::string fixed = with_checksums(bytes);
    if (fixed != bytes) check(dir, fixed);
    return 0;
}
