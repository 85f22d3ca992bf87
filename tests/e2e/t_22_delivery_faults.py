#!/usr/bin/env python3
"""Onward delivery when the next hop misbehaves: each fault with its expected outcome.

The next hop is a scripted peer (harness.ScriptedPeer: a socket server playing a fixed dialog)
reached by a [[route]] for remote.example, since no real server produces these faults on
demand. The sender is the local alice@example.test, so bounces land in alice's Maildir.
Retries come after 1 s, then every 2 s (retry_min = 1, retry_max = 2).

- RFC 5321 4.5.4.1: a temporary failure (no connection, 421, 4xx) is retried later; the
  message is delivered exactly once in the end.
- RFC 5321 3.3: recipients refused with 4xx in a transaction where others got 250 are tried
  again on their own; the accepted ones are not sent twice.
- RFC 5321 4.5.5 / RFC 3464: a 5xx for a recipient gives a DSN (multipart/report,
  message/delivery-status, Action: failed, Status: 5.x.x) from the null reverse-path.
- RFC 5321 4.1.1.4: a connection lost in mid-DATA is no delivery; the message is retried.
- RFC 5321 4.5.3.2: a peer that stops answering is given up on after the (scaled) timeout.
- RFC 5321 4.5.4.1: a message undeliverable for longer than its lifetime bounces (4.4.7).
- RFC 5321 4.5.5: a failed message from the null sender bounces to nobody; the local
  postmaster hears of it (null_sender_failures_to), or only the log.
- RFC 3464 2.3.3: delay_warning sends one "delayed" DSN while retries go on.
"""
import time

import harness
from harness import LOCAL_SENDER, STALL

RETRY_WAIT = 6.0       # s: long enough for two more attempts at retry_max = 2


class DeliveryFaults(harness.E2ETest):

    def sender_for(self, peer, **kwargs):
        return self.start_sender(routes=harness.route_to(peer.port), **kwargs)

    def assert_no_bounce(self, server):
        self.assertEqual([m for m in server.read_maildir("alice") if harness.is_dsn(m)], [],
                         "unexpected bounce in the sender's Maildir")

    def test_peer_down_then_up_delivered_once(self):
        peer = self.make_peer()                      # nothing listens on its port yet
        server = self.sender_for(peer)
        qid = server.send("down-then-up", to=("bob@remote.example",), sender=LOCAL_SENDER)
        deferred = server.wait_log("remote-attempt", id=qid, outcome="deferred")
        self.assertEqual(deferred[0].get("to"), "bob@remote.example", deferred[0])
        self.assertIn(qid, server.spool_files())

        peer.start()
        (m,) = peer.wait_messages(1)
        self.assertIn(b"down-then-up", m.data)
        self.assertEqual(m.recipients, ["bob@remote.example"])
        server.wait_log("remote-attempt", id=qid, outcome="delivered")
        server.wait_spool_empty()
        time.sleep(RETRY_WAIT)
        self.assertEqual(peer.deliveries_to("bob@remote.example"), 1, "delivered more than once")
        self.assert_no_bounce(server)

    def test_421_at_greeting_deferred_then_delivered(self):
        peer = self.start_peer()
        peer.greeting = lambda s: ("421 4.3.2 peer.example busy, try later" if s.n == 0
                                   else "220 peer.example ESMTP")
        server = self.sender_for(peer)
        qid = server.send("greeting-421", to=("bob@remote.example",), sender=LOCAL_SENDER)
        deferred = server.wait_log("remote-attempt", id=qid, outcome="deferred")
        self.assertIn("421", deferred[0].get("reply", ""), deferred[0])
        (m,) = peer.wait_messages(1)
        self.assertGreaterEqual(m.session.n, 1, "delivered in the session that got 421")
        server.wait_spool_empty()
        time.sleep(RETRY_WAIT)
        self.assertEqual(peer.deliveries_to("bob@remote.example"), 1)
        self.assertEqual(peer.sessions[0].messages, [], "a transaction after a 421 greeting")
        self.assert_no_bounce(server)

    def test_4xx_for_one_recipient_only_that_one_retried(self):
        peer = self.start_peer()
        refused = []

        def rcpt(session, addr, line):
            if addr == "a@remote.example" and not refused:
                refused.append(session.n)
                return "451 4.3.0 a: temporary failure"
            return "250 2.1.5 Ok"
        peer.rcpt = rcpt
        server = self.sender_for(peer)
        qid = server.send("one-deferred", to=("a@remote.example", "b@remote.example"),
                          sender=LOCAL_SENDER)
        first, second = peer.wait_messages(2)
        self.assertEqual(first.recipients, ["b@remote.example"])
        self.assertEqual(second.recipients, ["a@remote.example"],
                         "the retry must carry only the deferred recipient")
        self.assertEqual(first.data, second.data)
        server.wait_spool_empty()
        time.sleep(RETRY_WAIT)
        self.assertEqual(peer.deliveries_to("b@remote.example"), 1, "b was sent twice")
        self.assertEqual(peer.deliveries_to("a@remote.example"), 1)
        self.assertEqual(len(peer.messages()), 2)
        outcomes = {(f.get("to"), f.get("outcome")) for f in server.log_events("remote-attempt")
                    if f.get("id") == qid}
        self.assertIn(("a@remote.example", "deferred"), outcomes)
        self.assertIn(("a@remote.example", "delivered"), outcomes)
        self.assertIn(("b@remote.example", "delivered"), outcomes)
        self.assertNotIn(("b@remote.example", "deferred"), outcomes)
        self.assert_no_bounce(server)

    def test_5xx_for_one_recipient_bounce_dsn_to_local_sender(self):
        peer = self.start_peer()
        peer.rcpt = lambda s, addr, line: ("550 5.1.1 x: no such user here"
                                           if addr == "x@remote.example" else "250 2.1.5 Ok")
        server = self.sender_for(peer)
        qid = server.send("one-failed", to=("x@remote.example", "y@remote.example"),
                          sender=LOCAL_SENDER)
        (m,) = peer.wait_messages(1)
        self.assertEqual(m.recipients, ["y@remote.example"])
        server.wait_log("remote-attempt", id=qid, outcome="failed", to="x@remote.example")
        server.wait_log("bounced", id=qid)

        (path,) = server.wait_for_delivery("alice", 1)
        stored = harness.read_file(path)
        # RFC 5321 4.5.5: notifications are sent with the null reverse-path
        self.assertEqual(harness.return_path(stored), "")
        msg, per_message, recipients = harness.parse_dsn(stored)
        self.assertIn("reporting-mta", per_message)
        self.assertEqual(len(recipients), 1, recipients)    # y was delivered: not reported
        x = harness.dsn_recipient(recipients, "x@remote.example")
        self.assertEqual(x.get("action", "").lower(), "failed")
        self.assertRegex(x.get("status", ""), r"^5\.\d{1,3}\.\d{1,3}$")
        self.assertEqual(x.get("status"), "5.1.1", "the peer's enhanced status code")
        self.assertIn("550", x.get("diagnostic-code", ""), x)
        self.assertIn(b"one-failed", stored, "the DSN identifies the message")

        server.wait_spool_empty()
        time.sleep(RETRY_WAIT)
        self.assertEqual(peer.deliveries_to("y@remote.example"), 1)
        self.assertEqual(peer.deliveries_to("x@remote.example"), 0)
        self.assertEqual(peer.command_lines("MAIL FROM:<>"), [], "the bounce went out, not home")
        server.assert_stays("alice", 1, seconds=0)

    def test_connection_dropped_in_mid_data_retried_delivered_once(self):
        peer = self.start_peer()
        peer.drop_in_data = lambda s: s.n == 0
        server = self.sender_for(peer)
        body = "".join(f"line {i:06d} of a message large enough to span many reads\r\n"
                       for i in range(6000))      # ~400 KB
        message = harness.simple_message("mid-data-drop", to="bob@remote.example", body=body)
        qid = server.send("mid-data-drop", to=("bob@remote.example",), sender=LOCAL_SENDER,
                          message=message)
        (m,) = peer.wait_messages(1)
        self.assertEqual(peer.sessions[0].ended, "dropped")
        self.assertGreaterEqual(m.session.n, 1)
        self.assertTrue(m.data.endswith(message), "content changed on the way")
        server.wait_log("remote-attempt", id=qid, outcome="deferred")
        server.wait_spool_empty()
        time.sleep(RETRY_WAIT)
        self.assertEqual(peer.deliveries_to("bob@remote.example"), 1)
        self.assert_no_bounce(server)

    def test_stalled_peer_times_out_deferred_then_delivered(self):
        # timeout_scale 0.01: the 5-minute MAIL timeout (RFC 5321 4.5.3.2.2) becomes 3 s
        peer = self.start_peer()
        peer.mail = lambda s, line: STALL if s.n == 0 else "250 2.1.0 Ok"
        server = self.sender_for(peer, outbound={"timeout_scale": 0.01})
        started = time.monotonic()
        qid = server.send("stalled-peer", to=("bob@remote.example",), sender=LOCAL_SENDER)
        server.wait_log("remote-attempt", id=qid, outcome="deferred", timeout=20)
        gave_up = time.monotonic() - started
        self.assertLess(gave_up, 15, "the client timeout was not scaled down")
        (m,) = peer.wait_messages(1)
        self.assertGreaterEqual(m.session.n, 1)
        self.assertIn(peer.sessions[0].ended, ("stalled", "eof"))
        server.wait_spool_empty()
        time.sleep(RETRY_WAIT)
        self.assertEqual(peer.deliveries_to("bob@remote.example"), 1)
        self.assert_no_bounce(server)

    def test_past_lifetime_bounces_with_4_4_7(self):
        peer = self.start_peer()
        peer.rcpt = lambda s, addr, line: "451 4.3.0 temporary failure, always"
        server = self.sender_for(peer, delivery={"lifetime": 2})
        qid = server.send("lifetime", to=("bob@remote.example",), sender=LOCAL_SENDER)
        server.wait_log("remote-attempt", id=qid, outcome="deferred")
        (path,) = server.wait_for_delivery("alice", 1, timeout=30)
        stored = harness.read_file(path)
        self.assertEqual(harness.return_path(stored), "")
        _, _, recipients = harness.parse_dsn(stored)
        bob = harness.dsn_recipient(recipients, "bob@remote.example")
        self.assertEqual(bob.get("action", "").lower(), "failed")
        self.assertEqual(bob.get("status"), "4.4.7", bob)       # RFC 3463: delivery time expired
        server.wait_log("bounced", id=qid)
        server.wait_spool_empty()
        attempts = peer.command_lines("RCPT")
        time.sleep(RETRY_WAIT)
        self.assertEqual(len(peer.command_lines("RCPT")), len(attempts),
                         "attempts went on after the bounce")
        self.assertEqual(peer.messages(), [])

    def test_null_sender_failure_never_bounces_to_the_sender(self):
        # RFC 5321 4.5.5 / 6.1: a message from <> (a bounce itself) gets no DSN back; its
        # failure goes to the local postmaster instead (null_sender_failures_to)
        peer = self.start_peer()
        peer.rcpt = lambda s, addr, line: "550 5.1.1 no such user here"
        server = self.sender_for(peer)          # postmaster of example.test is alice
        qid = server.send("null-sender", to=("x@remote.example",), sender="")
        server.wait_log("remote-attempt", id=qid, outcome="failed")
        (path,) = server.wait_for_delivery("alice", 1)
        notice = harness.read_file(path)
        self.assertIn(b"x@remote.example", notice)
        server.wait_spool_empty()
        time.sleep(2.0)
        self.assertEqual(peer.messages(), [])
        self.assertEqual(len(peer.command_lines("MAIL")), 1, "something else was sent out")
        server.assert_stays("alice", 1, seconds=0)

    def test_null_sender_failure_only_logged_when_nobody_is_told(self):
        peer = self.start_peer()
        peer.rcpt = lambda s, addr, line: "550 5.1.1 no such user here"
        server = self.sender_for(peer, delivery={"null_sender_failures_to": ""})
        qid = server.send("null-sender-quiet", to=("x@remote.example",), sender="")
        server.wait_log("remote-attempt", id=qid, outcome="failed")
        server.wait_spool_empty()
        time.sleep(2.0)
        self.assertEqual(server.read_maildir("*"), [], "a notice although nobody is to be told")
        self.assertEqual(len(peer.command_lines("MAIL")), 1)

    def test_delay_warning_then_delivered(self):
        # RFC 3464 2.3.3: a "delayed" DSN while the message is still being tried
        peer = self.start_peer()
        peer.accepting = False
        peer.rcpt = lambda s, addr, line: ("250 2.1.5 Ok" if peer.accepting
                                           else "451 4.3.0 not yet")
        server = self.sender_for(peer, delivery={"delay_warning": 2})
        qid = server.send("delayed", to=("bob@remote.example",), sender=LOCAL_SENDER)
        (path,) = server.wait_for_delivery("alice", 1, timeout=20)
        stored = harness.read_file(path)
        self.assertEqual(harness.return_path(stored), "")
        _, _, recipients = harness.parse_dsn(stored)
        bob = harness.dsn_recipient(recipients, "bob@remote.example")
        self.assertEqual(bob.get("action", "").lower(), "delayed", bob)
        self.assertRegex(bob.get("status", ""), r"^4\.\d{1,3}\.\d{1,3}$")
        self.assertIn(qid, server.spool_files(), "a delay warning ends nothing")
        peer.accepting = True
        peer.wait_messages(1)
        server.wait_spool_empty()
        time.sleep(RETRY_WAIT)
        self.assertEqual(peer.deliveries_to("bob@remote.example"), 1)
        server.assert_stays("alice", 1, seconds=0)   # one warning, no more


if __name__ == "__main__":
    harness.main()
