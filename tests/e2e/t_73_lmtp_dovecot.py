#!/usr/bin/env python3
"""Delivery by LMTP (RFC 2033) to a real Dovecot, read back over IMAP with imaplib.

A private Dovecot (dovecot.py: its own base_dir, LMTP on a Unix socket under its folder and on a
loopback port, IMAP on a loopback port, users in a passwd-file, the quota plugin) takes the
mailboxes of example.test: the domain's `lmtp` is the socket, dave's `mailbox_lmtp` the port.
- RFC 2033 4.2: after the final "." each recipient has its own reply: an over-quota recipient
  (Dovecot's 552 5.2.2) fails on its own, its bounce reaches the sender (by LMTP too), and the
  others are delivered.
- Aliases still expand at RCPT: a team reaches each member's Dovecot INBOX once.
- Nothing is written to ehlo's own Maildirs for these mailboxes.
"""
import re

import dovecot
import harness

USERS = {"alice": "pw-alice", "bob": "pw-bob", "carol": "pw-carol", "dave": "pw-dave"}


class LmtpDovecot(harness.E2ETest):

    @classmethod
    def setUpClass(cls):
        # carol's quota is smaller than any message: Dovecot refuses hers after the "."
        cls.dovecot = dovecot.Dovecot(USERS, quota_rules={"carol": "*:storage=100B"})
        try:
            cls.dovecot.start()
        except BaseException:
            cls.dovecot.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()

    def setUp(self):
        super().setUp()
        import os
        import tempfile
        self.tmp = tempfile.TemporaryDirectory(prefix="ehlo-e2e-lmtp-")
        self.addCleanup(self.tmp.cleanup)
        aliases = os.path.join(self.tmp.name, "aliases")
        with open(aliases, "w") as f:
            f.write("team: alice, dave\n")
        d = self.dovecot
        self.srv = self.start_sender(
            tables={"aliases": {"files": [aliases]}},
            domains=[{"name": "example.test", "catch_all": False, "mailboxes": list(USERS),
                      "maildir_root": "{dir}/mail", "postmaster": "alice",
                      "lmtp": "unix:" + d.lmtp_socket,
                      "mailbox_lmtp": {"dave": f"127.0.0.1:{d.lmtp_port}"}}])

    def send(self, sender, rcpts, token):
        with self.srv.smtp() as s:
            s.ehlo()
            self.assertEqual(s.mail(sender)[0], 250)
            for r in rcpts:
                code, text = s.rcpt(r)
                self.assertEqual(code, 250, (r, text))
            code, text = s.data(harness.simple_message(token, to=rcpts[0], body=f"{token}\r\n" + "x" * 300 + "\r\n"))
            self.assertEqual(code, 250, text)
            return harness.queue_id(b"250 " + text)

    def with_token(self, user, token, n=1):
        return harness.wait_until(
            lambda: [m for m in self.dovecot.messages(user) if token.encode() in m][:n]
            if len([m for m in self.dovecot.messages(user) if token.encode() in m]) >= n else None,
            harness.DELIVERY_TIMEOUT, f"{token} for {user} in Dovecot\n" + self.dovecot.log_text()
            + "\n" + self.srv.log_tail())

    def test_socket_and_tcp_read_over_imap(self):
        qid = self.send("sender@client.test", ["alice@example.test", "dave@example.test"], "lmtp-both")
        for user in ("alice", "dave"):
            (m,) = self.with_token(user, "lmtp-both")
            self.assertTrue(m.startswith(b"Return-Path: <sender@client.test>"), m[:300])  # Dovecot writes MAIL FROM
            self.assertIn(b"by mx.test", m)           # our Received header
            self.assertIn(b"Subject: test lmtp-both", m)
        self.srv.wait_log("lmtp-attempt", id=qid, to="alice@example.test", outcome="delivered",
                          server="unix:" + self.dovecot.lmtp_socket)
        self.srv.wait_log("lmtp-attempt", id=qid, to="dave@example.test", outcome="delivered",
                          server=f"127.0.0.1:{self.dovecot.lmtp_port}")
        self.srv.wait_spool_empty()
        self.srv.assert_stays("alice", 0)          # not in ehlo's own Maildir
        self.srv.assert_stays("dave", 0)

    def test_over_quota_fails_alone(self):
        # RFC 2033 4.2: one reply per recipient after the "."; RFC 3463 X.2.2 mailbox full
        qid = self.send("bob@example.test", ["alice@example.test", "carol@example.test"], "lmtp-quota")
        self.with_token("alice", "lmtp-quota")
        failed = self.srv.wait_log("lmtp-attempt", id=qid, to="carol@example.test", outcome="failed")
        self.assertTrue(re.match(r"552 5\.2\.2", failed[0]["reply"]), failed)
        self.srv.wait_log("lmtp-attempt", id=qid, to="alice@example.test", outcome="delivered")
        self.assertEqual([m for m in self.dovecot.messages("carol") if b"lmtp-quota" in m], [])
        # the bounce (RFC 3464) goes to bob, by LMTP as well, and names carol
        bounce = harness.wait_until(
            lambda: [m for m in self.dovecot.messages("bob") if b"carol@example.test" in m and harness.is_dsn(m)],
            harness.DELIVERY_TIMEOUT, "a DSN for bob\n" + self.srv.log_tail())[0]
        _, _, groups = harness.parse_dsn(bounce)
        g = harness.dsn_recipient(groups, "carol@example.test")
        self.assertEqual(g.get("action"), "failed", g)
        self.assertTrue(g.get("status", "").startswith("5.2.2"), g)

    def test_one_connection_carries_messages_in_turn(self):
        # a connection is kept (idle_keep) for the next message to the same LMTP server
        self.send("sender@client.test", ["alice@example.test"], "lmtp-reuse-1")
        self.with_token("alice", "lmtp-reuse-1")
        before = self.dovecot.connections()[0]
        self.send("sender@client.test", ["bob@example.test"], "lmtp-reuse-2")
        self.with_token("bob", "lmtp-reuse-2")
        self.assertEqual(self.dovecot.connections()[0], before, "a new LMTP connection for the second message")

    def test_alias_once_per_inbox(self):
        self.send("sender@client.test", ["team@example.test", "alice@example.test"], "lmtp-team")
        self.with_token("alice", "lmtp-team")
        self.with_token("dave", "lmtp-team")
        self.srv.wait_spool_empty()
        self.assertEqual(len([m for m in self.dovecot.messages("alice") if b"lmtp-team" in m]), 1)


class LmtpDovecotTempfail(harness.E2ETest):
    """A 4xx after the final "." defers that recipient alone: it stays queued and is tried
    again on the [delivery] schedule (RFC 5321 4.5.4.1), as onward SMTP's are."""

    @classmethod
    def setUpClass(cls):
        cls.dovecot = dovecot.Dovecot(USERS, quota_rules={"carol": "*:storage=100B"}, quota_tempfail=True)
        try:
            cls.dovecot.start()
        except BaseException:
            cls.dovecot.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()

    def test_over_quota_4xx_is_deferred_and_retried(self):
        srv = self.start_sender(domains=[{
            "name": "example.test", "catch_all": False, "mailboxes": list(USERS),
            "maildir_root": "{dir}/mail", "postmaster": "alice", "lmtp": "unix:" + self.dovecot.lmtp_socket}])
        with srv.smtp() as s:
            s.ehlo()
            s.mail("sender@client.test")
            self.assertEqual(s.rcpt("alice@example.test")[0], 250)
            self.assertEqual(s.rcpt("carol@example.test")[0], 250)
            code, text = s.data(harness.simple_message("lmtp-tempfail", body="x" * 400 + "\r\n"))
            self.assertEqual(code, 250, text)
        qid = harness.queue_id(b"250 " + text)
        harness.wait_until(lambda: [m for m in self.dovecot.messages("alice") if b"lmtp-tempfail" in m],
                           harness.DELIVERY_TIMEOUT, "alice's copy\n" + self.dovecot.log_text())
        # tried at least twice (retry_min = 1 s), each time deferred, never failed
        deferred = srv.wait_log("lmtp-attempt", n=2, id=qid, to="carol@example.test", outcome="deferred")
        self.assertTrue(deferred[0]["reply"].startswith("452 4.2.2"), deferred[0])
        attempts = [e for e in srv.log_events("lmtp-attempt") if e.get("id") == qid]
        self.assertEqual({e["outcome"] for e in attempts if e["to"] == "carol@example.test"}, {"deferred"})
        # alice was delivered once and is not tried again with carol
        self.assertEqual([e["outcome"] for e in attempts if e["to"] == "alice@example.test"], ["delivered"])
        self.assertEqual([m for m in self.dovecot.messages("carol") if b"lmtp-tempfail" in m], [])


if __name__ == "__main__":
    harness.main()
