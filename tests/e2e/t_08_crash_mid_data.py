#!/usr/bin/env python3
"""kill -9 in the middle of DATA: a message that never got its 250 never existed.

RFC 5321 4.1.1.4: the server takes responsibility only with the 250 to the end of data;
content cut off before it must not be delivered (the client will send it again). After the
crash and a restart on the same spool, nothing of that transaction is delivered and the
spool's queue/ holds no file of it: recovery throws away what never got its end record.
Once with a small content (still in memory), once with 3 MB (part of it already written to
the spool when the server dies).
"""
import os
import time

import harness


def spool_bytes(server):
    """Total size of every file under the spool (any folder)."""
    total = 0
    for top, _, names in os.walk(os.path.join(server.dir, "spool")):
        for n in names:
            try:
                total += os.path.getsize(os.path.join(top, n))
            except OSError:
                pass
    return total


class CrashMidData(harness.E2ETest):

    def crash_during_content(self, content, wait_spool_bytes=0):
        server = self.start_server()
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.line("MAIL FROM:<sender@client.test>")
            c.expect(250)
            c.line("RCPT TO:<alice@example.test>")
            c.expect(250)
            c.line("DATA")
            c.expect(354)
            c.send(content)                     # no end-of-data: the transaction is open
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and spool_bytes(server) < wait_spool_bytes:
                time.sleep(0.05)
            time.sleep(0.3)                      # let the server take in what was sent
            on_disk = spool_bytes(server)
            server.kill9()
        if wait_spool_bytes:
            print(f"\n{on_disk} bytes under the spool when killed")

        server.restart()
        deadline = time.monotonic() + 5          # recovery may finish just after listening
        while server.spool_files() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(server.spool_files(), [], "queue/ holds a file of the cut transaction")
        server.assert_stays("alice", 0, seconds=1.0)
        # and the restarted server works
        server.send("after-recovery")
        (path,) = server.wait_for_delivery("alice", 1)
        with open(path, "rb") as f:
            self.assertIn(b"after-recovery", f.read())
        server.wait_spool_empty()

    def test_rfc5321_4_1_1_4_small_content_cut_off(self):
        self.crash_during_content(harness.simple_message("cut-small"))

    def test_rfc5321_4_1_1_4_three_megabytes_cut_off(self):
        line = b"x" * 998 + b"\r\n"
        content = harness.simple_message("cut-large") + line * (3 * 1024 * 1024 // len(line))
        self.crash_during_content(content, wait_spool_bytes=1024 * 1024)


if __name__ == "__main__":
    harness.main()
