#!/usr/bin/env python3
"""The classic walkthrough, typed as a person would at a raw socket (RFC 5321 3.1-3.3, D.1).

A client connects, is greeted, forgets the domain in HELO, says EHLO properly, sends one
message to alice, and quits. The message then sits in alice's Maildir with the trace
fields a receiving server adds (RFC 5321 4.4): Return-Path first, then Received.
"""
import harness


class Walkthrough(harness.E2ETest):

    def test_rfc5321_d1_typical_transaction(self):
        server = self.start_server()
        with server.connect() as c:
            # RFC 5321 4.2 / 3.1: the greeting names the server
            greeting = c.expect(220)
            self.assertEqual(greeting.last, b"220 mx.test ESMTP ehlo")

            # RFC 5321 4.1.1.1: HELO needs a domain; without it is a syntax error
            self.assertEqual(c.cmd("HELO").code, 501)

            # RFC 5321 4.1.1.1 + RFC 1869: EHLO lists the extensions, one per line
            ehlo = c.cmd("EHLO client.test")
            self.assertEqual(ehlo.code, 250)
            self.assertTrue(ehlo.lines[0].startswith(b"250-mx.test"), ehlo.text)
            keywords = [l[4:].split(b" ")[0] for l in ehlo.lines[1:]]
            for ext in (b"PIPELINING", b"SIZE", b"8BITMIME", b"ENHANCEDSTATUSCODES",
                        b"SMTPUTF8", b"CHUNKING"):
                self.assertIn(ext, keywords, ehlo.text)
            self.assertIn(b"SIZE 26214400", [l[4:] for l in ehlo.lines], ehlo.text)

            # RFC 5321 3.3: MAIL, RCPT, DATA; RFC 2034: enhanced codes after EHLO
            c.line("MAIL FROM:<sender@client.test>")
            c.expect(250, "250 2.1.0")
            c.line("RCPT TO:<alice@example.test>")
            c.expect(250, "250 2.1.5")
            c.line("DATA")
            c.expect(354)
            for text in ("From: Sender <sender@client.test>",
                         "To: Alice <alice@example.test>",
                         "Subject: the walkthrough",
                         "",
                         "Hello Alice,",
                         "..this line starts with a dot (RFC 5321 4.5.2 transparency).",
                         "Bye."):
                c.line(text)
            # RFC 5321 4.1.1.4: the lone dot ends the content
            c.line(".")
            done = c.expect(250, "250 2.0.0 Ok: queued as ")
            qid = harness.queue_id(done.last)
            self.assertTrue(qid, done.text)

            # RFC 5321 4.1.1.10: QUIT gets 221 and the server closes
            c.line("QUIT")
            c.expect(221, "221 2.0.0")
            self.assertTrue(c.closed_by_peer(), "server did not close after QUIT")

        (path,) = server.wait_for_delivery("alice", 1)
        server.assert_stays("alice", 1)
        with open(path, "rb") as f:
            stored = f.read()
        # Maildir files use LF line endings
        self.assertNotIn(b"\r", stored)
        # RFC 5321 4.4: Return-Path first, with the reverse-path, then Received
        lines = stored.split(b"\n")
        self.assertEqual(lines[0], b"Return-Path: <sender@client.test>")
        self.assertTrue(lines[1].startswith(b"Received: "), lines[1])
        self.assertEqual(harness.received_fields(stored), (qid, "alice@example.test"))
        # RFC 5321 4.5.2: the client's extra dot is removed again
        self.assertIn(b"\n.this line starts with a dot", stored)
        self.assertIn(b"Subject: the walkthrough\n", stored)
        self.assertTrue(stored.endswith(b"Bye.\n"), stored[-40:])
        # delivered: the queue file is gone
        server.wait_spool_empty()

    def test_rfc2034_no_enhanced_codes_after_helo(self):
        # RFC 2034 3: enhanced status codes are for clients that used EHLO
        server = self.start_server()
        with server.connect() as c:
            c.expect(220)
            self.assertEqual(c.cmd("HELO client.test").code, 250)
            r = c.cmd("MAIL FROM:<sender@client.test>")
            self.assertEqual(r.code, 250)
            self.assertFalse(r.last.startswith(b"250 2.1.0"), r.text)
            c.line("QUIT")
            c.expect(221)

    def test_mistakes_typed_by_hand_rfc5321_4_2_4_and_4_5_3_1_4(self):
        server = self.start_server()
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            # RFC 5321 4.2.4: a verb the server does not know
            c.line("HELLO there")
            c.expect(500, "500 5.5.2")
            # RFC 5321 4.1.4: commands out of order
            c.line("RCPT TO:<alice@example.test>")
            c.expect(503, "503 5.5.1")
            c.line("DATA")
            c.expect(503, "503 5.5.1")
            # RFC 5321 4.1.2: the path needs its angle brackets
            c.line("MAIL FROM:sender@client.test")
            c.expect(501)
            # RFC 5321 4.1.1.11: a MAIL parameter nobody advertised
            c.line("MAIL FROM:<sender@client.test> COLOUR=BLUE")
            c.expect(555, "555 5.5.4")
            # RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF
            c.line("NOOP " + "x" * (512 - len("NOOP \r\n")))
            c.expect(250)
            c.line("NOOP " + "x" * (513 - len("NOOP \r\n")))
            c.expect(500, "500 5.5.2")
            # RFC 5321 2.3.8: a bare LF does not end a command line; refused at once
            c.send(b"NOOP\n")
            c.expect(500, "500 5.5.2", timeout=5)
            # after all that the session still works
            c.line("NOOP")
            c.expect(250)
            c.line("QUIT")
            c.expect(221)

    def test_sigterm_stops_cleanly_with_exit_0(self):
        server = self.start_server()
        server.send("before-stop")
        server.wait_for_delivery("alice", 1)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
