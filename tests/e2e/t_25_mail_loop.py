#!/usr/bin/env python3
"""Mail loops: a message with more than max_received Received: headers bounces with 5.4.6.

RFC 5321 6.3: counting Received: header fields is the simple way to detect a loop; a message
that has been through more relays than that is not passed on again but returned to its sender
(RFC 3463 5.4.6: routing loop detected). The boundary: max_received (50 here; the default is 100)
headers, ours included, still go on; 51 in the content bounce, and the next hop never sees
the message.
"""
import time

import harness
from harness import LOCAL_SENDER

MAX_RECEIVED = 50


def looping_message(token, hops):
    received = "".join(
        f"Received: from relay{i}.loop.example (relay{i}.loop.example [192.0.2.{i % 250 + 1}])\r\n"
        f"\tby relay{i + 1}.loop.example with ESMTP id L{i:04d}; Sat, 1 Jan 2000 00:00:00 +0000\r\n"
        for i in range(hops))
    return (received + f"From: <{LOCAL_SENDER}>\r\nTo: <bob@remote.example>\r\n"
            f"Subject: loop {token}\r\nMessage-ID: <{token}@client.test>\r\n\r\n"
            f"{token}\r\n").encode()


class MailLoop(harness.E2ETest):

    def test_more_than_max_received_bounces_with_5_4_6(self):
        peer = self.start_peer()
        server = self.start_sender(routes=harness.route_to(peer.port),
                                   delivery={"max_received": MAX_RECEIVED})
        # MAX_RECEIVED + 1 in the content: more than the limit whether or not ours counts
        qid = server.send("loop", to=("bob@remote.example",), sender=LOCAL_SENDER,
                          message=looping_message("loop", MAX_RECEIVED + 1))
        (path,) = server.wait_for_delivery("alice", 1)
        stored = harness.read_file(path)
        self.assertEqual(harness.return_path(stored), "")
        _, _, recipients = harness.parse_dsn(stored)
        bob = harness.dsn_recipient(recipients, "bob@remote.example")
        self.assertEqual(bob.get("action", "").lower(), "failed")
        self.assertEqual(bob.get("status"), "5.4.6", bob)
        server.wait_log("bounced", id=qid)
        server.wait_spool_empty()
        time.sleep(1.0)
        self.assertEqual(peer.messages(), [], "a looping message was passed on")

    def test_up_to_max_received_is_passed_on(self):
        peer = self.start_peer()
        server = self.start_sender(routes=harness.route_to(peer.port),
                                   delivery={"max_received": MAX_RECEIVED})
        # MAX_RECEIVED - 1 in the content, with ours exactly MAX_RECEIVED: not a loop yet
        message = looping_message("no-loop", MAX_RECEIVED - 1)
        server.send("no-loop", to=("bob@remote.example",), sender=LOCAL_SENDER, message=message)
        (m,) = peer.wait_messages(1)
        self.assertTrue(m.data.endswith(message))
        self.assertEqual(m.data.count(b"\r\nReceived: ") + m.data.startswith(b"Received: "),
                         MAX_RECEIVED)
        server.wait_spool_empty()
        self.assertEqual(server.read_maildir("alice"), [], "bounced below the limit")


if __name__ == "__main__":
    harness.main()
