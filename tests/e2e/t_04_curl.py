#!/usr/bin/env python3
"""curl's SMTP client uploading a message file.

curl does the dot-stuffing (RFC 5321 4.5.2) but sends the file's line endings as they are:
a file with CRLF lines (or LF lines with --crlf) is delivered; a file with bare LF lines
is content ehlo refuses (RFC 5321 2.3.8: lines end with CRLF; bare LF is how SMTP
smuggling starts), so nothing is delivered and curl reports the failure.
"""
import os
import shutil
import subprocess
import unittest

import harness

CURL = shutil.which("curl") or "/usr/bin/curl"


@unittest.skipUnless(os.access(CURL, os.X_OK), "curl is not installed")
class Curl(harness.E2ETest):

    def upload(self, server, name, content, *extra):
        path = os.path.join(server.dir, name)
        with open(path, "wb") as f:
            f.write(content)
        cmd = [CURL, "-sS", "--max-time", "30", f"smtp://127.0.0.1:{server.port}/client.test",
               "--mail-from", "sender@client.test",
               "--mail-rcpt", "alice@example.test", "--mail-rcpt", "bob@example.test",
               "--upload-file", path, *extra]
        return subprocess.run(cmd, capture_output=True, timeout=60)

    LINES = ["From: <sender@client.test>", "To: <alice@example.test>",
             "Subject: sent by curl", "", "first line", ".a line that starts with a dot",
             "last line"]

    def test_upload_crlf_file_to_two_recipients(self):
        server = self.start_server()
        r = self.upload(server, "msg.eml", ("\r\n".join(self.LINES) + "\r\n").encode())
        self.assertEqual(r.returncode, 0, r.stderr)
        for user in ("alice", "bob"):
            (path,) = server.wait_for_delivery(user, 1)
            with open(path, "rb") as f:
                stored = f.read()
            self.assertTrue(stored.startswith(b"Return-Path: <sender@client.test>\n"))
            # curl stuffed the dot, ehlo removed it again
            self.assertIn(b"\nfirst line\n.a line that starts with a dot\nlast line\n", stored)
        server.wait_spool_empty()

    def test_upload_lf_file_with_crlf_option(self):
        server = self.start_server()
        r = self.upload(server, "msg.eml", ("\n".join(self.LINES) + "\n").encode(), "--crlf")
        self.assertEqual(r.returncode, 0, r.stderr)
        server.wait_for_delivery("alice", 1)
        server.wait_for_delivery("bob", 1)

    def test_upload_bare_lf_file_is_refused_rfc5321_2_3_8(self):
        server = self.start_server()
        r = self.upload(server, "msg.eml", ("\n".join(self.LINES) + "\n").encode(), "-v")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"554 5.6.0", r.stderr)
        server.assert_stays("alice", 0)
        server.assert_stays("bob", 0, seconds=0)
        self.assertEqual(server.spool_files(), [])


if __name__ == "__main__":
    harness.main()
