#!/usr/bin/env python3
"""The SMTP client's limits and name ([outbound]).

- connections_per_destination: no more connections to one next hop at once than this;
- connections: no more outbound connections in all, whatever the destinations;
- messages_per_connection: a connection carries at most this many messages, then QUIT and a
  new one (RFC 5321 3.3: several transactions per session are fine, but not without bound);
- helo_name: the name in EHLO (RFC 5321 4.1.1.1), by default [server] hostname.
Every message still arrives exactly once. The scripted peer takes 0.3 s for each end of data,
so that queued messages would pile up on more connections if the caps did not hold.
"""
import time

import harness
from harness import LOCAL_SENDER

SLOW_ACCEPT = 0.3     # s the peer takes to answer the end of data


def slow_peer(peer):
    def data_end(session, message):
        time.sleep(SLOW_ACCEPT)
        return "250 2.0.0 Ok: queued"
    peer.data_end = data_end
    return peer


class OutboundLimits(harness.E2ETest):

    def send_many(self, server, n, domain="remote.example"):
        return [server.send(f"limit-{domain}-{i}", to=(f"bob@{domain}",), sender=LOCAL_SENDER)
                for i in range(n)]

    def assert_each_once(self, peer, n, domain="remote.example"):
        peer.wait_messages(n)
        time.sleep(0.5)
        tokens = sorted(m.data.split(b"Message-ID: <", 1)[1].split(b"@", 1)[0]
                        for m in peer.messages())
        self.assertEqual(tokens, sorted(f"limit-{domain}-{i}".encode() for i in range(n)))

    def test_connections_per_destination(self):
        peer = slow_peer(self.start_peer())
        server = self.start_sender(routes=harness.route_to(peer.port),
                                   outbound={"connections_per_destination": 2})
        self.send_many(server, 8)
        self.assert_each_once(peer, 8)
        server.wait_spool_empty()
        self.assertLessEqual(peer.most_at_once(), 2, "more connections than allowed")
        self.assertEqual(peer.most_at_once(), 2, "the messages queued up, yet only one connection")

    def test_connections_in_all(self):
        a = slow_peer(self.start_peer(name="a.example"))
        b = slow_peer(self.start_peer(name="b.example"))
        server = self.start_sender(routes=harness.route_to(a.port, domain="a.example")
                                   + harness.route_to(b.port, domain="b.example"),
                                   outbound={"connections": 1})
        for i in range(3):
            server.send(f"limit-a.example-{i}", to=("bob@a.example",), sender=LOCAL_SENDER)
            server.send(f"limit-b.example-{i}", to=("bob@b.example",), sender=LOCAL_SENDER)
        self.assert_each_once(a, 3, "a.example")
        self.assert_each_once(b, 3, "b.example")
        server.wait_spool_empty()
        self.assertEqual(a.most_at_once(others=(b,)), 1, "more than one connection in all")

    def test_messages_per_connection(self):
        # one slow connection at a time: the messages wait for it, and it is reused for them
        # (connections are kept for a destination's later jobs) up to the cap
        peer = slow_peer(self.start_peer())
        server = self.start_sender(routes=harness.route_to(peer.port),
                                   outbound={"messages_per_connection": 3,
                                             "connections_per_destination": 1})
        self.send_many(server, 7)
        self.assert_each_once(peer, 7)
        server.wait_spool_empty()
        per_session = [len([m for m in s.messages if m.accepted]) for s in peer.sessions]
        self.assertEqual(max(per_session), 3, f"messages per connection: {per_session}")
        self.assertGreaterEqual(len([n for n in per_session if n]), 3, per_session)
        quit_after_three = [s.ended for s in peer.sessions if len(s.messages) == 3]
        self.assertIn("quit", quit_after_three, "a full connection ends with QUIT")

    def test_helo_name(self):
        peer = self.start_peer()
        server = self.start_sender(routes=harness.route_to(peer.port),
                                   outbound={"helo_name": "relay-out.example"})
        server.send("helo-name", to=("bob@remote.example",), sender=LOCAL_SENDER)
        peer.wait_messages(1)
        self.assertEqual(peer.command_lines("EHLO"), ["EHLO relay-out.example"])

    def test_helo_name_defaults_to_hostname(self):
        peer = self.start_peer()
        server = self.start_sender(routes=harness.route_to(peer.port),
                                   server={"hostname": "mx.sender.example"})
        server.send("helo-default", to=("bob@remote.example",), sender=LOCAL_SENDER)
        peer.wait_messages(1)
        self.assertEqual(peer.command_lines("EHLO"), ["EHLO mx.sender.example"])


if __name__ == "__main__":
    harness.main()
