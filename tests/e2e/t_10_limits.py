#!/usr/bin/env python3
"""Hard limits, each answered with its reply code and the server staying healthy.

Message size (RFC 1870: declared SIZE= over the limit at MAIL, and actual content over it at
the end of data, both 552 5.3.4), recipients per message (RFC 5321 4.5.3.1.8 allows a
limit of no less than 100; beyond it 452 4.5.3, RFC 5321 4.5.3.1.10), connections per
client and in all, and new connections per client and minute (421 4.7.0 at greeting,
RFC 5321 3.8, 4.2.5: a 421 reply ends the session), MAIL and RCPT per client and minute
(450 4.7.1), a client that speaks before the greeting (RFC 5321 3.1: 554, as Postfix's
postscreen pregreet test), message content slower than the minimum data rate (421 4.4.2,
as Postfix's smtpd_min_data_rate; RFC 5321 4.5.3.2 lets a server set its own time limits),
and a session of commands that move no mail (421 4.7.0, as Postfix's smtpd_junk_command_limit).
Each refusal is logged with the limit that made it.
"""
import os
import select
import time

import harness

SIZE_LIMIT = 100_000


class Limits(harness.E2ETest):

    def test_rfc1870_declared_size_over_limit_552(self):
        server = self.start_server(limits={"message_size": SIZE_LIMIT})
        with server.connect() as c:
            c.expect(220)
            ehlo = c.cmd("EHLO client.test")
            self.assertIn(b"250-SIZE %d" % SIZE_LIMIT, ehlo.lines)
            c.line("MAIL FROM:<sender@client.test> SIZE=%d" % (SIZE_LIMIT + 1))
            c.expect(552, "552 5.3.4")
            # within the limit is fine
            c.line("MAIL FROM:<sender@client.test> SIZE=%d" % (SIZE_LIMIT // 2))
            c.expect(250, "250 2.1.0")
            c.line("QUIT")
            c.expect(221)

    def test_rfc1870_actual_size_over_limit_552_at_end_of_data(self):
        server = self.start_server(limits={"message_size": SIZE_LIMIT})
        line = b"y" * 98 + b"\r\n"
        big = harness.simple_message("too-big") + line * (2 * SIZE_LIMIT // len(line))
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
            c.expect(250)
            c.expect(250)
            c.expect(354)
            c.send(big + b".\r\n")
            c.expect(552, "552 5.3.4")
            # the session goes on: a message within the limit is accepted
            c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
            c.expect(250)
            c.expect(250)
            c.expect(354)
            c.send(harness.simple_message("small-enough") + b".\r\n")
            c.expect(250, "250 2.0.0 Ok: queued as")
            c.line("QUIT")
            c.expect(221)
        (path,) = server.wait_for_delivery("alice", 1)
        server.assert_stays("alice", 1)
        with open(path, "rb") as f:
            self.assertIn(b"small-enough", f.read())

    def test_rfc5321_4_5_3_1_8_the_101st_recipient_gets_452(self):
        server = self.start_server(limits={"recipients": 100}, extra_domains=[{
            "name": "many.test", "catch_all": True, "mailboxes": [],
            "maildir_root": "{dir}/many", "postmaster": "postmaster"}])
        many = os.path.join(server.dir, "many")
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.send(b"MAIL FROM:<sender@client.test>\r\n"
                   + b"".join(b"RCPT TO:<r%d@many.test>\r\n" % i for i in range(1, 103)))
            c.expect(250, "250 2.1.0")
            for i in range(1, 101):
                c.expect(250, "250 2.1.5")
            c.expect(452, "452 4.5.3")          # the 101st
            c.expect(452, "452 4.5.3")          # and the 102nd
            c.line("DATA")
            c.expect(354)
            c.send(harness.simple_message("hundred", to="r1@many.test") + b".\r\n")
            c.expect(250, "250 2.0.0 Ok: queued as")
            c.line("QUIT")
            c.expect(221)
        for user in ("r1", "r50", "r100"):
            server.wait_for_delivery(user, 1, root=many)
        deadline = time.monotonic() + harness.DELIVERY_TIMEOUT
        while len(server.maildir_files("*", root=many)) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(server.maildir_files("*", root=many)), 100)
        self.assertEqual(server.maildir_files("r101", root=many), [])

    def open_greeted(self, server, n, source=None):
        conns = []
        for _ in range(n):
            c = server.connect(source=source)
            conns.append(c)
            c.expect(220)
        return conns

    def refused_at_greeting(self, server, source=None):
        with server.connect(source=source) as c:
            r = c.reply()
            self.assertTrue(r.last.startswith(b"421 4.7.0"), r.text)
            self.assertTrue(c.closed_by_peer(), "no close after 421")

    def eventually_greeted(self, server, source=None, timeout=5):
        """A slot freed by a closed connection becomes usable (the close is asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            with server.connect(source=source) as c:
                r = c.reply()
                if r.code == 220:
                    c.cmd("QUIT")
                    return
            self.assertLess(time.monotonic(), deadline, f"still refused: {r.text!r}")
            time.sleep(0.1)

    def test_rfc5321_3_8_connections_per_client_421(self):
        server = self.start_server(limits={"connections_per_client": 3})
        held = self.open_greeted(server, 3, source="127.0.0.2")
        try:
            self.refused_at_greeting(server, source="127.0.0.2")     # the 4th from .2
            (refused,) = server.wait_log("too-many-connections", timeout=5, client="127.0.0.2")
            self.assertEqual(refused["limit"], "connections_per_client")
            self.assertEqual(refused["max"], "3")
            # another client address is not affected
            with server.connect(source="127.0.0.1") as other:
                other.expect(220)
            held.pop().close()
            self.eventually_greeted(server, source="127.0.0.2")
        finally:
            for c in held:
                c.close()

    def test_rfc5321_3_8_connection_rate_per_client_421(self):
        server = self.start_server(limits={"connection_rate": 4})
        for _ in range(4):
            with server.connect(source="127.0.0.2") as c:
                c.expect(220)
                c.line("QUIT")
                c.expect(221)
        # the 5th new connection within the minute from .2, though none is open any more
        self.refused_at_greeting(server, source="127.0.0.2")
        fields = server.wait_log("rate-limited", timeout=5, client="127.0.0.2", limit="connection_rate")
        self.assertEqual(fields[0]["per_minute"], "4")
        # another untrusted address has a window of its own
        with server.connect(source="127.0.0.3") as c:
            c.expect(220)
        # a trusted network (127.0.0.1/32 in the harness' [relay]) is not counted
        for _ in range(6):
            with server.connect(source="127.0.0.1") as c:
                c.expect(220)
                c.line("QUIT")
                c.expect(221)
        # the refused client is still refused (a refusal is not counted, nor forgiven)
        self.refused_at_greeting(server, source="127.0.0.2")

    def mail_then_rset(self, c, n):
        for _ in range(n):
            c.line("MAIL FROM:<sender@client.test>")
            c.expect(250, "250 2.1.0")
            c.line("RSET")
            c.expect(250)

    def test_rfc5321_4_2_5_message_rate_per_client_450(self):
        server = self.start_server(limits={"message_rate": 2})
        with server.connect(source="127.0.0.2") as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            self.mail_then_rset(c, 2)
            c.line("MAIL FROM:<sender@client.test>")
            c.expect(450, "450 4.7.1")
            # the session goes on: a 4xx refuses one command, not the connection
            c.line("NOOP")
            c.expect(250)
        server.wait_log("rate-limited", timeout=5, client="127.0.0.2", limit="message_rate")
        # trusted networks are not counted
        with server.connect(source="127.0.0.1") as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            self.mail_then_rset(c, 4)

    def test_rfc5321_4_2_5_recipient_rate_per_client_450(self):
        server = self.start_server(limits={"recipient_rate": 3})
        with server.connect(source="127.0.0.2") as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.line("MAIL FROM:<sender@client.test>")
            c.expect(250)
            for _ in range(3):
                c.line("RCPT TO:<alice@example.test>")
                c.expect(250)
            c.line("RCPT TO:<alice@example.test>")
            c.expect(450, "450 4.7.1")
            # what was accepted is still delivered
            c.line("DATA")
            c.expect(354)
            c.send(harness.simple_message("rate") + b".\r\n")
            c.expect(250)
        server.wait_log("rate-limited", timeout=5, client="127.0.0.2", limit="recipient_rate")
        harness.wait_until(lambda: len(server.maildir_files("alice")) == 1, harness.DELIVERY_TIMEOUT,
                           "the message delivered to alice once")

    def test_rfc5321_3_1_pregreet_554_and_the_greeting_delay(self):
        server = self.start_server(limits={"greeting_delay": 0.6})
        # speaks first: refused, closed, logged
        with server.connect(source="127.0.0.2") as c:
            c.send(b"EHLO spammer.test\r\nMAIL FROM:<x@spammer.test>\r\n")
            r = c.reply()
            self.assertTrue(r.last.startswith(b"554 5.5.1"), r.text)
            self.assertTrue(c.closed_by_peer(), "no close after the pregreet 554")
        server.wait_log("pregreet", timeout=5, client="127.0.0.2")
        # closes during the delay: nothing else happens
        with server.connect(source="127.0.0.2"):
            pass
        # waits, as a client should: greeted after the delay, and served
        start = time.monotonic()
        with server.connect(source="127.0.0.2") as c:
            c.expect(220)
            self.assertGreaterEqual(time.monotonic() - start, 0.5)
            r = c.cmd("EHLO client.test")
            self.assertEqual(r.code, 250, r.text)
            c.line("QUIT")
            c.expect(221)
        # a trusted network is greeted at once
        start = time.monotonic()
        with server.connect(source="127.0.0.1") as c:
            c.expect(220)
            self.assertLess(time.monotonic() - start, 0.5)

    def test_rfc5321_4_5_3_2_min_data_rate_421(self):
        # 2000 octets/s: the slow client trickles 80/s, the steady one sends 6000/s; both
        # are judged after the same 5 s of grace.
        server = self.start_server(limits={"min_data_rate": 2000})
        slow, steady = server.connect(), server.connect()
        try:
            for c, who in ((slow, "slow"), (steady, "steady")):
                c.expect(220)
                c.cmd("EHLO client.test")
                c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
                c.expect(250)
                c.expect(250)
                c.expect(354)
                c.send(harness.simple_message(who))
            line = b"z" * 98 + b"\r\n"
            refused = None
            start = time.monotonic()
            while time.monotonic() - start < 12 and refused is None:
                steady.send(line * 15)
                try:
                    slow.send(b"x" * 18 + b"\r\n")
                except OSError:
                    pass  # closed by the server: its 421 is in the socket
                if select.select([slow.sock], [], [], 0.25)[0]:
                    refused = slow.reply()
            self.assertIsNotNone(refused, "the slow client was never refused")
            self.assertTrue(refused.last.startswith(b"421 4.4.2"), refused.text)
            self.assertIn(b"Transfer too slow", refused.last)
            self.assertGreaterEqual(time.monotonic() - start, 4.5, "refused before the grace ran out")
            self.assertTrue(slow.closed_by_peer(), "no close after the 421")
            steady.send(b".\r\n")
            steady.expect(250, "250 2.0.0 Ok: queued as")
            steady.line("QUIT")
            steady.expect(221)
        finally:
            slow.close()
            steady.close()
        server.wait_log("data-too-slow", timeout=5)
        (path,) = server.wait_for_delivery("alice", 1)
        server.assert_stays("alice", 1)
        with open(path, "rb") as f:
            self.assertIn(b"Subject: test steady", f.read())

    def test_rfc5321_3_8_connections_in_all_421(self):
        server = self.start_server(limits={"connections": 5})
        held = self.open_greeted(server, 3, source="127.0.0.2") + self.open_greeted(server, 2)
        try:
            self.refused_at_greeting(server)                          # the 6th, any client
            self.refused_at_greeting(server, source="127.0.0.3")
            for client in ("127.0.0.1", "127.0.0.3"):
                (refused,) = server.wait_log("too-many-connections", timeout=5, client=client)
                self.assertEqual(refused["limit"], "connections")
                self.assertEqual(refused["max"], "5")
            held.pop().close()
            self.eventually_greeted(server)
            # the held connections still work
            r = held[0].cmd("NOOP")
            self.assertEqual(r.code, 250, r.text)
        finally:
            for c in held:
                c.close()

    def test_junk_commands_then_421(self):
        # Commands that move no mail, past [limits] junk_commands, count as errors (as
        # Postfix's smtpd_junk_command_limit); at [limits] errors the session ends, RFC 5321 3.8.
        server = self.start_server(limits={"junk_commands": 5, "errors": 3})
        with server.connect(source="127.0.0.2") as c:
            c.expect(220)
            c.cmd("EHLO client.test")                               # the 1st
            for verb in ("NOOP", "RSET", "VRFY alice", "NOOP"):     # the 2nd to the 5th
                r = c.cmd(verb)
                self.assertLess(r.code, 400, r.text)
            for _ in range(2):                                      # answered, counted as errors
                r = c.cmd("NOOP")
                self.assertEqual(r.code, 250, r.text)
            c.line("NOOP")                                          # the 3rd error: answered, then 421
            c.expect(250, "250 2.0.0 Ok")
            r = c.reply()
            self.assertEqual(r.last, b"421 4.7.0 Too many commands without mail, closing connection")
            self.assertTrue(c.closed_by_peer(), "no close after the 421")
        (line,) = server.wait_log("too-many-commands", timeout=5)
        self.assertEqual(line["detail"], "8")
        self.assertEqual(server.log_events("too-many-errors"), [])
        # a session that sends mail is served as before, and the next one counts afresh
        server.send("after-junk")
        (path,) = server.wait_for_delivery("alice", 1)
        with open(path, "rb") as f:
            self.assertIn(b"after-junk", f.read())


if __name__ == "__main__":
    harness.main()
