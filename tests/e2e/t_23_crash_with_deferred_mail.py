#!/usr/bin/env python3
"""kill -9 with deferred mail in the queue: nothing lost, nothing delivered twice.

RFC 5321 4.1.1.4 / 6.1: once a message got its 250 the server is responsible for it, and a
crash is no excuse to lose it. Messages for remote.example are deferred while the next hop (a
second ehlo) is down; the sender is killed with SIGKILL; `ehlo queue list` on the dead
daemon's spool (read-only) still shows them; after a restart, with the next hop up, each is
delivered exactly once and the spool ends empty.
"""
import re
import time

import harness
from harness import LOCAL_SENDER


class CrashWithDeferredMail(harness.E2ETest):

    def test_sigkill_with_deferred_mail_restart_delivers_each_once(self):
        peer = self.make_server(domains=[{"name": "remote.example", "mailboxes": ["bob", "carol"],
                                          "maildir_root": "{dir}/mail", "postmaster": "bob"}])
        server = self.start_sender(routes=harness.route_to(peer.port))

        sent = {}                                  # token -> queue id
        for i in range(3):
            token = f"deferred-{i}"
            sent[token] = server.send(token, to=("bob@remote.example",), sender=LOCAL_SENDER)
        both = server.send("deferred-both", to=("bob@remote.example", "carol@remote.example"),
                           sender=LOCAL_SENDER)
        sent["deferred-both"] = both
        for token, qid in sent.items():
            rcpts = ("bob@remote.example", "carol@remote.example") if token == "deferred-both" \
                else ("bob@remote.example",)
            for rcpt in rcpts:
                server.wait_log("deferred", id=qid, to=rcpt)
        time.sleep(0.3)          # the deferral's state record follows its log line

        server.kill9()
        self.assertFalse(server.alive())

        # the daemon is down: list reads the spool files themselves
        listed = server.queue_list()
        for token, qid in sent.items():
            self.assertIn(qid, listed, f"{token} missing from the read-only list")
            entry = listed[qid]
            self.assertEqual(entry.sender, LOCAL_SENDER)
            self.assertEqual(entry.state, "deferred", entry)
            rcpts = {r["address"]: r for r in entry.recipients}
            self.assertIn("bob@remote.example", rcpts, entry)
            self.assertEqual(rcpts["bob@remote.example"]["status"], "deferred", entry)
            self.assertGreaterEqual(rcpts["bob@remote.example"]["attempts"] or 0, 1, entry)
        self.assertIn("carol@remote.example", {r["address"] for r in listed[both].recipients})
        # other queue commands need the daemon and say so
        self.assertNotEqual(server.queue("flush").returncode, 0)

        server.restart()
        peer.start()
        peer.wait_for_delivery("bob", 4)
        peer.wait_for_delivery("carol", 1)
        server.wait_spool_empty()
        time.sleep(4.0)                            # two more retry periods: nothing else comes
        bob = self.tokens(peer.read_maildir("bob"))
        self.assertEqual(sorted(bob), sorted(sent), "lost or duplicated")
        self.assertEqual(self.tokens(peer.read_maildir("carol")), ["deferred-both"])
        self.assertEqual(server.read_maildir("alice"), [], "a bounce for mail that got through")
        self.assertEqual(harness.parse_queue_list(server.queue_ok("list")), {})

    @staticmethod
    def tokens(messages):
        out = []
        for m in messages:
            found = re.search(rb"Message-ID: <([^@>]+)@client\.test>", m)
            out.append(found.group(1).decode() if found else "?")
        return out


if __name__ == "__main__":
    harness.main()
