#!/usr/bin/env python3
"""The web console in a real browser: Debian's chromium driven by puppeteer-core
(tests/browser/console.cjs) against a running ehlo holding a deferred message. Every page
(overview, queue, message, search) loads without a console error, a failed request or an
error status; the message's page shows its timeline; the Hold button holds it, which
`ehlo queue list` then shows; the filters hide and show its row; the overview's counts
follow a message that arrives, without a reload. "Talk SMTP" (tests/browser/talk.cjs): a whole
dialog typed into the page, a deliberate mistake (HELO without a domain) explained, the
message queued, delivered and followed by its link. SKIPPED without chromium, node or
puppeteer-core (`make deps` installs them). EHLO_SCREENSHOTS=DIR keeps a screenshot of each
page there (docs/console/ holds the ones the README shows).
"""
import json
import os
import shutil
import subprocess

import harness
from harness import LOCAL_SENDER

BROWSER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser")


class ConsoleBrowser(harness.E2ETest):

    def test_pages_actions_filters_and_the_live_overview(self):
        node = self.browser_tools()
        peer = self.start_peer()
        peer.rcpt = lambda s, addr, line: "451 4.3.0 console test says later"
        server = self.start_sender(routes=harness.route_to(peer.port), delivery={"retry_min": 60, "retry_max": 60})
        qid = server.send("console", to=("bob@remote.example",), sender=LOCAL_SENDER)
        server.wait_log("remote-attempt", id=qid, outcome="deferred")

        shots = os.environ.get("EHLO_SCREENSHOTS", "")
        env = dict(os.environ, HOME=server.dir)  # chromium's profile goes there
        proc = subprocess.Popen([node, os.path.join(BROWSER_DIR, "console.cjs"),
                                 f"http://127.0.0.1:{server.console_port}", qid] + ([shots] if shots else []),
                                cwd=BROWSER_DIR, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            line = proc.stdout.readline().decode()
            if line.strip() != "live-ready":
                proc.kill()
                self.fail(f"the browser script said {line!r}: " + proc.stderr.read().decode()[-3000:])
            # held now (by the page), so its recipient left "deferred": a new one arrives
            self.assertEqual(server.queue_list()[qid].state, "held")
            second = server.send("console-2", to=("carol@remote.example",), sender=LOCAL_SENDER)
            server.wait_log("remote-attempt", id=second, outcome="deferred")
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 0, err.decode())
        report = json.loads(out.decode().strip().splitlines()[-1])

        self.assertEqual(report["problems"], [])
        for name in ("overview", "queue", "message", "search"):
            self.assertEqual(report["pages"][name]["status"], 200, name)
        self.assertIn("Queue by destination and age", report["pages"]["overview"]["text"])
        self.assertIn("remote.example", report["pages"]["overview"]["text"])
        self.assertIn(qid, report["pages"]["message"]["text"])
        self.assertIn("451 4.3.0 console test says later", report["pages"]["message"]["text"])
        self.assertIn(qid, report["pages"]["search"]["text"])
        self.assertEqual(report["before"], {"state": "deferred", "hidden": False})
        self.assertEqual(report["after_hold"], {"state": "held", "hidden": False})
        self.assertEqual(report["filtered_pending"]["hidden"], True)
        self.assertEqual(report["filtered_held"]["hidden"], False)
        self.assertEqual(report["filtered_destination"]["hidden"], True)
        self.assertEqual((report["live_before"], report["live_after"]), ("0", "1"))

    def test_talk_smtp_a_whole_dialog_with_a_mistake(self):
        node = self.browser_tools()
        server = self.start_server()
        shots = os.environ.get("EHLO_SCREENSHOTS", "")
        env = dict(os.environ, HOME=server.dir)
        r = subprocess.run([node, os.path.join(BROWSER_DIR, "talk.cjs"), f"http://127.0.0.1:{server.console_port}"]
                           + ([shots] if shots else []), cwd=BROWSER_DIR, env=env, capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-3000:])
        report = json.loads(r.stdout.decode().strip().splitlines()[-1])
        self.assertEqual(report["problems"], [])
        steps = {s["typed"]: s for s in report["steps"]}
        # The greeting, explained, and the first step suggested (RFC 5321 3.1, 4.1.1.1).
        self.assertIn("S: 220 mx.test ESMTP ehlo", steps[None]["dialog"])
        self.assertEqual(steps[None]["phase"], "hello")
        self.assertIn("EHLO", steps[None]["suggestion"])
        # The deliberate mistake: HELO without a domain, its 501 and what went wrong.
        helo = steps["HELO"]
        self.assertIn("S: 501", helo["dialog"])
        mistakes = [n["text"] for n in helo["notes"] if n["kind"] == "mistake"]
        self.assertTrue(any("HELO without a domain" in m for m in mistakes), helo["notes"])
        self.assertEqual(helo["phase"], "hello")
        # Each step explained and the next one suggested, to the lone dot and its queue id.
        self.assertIn("250-", steps["EHLO client.example"]["dialog"])
        self.assertEqual(steps["MAIL FROM:<me@example.org>"]["phase"], "rcpt")
        self.assertEqual(steps["RCPT TO:<alice@example.test>"]["phase"], "data")
        self.assertIn("S: 354", steps["DATA"]["dialog"])
        self.assertEqual(steps["DATA"]["phase"], "content")
        dot = steps["."]
        self.assertIn("queued as", dot["dialog"])
        self.assertTrue(any(n["kind"] == "result" for n in dot["notes"]), dot["notes"])
        (qid,) = dot["result"]
        self.assertIn("S: 221", steps["QUIT"]["dialog"])
        self.assertTrue(steps["QUIT"]["disabled"])
        # The message really went through ehlo: delivered, and its page tells its life.
        server.wait_for_delivery("alice", 1)
        data = server.read_maildir("alice")[0]
        self.assertIn(b"Hello from the Talk SMTP page.", data)
        self.assertIn(qid, report["message_page"])

    def browser_tools(self):
        node = harness.require_tool("node")
        if not os.path.exists("/usr/bin/chromium"):
            self.skipTest("chromium is not installed")
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "puppeteer-core")):
            self.skipTest("puppeteer-core is not installed (make deps: npm ci in tests/browser)")
        return node


if __name__ == "__main__":
    harness.main()
