#!/usr/bin/env python3
"""Queue control: `ehlo queue list | show | flush | hold | release | delete` against the daemon.

The next hop (a scripted peer behind a [[route]] for remote.example) answers 451 until the test
lets it accept, so a message sits deferred. With retry_min = retry_max = 60 nothing is retried
on its own within a test, which makes every effect of a command visible:
- list: id, state, next attempt and the last error (the peer's reply) of a deferred message;
- show: envelope, headers, and each attempt with the peer's reply;
- flush: the retry happens now, not in 60 s;
- hold: no attempts, even when due and the peer accepts; release: delivered again;
- delete: gone, without a bounce; bounce: returned to the sender now, with a DSN;
- the control socket is mode 0600 (only the server's user may steer the queue), in the spool
  or where [control] socket says.
"""
import calendar
import os
import shutil
import stat
import tempfile
import threading
import time

import harness
from harness import LOCAL_SENDER

SLOW_RETRY = {"retry_min": 60, "retry_max": 60}
REFUSAL = "451 4.3.0 queue-control test says later"


class QueueControl(harness.E2ETest):

    def deferred_message(self, token, delivery=SLOW_RETRY):
        """A running sender, its peer (refusing for now), and the queue id of a message that
        has had one failed attempt."""
        peer = self.start_peer()
        peer.accepting = False
        peer.rcpt = lambda s, addr, line: "250 2.1.5 Ok" if peer.accepting else REFUSAL
        server = self.start_sender(routes=harness.route_to(peer.port), delivery=delivery)
        qid = server.send(token, to=("bob@remote.example",), sender=LOCAL_SENDER)
        server.wait_log("remote-attempt", id=qid, outcome="deferred")
        return server, peer, qid

    def test_list_shows_id_state_next_attempt_last_error(self):
        server, peer, qid = self.deferred_message("list-me")
        listed = server.queue_list()
        self.assertIn(qid, listed)
        entry = listed[qid]
        self.assertEqual(entry.sender, LOCAL_SENDER)
        self.assertEqual(entry.state, "deferred")
        self.assertGreater(int(entry.size), 0)
        (rcpt,) = entry.recipients
        self.assertEqual(rcpt["address"], "bob@remote.example")
        self.assertEqual(rcpt["status"], "deferred")
        self.assertEqual(rcpt["attempts"], 1)
        self.assertTrue(rcpt["next"] and rcpt["next"] != "-", rcpt)
        # the next attempt is about retry_min after the first one
        when = calendar.timegm(time.strptime(rcpt["next"], "%Y-%m-%dT%H:%M:%SZ"))
        self.assertTrue(30 < when - time.time() <= 61, f"next attempt at {rcpt['next']}")
        self.assertIn("451", rcpt["last"] or "", rcpt)
        self.assertIn("queue-control test says later", rcpt["last"] or "", rcpt)

    def test_show_gives_envelope_headers_and_attempts(self):
        server, peer, qid = self.deferred_message("show-me")
        out = server.queue_ok("show", qid)
        self.assertIn(qid, out)
        self.assertIn(f"<{LOCAL_SENDER}>", out)
        self.assertIn("bob@remote.example", out)
        self.assertIn("Subject: test show-me", out)
        self.assertIn("Message-ID: <show-me@client.test>", out)
        attempts = out.partition("attempts:")[2]
        self.assertIn("451", attempts, out)
        self.assertIn("queue-control test says later", attempts, out)
        # an unknown id is an error, not an empty answer
        r = server.queue("show", "0000000000000000")
        self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_flush_makes_the_retry_happen_now(self):
        server, peer, qid = self.deferred_message("flush-me")
        peer.accepting = True
        time.sleep(2.0)
        self.assertEqual(peer.messages(), [], "retried before retry_min")
        started = time.monotonic()
        server.queue_ok("flush")
        (m,) = peer.wait_messages(1, timeout=15)
        self.assertLess(time.monotonic() - started, 15)
        self.assertIn(b"flush-me", m.data)
        server.wait_spool_empty()
        self.assertEqual(harness.parse_queue_list(server.queue_ok("list")), {})

    def test_flush_one_message_or_one_domain(self):
        server, peer, qid = self.deferred_message("flush-by-id")
        peer.accepting = True
        server.queue_ok("flush", qid)
        peer.wait_messages(1, timeout=15)
        peer.accepting = False
        qid2 = server.send("flush-by-domain", to=("bob@remote.example",), sender=LOCAL_SENDER)
        server.wait_log("remote-attempt", id=qid2, outcome="deferred")
        peer.accepting = True
        server.queue_ok("flush", "remote.example")
        peer.wait_messages(2, timeout=15)
        server.wait_spool_empty()

    def test_hold_stops_attempts_release_lets_it_go(self):
        # fast retries here: without the hold the message would be retried within 2 s
        server, peer, qid = self.deferred_message("hold-me", delivery=harness.ONWARD_DELIVERY)
        server.queue_ok("hold", qid)
        held = server.queue_list()[qid]
        self.assertEqual(held.state, "held", held)
        time.sleep(0.5)                           # an attempt already under way may finish
        attempts = len(peer.command_lines("RCPT"))
        peer.accepting = True
        server.queue("flush")                     # not even a flush moves a held message
        time.sleep(5.0)
        self.assertEqual(peer.messages(), [], "a held message was delivered")
        self.assertEqual(len(peer.command_lines("RCPT")), attempts, "attempts while held")
        self.assertIn(qid, server.spool_files())

        server.queue_ok("release", qid)
        (m,) = peer.wait_messages(1, timeout=15)
        self.assertIn(b"hold-me", m.data)
        server.wait_spool_empty()

    def test_hold_survives_a_restart(self):
        server, peer, qid = self.deferred_message("hold-restart", delivery=harness.ONWARD_DELIVERY)
        server.queue_ok("hold", qid)
        peer.accepting = True
        server.stop()
        server.start()
        time.sleep(4.0)
        self.assertEqual(peer.messages(), [], "held message delivered after a restart")
        self.assertEqual(server.queue_list()[qid].state, "held")
        server.queue_ok("release", qid)
        peer.wait_messages(1, timeout=15)

    def test_delete_removes_without_bounce(self):
        server, peer, qid = self.deferred_message("delete-me")
        server.queue_ok("delete", qid)
        self.assertNotIn(qid, server.queue_list())
        server.wait_spool_empty(timeout=5)
        peer.accepting = True
        server.queue_ok("flush")
        time.sleep(3.0)
        self.assertEqual(peer.messages(), [], "a deleted message was delivered")
        self.assertEqual(server.read_maildir("alice"), [], "delete must not bounce")
        self.assertEqual(server.log_events("bounced"), [])
        # deleting it again: an error
        self.assertNotEqual(server.queue("delete", qid).returncode, 0)

    def test_bounce_returns_it_to_the_sender_now(self):
        server, peer, qid = self.deferred_message("bounce-me")
        out = server.queue_ok("bounce", qid)
        self.assertIn("bounced " + qid, out)
        # RFC 3461 4.3 / RFC 3464: the sender is told, with the recipient that failed and why.
        (dsn_file,) = server.wait_for_delivery("alice", 1)
        with open(dsn_file, "rb") as f:
            data = f.read()
        _, _, groups = harness.parse_dsn(data)
        entry = harness.dsn_recipient(groups, "bob@remote.example")
        self.assertEqual(entry.get("action"), "failed", groups)
        self.assertTrue(entry.get("status", "").startswith("5."), groups)
        self.assertIn(b"returned to the sender by the postmaster", data)
        self.assertIn(b"bounce-me", data)  # the original goes back with it
        # ... and the message leaves the queue, never to be delivered.
        harness.wait_until(lambda: qid not in server.queue_list(), 10, "the message left the queue")
        peer.accepting = True
        server.queue_ok("flush")
        time.sleep(1.0)
        self.assertEqual(peer.messages(), [], "a returned message was delivered")
        server.wait_log("returned", id=qid)
        # Nothing is left to return now: an error, as for an id that is not queued.
        self.assertNotEqual(server.queue("bounce", qid).returncode, 0)

    def test_bounce_while_its_recipient_is_being_tried(self):
        server, peer, qid = self.deferred_message("bounce-busy")
        answering = threading.Event()
        def slow_rcpt(s, addr, line):
            answering.set()
            time.sleep(2.0)
            return REFUSAL
        peer.rcpt = slow_rcpt
        server.queue_ok("flush", qid)
        self.assertTrue(answering.wait(10), "the retry did not come")
        # Its attempt decides: the 451 that ends it returns the message.
        server.queue_ok("bounce", qid)
        (dsn_file,) = server.wait_for_delivery("alice", 1)
        with open(dsn_file, "rb") as f:
            self.assertIn(b"returned to the sender by the postmaster", f.read())
        harness.wait_until(lambda: qid not in server.queue_list(), 10, "the message left the queue")

    def test_bounce_of_a_held_message_on_disk(self):
        server, peer, qid = self.deferred_message("bounce-held")
        server.queue_ok("hold", qid)  # held: set aside, its file alone holds it
        server.queue_ok("bounce", qid)
        server.wait_for_delivery("alice", 1)
        harness.wait_until(lambda: qid not in server.queue_list(), 10, "the message left the queue")

    def test_a_damaged_file_is_quarantined_listed_and_kept_until_deleted(self):
        # A byte of a committed message changes while the server is down (a bad disk): at the
        # restart it is neither delivered nor deleted, but moved aside, logged at error level,
        # listed as corrupt with the reason, and removed only by the operator.
        server, peer, qid = self.deferred_message("damaged")
        server.stop()
        path = os.path.join(server.spool_path, "queue", qid)
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            at = data.find(b"Subject:")
            data[at] ^= 0x20
            f.seek(0)
            f.write(data)
        server.start()
        quarantined = os.path.join(server.spool_path, "corrupt", qid)
        self.assertTrue(os.path.exists(quarantined))
        self.assertFalse(os.path.exists(path))
        server.wait_log("corrupt", timeout=10, id=qid)
        self.assertRegex(server.log_text(), r"Z error event=corrupt id=" + qid)
        entry = server.queue_list()[qid]
        self.assertEqual(entry.state, "corrupt")
        self.assertIn("checksum", entry.damage or "", entry)
        self.assertEqual(entry.sender, LOCAL_SENDER, "what can still be read is shown")
        peer.accepting = True
        server.queue_ok("flush")
        time.sleep(2.0)
        self.assertEqual(peer.messages(), [], "a damaged file was delivered")
        self.assertTrue(os.path.exists(quarantined), "kept for the operator")
        self.assertIn("damage:", server.queue_ok("show", qid))
        server.queue_ok("delete", qid)
        self.assertFalse(os.path.exists(quarantined))
        self.assertNotIn(qid, server.queue_list())

    def test_control_socket_is_mode_0600(self):
        server = self.start_sender()
        path = server.control_socket
        harness.wait_until(lambda: os.path.exists(path), 5, f"control socket {path}")
        st = os.stat(path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode), oct(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, oct(st.st_mode))
        self.assertEqual(server.queue_list(), {})

    def test_control_socket_elsewhere(self):
        folder = tempfile.mkdtemp(prefix="ehlo-control-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "queue.sock")
        server = self.start_sender(tables={"control": {"socket": path}})
        harness.wait_until(lambda: os.path.exists(path), 5, f"control socket {path}")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertFalse(os.path.exists(server.control_socket))
        self.assertEqual(server.queue_list(), {})       # the CLI finds it through the config


if __name__ == "__main__":
    harness.main()
