#!/usr/bin/env python3
"""`make run` starts `ehlo serve` with no configuration file: the embedded defaults.

The README promises: SMTP on 127.0.0.1:2525, the spool under ./var/spool, the local domain
`localhost` as a catch-all delivering to ./var/mail/<user>/, and Ctrl-C stops it cleanly.
"""
import os
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest

import harness

PORT = 2525


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class EmbeddedDefaults(unittest.TestCase):
    def test_defaults_receive_and_deliver_to_a_catch_all_maildir(self):
        binary = harness.ehlo_binary()
        if port_open(PORT):
            self.skipTest("127.0.0.1:2525 is in use by another program")
        with tempfile.TemporaryDirectory() as cwd:
            proc = subprocess.Popen([binary, "serve"], cwd=cwd, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                deadline = time.monotonic() + 10
                while not port_open(PORT):
                    self.assertIsNone(proc.poll(), "ehlo serve exited at start")
                    self.assertLess(time.monotonic(), deadline, "no listener on 127.0.0.1:2525")
                    time.sleep(0.05)
                with smtplib.SMTP("127.0.0.1", PORT, timeout=10) as c:
                    c.sendmail("me@example.org", ["someone+tag@localhost"],
                               b"Subject: defaults\r\n\r\nhello\r\n")
                new = os.path.join(cwd, "var", "mail", "someone", "new")
                deadline = time.monotonic() + 10
                while not (os.path.isdir(new) and os.listdir(new)):
                    self.assertLess(time.monotonic(), deadline, "nothing delivered to ./var/mail/someone")
                    time.sleep(0.05)
                (name,) = os.listdir(new)
                with open(os.path.join(new, name), "rb") as f:
                    content = f.read()
                self.assertTrue(content.startswith(b"Return-Path: <me@example.org>\n"))
                self.assertIn(b"hello\n", content)
                # the spool is private to the server
                self.assertEqual(os.stat(os.path.join(cwd, "var", "spool")).st_mode & 0o777, 0o700)
            finally:
                proc.send_signal(signal.SIGINT)  # Ctrl-C
                try:
                    code = proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    code = None
                err = proc.stderr.read().decode(errors="replace")
                proc.stderr.close()
            self.assertEqual(code, 0, err)
            self.assertIn("event=stopped", err)

    def test_make_run_makes_a_self_signed_certificate_and_offers_starttls(self):
        """`make run` passes --self-signed var/tls: made on the first start, reused after."""
        binary = harness.ehlo_binary()
        harness.require_tool("openssl")
        if port_open(PORT):
            self.skipTest("127.0.0.1:2525 is in use by another program")
        import ssl
        with tempfile.TemporaryDirectory() as cwd:
            for start in (1, 2):
                proc = subprocess.Popen([binary, "serve", "--self-signed", "var/tls"], cwd=cwd,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
                try:
                    deadline = time.monotonic() + 10
                    while not port_open(PORT):
                        self.assertIsNone(proc.poll(), "ehlo serve exited at start")
                        self.assertLess(time.monotonic(), deadline, "no listener on 127.0.0.1:2525")
                        time.sleep(0.05)
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    with smtplib.SMTP("127.0.0.1", PORT, timeout=10) as c:
                        c.starttls(context=ctx)
                        der = c.sock.getpeercert(binary_form=True)
                        c.sendmail("me@example.org", ["someone@localhost"], b"Subject: tls\r\n\r\nhi\r\n")
                finally:
                    proc.send_signal(signal.SIGINT)
                    proc.wait(timeout=10)
                    err = proc.stderr.read().decode(errors="replace")
                    proc.stderr.close()
                files = sorted(os.listdir(os.path.join(cwd, "var", "tls")))
                self.assertEqual(len(files), 2, files)
                key = [f for f in files if f.endswith(".key")][0]
                self.assertEqual(os.stat(os.path.join(cwd, "var", "tls", key)).st_mode & 0o777, 0o600)
                self.assertIn("event=tls-self-signed", err)
                self.assertIn("created=" + ("now" if start == 1 else "before"), err)
                if start == 1:
                    first = der
                else:
                    self.assertEqual(der, first)  # the same certificate, not a new one each start


if __name__ == "__main__":
    unittest.main()
