#!/usr/bin/env python3
"""DSN parameters on the way onward (RFC 3461).

The sender offers DSN ([smtp] dsn = true); a client asks for notifications with ENVID, RET,
NOTIFY and ORCPT; the next hop is a scripted peer that records the MAIL and RCPT lines it gets.
- RFC 3461 5.2.1: a next hop that offers DSN gets ENVID, RET, NOTIFY and ORCPT as they came;
  success notifications are then its business, not ours.
- RFC 3461 5.2.2 / 4.1: a next hop without DSN gets none of them (RFC 5321 2.2.2: no parameters
  of an extension the server did not offer), and NOTIFY=SUCCESS earns a "relayed" DSN from us.
- RFC 3464 2.2.1, 2.3.1: a failure DSN carries Original-Envelope-Id and Original-Recipient;
  RFC 3461 4.3: RET=HDRS returns only the header section.
- RFC 3461 4.1: NOTIFY=NEVER: no bounce, whatever happens.
"""
import re
import time

import harness
from harness import LOCAL_SENDER

ENVID = "env-26.QQ1"
RCPT = "bob@remote.example"
ORCPT = f"rfc822;{RCPT}"


def typed(value):
    """An RFC 3464 "type; value" field compared without the optional white space."""
    return re.sub(r"\s*;\s*", ";", value or "").lower()


class DsnRelay(harness.E2ETest):

    def setup_pair(self, peer_dsn, refuse=False):
        peer = self.start_peer(dsn=peer_dsn)
        if refuse:
            peer.rcpt = lambda s, addr, line: "550 5.1.1 bob: no such user here"
        server = self.start_sender(routes=harness.route_to(peer.port), smtp={"dsn": True})
        return server, peer

    def send(self, server, token, notify, ret="HDRS"):
        with server.smtp() as s:
            s.ehlo()
            self.assertTrue(s.has_extn("dsn"), "the sender does not offer DSN with dsn = true")
            code, text = s.mail(LOCAL_SENDER, [f"RET={ret}", f"ENVID={ENVID}"])
            self.assertEqual(code, 250, text)
            code, text = s.rcpt(RCPT, [f"NOTIFY={notify}", f"ORCPT={ORCPT}"])
            self.assertEqual(code, 250, text)
            code, text = s.data(harness.simple_message(token, to=RCPT))
            self.assertEqual(code, 250, text)
            return harness.queue_id(b"250 " + text)

    def test_parameters_passed_on_to_a_peer_that_offers_dsn(self):
        server, peer = self.setup_pair(peer_dsn=True)
        qid = self.send(server, "dsn-passed", "SUCCESS,FAILURE")
        (m,) = peer.wait_messages(1)
        mail = m.mail.upper()
        self.assertIn(f"ENVID={ENVID}".upper(), mail, m.mail)
        self.assertIn("RET=HDRS", mail, m.mail)
        (rcpt,) = m.rcpt_lines
        self.assertIn("NOTIFY=SUCCESS,FAILURE", rcpt.upper(), rcpt)
        self.assertIn(f"ORCPT={ORCPT}".upper(), rcpt.upper(), rcpt)
        server.wait_log("remote-attempt", id=qid, outcome="delivered")
        server.wait_spool_empty()
        # the next hop now owns the success notification: none from us
        server.assert_stays("alice", 0, seconds=2.0)

    def test_peer_without_dsn_gets_no_parameters_and_success_is_relayed(self):
        server, peer = self.setup_pair(peer_dsn=False)
        qid = self.send(server, "dsn-relayed", "SUCCESS,FAILURE")
        (m,) = peer.wait_messages(1)
        for word in ("ENVID=", "RET="):
            self.assertNotIn(word, m.mail.upper(), m.mail)
        (rcpt,) = m.rcpt_lines
        for word in ("NOTIFY=", "ORCPT="):
            self.assertNotIn(word, rcpt.upper(), rcpt)

        (path,) = server.wait_for_delivery("alice", 1)
        stored = harness.read_file(path)
        self.assertEqual(harness.return_path(stored), "")
        _, per_message, recipients = harness.parse_dsn(stored)
        self.assertEqual(per_message.get("original-envelope-id"), ENVID, per_message)
        bob = harness.dsn_recipient(recipients, RCPT)
        self.assertEqual(bob.get("action", "").lower(), "relayed", bob)
        self.assertRegex(bob.get("status", ""), r"^2\.\d{1,3}\.\d{1,3}$")
        self.assertEqual(typed(bob.get("original-recipient")), typed(ORCPT), bob)
        server.wait_log("remote-attempt", id=qid, outcome="delivered")
        server.wait_spool_empty()
        self.assertEqual(peer.deliveries_to(RCPT), 1)

    def test_failure_dsn_carries_envid_orcpt_and_headers_only(self):
        server, peer = self.setup_pair(peer_dsn=True, refuse=True)
        qid = self.send(server, "dsn-failed", "FAILURE")
        (path,) = server.wait_for_delivery("alice", 1)
        stored = harness.read_file(path)
        msg, per_message, recipients = harness.parse_dsn(stored)
        self.assertEqual(per_message.get("original-envelope-id"), ENVID, per_message)
        bob = harness.dsn_recipient(recipients, RCPT)
        self.assertEqual(bob.get("action", "").lower(), "failed")
        self.assertEqual(bob.get("status"), "5.1.1")
        self.assertEqual(typed(bob.get("original-recipient")), typed(ORCPT), bob)
        # RET=HDRS: the header section only (RFC 3461 4.3)
        kinds = [p.get_content_type() for p in msg.get_payload()]
        self.assertIn("text/rfc822-headers", kinds, kinds)
        self.assertNotIn(b"Hello, this is dsn-failed.", stored)
        self.assertIn(b"Message-ID: <dsn-failed@client.test>", stored)
        server.wait_log("bounced", id=qid)
        server.wait_spool_empty()

    def test_notify_never_suppresses_the_bounce(self):
        server, peer = self.setup_pair(peer_dsn=True, refuse=True)
        qid = self.send(server, "dsn-never", "NEVER")
        server.wait_log("remote-attempt", id=qid, outcome="failed")
        server.wait_spool_empty()
        time.sleep(2.0)
        self.assertEqual(server.read_maildir("alice"), [], "a bounce despite NOTIFY=NEVER")
        self.assertEqual(server.read_maildir("*"), [])
        self.assertEqual([f for f in server.log_events("bounced") if f.get("id") == qid], [])


if __name__ == "__main__":
    harness.main()
