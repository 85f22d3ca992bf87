"""sendmail(1) and mailq as every Unix program expects them: `ehlo sendmail`, reached under the
names sendmail and mailq, driven by programs nobody here wrote (bsd-mailx's `mail`, a Python
script calling `sendmail -t -oi`, `git send-email`), each message found in the mailbox with the
right envelope; -F (the added From's name), -i (a lone dot is content), -bm (the default mode);
the maildrop while the daemon is down; -bs; exit codes from sysexits.h."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness

EX_USAGE, EX_DATAERR, EX_NOUSER = 64, 65, 67
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Sendmail(harness.E2ETest):

    def setUp(self):
        super().setUp()
        # remote.example goes to a port where nobody listens: its mail stays deferred.
        self.server = self.start_server(routes=harness.route_to(harness.free_port()))
        # The names programs call, installed by `make install` (its install-binary step) as
        # links to the one binary: DESTDIR/usr/sbin/sendmail and DESTDIR/usr/bin/mailq.
        self.root = tempfile.mkdtemp(prefix="ehlo-sendmail-root-")
        os.chmod(self.root, 0o755)
        self.addCleanup(shutil.rmtree, self.root, True)
        make = subprocess.run(["make", "-s", "-C", ROOT, "install-binary", f"DESTDIR={self.root}", "PREFIX=/usr",
                               f"BUILD_DIR={os.path.dirname(self.server.binary)}"],
                              capture_output=True, timeout=60)
        self.assertEqual(make.returncode, 0, make.stderr)
        self.sendmail = os.path.join(self.root, "usr", "sbin", "sendmail")
        self.mailq = os.path.join(self.root, "usr", "bin", "mailq")
        self.assertTrue(os.path.islink(self.sendmail) and os.path.islink(self.mailq))
        self.bin = self.root
        self.env = dict(os.environ, EHLO_CONFIG=self.server.config_path)

    def run_sendmail(self, *args, data=b"", preexec=None, name="sendmail"):
        program = self.mailq if name == "mailq" else self.sendmail
        return subprocess.run([program, *args], input=data, env=self.env,
                              capture_output=True, timeout=30, preexec_fn=preexec)

    def delivered(self, user, n=1):
        files = self.server.wait_for_delivery(user, n)
        with open(files[-1], "rb") as f:
            return f.read()

    def maildrop(self):
        return os.path.join(self.server.dir, "maildrop")

    def test_mail_s_of_bsd_mailx(self):
        mail = harness.require_tool("bsd-mailx")
        # bsd-mailx runs the program its `sendmail` variable names (mail(1)).
        rc = os.path.join(self.bin, "mailrc")
        with open(rc, "w") as f:
            f.write(f"set sendmail={self.sendmail}\n")
        r = subprocess.run([mail, "-s", "from mailx", "bob@example.test"], input=b"hello from mail(1)\n",
                           env=dict(self.env, MAILRC=rc, HOME=self.bin), capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        data = self.delivered("bob")
        self.assertIn(b"Subject: from mailx", data)
        self.assertIn(b"hello from mail(1)", data)
        me = pwd.getpwuid(os.getuid()).pw_name
        # The envelope sender is the caller at the configured host name (Return-Path).
        self.assertEqual(harness.return_path(data), f"{me}@mx.test")
        self.assertIn(f"(ehlo, from userid {os.getuid()})".encode(), data)
        # RFC 5322 3.6: what mail(1) left out is added.
        for field in (b"\nDate: ", b"\nMessage-ID: <", b"\nFrom: "):
            self.assertIn(field, data)

    def test_python_script_with_t_and_oi(self):
        script = (
            "import subprocess, sys\n"
            "msg = b'To: Alice <alice@example.test>\\nCc: bob@example.test\\nBcc: carol@example.test\\n"
            "Subject: report\\n\\nline one\\n.\\nline after a lone dot\\n'\n"
            "p = subprocess.run([sys.argv[1], '-t', '-oi', '-f', 'reports@example.test'], input=msg)\n"
            "sys.exit(p.returncode)\n")
        r = subprocess.run(["python3", "-c", script, self.sendmail], env=self.env, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        for user in ("alice", "bob", "carol"):
            data = self.delivered(user)
            self.assertEqual(harness.return_path(data), "reports@example.test")
            # -oi: the lone dot is content; -t: Bcc is nobody's to read (RFC 5322 3.6.3).
            self.assertIn(b"\n.\nline after a lone dot", data)
            self.assertNotIn(b"Bcc:", data)
            self.assertIn(b"From: reports@example.test", data)

    def header(self, data, name):
        """The values of every `name` field of a stored message's header."""
        prefix = name.lower().encode() + b":"
        return [h[len(prefix):].strip().decode() for h in harness.split_message(data)[0]
                if h.lower().startswith(prefix)]

    def test_F_names_the_added_from(self):
        me = pwd.getpwuid(os.getuid()).pw_name
        r = self.run_sendmail("-F", "Backup Robot", "alice@example.test", data=b"Subject: named\n\nbody\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        data = self.delivered("alice")
        # RFC 5322 3.4: the name as a display name before the sender's address.
        self.assertEqual(self.header(data, "From"), [f"Backup Robot <{me}@mx.test>"])
        self.assertEqual(harness.return_path(data), f"{me}@mx.test")
        # Attached to the flag, beside -f, and quoted where a phrase cannot hold it (RFC 5322 3.2.5).
        r = self.run_sendmail("-FNight, Ops", "-f", "ops@example.test", "bob@example.test",
                              data=b"Subject: quoted\n\nbody\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        data = self.delivered("bob")
        self.assertEqual(self.header(data, "From"), ['"Night, Ops" <ops@example.test>'])
        self.assertEqual(harness.return_path(data), "ops@example.test")
        # A message with its own From keeps it: -F only names the From that is added.
        r = self.run_sendmail("-F", "Backup Robot", "carol@example.test",
                              data=b"From: Carol's Script <script@example.test>\nSubject: own\n\nbody\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.header(self.delivered("carol"), "From"), ["Carol's Script <script@example.test>"])

    def test_i_alone_keeps_a_lone_dot(self):
        message = b"Subject: dots\n\nbefore\n.\nafter the dot\n"
        r = self.run_sendmail("-i", "alice@example.test", data=message)
        self.assertEqual(r.returncode, 0, r.stderr)
        data = self.delivered("alice")
        self.assertTrue(data.endswith(b"\n\nbefore\n.\nafter the dot\n"), data)
        # Without it the lone dot ends the message, as sendmail's has always done.
        r = self.run_sendmail("bob@example.test", data=message)
        self.assertEqual(r.returncode, 0, r.stderr)
        data = self.delivered("bob")
        self.assertTrue(data.endswith(b"\n\nbefore\n"), data)
        self.assertNotIn(b"after the dot", data)

    def test_bm_is_the_default_mode(self):
        me = pwd.getpwuid(os.getuid()).pw_name
        field_names = []
        for flags, user in ((["-bm"], "alice"), ([], "bob")):
            r = self.run_sendmail(*flags, f"{user}@example.test", data=b"Subject: mode\n\nread and sent\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            data = self.delivered(user)            # the envelope recipient's Maildir, once
            self.assertEqual(harness.return_path(data), f"{me}@mx.test")
            self.assertIn(f"(ehlo, from userid {os.getuid()})".encode(), data)
            self.assertEqual(self.header(data, "Subject"), ["mode"])
            self.assertTrue(data.endswith(b"\n\nread and sent\n"), data)
            field_names.append([h.split(b":", 1)[0] for h in harness.split_message(data)[0]])
        # the same fields were added either way
        self.assertEqual(field_names[0], field_names[1])
        self.server.assert_stays("alice", 1)
        self.server.assert_stays("bob", 1)
        self.assertEqual(self.server.maildir_files("carol"), [])

    def test_git_send_email(self):
        git = harness.require_tool("git")
        probe = subprocess.run([git, "send-email", "-h"], capture_output=True)
        if b"--dump-aliases" not in probe.stdout + probe.stderr:
            raise unittest.SkipTest("git send-email is not installed (Debian: git-email)")
        repo = tempfile.mkdtemp(prefix="ehlo-git-")
        self.addCleanup(shutil.rmtree, repo, True)
        env = dict(self.env, HOME=repo, GIT_AUTHOR_NAME="Dev One", GIT_AUTHOR_EMAIL="dev@example.test",
                   GIT_COMMITTER_NAME="Dev One", GIT_COMMITTER_EMAIL="dev@example.test",
                   # the folder may be another account's (the tests' folders are the daemon's)
                   GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="safe.directory", GIT_CONFIG_VALUE_0="*")
        def g(*args):
            out = subprocess.run([git, "-C", repo, *args], env=env, capture_output=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            return out.stdout
        g("init", "-q")
        with open(os.path.join(repo, "README"), "w") as f:
            f.write("a patch worth mailing\n")
        g("add", "README")
        g("commit", "-q", "-m", "Add a README")
        g("send-email", "--to=alice@example.test", f"--sendmail-cmd={self.sendmail}", "--confirm=never",
          "--no-validate", "--quiet", "--suppress-cc=all", "--envelope-sender=dev@example.test", "--from=Dev One <dev@example.test>", "-1")
        data = self.delivered("alice")
        self.assertIn(b"Subject: [PATCH] Add a README", data)
        self.assertIn(b"+a patch worth mailing", data)
        self.assertEqual(harness.return_path(data), "dev@example.test")

    def test_daemon_down_maildrop_then_start(self):
        self.server.stop()
        r = self.run_sendmail("-v", "alice@example.test", data=b"Subject: while down\n\nwaits\n")
        # Exit 0: the message is durable in the maildrop, though nobody took it yet.
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"waits in the maildrop", r.stderr)
        waiting = [n for n in os.listdir(self.maildrop()) if not n.startswith(".")]
        self.assertEqual(len(waiting), 1, waiting)
        self.server.start()
        data = self.delivered("alice")
        self.assertIn(b"Subject: while down", data)
        harness.wait_until(lambda: not os.listdir(self.maildrop()), 10, "the maildrop emptied")

    def test_a_file_already_queued_is_not_taken_twice(self):
        # As if the daemon stopped after queueing a maildrop file and before its removal was
        # durable: the file is back at the next start, and its message is in the spool.
        self.server.stop()
        r = self.run_sendmail("someone@remote.example", data=b"Subject: once\n\nonly once\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        (name,) = os.listdir(self.maildrop())
        kept = os.path.join(self.server.dir, "kept-" + name)
        shutil.copy2(os.path.join(self.maildrop(), name), kept)
        self.server.start()
        self.server.wait_log("pickup", file=name)
        self.assertEqual(len(self.server.queue_list()), 1)  # deferred: remote.example is down
        self.server.stop()
        shutil.copy2(kept, os.path.join(self.maildrop(), name))
        self.server.start()
        self.server.wait_log("maildrop-settled", file=name)
        self.assertEqual(os.listdir(self.maildrop()), [])
        self.assertEqual(len(self.server.queue_list()), 1)

    def test_bs_speaks_smtp_on_stdin(self):
        dialog = (b"EHLO client.test\r\nMAIL FROM:<ops@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
                  b"Subject: over -bs\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        r = self.run_sendmail("-bs", data=dialog)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertTrue(out.startswith("220 "), out)
        self.assertIn("250 2.0.0 Ok: queued as ", out)
        self.assertIn("221 ", out)
        data = self.delivered("bob")
        self.assertEqual(harness.return_path(data), "ops@example.test")

    def test_mailq_and_q(self):
        self.server.queue_ok("list")  # the daemon answers
        self.server.send("held-one", to=("someone@remote.example",))
        r = self.run_sendmail(name="mailq")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"someone@remote.example", r.stdout)
        r = self.run_sendmail("-bp")
        self.assertIn(b"someone@remote.example", r.stdout)
        r = self.run_sendmail("-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"scheduled now", r.stdout)

    def test_exit_codes_of_sysexits(self):
        self.assertEqual(self.run_sendmail(data=b"x\n").returncode, EX_USAGE)       # no recipient
        self.assertEqual(self.run_sendmail("-Z").returncode, EX_USAGE)              # unknown option
        self.assertEqual(self.run_sendmail("a@@b", data=b"x\n").returncode, EX_DATAERR)
        r = self.run_sendmail("nosuchuser@example.test", data=b"x\n")
        # A local recipient that does not exist: refused by the daemon's policy, and said.
        self.assertEqual(r.returncode, EX_NOUSER, r.stderr)
        self.assertIn(b"nosuchuser@example.test", r.stderr)
        self.assertEqual([n for n in os.listdir(self.maildrop())], [])

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run sendmail as another user")
    def test_another_user_submits_no_setuid(self):
        nobody = pwd.getpwnam("nobody")
        def as_nobody():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        # The binary has no set-uid or set-gid bit: the caller's own rights are all it uses.
        self.assertEqual(os.stat(self.server.binary).st_mode & 0o6000, 0)
        self.assertEqual(os.stat(self.maildrop()).st_mode & 0o7777, 0o1733)
        r = self.run_sendmail("alice@example.test", data=b"Subject: from nobody\n\nhi\n", preexec=as_nobody)
        self.assertEqual(r.returncode, 0, r.stderr)
        data = self.delivered("alice")
        self.assertIn(f"(ehlo, from userid {nobody.pw_uid})".encode(), data)
        self.assertEqual(harness.return_path(data), "nobody@mx.test")
        # Nobody else may list the maildrop.
        r = subprocess.run(["ls", self.maildrop()], capture_output=True, preexec_fn=as_nobody)
        self.assertNotEqual(r.returncode, 0)

    def test_a_maildrop_that_cannot_be_made_leaves_smtp_running(self):
        # /proc takes no folder: local submission is off, said so, and mail still flows.
        server = self.start_server(tables={"sendmail": {"maildrop": "/proc/ehlo-maildrop"}})
        server.wait_log("sendmail-unavailable")
        server.send("still-flows")
        server.wait_for_delivery("alice", 1)

    def test_damaged_file_kept_and_refused(self):
        name = "%016x.%d.%s" % (time.time_ns() // 1000, os.getpid(), "ab" * 16)
        path = os.path.join(self.maildrop(), name)
        with open(path, "wb") as f:
            f.write(b"not a maildrop file\n")
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(os.path.join(self.server.dir, "public", "pickup.sock"))
            s.sendall(f"pickup {name}\n".encode())
            answer = s.makefile("rb").readline()
        self.assertTrue(answer.startswith(b"error: not a maildrop file"), answer)
        # Damage is kept for a person, never deleted.
        self.assertTrue(os.path.exists(os.path.join(self.maildrop(), "bad." + name)))
        self.server.wait_log("maildrop-damaged", file=name)


if __name__ == "__main__":
    harness.main()
