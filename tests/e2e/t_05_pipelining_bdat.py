#!/usr/bin/env python3
"""Pipelining (RFC 2920) and chunking (RFC 3030) on a raw socket.

A client that trusts PIPELINING sends two whole transactions, content and QUIT included,
in one write; every reply must come back, in order, one per command (RFC 2920 3.1). Then
BDAT: chunks pipelined back to back, each acknowledged with its size, the LAST one with
the queue id; BDAT content is binary-exact: no dot-stuffing, and a CRLF split across two
chunks is still a CRLF.
"""
import harness


class Pipelining(harness.E2ETest):

    def test_rfc2920_two_transactions_and_quit_in_one_write(self):
        server = self.start_server()
        first = harness.simple_message("pipe-one", to="alice@example.test")
        second = harness.simple_message("pipe-two", to="carol@example.test")
        batch = (b"EHLO client.test\r\n"
                 b"MAIL FROM:<sender@client.test>\r\n"
                 b"RCPT TO:<alice@example.test>\r\n"
                 b"RCPT TO:<nobody@example.test>\r\n"
                 b"RCPT TO:<bob@example.test>\r\n"
                 b"DATA\r\n" + first + b".\r\n"
                 b"RSET\r\n"
                 b"MAIL FROM:<sender@client.test>\r\n"
                 b"RCPT TO:<carol@example.test>\r\n"
                 b"DATA\r\n" + second + b".\r\n"
                 b"QUIT\r\n")
        with server.connect() as c:
            c.expect(220)
            c.send(batch)
            ehlo = c.expect(250)
            self.assertIn(b"250-PIPELINING", ehlo.lines)
            c.expect(250, "250 2.1.0")
            c.expect(250, "250 2.1.5")
            c.expect(550, "550 5.1.1")
            c.expect(250, "250 2.1.5")
            c.expect(354)
            id1 = harness.queue_id(c.expect(250, "250 2.0.0 Ok: queued as").last)
            c.expect(250)                      # RSET
            c.expect(250, "250 2.1.0")
            c.expect(250, "250 2.1.5")
            c.expect(354)
            id2 = harness.queue_id(c.expect(250, "250 2.0.0 Ok: queued as").last)
            c.expect(221, "221 2.0.0")
            self.assertTrue(c.closed_by_peer())
            self.assertEqual(c.buf, b"", "nothing after the reply to QUIT")
        self.assertNotEqual(id1, id2)
        for user, qid, token in (("alice", id1, b"pipe-one"), ("bob", id1, b"pipe-one"),
                                 ("carol", id2, b"pipe-two")):
            (path,) = server.wait_for_delivery(user, 1)
            with open(path, "rb") as f:
                stored = f.read()
            self.assertEqual(harness.received_fields(stored)[0], qid)
            self.assertIn(token, stored)

    def test_rfc3030_bdat_chunks_pipelined(self):
        server = self.start_server()
        chunks = [b"From: <sender@client.test>\r\nTo: <alice@example.test>\r\n",
                  b"Subject: chunked\r\n\r\n..two dots stay two dots in BDAT\r",   # CR ...
                  b"\nsplit CRLF above is one line end\r\n",                        # ... LF
                  b"the end\r\n"]
        batch = b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\n"
        for chunk in chunks[:-1]:
            batch += b"BDAT %d\r\n" % len(chunk) + chunk
        batch += b"BDAT %d LAST\r\n" % len(chunks[-1]) + chunks[-1] + b"QUIT\r\n"
        with server.connect() as c:
            c.expect(220)
            ehlo = c.cmd("EHLO client.test")
            self.assertIn(b"250-CHUNKING", ehlo.lines + [ehlo.last.replace(b" ", b"-", 1)])
            c.send(batch)
            c.expect(250, "250 2.1.0")
            c.expect(250, "250 2.1.5")
            for chunk in chunks[:-1]:
                c.expect(250, "250 2.0.0 %d octets received" % len(chunk))
            qid = harness.queue_id(c.expect(250, "250 2.0.0 Ok: queued as").last)
            c.expect(221)
        (path,) = server.wait_for_delivery("alice", 1)
        with open(path, "rb") as f:
            stored = f.read()
        self.assertEqual(harness.received_fields(stored)[0], qid)
        self.assertTrue(stored.endswith(
            b"Subject: chunked\n\n..two dots stay two dots in BDAT\n"
            b"split CRLF above is one line end\nthe end\n"), stored)
        self.assertNotIn(b"\r", stored)

    def test_rfc3030_bdat_0_last_ends_the_message(self):
        server = self.start_server()
        body = harness.simple_message("bdat-zero")
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<bob@example.test>\r\n"
                   b"BDAT %d\r\n" % len(body) + body + b"BDAT 0 LAST\r\n")
            c.expect(250, "250 2.1.0")
            c.expect(250, "250 2.1.5")
            c.expect(250, "250 2.0.0 %d octets received" % len(body))
            c.expect(250, "250 2.0.0 Ok: queued as")
            c.line("QUIT")
            c.expect(221)
        (path,) = server.wait_for_delivery("bob", 1)
        with open(path, "rb") as f:
            self.assertIn(b"Hello, this is bdat-zero.\n", f.read())


if __name__ == "__main__":
    harness.main()
