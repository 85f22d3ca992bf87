#!/usr/bin/env python3
"""A backlog larger than the active set: bounded memory, every message delivered once.

2,000 messages of 1 MiB (2 GiB in all) are queued for a destination that is down; ehlo is
restarted with all of them on disk; then the destination comes up (Postfix's smtp-sink, which
keeps each transaction in a file of its own). Every message arrives exactly once, the spool
ends empty, and neither process's peak resident memory (VmHWM) reaches 200 MiB: content goes
from the spool file to the socket in bounded pieces, and only `active_messages` messages are
held in memory at a time (the rest wait on disk, as in Postfix's active and deferred queues).
"""
import os
import re
import shutil
import smtplib
import subprocess
import threading
import time
import unittest

import harness

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
# bench/backlog.sh runs the same with more (EHLO_BACKLOG_MESSAGES=20000).
MESSAGES = int(os.environ.get("EHLO_BACKLOG_MESSAGES", "2000"))
SIZE = 1 << 20
CONNECTIONS = 4
PEAK_LIMIT = 200 << 20
TOKEN = re.compile(rb"Message-ID: <(backlog-\d+)@client\.test>")


def peak_rss(pid):
    """VmHWM of a running process, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/%d/status" % pid)


def body_of_one_mebibyte():
    line = b"x" * 76 + b"\r\n"
    return line * (SIZE // len(line))


@unittest.skipUnless(os.access(SMTP_SINK, os.X_OK), "smtp-sink (postfix) is not installed")
@harness.skip_if_sanitized("peak RSS")
class BacklogMemory(harness.E2ETest):

    def test_after_an_outage_each_arrives_once(self):
        dest_port = harness.free_port()
        sender = self.start_sender(
            routes=harness.route_to(dest_port),
            delivery={"active_messages": 300},
            limits={"message_size": 4 * SIZE})
        body = body_of_one_mebibyte()

        def send_share(first, count, errors):
            try:
                with smtplib.SMTP("127.0.0.1", sender.port, timeout=60) as s:
                    s.ehlo("client.test")
                    for n in range(first, first + count):
                        msg = (f"From: <{harness.LOCAL_SENDER}>\r\nTo: <bob@remote.example>\r\n"
                               f"Subject: backlog {n}\r\nMessage-ID: <backlog-{n}@client.test>\r\n\r\n"
                               ).encode() + body
                        s.sendmail(harness.LOCAL_SENDER, ["bob@remote.example"], msg)
            except Exception as e:  # noqa: BLE001 - reported by the test thread
                errors.append(repr(e))

        errors = []
        share = MESSAGES // CONNECTIONS
        threads = [threading.Thread(target=send_share, args=(i * share, share, errors))
                   for i in range(CONNECTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(sender.spool_files()), MESSAGES, "every accepted message is queued")
        receiving_peak = peak_rss(sender.pid)

        # A restart with the whole backlog on disk and the destination still down.
        sender.restart()
        sender.wait_log("deferred", to="bob@remote.example")

        sink_dir = os.path.join(sender.dir, "sink")
        os.makedirs(sink_dir)
        os.chmod(sink_dir, 0o777)
        as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
        sink = subprocess.Popen([SMTP_SINK, *as_user, "-d", os.path.join(sink_dir, "%H%M%S."),
                                 f"127.0.0.1:{dest_port}", "256"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (sink.kill(), sink.wait()))

        deadline = time.monotonic() + 240 * max(1, MESSAGES // 2000)
        while sender.spool_files():
            self.assertLess(time.monotonic(), deadline,
                            f"{len(sender.spool_files())} still queued\n" + sender.log_tail())
            self.assertIsNone(sink.poll(), "smtp-sink ended")
            time.sleep(0.5)
        delivering_peak = peak_rss(sender.pid)
        time.sleep(3.0)  # more than a retry period: nothing else comes

        seen = {}
        for name in os.listdir(sink_dir):
            with open(os.path.join(sink_dir, name), "rb") as f:
                head = f.read(4096)
            found = TOKEN.search(head)
            self.assertIsNotNone(found, name)
            seen[found.group(1)] = seen.get(found.group(1), 0) + 1
        self.assertEqual(len(seen), MESSAGES, "lost messages")
        self.assertEqual([t for t, n in seen.items() if n != 1], [], "delivered more than once")
        self.assertLess(receiving_peak, PEAK_LIMIT, f"peak RSS while receiving: {receiving_peak}")
        self.assertLess(delivering_peak, PEAK_LIMIT, f"peak RSS while delivering: {delivering_peak}")
        print(f"{MESSAGES} messages of 1 MiB; peak RSS: receiving {receiving_peak >> 20} MiB, "
              f"delivering the backlog {delivering_peak >> 20} MiB")


if __name__ == "__main__":
    harness.main()
