#!/usr/bin/env python3
"""A full disk costs no acknowledged mail.

ehlo runs on a small tmpfs of the test's own (spool and Maildirs on it) until it is full.
RFC 5321 4.1.1.4 / 6.1: a 250 at the end of data means the message is ours, so it must be on
disk; when it cannot be written the reply is 451 4.3.0 (or 452 4.3.1 at MAIL, RFC 5321
4.5.3.1.10 and RFC 3463 X.3.1), never 250. The server keeps running and accepts again once
space returns. Needs root (mount -t tmpfs); otherwise SKIPPED.
"""
import os
import smtplib
import subprocess
import time
import unittest

import harness

MiB = 1 << 20


def mount_tmpfs(test, server, name, size):
    """A tmpfs of `size` octets at SERVER.dir/NAME, unmounted after the server stopped
    (cleanups run last-in first-out: this one stops the server itself first)."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("mounting a tmpfs needs root")
    path = os.path.join(server.dir, name)
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path],
                       capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise unittest.SkipTest(f"cannot mount a tmpfs: {r.stderr.strip()}")

    def unmount():
        server.stop()
        if subprocess.run(["umount", path], capture_output=True, timeout=10).returncode != 0:
            subprocess.run(["umount", "-l", path], capture_output=True, timeout=10)
    test.addCleanup(unmount)
    return path


def make_maildirs(root, users=("alice", "bob", "carol")):
    for user in users:
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(root, user, sub), exist_ok=True)


def write_ballast(path, size):
    with open(path, "wb") as f:
        block = b"\0" * 65536
        left = size
        while left > 0:
            try:
                f.write(block[:min(left, len(block))])
                f.flush()
            except OSError:
                break                    # the disk is full already: so much the better
            left -= min(left, len(block))


def free_octets(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def big_message(token, size):
    line = b"x" * 76 + b"\r\n"
    return harness.simple_message(token, body=(line * (size // len(line))).decode())


class FullDisk(harness.E2ETest):

    def disk_server(self, size, min_free, **kwargs):
        """A server whose spool and Maildir root are on a tmpfs of SIZE octets (not started)."""
        server = self.make_server(**kwargs)
        disk = mount_tmpfs(self, server, "disk", size)
        spool = os.path.join(disk, "spool")
        mail = os.path.join(disk, "mail")
        make_maildirs(mail)
        # the configuration written by the harness, pointed at the tmpfs
        with open(server.config_path) as f:
            text = f.read()
        text = text.replace(f'path = "{server.spool_path}"',
                            f'path = "{spool}"\nmin_free = {min_free}')
        text = text.replace(f'maildir_root = "{server.mail_root}"', f'maildir_root = "{mail}"')
        self.assertIn(spool, text)
        self.assertIn(mail, text)
        with open(server.config_path, "w") as f:
            f.write(text)
        server.spool_path, server.mail_root = spool, mail
        return server, disk

    def test_fill_the_disk_no_250_for_what_is_not_on_disk(self):
        # RFC 5321 6.1: "250 means we own it"; min_free = 0 so that the writes themselves hit
        # ENOSPC (the reserve is the other test).
        server, disk = self.disk_server(4 * MiB, 0)
        ballast = os.path.join(disk, "ballast")
        write_ballast(ballast, int(1.5 * MiB))
        server.start()

        acked, refused, replies = [], 0, []
        size = 48 * 1024
        deadline = time.monotonic() + 20
        s = None
        i = 0
        while time.monotonic() < deadline and refused < 8 and i < 400:
            i += 1
            token = f"fill-{i}"
            try:
                if s is None:
                    s = server.smtp()
                    s.ehlo()
                code, text = s.mail(harness.SENDER)
                replies.append(("MAIL", code, text))
                if code != 250:
                    refused += 1
                    s.rset()
                    continue
                code, text = s.rcpt("alice@example.test")
                replies.append(("RCPT", code, text))
                if code != 250:
                    refused += 1
                    s.rset()
                    continue
                code, text = s.data(big_message(token, size))
                replies.append(("DATA", code, text))
                if code == 250:
                    acked.append((token, harness.queue_id(b"250 " + text)))
                else:
                    refused += 1
            except (smtplib.SMTPException, OSError) as e:
                self.fail(f"the server dropped the client at message {i}: {e!r}\n"
                          + server.log_tail())
        if s is not None:
            s.quit()

        self.assertGreater(len(acked), 5, replies[-5:])
        self.assertGreaterEqual(refused, 8, f"the disk never filled: {len(acked)} accepted")
        for verb, code, text in replies:
            # never 5xx (the failure is temporary), never 421: only 250 or a 45x
            self.assertIn(code, (250, 451, 452), (verb, code, text))
            if code == 451:
                self.assertTrue(text.startswith(b"4.3.0"), text)
            if code == 452:
                self.assertTrue(text.startswith(b"4.3.1"), text)
        self.assertTrue(server.alive(), "the server died of a full disk\n" + server.log_tail())
        server.wait_log("queue-error", timeout=5)           # a commit failed on the full disk
        # each 250 is on the full disk now: in the spool, or delivered into the Maildir
        on_disk = set(os.listdir(os.path.join(server.spool_path, "queue"))) | set(self.delivered_ids(server))
        self.assertEqual(sorted({q for _, q in acked} - on_disk), [], "acknowledged, not on disk")

        # space returns: the running server accepts again
        os.unlink(ballast)
        qid = harness.wait_until(lambda: self.try_send(server, "after-space"), 10,
                                 "a 250 once space returned")
        acked.append(("after-space", qid))

        # every 250 is on disk: a crash now and a restart deliver each, exactly once
        server.kill9()
        server.restart()
        ids = {q for _, q in acked}
        self.assertNotIn(None, ids)

        last_flush = [0.0]

        def all_delivered():
            if time.monotonic() - last_flush[0] > 0.5:
                server.queue("flush")    # the failed local attempts wait 60 s otherwise
                last_flush[0] = time.monotonic()
            return ids <= set(self.delivered_ids(server))
        harness.wait_until(all_delivered, 25, f"all {len(ids)} acknowledged messages delivered")
        delivered = self.delivered_ids(server)
        twice = sorted(q for q in set(delivered) if delivered.count(q) > 1)
        self.assertEqual(twice, [], "delivered more than once")
        self.assertTrue(server.alive())
        print(f"\n{len(acked)} acknowledged, {refused} refused, {len(delivered)} delivered")

    def test_below_min_free_mail_gets_452_and_size_beyond_free_too(self):
        # RFC 5321 4.5.3.1.10 / RFC 3463 X.3.1 at MAIL; RFC 1870 6.1 for SIZE=
        server, disk = self.disk_server(4 * MiB, 1 * MiB)
        server.start()
        room = free_octets(disk) - MiB
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            r = c.cmd(f"MAIL FROM:<{harness.SENDER}> SIZE={room + 200 * 1024}")
            self.assertEqual(r.last, b"452 4.3.1 Insufficient system storage")
            r = c.cmd(f"MAIL FROM:<{harness.SENDER}> SIZE=10000")
            self.assertEqual(r.code, 250, r.text)
            c.cmd("RSET")

        ballast = os.path.join(disk, "ballast")
        write_ballast(ballast, free_octets(disk) - MiB // 2)   # half a MiB left: below 1 MiB

        def mail_reply():
            with server.connect() as c:
                c.expect(220)
                c.cmd("EHLO client.test")
                r = c.cmd(f"MAIL FROM:<{harness.SENDER}>")
                c.cmd("QUIT")
                return r
        r = harness.wait_until(lambda: (lambda r: r if r.code != 250 else None)(mail_reply()),
                               5, "MAIL refused below min_free")
        self.assertEqual(r.last, b"452 4.3.1 Insufficient system storage")
        server.wait_log("spool-space-low", timeout=5)
        self.assertTrue(server.alive())

        os.unlink(ballast)
        harness.wait_until(lambda: mail_reply().code == 250, 5, "MAIL accepted once space returned")
        server.wait_log("spool-space-ok", timeout=5)
        server.send("after-space")
        server.wait_for_delivery("alice", 1)

    @staticmethod
    def try_send(server, token):
        try:
            return server.send(token)
        except (AssertionError, smtplib.SMTPException, OSError):
            return None

    @staticmethod
    def delivered_ids(server):
        return [harness.received_fields(m)[0] for m in server.read_maildir("alice")]


if __name__ == "__main__":
    harness.main()
