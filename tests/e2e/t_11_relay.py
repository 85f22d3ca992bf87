#!/usr/bin/env python3
"""Relay control by client address (RFC 5321 3.6.2, 7.1: no open relay).

A trusted client (127.0.0.1, in trusted_networks) may send to any domain: the message for
other.test is accepted and stays in the spool while its next hop (a [[route]] to a port where
nothing listens) cannot be reached. An
untrusted client (127.0.0.2) gets 554 5.7.1 for other.test. postmaster@example.test is
accepted from both (RFC 5321 4.5.1) and goes to the domain's postmaster mailbox (alice).
"""
import smtplib
import time

import harness


# The next hop for other.test: a loopback port with no listener, so delivery is deferred.
UNREACHABLE_ROUTE = [{"domain": "other.test", "host": "127.0.0.1", "port": 9}]


class Relay(harness.E2ETest):

    def test_trusted_client_may_relay_message_stays_queued(self):
        server = self.start_server(routes=UNREACHABLE_ROUTE)
        qid = server.send("relay-trusted", to=("someone@other.test",))
        self.assertTrue(qid)
        self.assertIn(qid, server.spool_files())
        time.sleep(1.0)
        self.assertIn(qid, server.spool_files(), "the relayed message left the spool")
        server.assert_stays("alice", 0, seconds=0)

        # local and remote recipients in one message: the local copy is delivered, the
        # queue file stays for the remote one
        qid2 = server.send("mixed", to=("bob@example.test", "someone@other.test"))
        server.wait_for_delivery("bob", 1)
        time.sleep(0.5)
        self.assertIn(qid2, server.spool_files())
        server.assert_stays("bob", 1, seconds=0)

    def test_untrusted_client_gets_554_5_7_1(self):
        server = self.start_server()
        with server.smtp(source="127.0.0.2") as s:
            s.ehlo()
            self.assertEqual(s.mail("sender@client.test")[0], 250)
            code, text = s.rcpt("someone@other.test")
            self.assertEqual(code, 554)
            self.assertTrue(text.startswith(b"5.7.1"), text)
            # local mailboxes are fine for anybody
            self.assertEqual(s.rcpt("bob@example.test")[0], 250)
            # RFC 5321 4.5.1: "postmaster" is case-insensitive
            self.assertEqual(s.rcpt("PostMaster@example.test")[0], 250)
        with server.smtp(source="127.0.0.2") as s:
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
                s.sendmail("sender@client.test", ["someone@other.test"],
                           harness.simple_message("no-relay"))
            self.assertEqual(cm.exception.recipients["someone@other.test"][0], 554)
        self.assertEqual(server.spool_files(), [])

    def test_rfc5321_4_5_1_postmaster_accepted_from_both(self):
        server = self.start_server()
        for n, source in enumerate(("127.0.0.1", "127.0.0.2"), start=1):
            with server.smtp(source=source) as s:
                refused = s.sendmail("sender@client.test", ["postmaster@example.test"],
                                     harness.simple_message(f"to-postmaster-{n}",
                                                            to="postmaster@example.test"))
                self.assertEqual(refused, {})
            server.wait_for_delivery("alice", n)
        tokens = b"".join(server.read_maildir("alice"))
        self.assertIn(b"to-postmaster-1", tokens)
        self.assertIn(b"to-postmaster-2", tokens)
        server.wait_spool_empty()


if __name__ == "__main__":
    harness.main()
