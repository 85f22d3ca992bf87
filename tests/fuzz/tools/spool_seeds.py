#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_spool_record (tests/fuzz/corpus/spool_record/): spool files
in the record format of src/queue/spool_record.hpp and spool_file.hpp, whole and as a crash or
damage leaves them. The queue id is the one the target names its file with (kQueueId).

    python3 tests/fuzz/tools/spool_seeds.py tests/fuzz/corpus/spool_record
"""
import struct
import sys
from pathlib import Path

QUEUE_ID = b"0FUZZ00000000000"


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def u8(v): return struct.pack("<B", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)
def s(b): return u32(len(b)) + b


def record(kind, payload): return kind + u32(len(payload)) + payload


def sealed(kind, payload):
    head = kind + u32(len(payload) + 4)
    return head + payload + u32(crc32c(head + payload))


def head(recipients, sender=(b"alice", b"example.org"), body=0, smtputf8=0, ret=0, size=None, envid=b""):
    out = record(b"M", b"EHLOSPOOL" + u32(1))
    out += record(b"I", s(QUEUE_ID) + u64(1764633600000000))
    out += record(b"F", (u8(1) + s(sender[0]) + s(sender[1])) if sender else (u8(0) + s(b"") + s(b"")))
    out += record(b"P", u8(body) + u8(smtputf8) + u8(ret) + u8(size is not None) + u64(size or 0) + s(envid))
    for local, domain, orcpt, notify, forwarded in recipients:
        out += record(b"R", s(local) + s(domain) + s(orcpt) + u32(notify) + (u8(1) if forwarded else b""))
    out += record(b"T", s(b"S1") + s(b"192.0.2.7") + s(b"client.example"))
    return out


def content(data, piece=None):
    piece = piece or max(1, len(data))
    return b"".join(record(b"C", data[i:i + piece]) for i in range(0, len(data), piece))


def end(before, size): return record(b"E", u64(size) + u32(crc32c(before)))


def whole(h, body, piece=None):
    f = h + content(body, piece)
    return f + end(f, len(body))


def state(index, status, attempts=0, text=b"", peer=None, from_peer=0):
    p = u32(index) + u8(status) + u32(attempts) + u64(1764633700000000) + u64(1764637300000000) + s(text)
    if peer is not None:
        p += s(peer) + u8(from_peer)
    return sealed(b"S", p)


def event(kind, recipients=(), report_id=b""):
    return sealed(b"G", u8(kind) + u64(1764633800000000) + u32(len(recipients)) + b"".join(u32(i) for i in recipients) + s(report_id))


RCPTS = [(b"bob", b"example.net", b"", 0, False),
         (b"carol", b"example.com", b"rfc822;carol@example.com", 2 | 4, False),
         (b"dave", b"lists.example", b"", 0, True)]
MESSAGE = (b"Received: from client.example ([192.0.2.7])\r\n\tby mx.example; Tue, 2 Dec 2025 00:00:00 +0000\r\n"
           b"From: alice@example.org\r\nSubject: hello\r\n\r\nBody line\r\n.leading dot\r\n")
UTF8 = "Subject: héllo\r\nFrom: 用户@例子.广告\r\n\r\nbody \xff\r\n".encode("utf-8", "surrogateescape")


def seeds():
    h = head(RCPTS, size=len(MESSAGE), envid=b"ENV1", ret=2)
    f = whole(h, MESSAGE)
    yield "01_whole_three_recipients", f
    yield "02_content_in_small_records", whole(h, MESSAGE, piece=7)
    yield "03_null_sender_utf8_8bit", whole(head(RCPTS[:1], sender=None, body=1, smtputf8=1), UTF8)
    yield "04_states_after_end", f + state(0, 2, 1, b"250 2.0.0 Ok: queued", b"mx.example.net [192.0.2.25]", 1) + \
        state(1, 1, 2, b"451 4.3.0 try later", b"mx.example.com [192.0.2.26]", 1) + state(2, 3, 1, b"550 5.1.1 no such user")
    yield "05_events_held_reported_flushed", f + state(1, 1, 1, b"451 later", b"mx", 1) + event(1) + event(3, [0, 2], b"0DSN000000000000") + \
        event(4, [1]) + event(5, [1]) + event(2)
    yield "06_torn_in_content", f[:len(h) + 20]
    yield "07_torn_last_state", f + state(0, 2, 1, b"250 ok", b"mx", 1)[:-3]
    bad_state = bytearray(state(0, 2, 1, b"250 ok", b"mx", 1))
    bad_state[12] ^= 0x40
    yield "08_damaged_state_before_another", f + bytes(bad_state) + state(1, 2, 1, b"250 ok", b"mx", 1)
    damaged = bytearray(f)
    damaged[len(h) + 30] ^= 0x01
    yield "09_damaged_content_checksum", bytes(damaged)
    hidden = bytearray(f)
    hidden[len(h) + 1:len(h) + 5] = u32(0x000F0000)
    yield "10_damaged_length_hides_end", bytes(hidden)
    impossible = bytearray(f)
    impossible[len(h) + 1:len(h) + 5] = u32(0x7FFFFFFF)
    yield "19_impossible_length", bytes(impossible)
    yield "11_unknown_version", record(b"M", b"EHLOSPOOL" + u32(2)) + f[len(record(b"M", b"EHLOSPOOL" + u32(1))):]
    yield "12_not_a_spool_file", b"From alice@example.org Tue Dec  2 00:00:00 2025\nSubject: mbox\n\n"
    yield "13_old_state_without_peer", f + state(0, 1, 3, b"421 4.4.2 connection lost")
    yield "14_two_identities", h + record(b"I", s(QUEUE_ID) + u64(1)) + content(MESSAGE) + \
        end(h + record(b"I", s(QUEUE_ID) + u64(1)) + content(MESSAGE), len(MESSAGE))
    yield "15_event_index_out_of_range", f + event(3, [7])
    yield "16_empty_content", whole(head(RCPTS[:2]), b"")
    yield "17_no_recipients", whole(head([]), MESSAGE)
    yield "18_cut_in_first_record", f[:7]


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/spool_record")
    out.mkdir(parents=True, exist_ok=True)
    for name, data in seeds():
        (out / name).write_bytes(data)
