#!/usr/bin/env python3
"""kill -9 right after the 250: what was acknowledged is delivered, exactly once.

RFC 5321 4.1.1.4 / 6.1: with the 250 to the end of data the server has taken
responsibility for the message; "it MUST NOT lose the message" for frivolous reasons, and a
crash is no excuse. So: a message gets its 250, the server is killed at once (SIGKILL, no
clean-up), restarted on the same spool, and the message arrives, once. Then the same with a
burst from several clients and the kill in the middle of it: every message that got a 250
arrives, none arrives twice (one that was committed but whose 250 never reached the client
may arrive too; that is the sender's duplicate to deal with, RFC 5321 6.1).
"""
import re
import smtplib
import threading
import time

import harness


class CrashAfter250(harness.E2ETest):

    def test_sigkill_right_after_250_then_restart_delivers_once(self):
        server = self.start_server()
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
            c.expect(250)
            c.expect(250)
            c.expect(354)
            c.send(harness.simple_message("acked-then-killed") + b".\r\n")
            done = c.reply()
            server.kill9()                              # immediately after reading the 250
        self.assertEqual(done.code, 250, done.text)
        qid = harness.queue_id(done.last)

        server.restart()
        (path,) = server.wait_for_delivery("alice", 1)
        server.assert_stays("alice", 1, seconds=1.0)
        with open(path, "rb") as f:
            stored = f.read()
        self.assertEqual(harness.received_fields(stored)[0], qid)
        self.assertIn(b"acked-then-killed", stored)
        server.wait_spool_empty()

    def test_sigkill_during_a_burst_every_250_delivered_once(self):
        server = self.start_server()
        threads_n, per_thread, kill_after = 4, 13, 25
        acked = {}                       # token -> queue id, for every 250 a client read
        lock = threading.Lock()
        killed = threading.Event()

        def client(t):
            try:
                with server.smtp() as s:
                    s.ehlo()
                    for i in range(per_thread):
                        token = f"burst-{t}-{i}"
                        s.mail("sender@client.test")
                        s.rcpt("alice@example.test")
                        code, text = s.data(harness.simple_message(token))
                        if code != 250:
                            return
                        with lock:
                            acked[token] = harness.queue_id(b"250 " + text)
                            if len(acked) == kill_after and not killed.is_set():
                                killed.set()
                                server.kill9()  # at once, from the thread that saw the 250
            except (smtplib.SMTPException, OSError):
                return                           # the server died under this client

        workers = [threading.Thread(target=client, args=(t,)) for t in range(threads_n)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        self.assertTrue(killed.is_set(), f"only {len(acked)} messages acknowledged")
        self.assertFalse(any(w.is_alive() for w in workers))
        self.assertGreaterEqual(len(acked), kill_after)

        server.restart()
        deadline = time.monotonic() + harness.DELIVERY_TIMEOUT
        while True:
            delivered = self.tokens(server)
            if set(acked) <= set(delivered) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        time.sleep(1.0)                          # anything else still on its way
        delivered = self.tokens(server)
        missing = sorted(set(acked) - set(delivered))
        self.assertEqual(missing, [], "acknowledged with 250 but never delivered")
        twice = sorted(t for t in set(delivered) if delivered.count(t) > 1)
        self.assertEqual(twice, [], "delivered more than once")
        self.assertEqual(set(acked.values()) - set(delivered_ids(server)), set())
        server.wait_spool_empty()
        print(f"\n{len(acked)} acknowledged, {len(delivered)} delivered")

    @staticmethod
    def tokens(server):
        out = []
        for stored in server.read_maildir("alice"):
            m = re.search(rb"Message-ID: <(burst-\d+-\d+)@client\.test>", stored)
            if m:
                out.append(m.group(1).decode())
        return out


def delivered_ids(server):
    return [harness.received_fields(m)[0] for m in server.read_maildir("alice")]


if __name__ == "__main__":
    harness.main()
