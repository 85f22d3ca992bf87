#!/usr/bin/env python3
"""`ehlo trace` on what a running server recorded: the history is written as mail flows.

A message delivered to a local mailbox is traced by its queue id and by its recipient, with
its header fields; one for a next hop that answers 451 shows as deferred with the peer's
reply; an operator's hold is in its timeline too. The session a message came by is in its
timeline (connect, HELO, MAIL and RCPT with their replies, the end); a refused transaction
is traced by its recipient with its reply and, by default (`transcripts = "errors"`), the
session's transcript, without the message content.
"""
import json
import subprocess
import time

import harness
from harness import LOCAL_SENDER

REFUSAL = "451 4.7.1 trace test says later"


class TraceLive(harness.E2ETest):

    def trace(self, server, *args):
        return subprocess.run([server.binary, "trace", *args, "--json", "--config", server.config_path],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)

    def traced(self, server, what, until, timeout=15):
        """The messages `ehlo trace WHAT --json` gives, once `until(messages)` holds."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.trace(server, what)
            messages = json.loads(r.stdout)["messages"] if r.returncode == 0 and r.stdout.strip() else []
            if messages and until(messages):
                return messages
            self.assertLess(time.monotonic(), deadline, f"trace {what}: {r.returncode} {r.stdout} {r.stderr}")
            time.sleep(0.2)

    def test_a_local_delivery_is_traced_by_id_and_by_recipient(self):
        server = self.start_server()
        qid = server.send("traced", to=("alice@example.test",))
        server.wait_for_delivery("alice", 1)
        (m,) = self.traced(server, qid, lambda ms: ms[0]["state"] == "delivered")
        self.assertEqual(m["queue_id"], qid)
        self.assertEqual(m["recipients"][0]["address"], "alice@example.test")
        self.assertEqual(m["recipients"][0]["state"], "delivered")
        self.assertIn("/alice/new/", m["recipients"][0]["mailbox"])
        self.assertEqual(m["message_id"], "<traced@client.test>")
        kinds = [e["kind"] for e in m["events"]]
        self.assertIn("queued", kinds)
        self.assertIn("delivered", kinds)
        by_address = self.traced(server, "alice@example.test", lambda ms: True)
        self.assertIn(qid, [x["queue_id"] for x in by_address])

    def test_session_in_the_timeline_refusal_with_transcript(self):
        server = self.start_server()
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\n"
                   b"RCPT TO:<nobody@example.test>\r\nDATA\r\n")
            c.expect(250)
            c.expect(250)
            c.expect(550)
            c.expect(354)
            c.send(harness.simple_message("session-traced", body="secret body text\r\n") + b".\r\n")
            qid = harness.QUEUED.match(c.reply().last).group(1).decode()
            c.line("QUIT")
            c.expect(221)
        (m,) = self.traced(server, qid, lambda ms: "session-end" in [e["kind"] for e in ms[0]["events"]])
        kinds = [e["kind"] for e in m["events"]]
        for kind in ("connect", "helo", "mail", "rcpt", "queued", "session-end"):
            self.assertIn(kind, kinds)
        self.assertLess(kinds.index("connect"), kinds.index("helo"))
        self.assertLess(kinds.index("rcpt"), kinds.index("queued"))
        connect = m["events"][kinds.index("connect")]
        self.assertEqual(connect.get("remote_address"), "127.0.0.1", connect)
        helo = m["events"][kinds.index("helo")]
        self.assertEqual(helo.get("helo"), "client.test", helo)
        rcpts = [e for e in m["events"] if e["kind"] == "rcpt"]
        self.assertEqual([(e.get("recipient"), e.get("reply", "")[:9]) for e in rcpts],
                         [("alice@example.test", "250 2.1.5"), ("nobody@example.test", "550 5.1.1")])
        # the refused recipient is traced by its address, with the dialog that refused it
        refused = self.traced(server, "nobody@example.test", lambda ms: True)
        text = json.dumps(refused)
        self.assertIn("550 5.1.1", text)
        self.assertIn("RCPT TO:<nobody@example.test>", text)
        self.assertNotIn("secret body text", text)  # a transcript never holds content

    def test_a_deferral_and_a_hold_are_in_the_timeline(self):
        peer = self.start_peer()
        peer.rcpt = lambda s, addr, line: REFUSAL
        server = self.start_sender(routes=harness.route_to(peer.port),
                                   delivery={"retry_min": 60, "retry_max": 60})
        qid = server.send("deferred", to=("bob@remote.example",), sender=LOCAL_SENDER)
        (m,) = self.traced(server, qid, lambda ms: ms[0]["state"] == "deferred")
        self.assertEqual(m["recipients"][0]["state"], "deferred")
        self.assertIn("trace test says later", json.dumps(m["events"]))
        # the attempt itself: to whom, how protected, how long, what the peer said
        (attempt,) = [e for e in m["events"] if e["kind"] == "attempt"]
        self.assertIn("127.0.0.1", attempt.get("remote_host", ""))
        self.assertEqual(attempt.get("tls"), "no TLS")  # the scripted peer offers no STARTTLS
        self.assertIn("duration_us", attempt)
        self.assertEqual(attempt.get("reply"), REFUSAL)
        server.queue_ok("hold", qid)
        (m,) = self.traced(server, qid, lambda ms: "held" in [e["kind"] for e in ms[0]["events"]])
        self.assertTrue(m["held"])


if __name__ == "__main__":
    harness.main()
