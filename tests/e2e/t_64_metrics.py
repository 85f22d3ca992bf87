#!/usr/bin/env python3
"""/metrics on the console listener: the Prometheus text format read by curl, checked clean by
`promtool check metrics`, scraped by a private Prometheus server whose HTTP API gives an ehlo
series back; the counters say what the sessions and deliveries did. The listener's limits:
a Host that is not loopback gets 403 (DNS rebinding), another method 405, an unknown path 404,
over-long headers 431, and garbage 400, and the server goes on.
"""
import json
import os
import re
import socket
import subprocess
import time
import urllib.parse

import harness

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_metrics(text):
    """{(name, labels text): value} of the exposition's samples."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return samples


def http_raw(port, request, timeout=10):
    """Send raw bytes to the console, return the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


class Metrics(harness.E2ETest):

    def curl(self, port, path="/metrics", *args):
        curl = harness.require_tool("curl")
        r = subprocess.run([curl, "-sS", "-D", "-", *args, f"http://127.0.0.1:{port}{path}"],
                           capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        return head.decode(), body.decode()

    def deliver_two_and_refuse_one(self, server):
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            for token in ("m1", "m2"):
                c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\n"
                       b"RCPT TO:<nobody@example.test>\r\nDATA\r\n")
                c.expect(250)
                c.expect(250)
                c.expect(550, "550 5.1.1")
                c.expect(354)
                c.send(harness.simple_message(token) + b".\r\n")
                c.expect(250, "250 2.0.0 Ok: queued as")
            c.line("QUIT")
            c.expect(221)
        server.wait_for_delivery("alice", 2)

    def test_prometheus_text_format_with_what_happened(self):
        server = self.start_server()
        self.deliver_two_and_refuse_one(server)
        port = server.console_port
        deadline = time.monotonic() + 10
        while True:
            head, body = self.curl(port)
            m = parse_metrics(body)
            if m.get(("ehlo_delivery_attempts_total", '{transport="local",outcome="delivered"}'), 0) >= 2 \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertIn("HTTP/1.1 200", head)
        self.assertIn("Content-Type: text/plain; version=0.0.4", head)
        self.assertEqual(m[("ehlo_messages_accepted_total", "")], 2)
        self.assertEqual(m[("ehlo_messages_refused_total", '{reason="unknown_recipient"}')], 2)
        self.assertEqual(m[("ehlo_smtp_commands_total", '{verb="MAIL"}')], 2)
        self.assertEqual(m[("ehlo_smtp_commands_total", '{verb="RCPT"}')], 4)
        # ours, and the harness's probes for a greeting at start
        self.assertGreaterEqual(m[("ehlo_smtp_commands_total", '{verb="QUIT"}')], 2)
        self.assertGreaterEqual(m[("ehlo_smtp_replies_total", '{class="5xx"}')], 2)
        self.assertEqual(m[("ehlo_delivery_attempts_total", '{transport="local",outcome="delivered"}')], 2)
        self.assertEqual(m[("ehlo_smtp_accept_duration_seconds_count", "")], 2)
        self.assertEqual(m[("ehlo_queue_duration_seconds_count", "")], 2)
        self.assertEqual(m[("ehlo_queue_recipients", '{state="pending"}')], 0)
        self.assertEqual(m[("ehlo_smtp_open_connections", "")], 0)
        self.assertGreaterEqual(m[("ehlo_smtp_connections_total", '{result="accepted"}')], 2)
        self.assertGreater(m[("ehlo_network_receive_bytes_total", '{side="inbound"}')], 200)

        # promtool, Prometheus' own linter, finds nothing to say
        promtool = harness.require_tool("promtool")
        r = subprocess.run([promtool, "check", "metrics"], input=body.encode(), capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_a_private_prometheus_scrapes_it(self):
        prometheus = harness.require_tool("prometheus")
        server = self.start_server()
        self.deliver_two_and_refuse_one(server)
        work = os.path.join(server.dir, "prometheus")
        os.makedirs(work)
        harness.give_to_daemon(work)
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: ehlo\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{server.console_port}']\n")
        web = harness.free_port()
        log = open(os.path.join(work, "prometheus.log"), "wb")
        proc = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={work}/data",
                                 f"--web.listen-address=127.0.0.1:{web}", "--log.level=warn"],
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.addCleanup(log.close)
        self.addCleanup(lambda: (proc.terminate(), proc.wait(timeout=20)))
        query = urllib.parse.quote('ehlo_messages_accepted_total{job="ehlo"}')
        deadline = time.monotonic() + 60
        value = None
        while time.monotonic() < deadline and value is None:
            time.sleep(0.5)
            self.assertIsNone(proc.poll(), "prometheus exited")
            try:
                _, body = self.curl(web, f"/api/v1/query?query={query}")
            except AssertionError:
                continue  # not listening yet
            answer = json.loads(body)
            if answer.get("status") == "success" and answer["data"]["result"]:
                value = answer["data"]["result"][0]["value"][1]
        self.assertEqual(value, "2", "Prometheus never read ehlo_messages_accepted_total 2")
        # and the target is healthy in Prometheus' own view
        _, body = self.curl(web, "/api/v1/targets")
        targets = json.loads(body)["data"]["activeTargets"]
        self.assertEqual([t["health"] for t in targets], ["up"], body)

    def test_the_listeners_limits(self):
        server = self.start_server()
        port = server.console_port
        head, _ = self.curl(port, "/metrics", "-H", "Host: evil.example")
        self.assertIn("HTTP/1.1 403", head)  # DNS rebinding: a page elsewhere cannot read it
        head, _ = self.curl(port, "/metrics", "-X", "POST")
        self.assertIn("HTTP/1.1 405", head)
        self.assertIn("Allow: GET, HEAD", head)
        head, _ = self.curl(port, "/../../etc/passwd", "--path-as-is")
        self.assertIn("HTTP/1.1 404", head)
        head, body = self.curl(port, "/")
        self.assertIn("HTTP/1.1 200", head)
        self.assertIn("X-Content-Type-Options: nosniff", head)
        self.assertIn("Content-Security-Policy:", head)
        self.assertIn('href="/metrics"', body)
        big = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        self.assertTrue(http_raw(port, big).startswith(b"HTTP/1.1 431 "))
        self.assertTrue(http_raw(port, b"\x16\x03\x01\x00\xa5garbage\r\n\r\n").startswith(b"HTTP/1.1 400 "))
        # pipelined requests are answered in order on one connection
        two = http_raw(port, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
                             b"GET /nowhere HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        self.assertEqual(re.findall(rb"HTTP/1\.1 (\d+)", two), [b"200", b"404"])
        # a client that sends nothing is closed after the request time (10 s), and the
        # listener serves others meanwhile
        with socket.create_connection(("127.0.0.1", port), timeout=20) as idle:
            head, _ = self.curl(port, "/metrics")
            self.assertIn("HTTP/1.1 200", head)
            start = time.monotonic()
            self.assertEqual(idle.recv(10), b"")
            self.assertLess(time.monotonic() - start, 15)
        self.assertTrue(server.alive())


if __name__ == "__main__":
    harness.main()
