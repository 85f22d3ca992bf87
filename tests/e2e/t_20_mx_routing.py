#!/usr/bin/env python3
"""Routing by DNS MX records (RFC 5321 5.1), with a real unbound on loopback.

dns_server.py runs unbound with these records and nothing else:
    dest.example.      MX 10 mx1.dest.example.     mx1.dest.example. A 127.0.0.2
    dest.example.      MX 20 mx2.dest.example.     mx2.dest.example. A 127.0.0.3
    implicit.example.  A 127.0.0.2                 (no MX)
    nullmx.example.    MX 0 .                      (RFC 7505 null MX)
The sender resolves through it ([dns] forwarders); the MX hosts are second ehlo instances on
127.0.0.2:25 and 127.0.0.3:25 (MX delivery goes to port 25, so the tests need that port free
on those addresses, and root).
- 5.1: the lowest preference is tried first: mx1 gets the mail, mx2 nothing;
- 5.1: when mx1 refuses connections, the next preference, mx2, gets it;
- 5.1: no MX but an A record: the domain itself is the implicit MX;
- RFC 7505 3 / 4.1: a null MX means the domain takes no mail: an immediate bounce with
  5.1.10 to the local sender, no connection anywhere.
"""
import ipaddress
import os
import time
import unittest

import dns_server
import harness
from harness import LOCAL_SENDER

MX1, MX2, SMTP_PORT = "127.0.0.2", "127.0.0.3", 25
RECORDS = [
    "dest.example. MX 10 mx1.dest.example.",
    "dest.example. MX 20 mx2.dest.example.",
    f"mx1.dest.example. A {MX1}",
    f"mx2.dest.example. A {MX2}",
    f"implicit.example. A {MX1}",
    "nullmx.example. MX 0 .",
]
PEER_DOMAINS = [{"name": d, "mailboxes": ["bob"], "maildir_root": "{dir}/mail", "postmaster": "bob"}
                for d in ("dest.example", "implicit.example")]


def is_address(text):
    try:
        ipaddress.ip_address(text or "")
        return True
    except ValueError:
        return False


class MxRouting(harness.E2ETest):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("MX hosts listen on port 25: needs root")
        if not os.access(dns_server.UNBOUND, os.X_OK):
            raise unittest.SkipTest("unbound is not installed")
        for host in (MX1, MX2):
            if not harness.port_free(host, SMTP_PORT):
                raise unittest.SkipTest(f"{host}:{SMTP_PORT} is in use")
        cls.dns = dns_server.DnsServer(RECORDS).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def mx(self, host, name):
        """A receiving ehlo on HOST:25 for dest.example and implicit.example (not started)."""
        return self.make_server(host=host, port=SMTP_PORT, server={"hostname": name},
                                domains=PEER_DOMAINS)

    def sender(self):
        return self.start_sender(dns={"forwarders": [self.dns.forwarder], "timeout": 5})

    def attempts(self, server, qid):
        return [f for f in server.log_events("remote-attempt") if f.get("id") == qid]

    def test_lowest_preference_first(self):
        mx1 = self.mx(MX1, "mx1.dest.example").start()
        mx2 = self.mx(MX2, "mx2.dest.example").start()
        server = self.sender()
        qids = [server.send(f"pref-{i}", to=("bob@dest.example",), sender=LOCAL_SENDER)
                for i in range(3)]
        mx1.wait_for_delivery("bob", 3)
        server.wait_spool_empty()
        mx2.assert_stays("bob", 0, seconds=1.0)
        mx1.assert_stays("bob", 3, seconds=0)
        for qid in qids:
            (done,) = [a for a in self.attempts(server, qid) if a.get("outcome") == "delivered"]
            self.assertEqual(done.get("ip"), MX1, done)
            self.assertEqual(done.get("to"), "bob@dest.example", done)

    def test_fallback_to_next_preference_when_first_refuses(self):
        mx2 = self.mx(MX2, "mx2.dest.example").start()     # mx1 is down: connection refused
        self.assertTrue(harness.port_free(MX1, SMTP_PORT))
        server = self.sender()
        qid = server.send("fallback", to=("bob@dest.example",), sender=LOCAL_SENDER)
        (path,) = mx2.wait_for_delivery("bob", 1)
        self.assertIn(b"fallback", harness.read_file(path))
        server.wait_spool_empty()
        done = [a for a in self.attempts(server, qid) if a.get("outcome") == "delivered"]
        self.assertEqual([a.get("ip") for a in done], [MX2], self.attempts(server, qid))
        tried = [f for f in map(harness.parse_log_line, server.log_lines())
                 if f.get("id") == qid and f.get("ip") == MX1]
        self.assertTrue(tried, "mx1 (preference 10) was not tried first")
        self.assertEqual(server.read_maildir("alice"), [], "no bounce: it was delivered")

    def test_implicit_mx_from_a_record(self):
        mx1 = self.mx(MX1, "implicit.example").start()
        server = self.sender()
        qid = server.send("implicit", to=("bob@implicit.example",), sender=LOCAL_SENDER)
        (path,) = mx1.wait_for_delivery("bob", 1)
        self.assertIn(b"implicit", harness.read_file(path))
        server.wait_spool_empty()
        done = [a for a in self.attempts(server, qid) if a.get("outcome") == "delivered"]
        self.assertEqual([a.get("ip") for a in done], [MX1])

    def test_null_mx_bounces_with_5_1_10(self):
        mx1 = self.mx(MX1, "mx1.dest.example").start()
        server = self.sender()
        qid = server.send("null-mx", to=("bob@nullmx.example",), sender=LOCAL_SENDER)
        (path,) = server.wait_for_delivery("alice", 1, timeout=15)
        stored = harness.read_file(path)
        self.assertEqual(harness.return_path(stored), "")
        _, _, recipients = harness.parse_dsn(stored)
        bob = harness.dsn_recipient(recipients, "bob@nullmx.example")
        self.assertEqual(bob.get("action", "").lower(), "failed")
        self.assertEqual(bob.get("status"), "5.1.10", bob)
        server.wait_log("bounced", id=qid)
        server.wait_spool_empty()
        time.sleep(1.0)
        self.assertEqual([a for a in self.attempts(server, qid) if is_address(a.get("ip"))], [],
                         "connected somewhere for a null MX domain")
        self.assertEqual(mx1.maildir_files("*"), [])


if __name__ == "__main__":
    harness.main()
