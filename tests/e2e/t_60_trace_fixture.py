"""`ehlo trace` end to end on a history database that tests/fixtures/history_fixture fills
with known lives (delivered, deferred, bounced, held, a refused relay attempt): the command,
its configuration, its exit codes, and the same timelines as the formatter's golden files.

Needs EHLO_BIN and HISTORY_FIXTURE (ctest sets both)."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import unittest

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN = HERE.parent / "unit" / "observe" / "golden"
# The zone the golden files are written in (a POSIX rule: no tzdata needed).
ZONE = "CET-1CEST,M3.5.0,M10.5.0/3"


class TraceFixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ehlo = os.environ.get("EHLO_BIN")
        fixture = os.environ.get("HISTORY_FIXTURE")
        if not cls.ehlo or not fixture:
            raise unittest.SkipTest("EHLO_BIN and HISTORY_FIXTURE not set")
        cls.dir = tempfile.mkdtemp(prefix="ehlo-trace-")
        cls.db = os.path.join(cls.dir, "history.db")
        subprocess.run([fixture, cls.db], check=True, timeout=30)
        cls.config = os.path.join(cls.dir, "ehlo.toml")
        with open(cls.config, "w") as f:
            f.write(f'[history]\npath = "{cls.db}"\n')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def trace(self, *args, config=True):
        cmd = [self.ehlo, "trace", *args] + (["--config", self.config] if config else [])
        env = dict(os.environ, TZ=ZONE)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env, cwd=self.dir)

    def assert_golden(self, target, golden, first_line):
        r = self.trace(target)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.split("\n")
        # The first line says where the message is; a time on another day than today carries
        # its date, so this one differs from the golden file's, written "a minute later".
        self.assertEqual(lines[0], first_line)
        expected = (GOLDEN / golden).read_text().split("\n")
        self.assertEqual(lines[1:], [l.replace("next attempt 14:05", "next attempt 2024-05-01 14:05")
                                     for l in expected[1:]])

    def test_delivered(self):
        self.assert_golden("0SD3XM5K2W8G0001", "delivered.txt",
                           "0SD3XM5K2W8G0001  delivered to alice's mailbox "
                           "(var/mail/alice/new/1714564992.0SD3XM5K2W8G0001_0.mail.example.com)")

    def test_deferred_by_recipient_address(self):
        self.assert_golden("Bob@Example.NET", "deferred.txt",
                           "0SD3XM6A1B2C0002  deferred: mx1.example.net said 451 4.7.1 greylisted, "
                           "next attempt 2024-05-01 14:05")

    def test_bounced_by_message_id(self):
        self.assert_golden("<0SD3XM7D3E4F0003@example.org>", "bounced.txt",
                           "0SD3XM7D3E4F0003  bounced: mx1.example.net said 550 5.1.1 <carol@example.net>: "
                           "Recipient address rejected: User unknown (DSN 0SD3XM9PQ4R80004)")

    def test_held_with_its_transcript(self):
        self.assert_golden("0SD3XMAG5H6J0005", "held.txt",
                           "0SD3XMAG5H6J0005  held by an operator since 2024-05-01 14:03 (control socket)")

    def test_refused_relay_attempt_by_address(self):
        self.assert_golden("victim@elsewhere.example", "refused.txt",
                           "(no queue id, session S5)  refused: 554 5.7.1 <victim@elsewhere.example>: "
                           "Relay access denied (RCPT TO:<victim@elsewhere.example> from 203.0.113.99)")

    def test_sender_address_finds_each_of_its_messages(self):
        r = self.trace("me@example.org")
        self.assertEqual(r.returncode, 0, r.stderr)
        firsts = [l.split("  ")[0] for l in r.stdout.split("\n\n")]
        self.assertEqual(firsts, ["0SD3XM5K2W8G0001", "0SD3XM6A1B2C0002", "0SD3XM7D3E4F0003", "0SD3XM9PQ4R80004"])
        r = self.trace("me@example.org", "--limit", "1")
        self.assertTrue(r.stdout.startswith("0SD3XM9PQ4R80004  queued"), r.stdout)

    def test_json_is_the_same_as_data(self):
        r = self.trace("0SD3XM6A1B2C0002", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.isascii())
        doc = json.loads(r.stdout)
        [m] = doc["messages"]
        self.assertEqual(m["queue_id"], "0SD3XM6A1B2C0002")
        self.assertEqual(m["state"], "deferred")
        self.assertEqual(m["recipients"][0]["next_attempt"], "2024-05-01T14:05:00.345+02:00")
        self.assertEqual([e["kind"] for e in m["events"]],
                         ["connect", "helo", "mail", "rcpt", "queued", "routed", "attempt", "deferred"])
        attempt = m["events"][6]
        self.assertEqual(attempt["reply"], "250 2.1.0 Ok\n451 4.7.1 greylisted")
        self.assertEqual(attempt["duration_us"], 2100000)
        self.assertIsNone(m["transcript"])

    def test_since_leaves_out_older_lives(self):
        r = self.trace("me@example.org", "--since", "1h")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("nothing in the history matches me@example.org since ", r.stderr)
        r = self.trace("me@example.org", "--since", "2024-05-01T12:03:14Z")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("\n\n"), 2)  # deferred, bounced and its DSN

    def test_mistakes_have_exit_codes_and_a_message(self):
        r = self.trace("nobody-at-all@example.net")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nothing in the history matches", r.stderr)
        r = self.trace("x", "--since", "yesterday")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--since yesterday: not a time", r.stderr)
        r = self.trace("x", config=False)  # the embedded defaults: ./var/spool/history.db
        self.assertEqual(r.returncode, 1)
        self.assertIn("no history at ./var/spool/history.db", r.stderr)
        r = self.trace("\x1b[2Jevil")
        self.assertNotIn("\x1b", r.stderr)


if __name__ == "__main__":
    unittest.main()
