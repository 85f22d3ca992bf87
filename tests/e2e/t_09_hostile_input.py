#!/usr/bin/env python3
"""Hostile input: each on its own connection, while a well-behaved client keeps being served.

NUL bytes in a command, a 1 MB line with no CRLF (RFC 5321 4.5.3.1.4: 512 octets per command
line), random binary garbage (errors counted, then 421 and close, RFC 5321 4.2.2 / 3.8), a
client trickling one byte a second (the command timeout, RFC 5321 4.5.3.2.7, bounds the
whole command, not each read), and SMTP smuggling: content with a bare-LF or bare-CR "dot
line" followed by a fake second transaction (RFC 5321 2.3.8 and 4.1.1.4: only CRLF.CRLF ends
the content; a bare LF or CR, or a NUL, in it is refused with 554 5.6.0 and nothing is
delivered).

Through all of it a background client sends a message every 0.2 s to carol and every one
must succeed; after each attack a fresh client is served.
"""
import random
import select
import socket
import time

import harness

# the command timeout of these servers, short so that the slow client test is quick
COMMAND_TIMEOUT = 3


def stream(client, data, chunk=4096):
    """Send data in chunks while collecting what the server says, as a hostile client that
    does not wait for replies would. Stops sending when the server closes. The bytes read."""
    got = b""
    sock = client.sock
    for i in range(0, len(data), chunk):
        try:
            sock.sendall(data[i:i + chunk])
        except (BrokenPipeError, ConnectionResetError):
            break
        while select.select([sock], [], [], 0)[0]:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                part = b""
            if not part:
                client.eof = True
                client.buf += got
                return got
            got += part
    client.buf += got
    return got


class HostileInput(harness.E2ETest):

    def server(self):
        return self.start_server(limits={"command_timeout": COMMAND_TIMEOUT})

    def assert_fresh_client_served(self, server):
        qid = server.send("fresh-client", to=("bob@example.test",))
        self.assertTrue(qid)
        self.assertTrue(server.alive())

    def test_nul_bytes_in_a_command_rfc5321_4_1_1(self):
        server = self.server()
        with harness.meanwhile_good_client(self, server):
            with server.connect() as c:
                c.expect(220)
                c.send(b"EHLO client.test\r\n")
                c.expect(250)
                c.send(b"MAIL FROM:<sen\x00der@client.test>\r\n")
                r = c.reply()
                self.assertTrue(500 <= r.code < 600, r.text)
                c.send(b"NO\x00OP\r\n")
                r = c.reply()
                self.assertTrue(500 <= r.code < 600, r.text)
                # the connection is still usable, or was closed cleanly after a reply
                try:
                    r = c.cmd("NOOP")
                    self.assertIn(r.code, (250, 421), r.text)
                except (EOFError, OSError):
                    pass
            self.assert_fresh_client_served(server)

    def test_1mb_line_without_crlf_rfc5321_4_5_3_1_4(self):
        server = self.server()
        with harness.meanwhile_good_client(self, server):
            with server.connect() as c:
                c.expect(220)
                c.cmd("EHLO client.test")
                stream(c, b"MAIL FROM:<" + b"a" * (1 << 20))   # never a CRLF
                # the reply comes when the line is too long, not when it ends
                r = c.reply(timeout=5)
                self.assertEqual(r.code, 500, r.text)
                self.assertTrue(r.last.startswith(b"500 5.5.2"), r.text)
                # after the line finally ends: still usable, or closed cleanly
                try:
                    c.send(b"\r\nNOOP\r\n")
                    while True:
                        r = c.reply(timeout=5)
                        if r.code != 500:
                            break
                    self.assertIn(r.code, (250, 421), r.text)
                except (EOFError, OSError):
                    pass
            self.assert_fresh_client_served(server)

    def test_binary_garbage_5xx_then_421_rfc5321_4_2_2(self):
        server = self.server()
        garbage = random.Random(20260101).randbytes(256 * 1024)
        with harness.meanwhile_good_client(self, server):
            with server.connect() as c:
                c.expect(220)
                c.cmd("EHLO client.test")          # enhanced status codes from here on
                stream(c, garbage, chunk=512)
                replies = c.replies_until_close(timeout=10)
                self.assertTrue(c.eof, "server did not close the connection")
                self.assertGreaterEqual(len(replies), 2, replies)
                *errors, last = replies
                for r in errors:
                    self.assertTrue(500 <= r.code < 600, r.text)
                self.assertTrue(last.last.startswith(b"421 4.7.0"), last.text)
            self.assert_fresh_client_served(server)

    def test_one_byte_a_second_gets_421_4_4_2_rfc5321_4_5_3_2_7(self):
        server = self.server()
        with harness.meanwhile_good_client(self, server):
            with server.connect() as slow:
                slow.expect(220)
                slow.cmd("EHLO slow-client.test")
                started = time.monotonic()
                reply = None
                for byte in b"MAIL FROM:<a-very-slow-sender@client.test>":   # never in time
                    if time.monotonic() - started > COMMAND_TIMEOUT + 5:
                        break                              # long past the timeout: give up
                    try:
                        slow.send(bytes([byte]))
                    except OSError:
                        break
                    if select.select([slow.sock], [], [], 1.0)[0]:
                        break
                    # meanwhile a full transaction of another client goes through
                    if time.monotonic() - started > 1 and reply is None:
                        reply = server.send("during-slow", to=("bob@example.test",))
                r = slow.reply(timeout=3)
                waited = time.monotonic() - started
                self.assertTrue(r.last.startswith(b"421 4.4.2"), r.text)
                self.assertTrue(slow.closed_by_peer(), "no close after 421")
                self.assertLess(waited, COMMAND_TIMEOUT + 3, "timeout reset by each byte?")
                self.assertGreaterEqual(waited, COMMAND_TIMEOUT - 0.5)
                self.assertTrue(reply, "the other client was not served meanwhile")
            self.assert_fresh_client_served(server)

    def smuggle(self, trick):
        server = self.server()
        with harness.meanwhile_good_client(self, server):
            content = (b"From: <sender@client.test>\r\nTo: <alice@example.test>\r\n"
                       b"Subject: smuggling\r\n\r\nouter message\r\n"
                       + trick +
                       b"MAIL FROM:<evil@client.test>\r\n"
                       b"RCPT TO:<bob@example.test>\r\n"
                       b"DATA\r\n"
                       b"Subject: smuggled\r\n\r\nsmuggled message\r\n"
                       b".\r\n")
            with server.connect() as c:
                c.expect(220)
                c.cmd("EHLO client.test")
                c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\n"
                       b"DATA\r\n")
                c.expect(250)
                c.expect(250)
                c.expect(354)
                c.send(content)
                r = c.reply()
                self.assertEqual(r.code, 554, r.text)
                self.assertTrue(r.last.startswith(b"554 5.6.0"), r.text)
                # no reply for a second transaction follows
                c.line("QUIT")
                c.expect(221)
                self.assertTrue(c.closed_by_peer())
                self.assertEqual(c.buf, b"")
            self.assert_fresh_client_served(server)
        server.assert_stays("alice", 0, seconds=0.5)
        for stored in server.read_maildir("bob"):
            self.assertNotIn(b"smuggled", stored)
            self.assertNotIn(b"outer message", stored)
        self.assertEqual(len(server.maildir_files("bob")), 1)     # the fresh client's only
        for stored in server.read_maildir("carol"):
            self.assertNotIn(b"smuggl", stored)
        server.wait_spool_empty()

    def test_smuggling_bare_lf_dot_bare_lf_rfc5321_2_3_8(self):
        self.smuggle(b"\n.\n")

    def test_smuggling_bare_cr_dot_bare_cr_rfc5321_2_3_8(self):
        self.smuggle(b"\r.\r")

    def test_smuggling_crlf_dot_bare_lf_rfc5321_2_3_8(self):
        self.smuggle(b"\r\n.\n")

    def test_nul_in_content_554_5_6_0_rfc5321_4_1_1_4(self):
        # NUL is no text (RFC 5322 2.1); the same refusal, the same nothing-delivered
        self.smuggle(b"a NUL \x00 in the middle\r\n")


if __name__ == "__main__":
    harness.main()
