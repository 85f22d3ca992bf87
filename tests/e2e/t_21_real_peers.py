#!/usr/bin/env python3
"""Onward delivery to real receiving MTAs: a second ehlo and a private Postfix.

[[route]]s send peer.example to a second ehlo and postfix.example to a private Postfix instance
(all of its state in a temporary folder, `postfix -c DIR/etc start`, stopped at the end; needs
root and Debian's postfix package). One message goes to both; each copy must arrive exactly as
sent apart from trace header fields, which every hop adds and only those: Received and
Return-Path (RFC 5321 4.4), and Postfix's delivery agent also adds Delivered-To and
X-Original-To. The message is made to catch what a client can get wrong on the way:
RFC 5321 4.5.2 transparency (lines starting with ".", a line of a single "."), 8-bit text with
BODY=8BITMIME (RFC 6152), a 998-octet line (RFC 5321 4.5.3.1.6), trailing white space, folded
header fields, and a 300 KB attachment that spans many reads.
"""
import base64
import os

import harness
from harness import LOCAL_SENDER

TRACE_FIELDS = (b"received", b"return-path", b"delivered-to", b"x-original-to")
PEER_DOMAIN = "peer.example"


def tricky_message(token):
    text = ("Gr\u00fc\u00dfe aus dem Test \u2014 8-bit UTF-8 text\r\n"
            ".a line starting with a dot\r\n"
            "..two dots\r\n"
            ".\r\n"
            "the line above is a single dot\r\n"
            + "x" * 998 + "\r\n"
            "trailing white space   \r\n"
            "\ta line starting with a tab\r\n"
            "\r\n"
            ".\r\n")
    blob = base64.encodebytes(os.urandom(300 * 1024)).replace(b"\n", b"\r\n").decode()
    return (f"From: Alice <{LOCAL_SENDER}>\r\n"
            f"To: <bob@{PEER_DOMAIN}>, <bob@postfix.example>\r\n"
            f"Subject: byte-exact {token}\r\n"
            "  with a folded subject line\r\n"
            "Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n"
            f"Message-ID: <{token}@client.test>\r\n"
            "X-Trailing: value with trailing spaces   \r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b21"\r\n'
            "\r\n"
            "--b21\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n"
            + text +
            "--b21\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "\r\n"
            + blob +
            "--b21--\r\n").encode()


def without_trace(data: bytes):
    """(header fields without trace fields, each with its folding kept, body), LF endings."""
    data = data.replace(b"\r\n", b"\n")
    head, _, body = data.partition(b"\n\n")
    fields = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\n" + line
        else:
            fields.append(line)
    kept = [f for f in fields if f.split(b":", 1)[0].strip().lower() not in TRACE_FIELDS]
    return kept, body


class RealPeers(harness.E2ETest):

    def test_byte_exact_through_ehlo_to_ehlo_and_postfix(self):
        postfix = harness.PrivatePostfix(mailboxes=("bob",))
        self.addCleanup(postfix.stop)
        postfix.start()
        peer = self.start_server(server={"hostname": "mx.peer.example"}, domains=[
            {"name": PEER_DOMAIN, "mailboxes": ["bob"], "maildir_root": "{dir}/mail",
             "postmaster": "bob"}])
        server = self.start_sender(routes=harness.route_to(peer.port, domain=PEER_DOMAIN)
                                   + harness.route_to(postfix.port, domain="postfix.example"))
        message = tricky_message("t21-exact")
        with server.smtp() as s:
            refused = s.sendmail(LOCAL_SENDER, [f"bob@{PEER_DOMAIN}", "bob@postfix.example"],
                                 message, mail_options=["BODY=8BITMIME"])
        self.assertEqual(refused, {})

        (at_peer,) = peer.wait_for_delivery("bob", 1)
        (at_postfix,) = postfix.wait_for_delivery("bob", 1)
        server.wait_spool_empty()
        expected = without_trace(message)
        for name, path in (("ehlo", at_peer), ("postfix", at_postfix)):
            stored = harness.read_file(path)
            headers, body = without_trace(stored)
            self.assertEqual(headers, expected[0], f"header section changed on the way to {name}")
            self.assertTrue(body == expected[1], f"body changed on the way to {name} "
                            f"({len(body)} octets, expected {len(expected[1])})")
            # the hop added its own trace, and kept ours below it
            received = [h for h in harness.split_message(stored)[0]
                        if h.lower().startswith(b"received:")]
            self.assertGreaterEqual(len(received), 2, f"{name}: {received}")
            self.assertEqual(harness.return_path(stored), LOCAL_SENDER, name)
        peer.assert_stays("bob", 1, seconds=1.0)
        self.assertEqual(len(postfix.maildir_files("bob")), 1)
        self.assertEqual(server.read_maildir("alice"), [], "a bounce for delivered mail")

    def test_many_messages_to_postfix_each_once(self):
        postfix = harness.PrivatePostfix(mailboxes=("bob", "carol"))
        self.addCleanup(postfix.stop)
        postfix.start()
        server = self.start_sender(routes=harness.route_to(postfix.port, domain="postfix.example"))
        n = 30
        for i in range(n):
            to = ("bob@postfix.example",) if i % 3 else ("bob@postfix.example", "carol@postfix.example")
            server.send(f"t21-many-{i}", to=to, sender=LOCAL_SENDER)
        postfix.wait_for_delivery("bob", n)
        postfix.wait_for_delivery("carol", n // 3)
        server.wait_spool_empty()
        for user, count in (("bob", n), ("carol", n // 3)):
            tokens = []
            for path in postfix.maildir_files(user):
                for h in harness.split_message(harness.read_file(path))[0]:
                    if h.lower().startswith(b"message-id:"):
                        tokens.append(h)
            self.assertEqual(len(tokens), count, user)
            self.assertEqual(len(set(tokens)), count, f"{user}: a message arrived twice")


if __name__ == "__main__":
    harness.main()
