#include "queue/spool_file.hpp"

#include <gtest/gtest.h>

#include <set>

#include "queue/checksum.hpp"
#include "queue/message_event.hpp"
#include "queue/recipient_state.hpp"
#include "queue/queue_id.hpp"
#include "queue/spool_record.hpp"
#include "test_support.hpp"

namespace ehlo::queue {
namespace {

using testing::TempDir;
using testing::write_file;

SpoolHeader sample_header() {
    SpoolHeader h;
    h.id = make_queue_id(1700000000123456ull, 1);
    h.arrival_us = 1700000000123456ull;
    h.envelope.sender = smtp::Mailbox{"\"odd local\"", "example.org"};
    h.envelope.recipients.push_back({{"alice", "example.com"}, "rfc822;alice@example.com", smtp::notify::Failure | smtp::notify::Delay});
    h.envelope.recipients.push_back({{"bob", "[192.0.2.7]"}, "", 0});
    h.envelope.body = smtp::BodyType::EightBitMime;
    h.envelope.smtputf8 = true;
    h.envelope.declared_size = 12345;
    h.envelope.envid = "env-1";
    h.envelope.ret = smtp::DsnRet::Headers;
    h.reception = {"s-42", "2001:db8::1", "client.example"};
    return h;
}

// A whole spool file as the spool thread writes it.
std::string spool_file_bytes(const SpoolHeader& h, std::string_view content) {
    std::string out = encode_spool_head(h);
    append_content_records(out, content);
    out += encode_end_record(content.size(), crc32c(out));
    return out;
}

TEST(SpoolFile, RoundTripsTheEnvelopeAndContent) {
    TempDir dir;
    auto h = sample_header();
    auto path = dir.path() / h.id;
    const std::string content = "Subject: x\r\n\r\nbody\r\n";
    write_file(path, spool_file_bytes(h, content));

    auto r = read_spool_file(path);
    ASSERT_EQ(r.status, SpoolFileStatus::Ok) << r.detail;
    const auto& c = r.contents;
    EXPECT_EQ(c.header.id, h.id);
    EXPECT_EQ(c.header.arrival_us, h.arrival_us);
    EXPECT_EQ(c.header.envelope.sender, h.envelope.sender);
    ASSERT_EQ(c.header.envelope.recipients.size(), 2u);
    EXPECT_EQ(c.header.envelope.recipients[0].address, h.envelope.recipients[0].address);
    EXPECT_EQ(c.header.envelope.recipients[0].orcpt, "rfc822;alice@example.com");
    EXPECT_EQ(c.header.envelope.recipients[0].notify, smtp::notify::Failure | smtp::notify::Delay);
    EXPECT_EQ(c.header.envelope.recipients[1].address.domain, "[192.0.2.7]");
    EXPECT_EQ(c.header.envelope.body, smtp::BodyType::EightBitMime);
    EXPECT_TRUE(c.header.envelope.smtputf8);
    EXPECT_EQ(c.header.envelope.declared_size, 12345u);
    EXPECT_EQ(c.header.envelope.envid, "env-1");
    EXPECT_EQ(c.header.envelope.ret, smtp::DsnRet::Headers);
    EXPECT_EQ(c.header.reception.session_id, "s-42");
    EXPECT_EQ(c.header.reception.client_address, "2001:db8::1");
    EXPECT_EQ(c.header.reception.helo, "client.example");
    EXPECT_EQ(c.content_size, content.size());
    ASSERT_EQ(c.recipients.size(), 2u);
    EXPECT_EQ(c.recipients[0].status, DeliveryStatus::Pending);

    std::string read_back;
    EXPECT_FALSE(read_spool_content(path, [&](std::string_view p) { read_back += p; return true; }));
    EXPECT_EQ(read_back, content);
}

TEST(SpoolFile, ForwardedRecipientKeepsItsMark) {
    TempDir dir;
    auto h = sample_header();
    h.envelope.recipients[1].forwarded = true;  // reached through an alias: SRS onward
    auto path = dir.path() / h.id;
    write_file(path, spool_file_bytes(h, "x\r\n"));
    auto r = read_spool_file(path);
    ASSERT_EQ(r.status, SpoolFileStatus::Ok) << r.detail;
    EXPECT_FALSE(r.contents.header.envelope.recipients[0].forwarded);
    EXPECT_TRUE(r.contents.header.envelope.recipients[1].forwarded);
}

TEST(SpoolFile, NullSenderRoundTrips) {
    TempDir dir;
    auto h = sample_header();
    h.envelope.sender.reset();
    write_file(dir.path() / h.id, spool_file_bytes(h, "x\r\n"));
    auto r = read_spool_file(dir.path() / h.id);
    ASSERT_EQ(r.status, SpoolFileStatus::Ok);
    EXPECT_FALSE(r.contents.header.envelope.sender);
}

TEST(SpoolFile, EveryPrefixOfAFileIsTorn) {
    // A crash can cut the file anywhere before End: none of those may pass as a message.
    TempDir dir;
    auto h = sample_header();
    auto path = dir.path() / h.id;
    const std::string whole = spool_file_bytes(h, "Subject: x\r\n\r\nbody\r\n");
    for (std::size_t n = 0; n < whole.size(); ++n) {
        write_file(path, whole.substr(0, n));
        EXPECT_EQ(read_spool_file(path).status, SpoolFileStatus::Torn) << "prefix of " << n << " bytes";
    }
    write_file(path, whole);
    EXPECT_EQ(read_spool_file(path).status, SpoolFileStatus::Ok);
}

TEST(SpoolFile, AnyChangedByteBeforeEndMakesItDamagedNeverOk) {
    TempDir dir;
    auto h = sample_header();
    auto path = dir.path() / h.id;
    const std::string whole = spool_file_bytes(h, "Subject: x\r\n\r\nbody\r\n");
    for (std::size_t i = kRecordHeaderSize + kSpoolMagic.size() + 4; i < whole.size(); i += 3) {
        std::string damaged = whole;
        damaged[i] = static_cast<char>(damaged[i] ^ 0x01);
        write_file(path, damaged);
        const auto status = read_spool_file(path).status;
        EXPECT_NE(status, SpoolFileStatus::Ok) << "byte " << i;
        // The End record is there: the file may hold an acknowledged message, so it is never
        // taken for a torn one (deleted), whatever byte changed.
        EXPECT_NE(status, SpoolFileStatus::Torn) << "byte " << i;
    }
}

TEST(SpoolFile, ANewlineInAFieldCannotForgeARecord) {
    TempDir dir;
    auto h = sample_header();
    h.reception.helo = "evil\r\nE\x0c\0\0\0";
    h.envelope.envid = "x\nS\n";
    write_file(dir.path() / h.id, spool_file_bytes(h, "a\r\n"));
    auto r = read_spool_file(dir.path() / h.id);
    ASSERT_EQ(r.status, SpoolFileStatus::Ok);
    EXPECT_EQ(r.contents.header.reception.helo, h.reception.helo);
    EXPECT_EQ(r.contents.header.envelope.envid, h.envelope.envid);
}

TEST(SpoolFile, StateRecordsAfterEndRebuildEachRecipient) {
    TempDir dir;
    auto h = sample_header();
    auto path = dir.path() / h.id;
    std::string bytes = spool_file_bytes(h, "x\r\n");
    RecipientState deferred{DeliveryStatus::Deferred, 1, 10, 70, "disk full", {}, false};
    RecipientState delivered{DeliveryStatus::Delivered, 2, 80, 0, "/m/new/x", {}, false};
    bytes += encode_state_record(1, deferred);
    bytes += encode_state_record(1, delivered);
    bytes += encode_state_record(0, deferred);
    write_file(path, bytes);
    auto r = read_spool_file(path);
    ASSERT_EQ(r.status, SpoolFileStatus::Ok);
    EXPECT_EQ(r.contents.recipients[0].status, DeliveryStatus::Deferred);
    EXPECT_EQ(r.contents.recipients[0].attempts, 1u);
    EXPECT_EQ(r.contents.recipients[0].next_attempt_us, 70u);
    EXPECT_EQ(r.contents.recipients[0].text, "disk full");
    EXPECT_EQ(r.contents.recipients[1].status, DeliveryStatus::Delivered);
    EXPECT_EQ(r.contents.recipients[1].text, "/m/new/x");
    EXPECT_EQ(r.contents.intact_length, bytes.size());
}

TEST(SpoolFile, ATornLastStateRecordIsIgnored) {
    TempDir dir;
    auto h = sample_header();
    auto path = dir.path() / h.id;
    const std::string base = spool_file_bytes(h, "x\r\n");
    const std::string first = encode_state_record(0, {DeliveryStatus::Deferred, 1, 1, 2, "e", {}, false});
    const std::string second = encode_state_record(1, {DeliveryStatus::Delivered, 1, 3, 0, "/m/new/y", {}, false});
    for (std::size_t n = 0; n < second.size(); ++n) {
        write_file(path, base + first + second.substr(0, n));
        auto r = read_spool_file(path);
        ASSERT_EQ(r.status, SpoolFileStatus::Ok) << n;
        EXPECT_EQ(r.contents.recipients[0].status, DeliveryStatus::Deferred);
        EXPECT_EQ(r.contents.recipients[1].status, DeliveryStatus::Pending) << n;
        EXPECT_EQ(r.contents.intact_length, base.size() + first.size());
    }
}

// Appends are cut back when they fail, so a state record with a bad checksum that other records
// follow was not torn by a crash: it is damage, and the file is kept for the operator rather than
// read as if the outcomes after it had never happened.
TEST(SpoolFile, AStateRecordWithABadChecksumBeforeOthersIsDamage) {
    TempDir dir;
    auto h = sample_header();
    auto path = dir.path() / h.id;
    const std::string base = spool_file_bytes(h, "x\r\n");
    std::string record = encode_state_record(0, {DeliveryStatus::Delivered, 1, 1, 0, "/m/new/z", {}, false});
    record[record.size() - 6] ^= 0x20;
    write_file(path, base + record + encode_state_record(1, {DeliveryStatus::Delivered, 1, 1, 0, "/m", {}, false}));
    EXPECT_EQ(read_spool_file(path).status, SpoolFileStatus::Damaged);
    // The same record last, with nothing after it, is the torn end of an append: cut off.
    write_file(path, base + record);
    auto r = read_spool_file(path);
    ASSERT_EQ(r.status, SpoolFileStatus::Ok);
    EXPECT_EQ(r.contents.recipients[0].status, DeliveryStatus::Pending);
    EXPECT_EQ(r.contents.intact_length, base.size());
}

TEST(SpoolFile, StateRecordRoundTripAndRejection) {
    RecipientState s{DeliveryStatus::Failed, 7, 123456789012345ull, 99, "550 5.1.1 no such user",
                     "mx.example [192.0.2.1]", true, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits), verified"};
    std::string record = encode_state_record(3, s);
    ASSERT_EQ(static_cast<RecordType>(record[0]), RecordType::RecipientState);
    auto decoded = decode_state_record(std::string_view(record).substr(kRecordHeaderSize));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->recipient_index, 3u);
    EXPECT_EQ(decoded->state.status, DeliveryStatus::Failed);
    EXPECT_EQ(decoded->state.attempts, 7u);
    EXPECT_EQ(decoded->state.updated_us, 123456789012345ull);
    EXPECT_EQ(decoded->state.next_attempt_us, 99u);
    EXPECT_EQ(decoded->state.text, s.text);
    EXPECT_EQ(decoded->state.peer, s.peer);
    EXPECT_TRUE(decoded->state.from_peer);
    EXPECT_EQ(decoded->state.tls, s.tls);
    for (std::size_t n = 0; n + kRecordHeaderSize < record.size(); ++n)
        EXPECT_FALSE(decode_state_record(std::string_view(record).substr(kRecordHeaderSize, n))) << n;
}

// Records written before the peer was kept end after the text: they still read, without a peer.
TEST(SpoolFile, AStateRecordWithoutThePeerStillReads) {
    std::string payload;
    PayloadWriter w(payload);
    w.u32(1);
    w.u8(static_cast<std::uint8_t>(DeliveryStatus::Deferred));
    w.u32(2);
    w.u64(10);
    w.u64(20);
    w.str("451 4.7.1 later");
    const std::string record = sealed_record(RecordType::RecipientState, payload);
    auto decoded = decode_state_record(std::string_view(record).substr(kRecordHeaderSize));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->state.status, DeliveryStatus::Deferred);
    EXPECT_EQ(decoded->state.text, "451 4.7.1 later");
    EXPECT_TRUE(decoded->state.peer.empty());
    EXPECT_FALSE(decoded->state.from_peer);
}

// Records written before the connection's protection was kept end after the peer.
TEST(SpoolFile, AStateRecordWithoutItsProtectionStillReads) {
    std::string payload;
    PayloadWriter w(payload);
    w.u32(0);
    w.u8(static_cast<std::uint8_t>(DeliveryStatus::Failed));
    w.u32(1);
    w.u64(10);
    w.u64(0);
    w.str("550 5.1.1 no such user");
    w.str("mx.example [192.0.2.1]");
    w.u8(1);
    const std::string record = sealed_record(RecordType::RecipientState, payload);
    auto decoded = decode_state_record(std::string_view(record).substr(kRecordHeaderSize));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->state.peer, "mx.example [192.0.2.1]");
    EXPECT_TRUE(decoded->state.from_peer);
    EXPECT_TRUE(decoded->state.tls.empty());
}

TEST(SpoolFile, AFileOfANewerFormatVersionIsLeftAlone) {
    TempDir dir;
    auto h = sample_header();
    std::string bytes = spool_file_bytes(h, "x\r\n");
    bytes[kRecordHeaderSize + kSpoolMagic.size()] = 2;  // version 2
    write_file(dir.path() / h.id, bytes);
    EXPECT_EQ(read_spool_file(dir.path() / h.id).status, SpoolFileStatus::UnknownVersion);
}

TEST(SpoolFile, ACompleteFileUnderAnotherNameIsDamaged) {
    TempDir dir;
    auto h = sample_header();
    write_file(dir.path() / make_queue_id(5, 5), spool_file_bytes(h, "x\r\n"));
    EXPECT_EQ(read_spool_file(dir.path() / make_queue_id(5, 5)).status, SpoolFileStatus::Damaged);
}

TEST(SpoolFile, AForeignFileIsDamagedNotTorn) {
    TempDir dir;
    write_file(dir.path() / "f", "From alice Mon Jan 1\nSubject: x\n\nhello\n");
    EXPECT_EQ(read_spool_file(dir.path() / "f").status, SpoolFileStatus::Damaged);
}

TEST(SpoolFile, LargeContentIsCutIntoBoundedRecords) {
    TempDir dir;
    auto h = sample_header();
    std::string content(3 * kMaxContentRecord + 17, 'z');
    write_file(dir.path() / h.id, spool_file_bytes(h, content));
    auto r = read_spool_file(dir.path() / h.id);
    ASSERT_EQ(r.status, SpoolFileStatus::Ok) << r.detail;
    std::size_t pieces = 0, total = 0;
    read_spool_content(dir.path() / h.id, [&](std::string_view p) {
        ++pieces;
        total += p.size();
        EXPECT_LE(p.size(), kMaxContentRecord);
        return true;
    });
    EXPECT_EQ(pieces, 4u);
    EXPECT_EQ(total, content.size());
}

TEST(PayloadCodec, ReadsWhatWasWrittenAndStopsAtTheEnd) {
    std::string p;
    PayloadWriter w(p);
    w.u8(200);
    w.u32(0xDEADBEEFu);
    w.u64(0x0123456789ABCDEFull);
    w.str(std::string("a\0b", 3));
    PayloadReader r(p);
    EXPECT_EQ(r.u8(), 200u);
    EXPECT_EQ(r.u32(), 0xDEADBEEFu);
    EXPECT_EQ(r.u64(), 0x0123456789ABCDEFull);
    EXPECT_EQ(r.str(), std::string("a\0b", 3));
    EXPECT_TRUE(r.ok_and_done());
    r.u8();
    EXPECT_FALSE(r.ok());

    PayloadReader lying(std::string_view("\xff\xff\xff\x7f" "abc", 7));  // a string length past the end
    EXPECT_EQ(lying.str(), "");
    EXPECT_FALSE(lying.ok());
}

}  // namespace
}  // namespace ehlo::queue

namespace ehlo::queue {
namespace {

// ---- damage: every record type of a committed file ------------------------------------------

struct RecordSpan {
    RecordType type;
    std::size_t offset, length;  // header included
};

std::vector<RecordSpan> records_of(const std::string& file) {
    std::vector<RecordSpan> out;
    for (std::size_t at = 0; at + kRecordHeaderSize <= file.size();) {
        const std::size_t length = kRecordHeaderSize + load_u32(file.data() + at + 1);
        out.push_back({static_cast<RecordType>(static_cast<unsigned char>(file[at])), at, length});
        at += length;
    }
    return out;
}

// A committed file with a state record and a message event after End.
std::string committed_with_states(const SpoolHeader& h) {
    std::string file = spool_file_bytes(h, "Subject: x\r\n\r\nbody\r\n");
    RecipientState delivered;
    delivered.status = DeliveryStatus::Delivered;
    delivered.attempts = 1;
    delivered.text = "new/1.file";
    file += encode_state_record(0, delivered);
    file += encode_message_event({MessageEventKind::Held, 5, {}, {}});
    RecipientState deferred;
    deferred.status = DeliveryStatus::Deferred;
    deferred.attempts = 2;
    deferred.next_attempt_us = 99;
    deferred.text = "451 4.4.1 later";
    file += encode_state_record(1, deferred);
    return file;
}

// A damaged byte in any record of a committed file, before End or in a state record with
// others after it, is damage: kept for a person (quarantined), never deleted as torn.
TEST(SpoolDamage, ADamagedByteInEveryRecordTypeIsDamageNotATornWrite) {
    TempDir dir;
    const auto h = sample_header();
    const auto path = dir.path() / h.id;
    const std::string whole = committed_with_states(h);
    const auto records = records_of(whole);
    std::set<RecordType> seen;
    for (std::size_t k = 0; k + 1 < records.size(); ++k) {  // the last one: see below
        const RecordSpan& r = records[k];
        seen.insert(r.type);
        for (std::size_t at : {r.offset + kRecordHeaderSize, r.offset + r.length - 1}) {
            if (r.type == RecordType::Magic && at < r.offset + kRecordHeaderSize + kSpoolMagic.size()) continue;
            std::string damaged = whole;
            damaged[at] = static_cast<char>(damaged[at] ^ 0x20);
            write_file(path, damaged);
            const auto read = read_spool_file(path);
            // The format version's octets: a version we do not know, left alone (not deleted either).
            const auto expected = r.type == RecordType::Magic ? SpoolFileStatus::UnknownVersion : SpoolFileStatus::Damaged;
            EXPECT_EQ(read.status, expected) << "record type '" << static_cast<char>(r.type) << "' at " << r.offset << ", byte " << at << ": "
                << read.detail;
        }
    }
    for (RecordType t : {RecordType::Magic, RecordType::Identity, RecordType::Sender, RecordType::Parameters,
                         RecordType::Recipient, RecordType::Reception, RecordType::Content, RecordType::End,
                         RecordType::RecipientState, RecordType::MessageEvent})
        EXPECT_TRUE(seen.count(t)) << "no record of type '" << static_cast<char>(t) << "' was damaged";
}

// A length no writer writes is damage wherever it stands, after End too.
TEST(SpoolDamage, AnImpossibleLengthIsDamage) {
    TempDir dir;
    const auto h = sample_header();
    const auto path = dir.path() / h.id;
    const std::string whole = committed_with_states(h);
    for (const RecordSpan& r : records_of(whole)) {
        std::string damaged = whole;
        store_u32(damaged.data() + r.offset + 1, 0x7fffffffu);
        write_file(path, damaged);
        EXPECT_EQ(read_spool_file(path).status, SpoolFileStatus::Damaged) << "record at " << r.offset;
    }
}

// A damaged length that points past the end of the file makes it read like a torn one; the
// End record further on shows it was not.
TEST(SpoolDamage, ALengthThatHidesTheEndRecordIsStillDamage) {
    TempDir dir;
    const auto h = sample_header();
    const auto path = dir.path() / h.id;
    const std::string whole = committed_with_states(h);
    for (const RecordSpan& r : records_of(whole)) {
        if (r.type == RecordType::End || r.type == RecordType::RecipientState || r.type == RecordType::MessageEvent) continue;
        std::string damaged = whole;
        store_u32(damaged.data() + r.offset + 1, static_cast<std::uint32_t>(whole.size()));  // past the end
        write_file(path, damaged);
        const auto read = read_spool_file(path);
        EXPECT_EQ(read.status, SpoolFileStatus::Damaged) << "record at " << r.offset << ": " << read.detail;
    }
}

// Both at once: a damaged length hides the End, and the last state record was torn by a crash
// in its append (whole length, wrong checksum). The End is still seen: damaged, never torn.
TEST(SpoolDamage, AHiddenEndIsFoundPastATornLastStateRecord) {
    TempDir dir;
    const auto h = sample_header();
    const auto path = dir.path() / h.id;
    std::string whole = committed_with_states(h);
    const auto records = records_of(whole);
    whole[whole.size() - 2] ^= 0x10;  // in the last state record's checksum
    for (const RecordSpan& r : records) {
        if (r.type != RecordType::Recipient) continue;
        std::string damaged = whole;
        store_u32(damaged.data() + r.offset + 1, static_cast<std::uint32_t>(whole.size()));  // past the end
        write_file(path, damaged);
        const auto read = read_spool_file(path);
        EXPECT_EQ(read.status, SpoolFileStatus::Damaged) << read.detail;
    }
}

// The last state record, torn by a crash in the middle of its append (or cut back after a failed
// one), is the only damage that is expected: it is cut off, and what precedes it stands.
TEST(SpoolDamage, ATornLastStateRecordIsCutOffNotDamage) {
    TempDir dir;
    const auto h = sample_header();
    const auto path = dir.path() / h.id;
    const std::string whole = committed_with_states(h);
    const RecordSpan last = records_of(whole).back();
    for (std::size_t cut = last.offset + 1; cut < whole.size(); ++cut) {
        write_file(path, whole.substr(0, cut));
        const auto read = read_spool_file(path);
        ASSERT_EQ(read.status, SpoolFileStatus::Ok) << "cut at " << cut << ": " << read.detail;
        EXPECT_EQ(read.contents.intact_length, last.offset);
        EXPECT_EQ(read.contents.recipients[0].status, DeliveryStatus::Delivered);
        EXPECT_TRUE(read.contents.held);
    }
    std::string damaged = whole;
    damaged.back() = static_cast<char>(damaged.back() ^ 1);  // its checksum fails, nothing after it
    write_file(path, damaged);
    const auto read = read_spool_file(path);
    ASSERT_EQ(read.status, SpoolFileStatus::Ok) << read.detail;
    EXPECT_EQ(read.contents.intact_length, last.offset);
}

TEST(SpoolFile, LightReadGivesTheEnvelopeAndStatesWithoutTheContent) {
    TempDir dir;
    auto h = sample_header();
    const auto path = dir.path() / h.id;
    std::string file = spool_file_bytes(h, std::string(3 * kMaxContentRecord + 5, 'q'));
    RecipientState deferred;
    deferred.status = DeliveryStatus::Deferred;
    deferred.next_attempt_us = 1234;
    file += encode_state_record(1, deferred);
    write_file(path, file);
    const auto read = read_spool_file(path, SpoolRead::Light);
    ASSERT_EQ(read.status, SpoolFileStatus::Ok) << read.detail;
    EXPECT_EQ(read.contents.content_size, 3 * kMaxContentRecord + 5);
    EXPECT_EQ(read.contents.recipients[1].status, DeliveryStatus::Deferred);
    EXPECT_EQ(read.contents.intact_length, file.size());
    EXPECT_EQ(read.contents.header.envelope.recipients.size(), 2u);
}

// A Flushed event makes deferred recipients due at its time; a later state record decides.
TEST(SpoolFile, AFlushedEventMakesDeferredRecipientsDue) {
    TempDir dir;
    auto h = sample_header();
    const auto path = dir.path() / h.id;
    std::string file = spool_file_bytes(h, "x\r\n");
    RecipientState deferred;
    deferred.status = DeliveryStatus::Deferred;
    deferred.next_attempt_us = 5000;
    file += encode_state_record(0, deferred);
    file += encode_state_record(1, deferred);
    file += encode_message_event({MessageEventKind::Flushed, 100, {0, 1}, {}});
    deferred.next_attempt_us = 7000;
    file += encode_state_record(1, deferred);  // tried after the flush, deferred again
    write_file(path, file);
    const auto read = read_spool_file(path);
    ASSERT_EQ(read.status, SpoolFileStatus::Ok) << read.detail;
    EXPECT_EQ(read.contents.recipients[0].next_attempt_us, 100u);
    EXPECT_EQ(read.contents.recipients[1].next_attempt_us, 7000u);
}

}  // namespace
}  // namespace ehlo::queue
