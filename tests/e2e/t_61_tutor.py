#!/usr/bin/env python3
"""`ehlo tutor`: the SMTP dialog typed by a person in a terminal, against a real ehlo.

The tutor runs in a pseudo-terminal (Python's pty), as a person runs it, through a whole
dialog with deliberate mistakes (HELO without a domain and its 501, then RCPT before MAIL
and its 503); each step's explanation is read off the screen, the message is found in the
Maildir, and the last hint names its queue id. `ehlo tutor --explain` annotates transcripts:
two golden ones (golden/*.txt, expected output in golden/*.expected; EHLO_UPDATE_GOLDEN=1
rewrites them after a deliberate change of the texts) and one that real swaks printed.
"""
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import time
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")
STEP_TIMEOUT = 20.0           # s for one typed line's output, replies included
SGR = re.compile(rb"\x1b\[[0-9;]*m")
SWAKS = shutil.which("swaks") or "/usr/bin/swaks"


def flat(text):
    """Words of the screen with the wrapping undone, for phrases that a line break may split."""
    return " ".join(text.split())


class Terminal:
    """`ehlo tutor ARGS` on a pseudo-terminal: what it prints, and lines typed into it."""

    def __init__(self, args, env_extra=None):
        binary = harness.ehlo_binary()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm", "LANG": "C.UTF-8"}
        env.update(env_extra or {})
        self.pid, self.fd = pty.fork()
        if self.pid == 0:                      # the child: the tutor, dying with the test
            try:
                harness._die_with_parent()
                os.execve(binary, [binary, "tutor", *args], env)
            finally:
                os._exit(127)
        self.raw = b""                         # everything printed, as printed
        self.mark = 0
        self.status = None

    def _read(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([self.fd], [], [], left)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:                        # EIO: the tutor has exited
            data = b""
        if not data:
            raise EOFError
        self.raw += data
        return True

    def text(self, start=0):
        return SGR.sub(b"", self.raw[start:]).replace(b"\r\n", b"\n").decode("utf-8", "replace")

    def until_prompt(self, timeout=STEP_TIMEOUT):
        """Output since the last call, up to the next "C: " prompt."""
        deadline = time.monotonic() + timeout
        while not self.text(self.mark).endswith("C: "):
            if not self._read(deadline):
                raise AssertionError(f"no prompt within {timeout} s; screen:\n{self.text(self.mark)}")
        out = self.text(self.mark)
        self.mark = len(self.raw)
        return out

    def type(self, line):
        os.write(self.fd, line.encode() + b"\n")
        return self.until_prompt()

    def type_until_exit(self, line, timeout=STEP_TIMEOUT):
        os.write(self.fd, line.encode() + b"\n")
        deadline = time.monotonic() + timeout
        try:
            while self._read(deadline) or time.monotonic() < deadline:
                pass
            raise AssertionError(f"the tutor did not exit; screen:\n{self.text(self.mark)}")
        except EOFError:
            pass
        _, status = os.waitpid(self.pid, 0)
        self.status = os.waitstatus_to_exitcode(status)
        self.pid = None
        return self.text(self.mark)

    def close(self):
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None
        os.close(self.fd)


def run_tutor(args, stdin=b"", env_extra=None, timeout=60):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    env.update(env_extra or {})
    return subprocess.run([harness.ehlo_binary(), "tutor", *args], input=stdin, capture_output=True,
                          timeout=timeout, env=env)


class Tutor(harness.E2ETest):

    def terminal(self, *args, env_extra=None):
        term = Terminal(list(args), env_extra)
        self.addCleanup(term.close)
        return term

    def test_whole_dialog_in_a_terminal_with_mistakes(self):
        server = self.start_server()
        term = self.terminal(f"127.0.0.1:{server.port}", "--to", "alice@example.test",
                             "--from", harness.SENDER)

        out = term.until_prompt()
        self.assertIn("S: 220 mx.test ESMTP ehlo", out)
        self.assertIn("The server is ready", out)
        self.assertIn("[RFC 5321 3.1, 4.2]", flat(out))
        self.assertIn("> EHLO client.example", out)
        self.assertIn(b"\x1b[", term.raw, "a terminal without NO_COLOR gets colours")

        # RFC 5321 4.1.1.1: HELO needs a domain; the tutor says so, sends it, explains the 501
        out = term.type("HELO")
        self.assertIn("HELO without a domain", out)
        self.assertIn("S: 501 Syntax: HELO hostname", out)
        self.assertIn("HELO refused: the domain is missing", out)
        self.assertIn("5yz, permanent negative completion", flat(out))
        self.assertIn("> EHLO client.example", out)

        out = term.type("EHLO client.example")
        self.assertIn("S: 250-mx.test greets client.example", out)
        self.assertIn("EHLO accepted: the server lists its extensions", out)
        self.assertIn("SIZE 26214400: messages up to 25 MiB (RFC 1870)", flat(out))
        self.assertIn(f"> MAIL FROM:<{harness.SENDER}>", out)

        # RFC 5321 3.3 / 4.1.4: RCPT before MAIL is a bad sequence
        out = term.type("RCPT TO:<alice@example.test>")
        self.assertIn("RCPT before MAIL", out)
        self.assertIn("S: 503 5.5.1 Need MAIL before RCPT", out)
        self.assertIn("[RFC 5321 3.3, 4.1.4]", flat(out))
        self.assertIn("5.5.1: class 5 (permanent failure), subject 5 (mail delivery protocol)", flat(out))

        out = term.type(f"MAIL FROM:<{harness.SENDER}>")
        self.assertIn("S: 250 2.1.0 Ok", out)
        self.assertIn("Sender accepted", out)
        self.assertIn("2.1.0: class 2 (success), subject 1 (addressing)", flat(out))
        self.assertIn("> RCPT TO:<alice@example.test>", out)

        out = term.type("RCPT TO:<alice@example.test>")
        self.assertIn("Recipient accepted", out)
        self.assertIn("> DATA", out)

        out = term.type("DATA")
        self.assertIn("S: 354 End data with <CR><LF>.<CR><LF>", out)
        self.assertIn("Go ahead: type the message", out)
        self.assertIn("> Subject: hello", out)

        out = term.type("Subject: typed at the tutor")
        self.assertIn("An empty line, then the body", out)
        out = term.type("")
        self.assertIn("Your text, then the lone dot", out)
        out = term.type("Hello Alice, this was typed in a terminal.")
        self.assertNotIn("oops", out)
        out = term.type("..a line that starts with a dot")
        self.assertIn("Dot-stuffing", out)
        self.assertIn("[RFC 5321 4.5.2]", flat(out))

        # RFC 5321 4.1.1.4: the lone dot; the 250 names the queue id, the hint names the trace
        out = term.type(".")
        self.assertIn("The lone dot ends the message", out)
        m = re.search(r"S: 250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)", out)
        self.assertTrue(m, out)
        qid = m.group(1)
        self.assertIn("Message accepted", out)
        self.assertIn(f"Queued as {qid}", out)
        self.assertIn(f"$ ehlo trace {qid}", out)
        self.assertIn("> QUIT", out)

        out = term.type_until_exit("QUIT")
        self.assertIn("S: 221 2.0.0 Bye", out)
        self.assertIn("Goodbye", out)
        self.assertIn("1 message(s) queued, 2 mistake(s) explained", flat(out))
        self.assertTrue(out.rstrip().endswith(f"Where did it go? ehlo trace {qid}"), out)
        self.assertEqual(term.status, 0)

        (path,) = server.wait_for_delivery("alice", 1)
        stored = harness.read_file(path)
        self.assertEqual(harness.received_fields(stored), (qid, "alice@example.test"))
        self.assertEqual(harness.return_path(stored), harness.SENDER)
        self.assertIn(b"\nSubject: typed at the tutor\n\nHello Alice, this was typed in a terminal.\n", stored)
        self.assertIn(b"\n.a line that starts with a dot\n", stored)   # RFC 5321 4.5.2
        self.assertNotIn(b"\r", stored)

    def test_piped_input_relay_refusal_and_typing_after_quit(self):
        # the test client is not in a trusted network here: a remote recipient is relaying
        server = self.start_server(relay={"trusted_networks": ["192.0.2.0/24"]})
        r = run_tutor([f"127.0.0.1:{server.port}"], stdin=(
            "EHLO client.example\nMAIL FROM:<me@example.org>\nRCPT TO:<bob@remote.example>\n"
            "QUIT\nNOOP\n").encode())
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out + r.stderr.decode())
        self.assertNotIn("\x1b", out, "no colours into a pipe")
        self.assertIn("C: RCPT TO:<bob@remote.example>", out)       # piped lines are echoed
        self.assertIn("S: 554 5.7.1 <bob@remote.example>: Relay access denied", out)
        self.assertIn("Relaying refused", out)
        self.assertIn("This server does not receive mail for remote.example", flat(out))
        self.assertIn("open relay", flat(out))
        self.assertIn("[RFC 5321 3.6]", flat(out))
        self.assertIn("Typing after QUIT", out)
        self.assertEqual(server.maildir_files("alice"), [])

    def test_end_of_input_says_quit(self):
        server = self.start_server()
        r = run_tutor(["--config", server.config_path], stdin=b"EHLO client.example\n")
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out)
        self.assertIn(f"connecting to 127.0.0.1:{server.port}", out)   # the config's first listener
        self.assertIn("End of input: the tutor says QUIT for you.", out)
        self.assertIn("S: 221 2.0.0 Bye", out)

    def test_bare_lf_never_leaves_and_stdin_crlf_is_a_line_end(self):
        server = self.start_server()
        r = run_tutor([f"127.0.0.1:{server.port}"], stdin=(
            b"EHLO client.example\r\nMAIL FROM:<me@example.org>\r\nRCPT TO:<alice@example.test>\r\n"
            b"DATA\r\nSubject: x\r\n\r\nbody with a bare\rCR\r\n.\r\nQUIT\r\n"))
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("A bare CR, LF or NUL in the line", out)
        self.assertIn("S: 250 2.0.0 Ok: queued as", out)   # the rest went out as CRLF lines
        (path,) = server.wait_for_delivery("alice", 1)
        self.assertNotIn(b"bare", harness.read_file(path))

    def test_hostile_server_text_is_escaped(self):
        peer = self.start_peer(name="evil.example")
        peer.greeting = lambda s: "220 evil.example\x1b]0;owned\x07 ESMTP \u202e1.7.5 \x1b[2J"
        peer.mail = lambda s, line: "250 2.1.0 \x9b31m\u2028fine"
        term = self.terminal(f"127.0.0.1:{peer.port}", env_extra={"NO_COLOR": "1"})
        out = term.until_prompt()
        out += term.type("EHLO client.example")
        out += term.type("MAIL FROM:<me@example.org>")
        term.type_until_exit("QUIT")
        self.assertNotIn(b"\x1b", term.raw, "no escape sequence reaches the terminal")
        self.assertNotIn("\u202e".encode(), term.raw)
        self.assertNotIn("\u2028".encode(), term.raw)
        self.assertIn("S: 220 evil.example\\x1b]0;owned\\x07 ESMTP \\u202e1.7.5 \\x1b[2J", out)
        self.assertIn("S: 250 2.1.0 \\u009b31m\\u2028fine", out)

    def test_reply_timeout(self):
        peer = self.start_peer()
        peer.mail = lambda s, line: harness.STALL      # never answers MAIL
        started = time.monotonic()
        r = run_tutor(["--timeout", "1", f"127.0.0.1:{peer.port}"],
                      stdin=b"EHLO client.example\nMAIL FROM:<me@example.org>\n")
        out = r.stdout.decode()
        self.assertLess(time.monotonic() - started, 15)
        self.assertEqual(r.returncode, 1, out)
        self.assertIn("No reply", out)
        self.assertIn("no reply within 1 s", flat(out))

    def test_nothing_listening(self):
        port = harness.free_port()
        r = run_tutor([f"127.0.0.1:{port}"])
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"Could not connect to 127.0.0.1:{port}", r.stdout.decode())

    # -- --explain

    def golden(self, name):
        with open(os.path.join(GOLDEN, name + ".txt"), "rb") as f:
            transcript = f.read()
        r = run_tutor(["--explain"], stdin=transcript)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        expected_path = os.path.join(GOLDEN, name + ".expected")
        if os.environ.get("EHLO_UPDATE_GOLDEN"):
            with open(expected_path, "wb") as f:
                f.write(r.stdout)
        with open(expected_path, "rb") as f:
            self.assertEqual(r.stdout.decode(), f.read().decode())
        return r.stdout.decode()

    def test_explain_readme_first_dialog_golden(self):
        out = self.golden("tutor_readme_dialog")
        self.assertIn("$ ehlo trace 0SD3XM5K2W8G0001", out)

    def test_explain_mistakes_in_rfc_form_golden(self):
        out = self.golden("tutor_mistakes")
        for title in ("HELO without a domain", "RCPT before MAIL", "The address needs angle brackets",
                      "A space after the colon", "DATA before any accepted RCPT", "Relaying refused",
                      "The blank line between header and body is missing", "A line that starts with a dot",
                      "This is part of the message", "Typing after QUIT"):
            self.assertIn(title, out)

    @unittest.skipUnless(os.access(SWAKS, os.X_OK), "swaks is not installed")
    def test_explain_what_swaks_printed(self):
        server = self.start_server(relay={"trusted_networks": ["192.0.2.0/24"]})
        swaks = subprocess.run([SWAKS, "--server", "127.0.0.1", "--port", str(server.port),
                                "--helo", "client.test", "--from", harness.SENDER,
                                "--to", "bob@remote.example"], capture_output=True, timeout=60)
        transcript = swaks.stdout + swaks.stderr
        self.assertIn(b"Relay access denied", transcript)
        r = run_tutor(["--explain"], stdin=transcript)
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("S: 220 mx.test ESMTP ehlo", out)
        self.assertIn("C: EHLO client.test", out)
        self.assertIn("EHLO accepted: the server lists its extensions", out)
        self.assertIn("Relaying refused", out)
        self.assertIn("Goodbye", out)
        self.assertNotIn("This line is not an SMTP reply", out)


if __name__ == "__main__":
    unittest.main()
