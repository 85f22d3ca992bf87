#!/usr/bin/env python3
"""The console's JSON API (docs/api.md): every example in docs/api.md on the loopback console
is run with curl against a live ehlo holding a deferred message, and its answer has the fields
the document shows (the one behind the login is run by t_67_console_tls); a hold through the
API is seen by `ehlo queue list`; a search gives the search page's messages; after real
traffic the overview counts the messages in and out by minute and the refusals among the top
errors; and the API's refusals: no JSON content type (415), a foreign Origin (403), a foreign
Host (403), a wrong method (405).
"""
import json
import os
import re
import subprocess
import time

import harness
from harness import LOCAL_SENDER

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "api.md")
LOOPBACK = "http://127.0.0.1:8025/"
# The examples over HTTPS with a login: t_67_console_tls runs them.
BEHIND_LOGIN = "https://mx.example.org:8025/"


def documented_examples():
    """[(command, the answer's lines shown under it)] of docs/api.md, on the loopback console."""
    examples = harness.doc_examples(DOC)
    for command, _ in examples:
        assert LOOPBACK in command or BEHIND_LOGIN in command, f"docs/api.md: no test runs {command}"
    return [(c, shown) for c, shown in examples if LOOPBACK in c]


class Api(harness.E2ETest):

    def deferred(self):
        peer = self.start_peer()
        peer.rcpt = lambda s, addr, line: "451 4.3.0 try later"
        server = self.start_sender(routes=harness.route_to(peer.port), delivery={"retry_min": 60, "retry_max": 60})
        qid = server.send("api", to=("bob@remote.example",), sender=LOCAL_SENDER)
        server.wait_log("remote-attempt", id=qid, outcome="deferred")
        return server, qid

    def run_example(self, server, qid, command, talk="", qid2=""):
        """The example's output: its JSON, or its lines when it is no JSON document."""
        command = command.replace("127.0.0.1:8025", f"127.0.0.1:{server.console_port}")
        r = subprocess.run(["bash", "-c", command], env=dict(os.environ, ID=qid, TALK=talk, ID2=qid2),
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        if r.stdout.lstrip().startswith(b"{"):
            return json.loads(r.stdout)
        return r.stdout.decode().splitlines()

    def assert_lines_like(self, shown, got, where):
        """Each line shown is there, in order: a "data: {...}" line shaped alike, a line ending
        in "..." as a start, any other as it is."""
        self.assertGreaterEqual(len(got), len(shown), f"{where}: {got}")
        for want, line in zip(shown, got):
            if want.startswith("data: {"):
                self.assertTrue(line.startswith("data: {"), f"{where}: {line!r}")
                self.assert_shaped_like(json.loads(want[6:]), json.loads(line[6:]), where)
            elif want.endswith("..."):
                self.assertTrue(line.startswith(want[:-3]), f"{where}: {line!r}")
            else:
                self.assertEqual(line, want, where)

    def assert_shaped_like(self, shown, got, where):
        """Every field docs/api.md shows is there; the first element of a list alike."""
        if isinstance(shown, dict):
            self.assertIsInstance(got, dict, where)
            for key, value in shown.items():
                self.assertIn(key, got, f"{where}: no {key!r} in {got}")
                self.assert_shaped_like(value, got[key], f"{where}.{key}")
        elif isinstance(shown, list) and shown and isinstance(shown[0], (dict, list)):
            self.assertIsInstance(got, list, where)
            self.assertTrue(got, f"{where}: empty")
            self.assert_shaped_like(shown[0], got[0], f"{where}[0]")
        elif isinstance(shown, bool):
            self.assertEqual(got, shown, where)

    def test_every_documented_example_runs(self):
        harness.require_tool("curl")
        server, qid = self.deferred()
        examples = documented_examples()
        self.assertGreaterEqual(len(examples), 7, "docs/api.md lost its examples")
        talk = ""
        qid2 = server.send("api-2", to=("carol@remote.example",), sender=LOCAL_SENDER)
        server.wait_log("remote-attempt", id=qid2, outcome="deferred")
        for command, shown_lines in examples:
            got = self.run_example(server, qid, command, talk, qid2)
            if len(shown_lines) != 1 or not shown_lines[0].startswith("{"):
                self.assert_lines_like(shown_lines, got, command)
                if "/events" in command:
                    self.assertEqual(got[0], "event: queue")
                    counts = json.loads(got[1][len("data: "):])
                    self.assertEqual(sum(counts.values()), 1, counts)  # $ID is all that waits now
                continue
            shown = json.loads(shown_lines[0])
            if "/bounce" in command:
                self.assertEqual(got["id"], qid2)
                harness.wait_until(lambda: qid2 not in server.queue_list(), 10, "the returned message left")
                # The DSN went to the sender, a local mailbox here.
                server.wait_for_delivery("alice", 1)
            if command.endswith("/api/v1/talk"):
                talk = got["id"]
                self.assertTrue(got["lines"][0]["text"].startswith("220 "), got)
            if '"HELO"' in command:
                self.assertIn("501 Syntax: HELO hostname", [l["text"] for l in got["lines"]])
                self.assertEqual(got["notes"][0]["kind"], "mistake")
            self.assertNotIn("error", got, f"{command}: {got}")
            self.assert_shaped_like(shown, got, command)
            if "/hold" in command:
                self.assertEqual(got["id"], qid)
                self.assertEqual(server.queue_list()[qid].state, "held")  # as ehlo queue list sees it
                listed = self.run_example(server, qid, "curl -s http://127.0.0.1:8025/api/v1/queue")
                self.assertTrue(listed["messages"][0]["held"])
            if "/release" in command:
                self.assertNotEqual(server.queue_list()[qid].state, "held")
            if command.endswith(f"/api/v1/queue/$ID"):
                self.assertEqual(got["id"], qid)
                self.assertEqual(got["recipients"][0]["address"], "bob@remote.example")
                self.assertIn("Received:", got["headers"])
            if "/trace" in command:
                self.assertEqual(got["messages"][0]["queue_id"], qid)
            if "/search" in command:
                # The search page's results, as data: the same messages in the same order.
                states = lambda answer: {m["queue_id"]: m["state"] for m in answer["messages"]}
                if states(got).get(qid2) != "bounced":  # the history is written a moment after
                    got = harness.wait_until(
                        lambda: (lambda a: a if states(a).get(qid2) == "bounced" else None)(
                            self.run_example(server, qid, command)), 10, "the bounce in the history")
                found = [m["queue_id"] for m in got["messages"]]
                self.assertIn(qid, found)
                self.assertIn(qid2, found)
                page = subprocess.run(["curl", "-s", f"http://127.0.0.1:{server.console_port}/search?q=remote.example"],
                                      capture_output=True, timeout=30).stdout.decode()
                self.assertEqual(re.findall(r'<a href="/message\?id=(\w+)">', page), found)
            if "/delete" in command:
                self.assertNotIn(qid, server.queue_list())

    def test_overview_after_real_traffic(self):
        harness.require_tool("curl")
        peer = self.start_peer()
        peer.rcpt = lambda s, addr, line: "451 4.3.0 try later"
        server = self.start_sender(routes=harness.route_to(peer.port), delivery={"retry_min": 60, "retry_max": 60})
        for n in range(3):
            server.send(f"in-{n}")  # to alice, here
        for n in range(2):
            with server.smtp() as s:
                s.ehlo()
                s.mail(LOCAL_SENDER)
                code, text = s.rcpt("nobody@example.test")
                self.assertEqual((code, text[:5]), (550, b"5.1.1"))  # RFC 3463 3.2: no such mailbox
        qid = server.send("out", to=("bob@remote.example",), sender=LOCAL_SENDER)
        server.wait_for_delivery("alice", 3)
        server.wait_log("remote-attempt", id=qid, outcome="deferred")

        def overview():
            r = subprocess.run(["curl", "-s", f"http://127.0.0.1:{server.console_port}/api/v1/overview"],
                               capture_output=True, timeout=30)
            return json.loads(r.stdout)

        def totals(o):
            return {k: sum(m[k] for m in o["minutes"]) for k in ("received", "delivered", "deferred", "bounced")}

        # Messages in (queued) and out (delivered) per minute, once the history has them all.
        want = {"received": 4, "delivered": 3, "deferred": 1, "bounced": 0}
        o = harness.wait_until(lambda: (lambda o: o if totals(o) == want else None)(overview()), 10,
                               f"the overview's minutes add up to {want}")
        self.assertEqual(len(o["minutes"]), 30)
        self.assertEqual([o["minutes"][i]["minute"] - o["minutes"][0]["minute"] for i in (1, 29)], [60, 29 * 60])
        # The refusals first, counted as one error whatever the address; then the deferral.
        self.assertEqual([(e["error"], e["count"]) for e in o["top_errors"]],
                         [("550 5.1.1 <...>: Recipient address rejected: mailbox unknown", 2), ("451 4.3.0 try later", 1)])
        self.assertEqual(o["queue"], {"pending": 0, "deferred": 1, "held": 0, "corrupt": 0})

    def test_raw_message_needs_the_login(self):
        # On loopback, where every local user may use the console, the bodies stay private:
        # t_67_console_tls downloads one behind the login.
        harness.require_tool("curl")
        server, qid = self.deferred()
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{server.console_port}/api/v1/queue/{qid}/raw"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.stdout, b"403")

    def test_a_talk_waiting_for_its_server_holds_up_no_other_answer(self):
        # The greeting comes after 4 s (the pregreet test's delay, for untrusted clients): the
        # talk waits for it on the console's slow lane, and /metrics is answered meanwhile.
        harness.require_tool("curl")
        server = self.start_server(limits={"greeting_delay": 4}, relay={"trusted_networks": []})
        base = f"http://127.0.0.1:{server.console_port}"
        talk = subprocess.Popen(["curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", base + "/api/v1/talk"],
                                stdout=subprocess.PIPE)
        try:
            time.sleep(0.5)
            started = time.monotonic()
            r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/metrics"],
                               capture_output=True, timeout=30)
            waited = time.monotonic() - started
            self.assertEqual(r.stdout, b"200")
            self.assertLess(waited, 3.0, "the scrape waited for the talk")
            out, _ = talk.communicate(timeout=30)
        finally:
            if talk.poll() is None:
                talk.kill()
        self.assertTrue(json.loads(out)["lines"][0]["text"].startswith("220 "))

    def test_server_sent_events_follow_the_queue(self):
        curl = harness.require_tool("curl")
        server, qid = self.deferred()
        r = subprocess.run([curl, "-sN", "-D", "-", "--max-time", "3",
                            f"http://127.0.0.1:{server.console_port}/api/v1/events"], capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 28, r.stderr)  # curl's "timed out": the stream stays open
        head, _, body = r.stdout.decode().partition("\r\n\r\n")
        self.assertIn("Content-Type: text/event-stream", head)
        self.assertNotIn("Content-Length", head)
        events = [e for e in body.split("\n\n") if e.strip()]
        self.assertGreaterEqual(len(events), 2, body)  # one a second
        first = dict(line.split(": ", 1) for line in events[0].splitlines())
        self.assertEqual(first["event"], "queue")
        self.assertEqual(json.loads(first["data"])["deferred"], 1)

    def test_refusals(self):
        curl = harness.require_tool("curl")
        server, qid = self.deferred()
        base = f"http://127.0.0.1:{server.console_port}/api/v1"

        def status(*args):
            r = subprocess.run([curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", *args],
                               capture_output=True, timeout=20)
            return int(r.stdout)

        self.assertEqual(status("-X", "POST", f"{base}/queue/{qid}/hold"), 415)  # a form could do that
        self.assertEqual(status("-X", "POST", "-H", "Content-Type: text/plain", f"{base}/queue/{qid}/hold"), 415)
        self.assertEqual(status("-X", "POST", "-H", "Content-Type: application/json",
                                "-H", "Origin: http://evil.example", f"{base}/queue/{qid}/hold"), 403)
        self.assertEqual(status("-H", "Host: evil.example", f"{base}/queue"), 403)
        self.assertEqual(status(f"{base}/queue/{qid}/hold"), 405)  # an <img> cannot act
        self.assertEqual(status("-X", "DELETE", f"{base}/queue/{qid}"), 405)
        self.assertEqual(status(f"{base}/queue/NOSUCHID"), 404)
        self.assertEqual(status(f"{base}/queue/{qid}/explode", "-X", "POST",
                                "-H", "Content-Type: application/json"), 404)
        self.assertEqual(status(f"{base}/trace"), 400)
        # none of that touched the message
        self.assertEqual(server.queue_list()[qid].state, "deferred")
        # a loopback Origin is ours
        self.assertEqual(status("-X", "POST", "-H", "Content-Type: application/json",
                                "-H", f"Origin: http://127.0.0.1:{server.console_port}", f"{base}/queue/{qid}/hold"), 200)


if __name__ == "__main__":
    harness.main()
