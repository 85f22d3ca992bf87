#!/usr/bin/env python3
"""The web console in a real browser: Debian's chromium driven by puppeteer-core
(tests/browser/console.cjs) against a running ehlo holding a deferred message. Every page
(overview, queue, message, search) loads without a console error, a failed request or an
error status; after real traffic the overview shows the messages in and out by minute and the
refusals among the top errors, counted; the message's page shows its header and timeline;
the Hold button holds it, which `ehlo queue list` then shows; the overview's counts follow a
message that arrives, without a reload. The queue page step by step (tests/browser/queue.cjs):
the filters by sender, recipient, destination, state and age each leave the right messages;
the Flush, Release, Delete and Bounce buttons, each one's effect seen outside the browser
(`ehlo queue list`, the peer, the DSN in the sender's Maildir). "Talk SMTP"
(tests/browser/talk.cjs): a whole dialog typed into the page, a deliberate mistake (HELO
without a domain) explained, every reply's class, enhanced code, RFC and next step shown, the
message queued, delivered and followed by its link. SKIPPED without chromium, node or
puppeteer-core (`make deps` installs them). EHLO_SCREENSHOTS=DIR keeps a screenshot of each
page there (docs/console/ holds the ones the README shows).
"""
import json
import os
import re
import select
import shutil
import subprocess
import time
import urllib.request

import harness
from harness import LOCAL_SENDER

BROWSER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser")


def console_get(server, path):
    """GET /api/v1/PATH of the server's console: the JSON answer."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.console_port}/api/v1/{path}", timeout=10) as r:
        return json.loads(r.read())


class ConsoleBrowser(harness.E2ETest):

    def test_pages_actions_filters_and_the_live_overview(self):
        node = self.browser_tools()
        peer = self.start_peer()
        peer.rcpt = lambda s, addr, line: "451 4.3.0 console test says later"
        server = self.start_sender(routes=harness.route_to(peer.port), delivery={"retry_min": 60, "retry_max": 60})
        qid = server.send("console", to=("bob@remote.example",), sender=LOCAL_SENDER)
        server.wait_log("remote-attempt", id=qid, outcome="deferred")
        # Traffic for the overview: three messages in and delivered here, two recipients
        # refused (550 5.1.1, RFC 3463 3.2: no such mailbox).
        for n in range(3):
            server.send(f"local-{n}")
        for n in range(2):
            with server.smtp() as s:
                s.ehlo()
                s.mail(LOCAL_SENDER)
                self.assertEqual(s.rcpt(f"nobody-{n}@example.test")[0], 550)
        server.wait_for_delivery("alice", 3)
        harness.wait_until(lambda: sum(m["delivered"] for m in console_get(server, "overview")["minutes"]) == 3, 10,
                           "the deliveries in the history")

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
        overview = report["pages"]["overview"]
        self.assertIn("Queue by destination and age", overview["text"])
        self.assertEqual(overview["tables"]["shape"], [["remote.example", "1", "1", "0", "0", "0", "0"]])
        # Messages in and out by minute: the rows of the minutes with traffic, added up.
        minutes = overview["tables"]["minutes"]
        self.assertTrue(minutes)
        self.assertEqual([sum(int(row[i]) for row in minutes) for i in (1, 2, 3, 4)], [4, 3, 1, 0])
        self.assertEqual(overview["tables"]["errors"], [
            ["2", "550 5.1.1 <...>: Recipient address rejected: mailbox unknown"],
            ["1", "451 4.3.0 console test says later"]])
        message = report["pages"]["message"]
        self.assertIn(qid, message["text"])
        self.assertIn("451 4.3.0 console test says later", message["text"])
        # Its header section, as spooled; the whole message only behind the login (t_67).
        self.assertIn("Message-ID: <console@client.test>", message["headers"].splitlines())
        self.assertIn("Subject: test console", message["headers"].splitlines())
        self.assertIsNone(message["raw_link"])
        self.assertIn(qid, report["pages"]["search"]["text"])
        self.assertEqual(report["before"], {"state": "deferred", "hidden": False})
        self.assertEqual(report["after_hold"], {"state": "held", "hidden": False})
        self.assertEqual(report["filtered_pending"]["hidden"], True)
        self.assertEqual(report["filtered_held"]["hidden"], False)
        self.assertEqual(report["filtered_destination"]["hidden"], True)
        self.assertEqual((report["live_before"], report["live_after"]), ("0", "1"))

    def test_queue_filters_and_buttons(self):
        node = self.browser_tools()
        accepting = set()
        peer = self.start_peer()
        peer.rcpt = lambda s, addr, line: "250 2.1.5 Ok" if addr in accepting else "451 4.3.0 queue test says later"
        server = self.start_sender(routes=harness.route_to(peer.port) + harness.route_to(peer.port, "other.example"),
                                   delivery={"retry_min": 60, "retry_max": 60})

        def deferred(token, sender, to):
            qid = server.send(token, to=(to,), sender=sender)
            server.wait_log("remote-attempt", id=qid, outcome="deferred")
            return qid

        # One message a minute older than the others, for the age filter at the end.
        old = deferred("old", LOCAL_SENDER, "bob@remote.example")
        old_sent = time.monotonic()
        page = QueuePage(self, node, server)
        # 25 s between it and the rest: when the first turns a minute old, the others have 25 s
        # left before they do, room for a slow (sanitized) build to reload and filter.
        time.sleep(max(0.0, old_sent + 25 - time.monotonic()))
        flush = deferred("flush", "bob@example.test", "dave@remote.example")
        release = deferred("release", LOCAL_SENDER, "erin@other.example")
        delete = deferred("delete", "carol@example.test", "frank@other.example")
        bounce = deferred("bounce", LOCAL_SENDER, "gina@remote.example")
        server.queue_ok("hold", release)
        everyone = [old, flush, release, delete, bounce]

        self.assertEqual(page.ask(reload=True)["visible"], everyone)
        # Each filter narrows the list to the messages it names: the sender alone, the recipient
        # alone, the destination, a state with a destination.
        self.assertEqual(page.ask(filter={"sender": "bob@example"})["visible"], [flush])
        self.assertEqual(page.ask(filter={"recipient": "BOB@"})["visible"], [old])
        self.assertEqual(page.ask(filter={"destination": "other.example"})["visible"], [release, delete])
        self.assertEqual(page.ask(filter={"state": "deferred", "destination": "other.example"})["visible"], [delete])
        self.assertEqual(page.ask(filter={"state": "held"})["visible"], [release])
        self.assertEqual(page.ask(filter={})["visible"], everyone)

        # Flush: tried now (else not for 60 s), and the peer takes it this time.
        accepting.add("dave@remote.example")
        page.ask(click=[flush, "flush"])
        harness.wait_until(lambda: flush not in server.queue_list(), 15, "the flushed message delivered")
        self.assertEqual(peer.deliveries_to("dave@remote.example"), 1)
        # Release: no longer held, as `ehlo queue list` sees it, and the page says so.
        seen = page.ask(click=[release, "release"])
        self.assertNotEqual(server.queue_list()[release].state, "held")
        self.assertNotEqual(seen["rows"][release]["state"], "held")
        # Delete: asked first, then gone without a bounce to its sender.
        seen = page.ask(click=[delete, "delete"])
        self.assertEqual(seen["dialogs"], [f"Delete {delete} without a bounce?"])
        self.assertNotIn(delete, server.queue_list())
        self.assertNotIn(delete, seen["rows"])
        # Bounce: asked first, gone, and its sender gets a DSN (RFC 3464) for the recipient.
        seen = page.ask(click=[bounce, "bounce"])
        self.assertEqual(seen["dialogs"][-1], f"Return {bounce} to its sender now?")
        harness.wait_until(lambda: bounce not in server.queue_list(), 10, "the returned message gone")
        server.wait_for_delivery("alice", 1)
        (dsn,) = server.read_maildir("alice")
        _, _, groups = harness.parse_dsn(dsn)
        gina = harness.dsn_recipient(groups, "gina@remote.example")
        self.assertEqual(gina["action"], "failed")
        self.assertTrue(gina["status"].startswith("5."), gina)
        server.assert_stays("carol", 0)  # the deleted message's sender got nothing

        # Age: older than a minute is the first message alone.
        harness.wait_until(lambda: time.monotonic() - old_sent >= 61, 75, "a minute gone")
        page.ask(reload=True)
        seen = page.ask(filter={"age": 1})
        self.assertEqual(seen["visible"], [old])
        self.assertGreaterEqual(seen["rows"][old]["age"], 60)
        self.assertLess(seen["rows"][release]["age"], 60)
        self.assertEqual(page.end()["problems"], [])

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
        # Every reply explained in the page as the tutor explains it.
        next_lines = {None: "EHLO client.example", "HELO": "EHLO client.example",
                      "EHLO client.example": "MAIL FROM:<me@example.org>", "MAIL FROM:<me@example.org>": "RCPT TO:<",
                      "RCPT TO:<alice@example.test>": "DATA", "DATA": "Subject: ", ".": "QUIT", "QUIT": None}
        for typed, next_line in next_lines.items():
            self.assert_reply_explained(steps[typed], next_line)
        # The message really went through ehlo: delivered, and its page tells its life.
        server.wait_for_delivery("alice", 1)
        data = server.read_maildir("alice")[0]
        self.assertIn(b"Hello from the Talk SMTP page.", data)
        self.assertIn(qid, report["message_page"])

    # RFC 5321 4.2.1: the first digit of a reply in words; RFC 3463 3.1: an enhanced code's class.
    REPLY_CLASS = {"2": "positive completion", "3": "positive intermediate", "4": "transient negative completion",
                   "5": "permanent negative completion"}
    ENHANCED_CLASS = {"2": "success", "4": "persistent transient failure", "5": "permanent failure"}
    # RFC 3463 3.1, 3.2: the details of the codes of this dialog.
    ENHANCED_DETAIL = {"0.0": "other undefined status", "1.0": "other address status",
                       "1.5": "destination address valid"}

    def assert_reply_explained(self, step, next_line):
        """The step's reply (its last line in the dialog) has its notes in the page: its class in
        words, its enhanced code's meaning, the RFC sections, and (unless the dialog is over)
        what to type next."""
        where = f"after {step['typed']!r}"
        reply = [l for l in step["dialog"].splitlines() if l.startswith("S: ")][-1][3:]
        m = re.match(r"(\d)(\d\d)[ -](?:([245])\.(\d{1,3}\.\d{1,3}) )?", reply)
        self.assertTrue(m, f"{where}: {reply!r}")
        code = m.group(1) + m.group(2)
        (explained,) = [n for n in step["notes"] if n["kind"] == "code"] or [None]
        self.assertIsNotNone(explained, f"{where}: no note on the code of {reply!r}: {step['notes']}")
        self.assertTrue(explained["title"].startswith(code), f"{where}: {explained}")
        self.assertIn(f"{m.group(1)}yz, {self.REPLY_CLASS[m.group(1)]}", explained["words"], where)
        self.assertIn("RFC 5321 4.2.1", explained["rfc"], where)
        if m.group(3):
            enhanced = f"{m.group(3)}.{m.group(4)}"
            self.assertEqual(explained["title"], f"{code} {enhanced}", where)
            self.assertIn(f"{enhanced}: class {m.group(3)} ({self.ENHANCED_CLASS[m.group(3)]})", explained["words"], where)
            self.assertIn(f"detail {m.group(4).split('.')[1]}: {self.ENHANCED_DETAIL[m.group(4)]}.", explained["words"], where)
            self.assertIn("RFC 3463", explained["rfc"], where)
        # What the reply means here, with its RFC section.
        context = [n for n in step["notes"] if n["kind"] in ("reply", "mistake")]
        self.assertTrue(context, f"{where}: no explanation of {reply!r}")
        self.assertTrue(all(re.match(r"RFC \d+ \d", n["rfc"]) for n in context), f"{where}: {context}")
        if next_line is None:
            self.assertIsNone(step["next"], where)
            return
        self.assertEqual(step["next"]["kind"], "suggestion", where)
        self.assertTrue(step["next"]["line"].startswith(next_line), f"{where}: {step['next']}")
        self.assertTrue(step["next"]["rfc"].startswith("RFC "), f"{where}: {step['next']}")

    def browser_tools(self):
        node = harness.require_tool("node")
        if not os.path.exists("/usr/bin/chromium"):
            self.skipTest("chromium is not installed")
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "puppeteer-core")):
            self.skipTest("puppeteer-core is not installed (make deps: npm ci in tests/browser)")
        return node


class QueuePage:
    """tests/browser/queue.cjs on the server's queue page: one request, one answer, each
    within a bounded time; the browser is stopped at the end of the test."""

    def __init__(self, test, node, server):
        self.test = test
        env = dict(os.environ, HOME=server.dir)
        self.proc = subprocess.Popen([node, os.path.join(BROWSER_DIR, "queue.cjs"), f"http://127.0.0.1:{server.console_port}"],
                                     cwd=BROWSER_DIR, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        test.addCleanup(self.stop)

    def stop(self):
        """The script's standard error. The end of its input ends it, and it closes chromium (a kill
        would leave chromium running)."""
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()
        if self.proc.stderr.closed:
            return ""
        err = self.proc.stderr.read().decode(errors="replace")
        self.proc.stderr.close()
        return err

    def ask(self, timeout=40, **request):
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.test.fail(f"the browser gave no answer to {request}: " + self.stop()[-3000:])
        return json.loads(line)

    def end(self):
        answer = self.ask(end=True)
        self.test.assertEqual(self.proc.wait(30), 0)
        return answer


if __name__ == "__main__":
    harness.main()
