#!/usr/bin/env python3
"""The console open to the network: [console] tls = true gives HTTPS with the [tls] certificates
and a login on every request, a user of [auth] users_file (HTTP Basic) or the holder of the
console token (Authorization: Bearer). Shown with curl (its TLS client verifying our
certificate) on loopback, as a remote administrator would reach it: nothing without a login,
a wrong password refused and, repeated, locked out; the pages, the API and the raw message
with one (through the message page's link, and as docs/api.md's example has it); an action
from another origin refused; Talk SMTP not served to the network; plaintext HTTP on the TLS
port answered with nothing.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

import harness

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "api.md")
PASSWORD = "console-pass-phrase-1"
TOKEN = "0123456789abcdef0123456789abcdef-token"


class ConsoleTls(harness.E2ETest):

    def setUp(self):
        super().setUp()
        self.curl_path = harness.require_tool("curl")
        self.tmp = tempfile.mkdtemp(prefix="ehlo-console-tls-")
        self.addCleanup(lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        users = self.users = os.path.join(self.tmp, "users")
        r = subprocess.run([harness.ehlo_binary(), "user", "--file", users, "add", "admin@example.test"],
                           input=(PASSWORD + "\n").encode(), capture_output=True, timeout=60,
                           preexec_fn=harness.as_daemon_user)
        self.assertEqual(r.returncode, 0, r.stderr)
        token = os.path.join(self.tmp, "console.token")
        with open(token, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(token, 0o600)
        self.chain, key = harness.make_certificate(self.tmp, "console", cn="mx.test", sans=["mx.test"])
        # remote.example goes to a port where nobody listens: its mail stays queued.
        self.server = self.start_server(routes=harness.route_to(harness.free_port()), tables={
            "tls": {"certificates": [{"chain": self.chain, "key": key}]},
            "auth": {"users_file": users, "max_failures": 3, "failure_delay": 0},
            "console": {"tls": True, "token_file": token},
        })
        self.base = f"https://mx.test:{self.server.console_port}"

    def curl(self, path, *args):
        """(status, headers, body) of one request, our certificate verified for mx.test."""
        r = subprocess.run([self.curl_path, "-s", "-D", "-", "--cacert", self.chain,
                            "--resolve", f"mx.test:{self.server.console_port}:127.0.0.1",
                            "--max-time", "20", *args, self.base + path], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, head.decode("latin-1"), body

    def test_nothing_without_a_login(self):
        for path in ("/", "/queue", "/api/v1/queue", "/metrics", "/talk"):
            status, head, _ = self.curl(path)
            self.assertEqual(status, 401, path)
            self.assertIn('WWW-Authenticate: Basic realm="ehlo console"', head)
        self.server.wait_log("console-listening", login="required")

    def test_a_user_of_the_users_file_logs_in(self):
        status, _, body = self.curl("/queue", "-u", f"admin@example.test:{PASSWORD}")
        self.assertEqual(status, 200)
        self.assertIn(b"<h1>Queue</h1>", body)
        self.server.wait_log("console-login", user="admin@example.test")
        # The API with the same login, and an action from our own origin.
        status, _, body = self.curl("/api/v1/queue", "-u", f"admin@example.test:{PASSWORD}")
        self.assertEqual(status, 200)
        self.assertIn("messages", json.loads(body))
        status, _, _ = self.curl("/api/v1/flush", "-u", f"admin@example.test:{PASSWORD}", "-X", "POST",
                                 "-H", "Content-Type: application/json", "-H", f"Origin: {self.base}")
        self.assertEqual(status, 200)
        # A page elsewhere cannot act with the browser's login (CSRF).
        status, _, _ = self.curl("/api/v1/flush", "-u", f"admin@example.test:{PASSWORD}", "-X", "POST",
                                 "-H", "Content-Type: application/json", "-H", "Origin: https://evil.example")
        self.assertEqual(status, 403)

    def test_raw_message_download_behind_the_login(self):
        qid = self.server.send("raw", to=("bob@remote.example",))
        self.server.wait_log("deferred", id=qid)
        status, head, body = self.curl(f"/api/v1/queue/{qid}/raw", "-H", f"Authorization: Bearer {TOKEN}")
        self.assertEqual(status, 200)
        self.assertIn("Content-Type: message/rfc822", head)
        self.assertIn(f'Content-Disposition: attachment; filename="{qid}.eml"', head)
        self.assertTrue(body.startswith(b"Received: from "), body[:200])
        self.assertIn(b"Message-ID: <raw@client.test>", body)
        self.assertEqual(len(body), int(self.server.queue_list()[qid].size))
        # The message's page links to it, and the link gives the same file.
        status, _, page = self.curl(f"/message?id={qid}", "-H", f"Authorization: Bearer {TOKEN}")
        self.assertEqual(status, 200)
        (link,) = re.findall(rb'<a id="raw" href="([^"]+)" download>', page)
        self.assertEqual(link.decode(), f"/api/v1/queue/{qid}/raw")
        self.assertEqual(self.curl(link.decode(), "-H", f"Authorization: Bearer {TOKEN}")[2], body)
        # Nothing for an id that is not queued; nothing without the login.
        self.assertEqual(self.curl("/api/v1/queue/" + "0" * 16 + "/raw", "-H", f"Authorization: Bearer {TOKEN}")[0], 404)
        self.assertEqual(self.curl(f"/api/v1/queue/{qid}/raw")[0], 401)

    def test_the_documented_download(self):
        # docs/api.md's example behind the login, as written there, for this server: curl
        # finds our CA and the name's address in its .curlrc.
        (example,) = [e for e in harness.doc_examples(DOC) if "https://mx.example.org:8025/" in e[0]]
        command, shown = example
        qid = self.server.send("documented", to=("bob@remote.example",))
        self.server.wait_log("deferred", id=qid)
        work = os.path.join(self.tmp, "download")
        os.mkdir(work)
        with open(os.path.join(work, ".curlrc"), "w") as f:
            f.write(f'cacert = "{self.chain}"\nresolve = "mx.test:{self.server.console_port}:127.0.0.1"\n')
        r = subprocess.run(["bash", "-c", command.replace("mx.example.org:8025", f"mx.test:{self.server.console_port}")],
                           cwd=work, env=dict(os.environ, CURL_HOME=work, ID=qid, TOKEN=TOKEN),
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(shown), 1)
        self.assertTrue(shown[0].endswith("...") and r.stdout.decode().startswith(shown[0][:-3]), r.stdout)
        with open(os.path.join(work, f"{qid}.eml"), "rb") as f:
            saved = f.read()
        self.assertIn(b"Message-ID: <documented@client.test>", saved)
        self.assertEqual(len(saved), int(self.server.queue_list()[qid].size))

    def test_talk_smtp_is_not_served_to_the_network(self):
        # Its connection would come from loopback, a trusted network: not for a remote login.
        status, _, _ = self.curl("/api/v1/talk", "-H", f"Authorization: Bearer {TOKEN}", "-X", "POST",
                                 "-H", "Content-Type: application/json")
        self.assertEqual(status, 403)

    def test_an_action_without_origin_or_type(self):
        auth = ("-H", f"Authorization: Bearer {TOKEN}", "-X", "POST")
        self.assertEqual(self.curl("/api/v1/flush", *auth, "-H", "Content-Type: application/json")[0], 200)
        self.assertEqual(self.curl("/api/v1/flush", *auth, "-H", "Content-Type: text/plain")[0], 415)

    def test_the_token_for_scripts(self):
        status, _, body = self.curl("/metrics", "-H", f"Authorization: Bearer {TOKEN}")
        self.assertEqual(status, 200)
        self.assertIn(b"ehlo_", body)
        status, _, _ = self.curl("/metrics", "-H", f"Authorization: Bearer {TOKEN[:-1]}x")
        self.assertEqual(status, 401)
        self.server.wait_log("console-login-failed", how="token")

    def test_wrong_passwords_refused_then_locked(self):
        statuses = [self.curl("/", "-u", f"admin@example.test:wrong-{n}")[0] for n in range(4)]
        self.assertEqual(statuses[0], 401)
        # [auth] max_failures = 3: then this address is locked out, even with the right password.
        self.assertEqual(statuses[-1], 429, statuses)
        status, head, _ = self.curl("/", "-u", f"admin@example.test:{PASSWORD}")
        self.assertEqual(status, 429)
        self.assertIn("Retry-After:", head)

    def test_token_guesses_locked_out_too(self):
        statuses = [self.curl("/metrics", "-H", f"Authorization: Bearer guess-{n}")[0] for n in range(4)]
        self.assertEqual(statuses[0], 401)
        self.assertEqual(statuses[-1], 429, statuses)  # [auth] max_failures = 3
        status, head, _ = self.curl("/metrics", "-H", f"Authorization: Bearer {TOKEN}")
        self.assertEqual(status, 429)
        self.assertIn("Retry-After:", head)

    def test_a_changed_password_ends_the_kept_login(self):
        login = f"admin@example.test:{PASSWORD}"
        self.assertEqual(self.curl("/", "-u", login)[0], 200)
        self.assertEqual(self.curl("/queue", "-u", login)[0], 200)  # kept: no second hashing
        r = subprocess.run([harness.ehlo_binary(), "user", "--file", self.users, "passwd", "admin@example.test"],
                           input=b"another-pass-phrase-2\n", capture_output=True, timeout=60,
                           preexec_fn=harness.as_daemon_user)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The users file is looked at again within a second of its change.
        harness.wait_until(lambda: self.curl("/", "-u", login)[0] == 401, 10, "the old password refused")
        self.assertEqual(self.curl("/", "-u", "admin@example.test:another-pass-phrase-2")[0], 200)

    def test_plaintext_on_the_tls_port_gets_no_page(self):
        r = subprocess.run([self.curl_path, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                            f"http://127.0.0.1:{self.server.console_port}/"], capture_output=True, timeout=30)
        self.assertEqual(r.stdout, b"000")  # no HTTP answer at all: TLS first


if __name__ == "__main__":
    harness.main()
