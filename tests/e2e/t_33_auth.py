#!/usr/bin/env python3
"""Authenticated submission (RFC 4954, RFC 6409, RFC 8314) with real clients: swaks over
STARTTLS and implicit TLS, Python's smtplib, curl. Wrong passwords are answered ever later and
then refused with 421 4.7.0; an authenticated client may relay where an untrusted one may not;
the envelope sender is bound to the user; `ehlo user` manages the users file, and the running
server sees its changes without a restart. A password is typed at a prompt without echo and
asked twice, or read from standard input; one given as an argument is refused. The Received header says ESMTPSA with the cipher.
"""
import os
import select
import shutil
import smtplib
import ssl
import stat
import subprocess
import tempfile
import termios
import time

import harness

PASSWORD = "correct horse battery"


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Auth(harness.E2ETest):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ehlo-auth-")
        self.addCleanup(lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        self.users = os.path.join(self.tmp, "users")
        self.user("add", "alice@example.test", password=PASSWORD)

    def user(self, *args, password=None, check=True):
        r = subprocess.run([harness.ehlo_binary(), "user", "--file", self.users, *args],
                           input=(password + "\n").encode() if password is not None else b"",
                           capture_output=True, timeout=60, preexec_fn=harness.as_daemon_user)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def on_terminal(self, *args):
        """`ehlo user` on a pseudo-terminal, as an administrator runs it: (process, master fd)."""
        master, slave = os.openpty()
        self.addCleanup(os.close, master)
        p = subprocess.Popen([harness.ehlo_binary(), "user", "--file", self.users, *args],
                             stdin=slave, stdout=slave, stderr=slave,
                             preexec_fn=harness.as_daemon_user, start_new_session=True)
        os.close(slave)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        return p, master

    def screen_until(self, master, text=None, timeout=20):
        """What the terminal shows until `text` appears (None: until the program closes it)."""
        out = b""
        deadline = time.monotonic() + timeout
        while text is None or text not in out:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, f"waiting for {text!r}, the terminal shows {out!r}")
            if not select.select([master], [], [], left)[0]:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the program ended and closed the terminal
                chunk = b""
            if not chunk:
                self.assertIsNone(text, f"ended before {text!r}: {out!r}")
                break
            out += chunk
        return out

    def echo_on(self, master):
        return bool(termios.tcgetattr(master)[3] & termios.ECHO)

    def type_hidden(self, master, secret):
        """Type a line as soon as the prompt is on the screen: echo must be off by then already."""
        self.assertFalse(self.echo_on(master), "the prompt showed while echo was still on")
        os.write(master, secret.encode() + b"\r")

    def auth_server(self, auth=None, relay=None, **kwargs):
        chain, key = harness.make_certificate(self.tmp, "mx", cn="mx.test")
        a = {"users_file": self.users}
        a.update(auth or {})
        return self.start_server(
            tables={"tls": {"certificates": [{"chain": chain, "key": key}]}, "auth": a},
            relay=relay, listeners=[{"address": "127.0.0.1:{port:submission}", "kind": "submission"},
                                    {"address": "127.0.0.1:{port:submissions}", "kind": "submissions"}],
            **kwargs)

    def login(self, port, user="alice@example.test", password=PASSWORD):
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=20)
        s.starttls(context=client_context())
        s.login(user, password)
        return s

    def test_swaks_starttls_auth_plain_and_login_esmtpsa(self):
        swaks = harness.require_tool("swaks")
        if subprocess.run(["perl", "-MNet::SSLeay", "-e", "1"], capture_output=True).returncode != 0:
            self.skipTest("swaks needs Net::SSLeay for TLS")
        server = self.auth_server()
        for mech in ("PLAIN", "LOGIN"):
            r = subprocess.run([swaks, "--server", f"127.0.0.1:{server.ports['submission']}", "--tls",
                                "--auth", mech, "--auth-user", "alice@example.test", "--auth-password", PASSWORD,
                                "--from", "alice@example.test", "--to", "bob@example.test",
                                "--helo", "client.test", "--timeout", "20"], capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(b"235 2.7.0", r.stdout)
        paths = server.wait_for_delivery("bob", 2)
        headers, _ = harness.split_message(harness.read_file(paths[0]))
        received = [h for h in headers if h.startswith(b"Received:")][0]
        self.assertIn(b"with ESMTPSA id", received)
        self.assertRegex(received, rb"\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ \(\d+/\d+ bits\)\)")

    def test_swaks_tls_on_connect_auth_on_submissions_rfc8314(self):
        swaks = harness.require_tool("swaks")
        if subprocess.run(["perl", "-MNet::SSLeay", "-e", "1"], capture_output=True).returncode != 0:
            self.skipTest("swaks needs Net::SSLeay for TLS")
        server = self.auth_server()
        r = subprocess.run([swaks, "--server", f"127.0.0.1:{server.ports['submissions']}", "--tls-on-connect",
                            "--auth", "PLAIN", "--auth-user", "alice@example.test", "--auth-password", PASSWORD,
                            "--from", "alice@example.test", "--to", "bob@example.test",
                            "--helo", "client.test", "--timeout", "20"], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        server.wait_for_delivery("bob", 1)

    def test_smtplib_starttls_login(self):
        server = self.auth_server()
        with self.login(server.ports["submission"]) as s:
            s.sendmail("alice@example.test", ["bob@example.test"], harness.simple_message("smtplib-auth", to="bob@example.test"))
        server.wait_for_delivery("bob", 1)

    def test_curl_ssl_reqd_with_user(self):
        curl = harness.require_tool("curl")
        server = self.auth_server()
        path = os.path.join(self.tmp, "m.eml")
        with open(path, "wb") as f:
            f.write(harness.simple_message("curl-auth", to="bob@example.test"))
        r = subprocess.run([curl, "-sS", "--max-time", "30", "--ssl-reqd", "-k",
                            "--user", f"alice@example.test:{PASSWORD}",
                            f"smtp://127.0.0.1:{server.ports['submission']}/client.test",
                            "--mail-from", "alice@example.test", "--mail-rcpt", "bob@example.test",
                            "--upload-file", path], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        server.wait_for_delivery("bob", 1)

    def test_wrong_passwords_are_slowed_then_refused_421(self):
        server = self.auth_server(auth={"max_failures": 3, "failure_delay": 1, "lockout": 60})
        s = smtplib.SMTP("127.0.0.1", server.ports["submission"], local_hostname="client.test", timeout=30)
        s.starttls(context=client_context())
        s.ehlo()
        times = []
        for i in range(3):
            start = time.monotonic()
            code, _ = s.docmd("AUTH", "PLAIN " + __import__("base64").b64encode(
                b"\0alice@example.test\0wrong%d" % i).decode())
            times.append(time.monotonic() - start)
            self.assertEqual(code, 535)
        self.assertGreater(times[0], 0.9)
        self.assertGreater(times[1], times[0] + 0.5)
        self.assertGreater(times[2], times[1] + 0.5)
        # past the limit, even the right password gets 421 4.7.0 and the connection ends
        code, text = s.docmd("AUTH", "PLAIN " + __import__("base64").b64encode(
            b"\0alice@example.test\0" + PASSWORD.encode()).decode())
        self.assertEqual(code, 421, text)
        self.assertIn(b"4.7.0", text)
        s.close()
        # a new connection from the same address is locked out too
        with self.assertRaises(smtplib.SMTPException):
            self.login(server.ports["submission"])
        server.wait_log("auth-failed", timeout=10)
        server.wait_log("auth-locked", timeout=10)

    def test_relay_refused_without_auth_allowed_with_it(self):
        # loopback is NOT trusted here: only AUTH opens relaying
        server = self.auth_server(relay={"trusted_networks": []})
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.line("MAIL FROM:<alice@example.test>")
            c.expect(250)
            c.line("RCPT TO:<someone@remote.example>")
            c.expect(554, "554 5.7.1")
        with self.login(server.port) as s:
            s.mail("alice@example.test")
            code, text = s.rcpt("someone@remote.example")
            self.assertEqual(code, 250, text)

    def test_submission_without_auth_530_rfc4954_6(self):
        server = self.auth_server()
        with smtplib.SMTP("127.0.0.1", server.ports["submission"], local_hostname="client.test", timeout=20) as s:
            s.starttls(context=client_context())
            s.ehlo()
            self.assertIn("auth", s.esmtp_features)
            code, text = s.mail("alice@example.test")
            self.assertEqual(code, 530)
            self.assertIn(b"5.7.0 Authentication required", text)

    def test_auth_not_offered_in_clear_unless_loopback_allowed(self):
        server = self.auth_server()
        with server.connect() as c:
            c.expect(220)
            self.assertNotIn(b"AUTH", c.cmd("EHLO client.test").text)
        server2 = self.auth_server(auth={"plaintext_loopback": True})
        with server2.smtp() as s:
            s.ehlo()
            self.assertIn("auth", s.esmtp_features)
            s.login("alice@example.test", PASSWORD)

    def test_sender_bound_to_the_user_553(self):
        server = self.auth_server()
        with self.login(server.ports["submission"]) as s:
            code, text = s.mail("ceo@example.test")
            self.assertEqual(code, 553, text)
            self.assertIn(b"5.7.1", text)
            s.rset()
            code, _ = s.mail("alice@example.test")
            self.assertEqual(code, 250)

    def test_ehlo_user_commands_and_the_server_sees_changes_live(self):
        mode = stat.S_IMODE(os.stat(self.users).st_mode)
        self.assertEqual(mode, 0o600)
        self.assertNotIn(PASSWORD.encode(), harness.read_file(self.users))
        self.assertIn(b"$argon2id$", harness.read_file(self.users))
        server = self.auth_server()
        # add: seen by the running server without a restart
        self.user("add", "bob@example.test", password="bobs password")
        self.assertNotEqual(self.user("add", "bob@example.test", password="x", check=False).returncode, 0)
        listed = self.user("list").stdout
        self.assertIn(b"alice@example.test $argon2id$", listed)
        self.assertIn(b"bob@example.test", listed)
        deadline = time.monotonic() + 5
        while True:
            try:
                self.login(server.ports["submission"], "bob@example.test", "bobs password").quit()
                break
            except smtplib.SMTPAuthenticationError:
                self.assertLess(time.monotonic(), deadline, "the new user was not seen")
                time.sleep(0.5)
        # passwd, then del
        self.user("passwd", "bob@example.test", password="new password")
        time.sleep(1.5)
        self.login(server.ports["submission"], "bob@example.test", "new password").quit()
        self.user("del", "bob@example.test")
        time.sleep(1.5)
        with self.assertRaises(smtplib.SMTPAuthenticationError):
            self.login(server.ports["submission"], "bob@example.test", "new password")
        # no password, no user
        self.assertNotEqual(self.user("add", "carol@example.test", password="", check=False).returncode, 0)

    def test_password_typed_on_a_tty(self):
        secret = "carols typed secret"
        p, master = self.on_terminal("add", "carol@example.test")
        shown = self.screen_until(master, b"Password: ")
        self.type_hidden(master, secret)
        shown += self.screen_until(master, b"Again: ")
        self.type_hidden(master, secret)
        shown += self.screen_until(master)
        self.assertEqual(p.wait(timeout=30), 0, shown)
        self.assertNotIn(secret.encode(), shown)
        self.assertTrue(self.echo_on(master), "echo was not turned back on")
        users = harness.read_file(self.users)
        self.assertIn(b"carol@example.test:$argon2id$", users)
        self.assertNotIn(secret.encode(), users)
        # the two typings differ: refused, the file as it was
        p, master = self.on_terminal("passwd", "carol@example.test")
        self.screen_until(master, b"Password: ")
        self.type_hidden(master, "one thing")
        self.screen_until(master, b"Again: ")
        self.type_hidden(master, "another thing")
        shown = self.screen_until(master)
        self.assertNotEqual(p.wait(timeout=30), 0)
        self.assertIn(b"the passwords differ", shown)
        self.assertEqual(harness.read_file(self.users), users)
        # the server verifies the typed password (AUTH PLAIN after STARTTLS)
        server = self.auth_server()
        s = smtplib.SMTP("127.0.0.1", server.ports["submission"], local_hostname="client.test", timeout=20)
        s.starttls(context=client_context())
        s.ehlo()
        s.auth("PLAIN", lambda challenge=None: "\0carol@example.test\0" + secret, initial_response_ok=True)
        s.quit()
        with self.assertRaises(smtplib.SMTPAuthenticationError):
            self.login(server.ports["submission"], "carol@example.test", "one thing")

    def test_password_argument_refused(self):
        before = harness.read_file(self.users)
        for args in (["add", "carol@example.test", "secret on the line"],
                     ["add", "carol@example.test", "--password", "secret on the line"],
                     ["passwd", "alice@example.test", "secret on the line"]):
            # a good password on stdin too: the argument alone is why it is refused
            r = self.user(*args, password="from stdin", check=False)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(b"not expected", r.stderr, args)
            self.assertEqual(harness.read_file(self.users), before, args)
        self.user("add", "carol@example.test", password="from stdin")
        self.assertIn(b"carol@example.test:", harness.read_file(self.users))


if __name__ == "__main__":
    harness.main()
