#!/usr/bin/env python3
"""200 concurrent sessions from Postfix's smtp-source: every message delivered exactly once.

smtp-source opens 200 sessions at a time and sends 2000 messages of 1 KiB, one per
connection. Afterwards alice's Maildir holds exactly 2000 files, their queue ids (from the
Received header) are 2000 different ids, every one of them was announced in a 250 reply
(RFC 5321 4.1.1.4: the 250 to the end of data is the server taking responsibility), and the
spool's queue/ is empty again.
"""
import os
import shutil
import subprocess
import time
import unittest

import harness

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SESSIONS, MESSAGES = 200, 2000


@unittest.skipUnless(os.access(SMTP_SOURCE, os.X_OK), "smtp-source (postfix) is not installed")
class SmtpSourceLoad(harness.E2ETest):

    def test_200_sessions_2000_messages_each_delivered_once(self):
        server = self.start_server(limits={"connections_per_client": 0})
        started = time.monotonic()
        r = subprocess.run([SMTP_SOURCE, "-s", str(SESSIONS), "-m", str(MESSAGES), "-l", "1024",
                            "-M", "client.test", "-f", "sender@client.test",
                            "-t", "alice@example.test", f"127.0.0.1:{server.port}"],
                           capture_output=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        self.assertEqual(r.stderr, b"", "smtp-source complained")
        files = server.wait_for_delivery("alice", MESSAGES, timeout=60)
        elapsed = time.monotonic() - started
        print(f"\n{MESSAGES} messages in {elapsed:.1f} s ({MESSAGES / elapsed:.0f}/s) "
              "accepted and delivered")
        files = server.assert_stays("alice", MESSAGES, seconds=1.0)

        ids = []
        for path in files:
            with open(path, "rb") as f:
                stored = f.read()
            self.assertTrue(stored.startswith(b"Return-Path: <sender@client.test>\n"))
            ids.append(harness.received_fields(stored)[0])
        self.assertNotIn(None, ids)
        self.assertEqual(len(set(ids)), MESSAGES, "a queue id was delivered twice")

        # every delivered queue id is one the log says was queued (by a 250)
        queued = {e.get("id") for e in server.log_events("queued")}
        self.assertEqual(set(ids) - queued, set())
        server.wait_spool_empty(timeout=30)


if __name__ == "__main__":
    harness.main()
