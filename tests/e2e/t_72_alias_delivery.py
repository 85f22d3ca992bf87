#!/usr/bin/env python3
"""Aliases at RCPT time, as far as the mailboxes and the next hop (RFC 5321 3.9).

- 3.9.1: an alias is replaced by its targets: mail to a team lands in each member's Maildir,
  once, even when a member is also named on its own (duplicates collapse); an unknown address
  still gets 550 5.1.1 at RCPT.
- A forward to another domain reaches the next hop (a scripted peer behind a [[route]]) with
  the sender rewritten by SRS (SRS0=HASH=TT=orig.example=user@our-domain), the content as it
  came plus our Received header; the original recipient travels as ORCPT (RFC 3461 4.2).
- A bounce to that SRS address, from any client, goes back to the original sender; a forged
  SRS address gets 550 5.7.1.
- RFC 3463 X.2.2: a mailbox over its quota gets 552 5.2.2 at RCPT.
No client here is trusted: every remote recipient is the alias table's or the SRS address's.
"""
import os
import re
import tempfile
import time

import harness

ORIG = "someone@orig.example"
SRS0 = re.compile(r"^SRS0=[^=]+=[^=]{2}=orig\.example=someone@example\.test$", re.IGNORECASE)


class AliasDelivery(harness.E2ETest):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.TemporaryDirectory(prefix="ehlo-e2e-alias-delivery-")
        self.addCleanup(self.tmp.cleanup)
        aliases = os.path.join(self.tmp.name, "aliases")
        with open(aliases, "w") as f:
            f.write("team: alice, bob\n"
                    "crew: team, bob\n"
                    "fwd: dave@remote.example\n"
                    "mixed: carol, erin@remote.example\n")
        self.remote = self.start_peer(name="mx.remote.example", dsn=True)
        self.origin = self.start_peer(name="mx.orig.example")
        routes = (harness.route_to(self.remote.port, domain="remote.example")
                  + harness.route_to(self.origin.port, domain="orig.example"))
        self.srv = self.start_sender(
            routes=routes, relay={"trusted_networks": []},
            tables={"aliases": {"files": [aliases]},
                    "srs": {"domain": "example.test",
                            "secret_file": os.path.join(self.tmp.name, "srs.secret")}})

    def transaction(self, sender, rcpts, token):
        """One transaction from an untrusted client; the RCPT replies, and the DATA reply
        when any RCPT was accepted."""
        with self.srv.smtp() as s:
            s.ehlo()
            code, text = s.mail(sender)
            self.assertEqual(code, 250, text)
            replies = [s.rcpt(r) for r in rcpts]
            data = None
            if any(code == 250 for code, _ in replies):
                data = s.data(harness.simple_message(token, to=rcpts[0]))
                self.assertEqual(data[0], 250, data)
            return replies, data

    def test_team_alias_lands_in_each_mailbox_once(self):
        # RFC 5321 3.9.1; alice is both a member and named herself; crew reaches bob twice
        replies, _ = self.transaction(ORIG, ["team@example.test", "alice@example.test", "crew@example.test"],
                                      "team-once")
        self.assertEqual([c for c, _ in replies], [250, 250, 250], replies)
        for user in ("alice", "bob"):
            (path,) = self.srv.wait_for_delivery(user, 1)
            data = harness.read_file(path)
            self.assertIn(b"team-once", data)
            self.assertEqual(harness.return_path(data), ORIG)
        self.srv.wait_spool_empty()
        self.srv.assert_stays("alice", 1, seconds=1.0)
        self.srv.assert_stays("bob", 1)
        self.srv.assert_stays("carol", 0)

    def test_unknown_address_still_gets_550_at_rcpt(self):
        replies, _ = self.transaction(ORIG, ["nobody@example.test", "team@example.test"], "unknown")
        code, text = replies[0]
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith(b"5.1.1"), text)
        self.assertEqual(replies[1][0], 250)

    def forward(self, token):
        replies, _ = self.transaction(ORIG, ["fwd@example.test"], token)
        self.assertEqual(replies[0][0], 250, replies)
        (m,) = self.remote.wait_messages(1)
        return m

    def test_forward_reaches_the_next_hop_with_an_srs0_sender(self):
        m = self.forward("forwarded")
        self.assertEqual(m.recipients, ["dave@remote.example"])
        sender = re.match(r"MAIL FROM:<([^>]*)>", m.mail, re.IGNORECASE).group(1)
        self.assertRegex(sender, SRS0, m.mail)
        # RFC 3461 4.2: the address the client used goes along as ORCPT (the peer offers DSN)
        self.assertIn("ORCPT=rfc822;fwd@example.test", m.rcpt_lines[0], m.rcpt_lines)
        # the content as it came, our Received header first
        self.assertIn(b"forwarded", m.data)
        self.assertTrue(m.data.startswith(b"Received: "), m.data[:200])
        self.assertIn(b"From: <sender@client.test>", m.data)
        self.srv.wait_spool_empty()

    def test_bounce_to_the_srs_address_reaches_the_original_sender(self):
        m = self.forward("to-bounce")
        srs = re.match(r"MAIL FROM:<([^>]*)>", m.mail, re.IGNORECASE).group(1)
        # the next hop's bounce: null sender, to the SRS address, from a client we do not trust
        replies, _ = self.transaction("", [srs], "the-bounce")
        self.assertEqual(replies[0][0], 250, replies)
        (b,) = self.origin.wait_messages(1)
        self.assertEqual(b.recipients, [ORIG])
        self.assertRegex(b.mail, r"^MAIL FROM:<>", b.mail)  # the null sender is never rewritten
        self.assertIn(b"the-bounce", b.data)
        self.srv.wait_spool_empty()

    def test_bounce_of_a_forward_names_the_alias_as_original_recipient(self):
        # RFC 3461 4.2 / RFC 3464 2.3.1: the DSN says which address the sender used
        self.remote.rcpt = lambda s, addr, line: "550 5.1.1 no such user here"
        replies, _ = self.transaction(harness.LOCAL_SENDER, ["fwd@example.test"], "fwd-refused")
        self.assertEqual(replies[0][0], 250, replies)
        dsn = harness.wait_until(lambda: [p for p in self.srv.maildir_files("alice")
                                          if harness.is_dsn(harness.read_file(p))],
                                 harness.DELIVERY_TIMEOUT, "a DSN for alice\n" + self.srv.log_tail())[0]
        _, _, groups = harness.parse_dsn(harness.read_file(dsn))
        g = harness.dsn_recipient(groups, "dave@remote.example")
        self.assertEqual(g.get("action"), "failed", g)
        self.assertEqual(re.sub(r"\s*;\s*", ";", g.get("original-recipient", "")).lower(),
                         "rfc822;fwd@example.test", g)

    def test_forged_srs_address_is_refused(self):
        replies, _ = self.transaction("", ["SRS0=AAAA=AA=orig.example=someone@example.test"], "forged")
        code, text = replies[0]
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith(b"5.7.1"), text)
        self.assertEqual(self.origin.messages(), [])

    def test_alias_mixing_a_mailbox_and_a_forward(self):
        # the local copy keeps the sender as it came; only the forwarded one is rewritten
        replies, _ = self.transaction(ORIG, ["mixed@example.test"], "mixed")
        self.assertEqual(replies[0][0], 250, replies)
        (path,) = self.srv.wait_for_delivery("carol", 1)
        self.assertEqual(harness.return_path(harness.read_file(path)), ORIG)
        (m,) = self.remote.wait_messages(1)
        self.assertEqual(m.recipients, ["erin@remote.example"])
        self.assertRegex(re.match(r"MAIL FROM:<([^>]*)>", m.mail, re.IGNORECASE).group(1), SRS0)


class AliasQuota(harness.E2ETest):

    def test_mailbox_over_quota_gets_552_at_rcpt(self):
        # RFC 3463 X.2.2: carol may hold one message and holds two already
        srv = self.make_server(relay={"trusted_networks": []}, domains=[{
            "name": "example.test", "catch_all": False, "mailboxes": ["alice", "bob", "carol"],
            "maildir_root": "{dir}/mail", "postmaster": "alice",
            "mailbox_quota": {"carol": {"messages": 1}}}])
        for n in range(2):
            with open(os.path.join(srv.mail_root, "carol", "new", f"{n}.old"), "w") as f:
                f.write("Subject: old\r\n\r\nold\r\n")
        srv.start()

        def reply():
            with srv.smtp() as s:
                s.ehlo()
                s.mail(ORIG)
                return s.rcpt("carol@example.test")

        # the usage is read off the event loops: the first RCPTs may still find room
        code, text = harness.wait_until(lambda: (lambda r: r if r[0] == 552 else None)(reply()), 10,
                                        "552 for carol over quota\n" + srv.log_tail())
        self.assertTrue(text.startswith(b"5.2.2"), text)
        with srv.smtp() as s:
            s.ehlo()
            s.mail(ORIG)
            self.assertEqual(s.rcpt("bob@example.test")[0], 250)


if __name__ == "__main__":
    harness.main()
