#!/usr/bin/env python3
"""The configuration file and the command line: mistakes are found before serving.

`ehlo check-config FILE` exits 0 on a good file; on a bad one it prints
"FILE:LINE:COLUMN: message" to stderr and exits 1. `ehlo serve` on the same bad file refuses
to start with the same message. A misspelt key is an error, not silently ignored. A running
server stops cleanly on SIGTERM or SIGINT with exit status 0.
"""
import os
import re
import signal
import subprocess

import harness


class Config(harness.E2ETest):

    def setUp(self):
        super().setUp()
        # a server object only for its folder and its good configuration; not started
        self.srv = harness.Server("config")
        self.addCleanup(self.srv.close)
        with open(self.srv.config_path) as f:
            self.good = f.read()

    def ehlo(self, *args, timeout=20):
        return subprocess.run([self.srv.binary, *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def bad_file(self, name, text, marker):
        """Write TEXT to NAME; the 1-based line number of the line containing MARKER."""
        path = os.path.join(self.srv.dir, name)
        with open(path, "w") as f:
            f.write(text)
        line = next(i for i, l in enumerate(text.splitlines(), 1) if marker in l)
        return path, line

    def assert_refused(self, path, line):
        check = self.ehlo("check-config", path)
        self.assertEqual(check.returncode, 1, check.stderr)
        m = re.search(rf"^{re.escape(path)}:{line}:\d+: .+$", check.stderr, re.M)
        self.assertTrue(m, f"expected {path}:{line}:COLUMN: ..., got {check.stderr!r}")
        message = m.group(0)

        serve = self.ehlo("serve", "--config", path)
        self.assertNotEqual(serve.returncode, 0, "serve started with a bad configuration")
        self.assertIn(message, serve.stderr.splitlines())

    def test_check_config_accepts_a_good_file(self):
        r = self.ehlo("check-config", self.srv.config_path)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_misspelt_key_is_reported_with_its_line(self):
        text = self.good.replace("recipients = 1000", "recipents = 1000")
        path, line = self.bad_file("typo.toml", text, "recipents")
        self.assertGreater(line, 1)
        self.assert_refused(path, line)

    def test_value_of_the_wrong_type_is_reported_with_its_line(self):
        text = self.good.replace("threads = 2", 'threads = "two"')
        path, line = self.bad_file("type.toml", text, '"two"')
        self.assert_refused(path, line)

    def test_toml_syntax_error_is_reported_with_its_line(self):
        text = self.good.replace('hostname = "mx.test"', 'hostname = "mx.test')
        path, line = self.bad_file("syntax.toml", text, 'hostname = "mx.test')
        self.assert_refused(path, line)

    def test_sigint_stops_cleanly_with_exit_0(self):
        self.srv.start()
        self.srv.send("before-sigint")
        self.srv.wait_for_delivery("alice", 1)
        self.assertEqual(self.srv.stop(signal.SIGINT), 0)


if __name__ == "__main__":
    harness.main()
