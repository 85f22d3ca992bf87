// One message, one file: spool_dir/queue/<queue id>. Its records, in order:
//
//   Magic, Identity, Sender, Parameters, Recipient..., Reception   (the envelope)
//   Content...                                                      (the message, CRLF)
//   End                    content size and CRC-32C of every byte before it; written last
//   RecipientState...      appended later, each with its own checksum, in any order with
//   MessageEvent...        held, released, reported (message_event.hpp)
//
// The End record is the commit point: a file whose End is missing or does not match what
// precedes it is a transaction that was never acknowledged (its 250 was never sent), and
// recovery deletes it. Nothing before End is ever rewritten.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "delivery/content.hpp"
#include "queue/message_content.hpp"
#include "queue/queue.hpp"
#include "queue/recipient_state.hpp"
#include "smtp/envelope.hpp"

namespace ehlo::queue {

inline constexpr std::string_view kSpoolMagic = "EHLOSPOOL";
inline constexpr std::uint32_t kSpoolFormatVersion = 1;

// Everything about a message except its content and the recipients' states.
struct SpoolHeader {
    QueueId id;
    std::uint64_t arrival_us = 0;  // unix time, microseconds
    smtp::Envelope envelope;
    Reception reception;
};

// The records that open a spool file, Magic to Reception.
std::string encode_spool_head(const SpoolHeader& header);
// Content records for `content`, cut into pieces of at most kMaxContentRecord.
void append_content_records(std::string& out, std::string_view content);
// The End record; `checksum` is the CRC-32C of every byte of the file before it.
std::string encode_end_record(std::uint64_t content_size, std::uint32_t checksum);

enum class SpoolFileStatus {
    Ok,
    // A torn write: the file is the beginning of a spool file and ends before any End record,
    // as a crash during reception leaves it. It provably never got its 250 (that is sent only
    // once End is durable), so it may be deleted.
    Torn,
    // Damage: an End record is there but does not match what precedes it, a length no writer of
    // ours writes, a malformed envelope record, or not a spool file at all. It may hold an
    // acknowledged message: kept (quarantined) for a person, never deleted.
    Damaged,
    UnknownVersion,  // written by a newer version of the format: left alone
    IoError,
};

struct SpoolFileContents {
    SpoolHeader header;
    std::uint64_t content_size = 0;
    ContentFacts facts;
    std::vector<RecipientState> recipients;  // one per envelope recipient, from the state records
    // From the message events: the last Held or Released decides; Reported and DelayReported
    // mark recipients whose outcome the sender has been told of.
    bool held = false;
    std::vector<bool> reported, delay_reported;  // parallel to recipients
    std::deque<AttemptRecord> attempts;          // the latest kMaxAttemptRecords state records
    std::uint64_t intact_length = 0;         // end of the last intact record; anything after is torn
    std::uint64_t file_length = 0;
};

struct SpoolReadResult {
    SpoolFileStatus status = SpoolFileStatus::IoError;
    std::string detail;  // what was wrong, for the log
    SpoolFileContents contents;
};

enum class SpoolRead {
    Verify,  // every byte read and checked against the End record: the verdict on a file
    Light,   // the envelope and the states only, content seeked over, nothing checked: for
             // listing and queue control, never to decide a file's fate
};

// Reads a spool file.
SpoolReadResult read_spool_file(const std::filesystem::path& path, SpoolRead mode = SpoolRead::Verify);

// Gives the content records of a spool file to `sink`, in order; an error (EBADMSG) when the
// file's End record is missing or does not match what precedes it.
std::error_code read_spool_content(const std::filesystem::path& path, const delivery::ContentSink& sink);

// The content of a message in the spool, for delivery of messages not held in memory: read a
// record at a time, so a reader holds one content record (kMaxContentRecord) at most.
class SpoolContent final : public delivery::ContentSource {
public:
    explicit SpoolContent(std::filesystem::path path) : path_(std::move(path)) {}
    std::unique_ptr<delivery::ContentReader> open(std::error_code& ec) const override;

private:
    std::filesystem::path path_;
};

}  // namespace ehlo::queue
