#!/usr/bin/env python3
"""IPv6: ehlo listens on [::1] and delivers a message that came over IPv6 (RFC 5321 4.1.3:
the client's address in the Received header is an IPv6 address literal). Skipped where the
machine has no ::1."""
import unittest

import harness


@unittest.skipUnless(harness.ipv6_loopback_available(), "no IPv6 loopback (::1) here")
class Ipv6(harness.E2ETest):

    def test_deliver_over_ipv6_loopback(self):
        server = self.start_server(host="::1")
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\n"
                   b"DATA\r\n")
            c.expect(250, "250 2.1.0")
            c.expect(250, "250 2.1.5")      # ::1 is trusted; alice is local anyway
            c.expect(354)
            c.send(harness.simple_message("over-ipv6") + b".\r\n")
            qid = harness.queue_id(c.expect(250, "250 2.0.0 Ok: queued as").last)
            c.line("QUIT")
            c.expect(221)
        (path,) = server.wait_for_delivery("alice", 1)
        with open(path, "rb") as f:
            stored = f.read()
        self.assertEqual(harness.received_fields(stored)[0], qid)
        self.assertIn(b"over-ipv6", stored)
        headers, _ = harness.split_message(stored)
        received = next(h for h in headers if h.startswith(b"Received:"))
        # RFC 5321 4.1.3 address literal; ::1 is localhost without a query (RFC 6303 4.3)
        self.assertIn(b"(localhost [IPv6:::1])", received)

    def test_ipv6_client_may_relay_when_trusted(self):
        # ::1/128 is in trusted_networks: relaying is allowed over IPv6 too
        server = self.start_server(host="::1")
        qid = server.send("relay-v6", to=("someone@other.test",))
        self.assertIn(qid, server.spool_files())


if __name__ == "__main__":
    harness.main()
