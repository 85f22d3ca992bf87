#!/usr/bin/env python3
"""swaks, the Swiss Army knife for SMTP, against ehlo.

A pipelined transaction (RFC 2920) carrying a 1 MB attachment, which must arrive octet for
octet after MIME decoding, and a refused recipient, which swaks reports as a failure.
"""
import email
import email.policy
import os
import random
import re
import shutil
import subprocess
import unittest

import harness

SWAKS = shutil.which("swaks") or "/usr/bin/swaks"


def swaks_version():
    out = subprocess.run([SWAKS, "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"version (\d+)", out)
    return int(m.group(1)) if m else 0


@unittest.skipUnless(os.access(SWAKS, os.X_OK), "swaks is not installed")
class Swaks(harness.E2ETest):

    def swaks(self, server, *args):
        cmd = [SWAKS, "--server", "127.0.0.1", "--port", str(server.port),
               "--helo", "client.test", "--from", "sender@client.test", *args]
        return subprocess.run(cmd, capture_output=True, timeout=60)

    def test_pipelined_message_with_1mb_attachment_rfc2920(self):
        server = self.start_server()
        payload = random.Random(3).randbytes(1 << 20)
        attachment = os.path.join(server.dir, "payload.bin")
        with open(attachment, "wb") as f:
            f.write(payload)
        # swaks from 2024 on wants "@file" to read a file; older ones take the name itself
        spec = "@" + attachment if swaks_version() >= 20240103 else attachment
        r = self.swaks(server, "--to", "alice@example.test", "--pipeline",
                       "--header", "Subject: swaks with an attachment",
                       "--attach-type", "application/octet-stream", "--attach", spec,
                       "--suppress-data")
        out = r.stdout.decode(errors="replace")
        self.assertEqual(r.returncode, 0, out + r.stderr.decode(errors="replace"))
        # swaks saw the server offer PIPELINING and used it
        self.assertIn("PIPELINING", out)
        m = re.search(r"<\S* +250 2\.0\.0 Ok: queued as (\w+)", out)
        self.assertTrue(m, out)

        (path,) = server.wait_for_delivery("alice", 1)
        with open(path, "rb") as f:
            stored = f.read()
        self.assertEqual(harness.received_fields(stored)[0], m.group(1))
        msg = email.message_from_bytes(stored, policy=email.policy.default)
        parts = [p for p in msg.iter_attachments()]
        self.assertEqual(len(parts), 1)
        self.assertEqual(parts[0].get_content(), payload)

    def test_refused_recipient_is_a_failure_for_swaks(self):
        server = self.start_server()
        r = self.swaks(server, "--to", "nobody@example.test", "--pipeline")
        out = r.stdout.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, out)
        self.assertIn("550 5.1.1", out)
        server.assert_stays("alice", 0)
        self.assertEqual(server.spool_files(), [])


if __name__ == "__main__":
    harness.main()
