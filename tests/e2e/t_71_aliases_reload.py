#!/usr/bin/env python3
"""Alias files change under a running server: read again without a restart.

RCPT TO answers from the alias table (an unknown address still gets 550 5.1.1). A changed file
is noticed by itself (a stat a second, read once it has kept still); SIGHUP reads the files at
once, even a change that a stat cannot see; a file with a problem keeps the table in use and
logs the line and the problem; SIGHUP does not stop the server.
"""
import os
import signal
import tempfile
import time

import harness

WAIT = 10.0  # s for a change to be picked up


class AliasesReload(harness.E2ETest):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.TemporaryDirectory(prefix="ehlo-e2e-reload-")
        self.addCleanup(self.tmp.cleanup)
        self.aliases = os.path.join(self.tmp.name, "aliases")
        self.write("team: alice, bob\n")
        self.srv = self.start_server(tables={"aliases": {"files": [self.aliases]}})

    def write(self, text):
        with open(self.aliases, "w") as f:
            f.write(text)

    def rcpt(self, address):
        """The reply code to RCPT TO:<address> from an untrusted-looking dialog."""
        with self.srv.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            self.assertEqual(c.cmd("MAIL FROM:<someone@client.test>").code, 250)
            code = c.cmd(f"RCPT TO:<{address}>").code
            c.cmd("QUIT")
            return code

    def wait_for(self, address, code):
        deadline = time.monotonic() + WAIT
        while self.rcpt(address) != code:
            self.assertLess(time.monotonic(), deadline, f"RCPT {address} never got {code}:\n" + self.srv.log_tail())
            time.sleep(0.1)

    def test_aliases_answer_rcpt_and_unknown_still_gets_550(self):
        self.assertEqual(self.rcpt("team@example.test"), 250)
        self.assertEqual(self.rcpt("Team@Example.TEST"), 250)
        self.assertEqual(self.rcpt("nobody@example.test"), 550)

    def test_a_changed_file_is_read_without_a_signal(self):
        self.assertEqual(self.rcpt("sales@example.test"), 550)
        self.write("team: alice, bob\nsales: carol\n")
        self.wait_for("sales@example.test", 250)
        self.srv.wait_log("aliases-loaded", timeout=10)

    def test_sighup_reads_the_files_at_once(self):
        # A change a stat cannot see (same size, inode and modification time): only SIGHUP
        # reads it.
        before = os.stat(self.aliases)
        self.write("mate: alice, bob\n")  # as long as "team: alice, bob\n"
        os.utime(self.aliases, ns=(before.st_atime_ns, before.st_mtime_ns))
        time.sleep(2.5)  # two rounds of the background check
        self.assertEqual(self.rcpt("mate@example.test"), 550)
        self.srv.proc.send_signal(signal.SIGHUP)
        self.wait_for("mate@example.test", 250)
        self.assertEqual(self.rcpt("team@example.test"), 550)
        self.assertTrue(self.srv.alive())
        self.srv.wait_log("reload", timeout=10, signal="SIGHUP")

    def test_a_bad_file_keeps_the_table_and_logs_the_line(self):
        self.write("team: alice, bob\nsales: carol\nbroken: |/bin/sh\n")
        self.srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + WAIT
        while not self.srv.log_events("aliases-invalid"):
            self.assertLess(time.monotonic(), deadline, self.srv.log_tail())
            time.sleep(0.1)
        event = self.srv.log_events("aliases-invalid")[0]
        self.assertEqual(event.get("file"), self.aliases)
        self.assertEqual(event.get("line"), "3")
        self.assertIn("delivery to a command is not supported", event.get("problem", ""))
        # The old table: team still there, sales (from the bad file) not.
        self.assertEqual(self.rcpt("team@example.test"), 250)
        self.assertEqual(self.rcpt("sales@example.test"), 550)
        self.assertTrue(self.srv.alive())


if __name__ == "__main__":
    import unittest
    unittest.main()
