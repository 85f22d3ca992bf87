"""The client's name, as every MTA records it (Postfix's smtpd_peername_lookup): the PTR of its
address confirmed by the A records of that name, looked up before the greeting, shown in the
Received header (RFC 5321 4.4 TCP-info: Domain FWS address-literal), the log's connect line and
`ehlo trace`; without one, the reason.

The names come from a real DNS server on loopback (unbound, dns_server.py) for the clients
127.0.0.2, .3 and .4 (the whole 127.0.0.0/8 is on Linux's loopback). libunbound serves the
reverse of 127.0.0.0/8 itself (RFC 6303 4.2), so those servers run with [dns]
forward_loopback_reverse = true; a test without it shows that then no query is asked for
127.0.0.1 (localhost) nor 127.0.0.2 (no name). A name server that never answers is a UDP
socket that reads and keeps every question.
"""
import json
import os
import socket
import subprocess
import threading
import time
import unittest

import dns_server
import harness

NAMED = "127.0.0.2"      # PTR name.example, whose A is 127.0.0.2: confirmed
UNCONFIRMED = "127.0.0.3"  # PTR liar.example, whose A is elsewhere
NO_PTR = "127.0.0.4"     # NXDOMAIN

RECORDS = [
    "2.0.0.127.in-addr.arpa. PTR name.example.",
    "name.example. A 127.0.0.2",
    "3.0.0.127.in-addr.arpa. PTR liar.example.",
    "liar.example. A 192.0.2.1",
]


class SilentDns:
    """A UDP socket on 127.0.0.1 given as the forwarder: it reads every question and answers
    none; `questions` holds what came."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.questions = []
        self.stopped = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    @property
    def forwarder(self):
        return "127.0.0.1@%d" % self.sock.getsockname()[1]

    def _read(self):
        while not self.stopped:
            try:
                self.questions.append(self.sock.recv(4096))
            except socket.timeout:
                continue
            except OSError:
                return

    def asked_for(self, name):
        """Whether a question for NAME (dotted) came; the wire holds it as length-prefixed labels."""
        wire = b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
        return any(wire in q for q in self.questions)

    def stop(self):
        self.stopped = True
        self.thread.join(2)
        self.sock.close()


def received_of(message: bytes):
    """The first Received field of a delivered message, unfolded."""
    head = message.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode()
    lines = head.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("Received:"):
            out = line
            for more in lines[i + 1:]:
                if not more[:1] in (" ", "\t"):
                    break
                out += " " + more.strip()
            return out
    return None


class ClientNames(harness.E2ETest):

    @classmethod
    def setUpClass(cls):
        if not os.access(dns_server.UNBOUND, os.X_OK):
            raise unittest.SkipTest("unbound is not installed")
        cls.dns = dns_server.DnsServer(RECORDS).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def named_server(self, forwarder=None, **dns):
        settings = {"forwarders": [forwarder or self.dns.forwarder], "forward_loopback_reverse": True}
        settings.update(dns)
        return self.start_server(tables={"dns": settings})

    def trace(self, server, qid):
        """`ehlo trace QID` as text and as JSON, once the message is delivered."""
        deadline = time.monotonic() + 15
        while True:
            r = subprocess.run([server.binary, "trace", qid, "--json", "--config", server.config_path],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
            messages = json.loads(r.stdout)["messages"] if r.returncode == 0 and r.stdout.strip() else []
            if messages and messages[0]["state"] == "delivered":
                break
            self.assertLess(time.monotonic(), deadline, f"trace {qid}: {r.returncode} {r.stdout} {r.stderr}")
            time.sleep(0.2)
        text = subprocess.run([server.binary, "trace", qid, "--config", server.config_path],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        self.assertEqual(text.returncode, 0, text.stderr)
        connect = [e for e in messages[0]["events"] if e["kind"] == "connect"]
        self.assertEqual(len(connect), 1, messages[0]["events"])
        return text.stdout, connect[0]

    def send_from(self, server, source, token):
        """One message from SOURCE to alice; its queue id, its Received field and how long the
        greeting took."""
        started = time.monotonic()
        with server.smtp(source=source) as s:
            greeted = time.monotonic() - started
            s.ehlo()
            self.assertEqual(s.mail("sender@client.test")[0], 250)
            self.assertEqual(s.rcpt("alice@example.test")[0], 250)
            code, text = s.data(harness.simple_message(token))
            self.assertEqual(code, 250, text)
        deadline = time.monotonic() + harness.DELIVERY_TIMEOUT
        while time.monotonic() < deadline:
            for p in server.maildir_files("alice"):
                with open(p, "rb") as f:
                    data = f.read()
                if token.encode() in data:
                    return harness.queue_id(b"250 " + text), received_of(data), greeted
            time.sleep(0.02)
        self.fail(f"{token}: not delivered\n" + server.log_tail())

    # RFC 5321 4.4: TCP-info = Domain FWS address-literal, the name confirmed by forward DNS.
    def test_confirmed_name_in_received_log_and_trace_rfc5321_4_4(self):
        server = self.named_server()
        qid, received, _ = self.send_from(server, NAMED, "named")
        self.assertEqual(received.split(" by ")[0].rstrip(), "Received: from client.test (name.example [127.0.0.2])")
        (line,) = server.wait_log("connect", client=NAMED)
        self.assertEqual(line.get("name"), "name.example")
        self.assertNotIn("no_name", line)
        text, connect = self.trace(server, qid)
        self.assertEqual(connect["remote_host"], "name.example")
        self.assertEqual(connect["remote_address"], NAMED)
        self.assertIn("connect        from name.example [127.0.0.2], session ", text)

    def test_ptr_whose_address_is_elsewhere_is_not_confirmed(self):
        server = self.named_server()
        qid, received, _ = self.send_from(server, UNCONFIRMED, "liar")
        self.assertEqual(received.split(" by ")[0].rstrip(), "Received: from client.test ([127.0.0.3])")
        self.assertNotIn("liar.example", received)
        (line,) = server.wait_log("connect", client=UNCONFIRMED)
        self.assertNotIn("name", line)
        self.assertEqual(line.get("no_name"), "PTR liar.example not confirmed")
        text, connect = self.trace(server, qid)
        self.assertEqual(connect.get("remote_host", ""), "")
        self.assertEqual(connect["detail"], "PTR liar.example not confirmed")
        self.assertIn("from [127.0.0.3] (no name: PTR liar.example not confirmed), session ", text)

    def test_no_ptr_is_no_name(self):
        server = self.named_server()
        qid, received, _ = self.send_from(server, NO_PTR, "noptr")
        self.assertEqual(received.split(" by ")[0].rstrip(), "Received: from client.test ([127.0.0.4])")
        (line,) = server.wait_log("connect", client=NO_PTR)
        self.assertEqual(line.get("no_name"), "no PTR")
        text, connect = self.trace(server, qid)
        self.assertEqual(connect["detail"], "no PTR")
        self.assertIn("from [127.0.0.4] (no name: no PTR), session ", text)

    def test_a_dead_name_server_delays_the_greeting_at_most_5_s(self):
        silent = SilentDns()
        self.addCleanup(silent.stop)
        server = self.named_server(silent.forwarder, timeout=30)  # the cap, not [dns] timeout, ends the wait
        qid, received, greeted = self.send_from(server, NAMED, "silent")
        self.assertTrue(silent.asked_for("2.0.0.127.in-addr.arpa"), "no PTR question reached the name server")
        self.assertGreater(greeted, 4.0)
        self.assertLess(greeted, 7.0)
        self.assertEqual(received.split(" by ")[0].rstrip(), "Received: from client.test ([127.0.0.2])")
        (line,) = server.wait_log("connect", client=NAMED)
        self.assertEqual(line.get("no_name"), "lookup failed: no answer within 5 s")
        _, connect = self.trace(server, qid)
        self.assertEqual(connect["detail"], "lookup failed: no answer within 5 s")

    def test_dns_timeout_under_the_cap_bounds_the_wait(self):
        silent = SilentDns()
        self.addCleanup(silent.stop)
        server = self.named_server(silent.forwarder, timeout=1)
        _, received, greeted = self.send_from(server, NAMED, "short")
        self.assertLess(greeted, 3.0)
        self.assertNotIn("name.example", received)
        (line,) = server.wait_log("connect", client=NAMED)
        self.assertTrue(line.get("no_name", "").startswith("lookup failed: "), line)

    def test_a_refused_connection_is_not_looked_up_nor_kept_waiting(self):
        silent = SilentDns()
        self.addCleanup(silent.stop)
        # One loop: the connection waiting for its name must not hold up the next one.
        server = self.start_server(server={"threads": 1}, limits={"connections": 1},
                                   tables={"dns": {"forwarders": [silent.forwarder],
                                                   "forward_loopback_reverse": True}})
        server.wait_log("disconnect", client="127.0.0.1")  # the start's probe has left its slot
        with server.connect(source=NAMED) as waiting:
            harness.wait_until(lambda: silent.asked_for("2.0.0.127.in-addr.arpa"), 5, "the PTR question")
            started = time.monotonic()
            with server.connect(source=UNCONFIRMED) as refused:
                reply = refused.reply()
            self.assertEqual(reply.code, 421, reply)
            self.assertLess(time.monotonic() - started, 2.0)
            self.assertFalse(silent.asked_for("3.0.0.127.in-addr.arpa"))
            self.assertEqual(waiting.reply().code, 220)  # once the wait is over
        (line,) = server.wait_log("connect", client=UNCONFIRMED)
        self.assertNotIn("no_name", line)

    def test_client_names_off_asks_nothing(self):
        silent = SilentDns()
        self.addCleanup(silent.stop)
        server = self.named_server(silent.forwarder, client_names=False)
        qid, received, greeted = self.send_from(server, NAMED, "off")
        self.assertLess(greeted, 2.0)
        self.assertEqual(received.split(" by ")[0].rstrip(), "Received: from client.test ([127.0.0.2])")
        time.sleep(0.5)
        self.assertEqual(silent.questions, [])
        (line,) = server.wait_log("connect", client=NAMED)
        self.assertNotIn("name", line)
        self.assertNotIn("no_name", line)
        text, connect = self.trace(server, qid)
        self.assertEqual(connect.get("detail", ""), "")
        self.assertIn("from [127.0.0.2], session ", text)

    # RFC 6303 4.2: the loopback reverse zone is served by the resolver itself, so the suite's
    # clients on 127.0.0.0/8 cost no query that could leave the machine.
    def test_loopback_is_answered_without_a_query_rfc6303_4_2(self):
        silent = SilentDns()
        self.addCleanup(silent.stop)
        server = self.start_server(tables={"dns": {"forwarders": [silent.forwarder]}})
        _, local, greeted_local = self.send_from(server, "127.0.0.1", "loopback-one")
        _, other, greeted_other = self.send_from(server, NAMED, "other-loopback")
        self.assertEqual(local.split(" by ")[0].rstrip(), "Received: from client.test (localhost [127.0.0.1])")
        self.assertEqual(other.split(" by ")[0].rstrip(), "Received: from client.test ([127.0.0.2])")
        self.assertLess(max(greeted_local, greeted_other), 2.0)
        server.wait_log("connect", client=NAMED, no_name="no PTR")
        time.sleep(0.5)
        self.assertEqual(silent.questions, [])


if __name__ == "__main__":
    harness.main()
