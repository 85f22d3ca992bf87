#!/usr/bin/env python3
"""Least privilege (docs/security.md): started as root, ehlo binds a port below 1024, reads its
keys, hands its spool and Maildirs to [server] user and then runs as that user for good (no
root ids left, no supplementary groups but the control socket's, no capabilities). What it makes is 0600 (files) and 0700
(folders); the control socket is its owner's, or 0660 with a configured group. A missing user
or `user = "root"` stops the start before anything is made; a key the user could not read
again on reload is named in the log. Needs root; otherwise SKIPPED.
"""
import grp
import os
import pwd
import random
import socket
import stat
import subprocess
import unittest

import harness


def port_below_1024(host="127.0.0.1"):
    """A free port only root may bind."""
    for port in random.sample(range(600, 1000), 60):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise unittest.SkipTest("no free port below 1024 on loopback")


def proc_status(pid):
    """The fields of /proc/PID/status (Uid, Gid, Groups, CapEff...)."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return fields


class Privileges(harness.E2ETest):

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("dropping privileges needs a start as root")
        self.ehlo = pwd.getpwnam(harness.DAEMON_USER)

    def test_drops_to_its_user_after_binding_a_port_below_1024(self):
        mail_group = grp.getgrnam("mail")
        server = self.start_server(port=port_below_1024(), tables={"control": {"group": "mail"}})
        status = proc_status(server.pid)
        self.assertEqual(status["Uid"], [str(self.ehlo.pw_uid)] * 4, "real, effective, saved, fs uid")
        self.assertEqual(status["Gid"], [str(self.ehlo.pw_gid)] * 4, "real, effective, saved, fs gid")
        # the one supplementary group: the control socket's, which only a member may give it
        self.assertEqual(status["Groups"], [str(mail_group.gr_gid)], "supplementary groups")
        self.assertEqual(int(status["CapEff"][0], 16), 0, "capabilities kept")
        self.assertEqual(int(status["CapPrm"][0], 16), 0, "capabilities kept")
        server.wait_log("privileges", timeout=5, user=harness.DAEMON_USER, dropped="yes")

        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
            c.expect(250)
            c.expect(250)
            c.expect(354)
            c.send(harness.simple_message("owned") + b".\r\n")
            c.expect(250, "250 2.0.0 Ok: queued as")
            c.line("QUIT")
            c.expect(221)
        (path,) = server.wait_for_delivery("alice", 1)
        st = os.stat(path)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (self.ehlo.pw_uid, 0o600), path)

        # Everything in the spool (queue, history database, lock) is the user's, 0600 and 0700;
        # the control socket 0660 and of the configured group.
        socket_path = os.path.join(server.spool_path, "control.sock")
        seen = 0
        for root, dirs, files in os.walk(server.spool_path):
            for name in [root] + [os.path.join(root, f) for f in files]:
                st = os.lstat(name)
                seen += 1
                self.assertEqual(st.st_uid, self.ehlo.pw_uid, name)
                if name == socket_path:
                    self.assertTrue(stat.S_ISSOCK(st.st_mode))
                    self.assertEqual(stat.S_IMODE(st.st_mode), 0o660, name)
                    self.assertEqual(st.st_gid, mail_group.gr_gid, name)
                elif stat.S_ISDIR(st.st_mode):
                    self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, name)
                else:
                    self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, name)
        self.assertGreater(seen, 3, "the spool was empty")
        self.assertTrue(os.path.exists(socket_path))

    def test_links_in_its_folders_give_nothing_of_roots_away(self):
        # The spool is the daemon's to write: a link planted there (to a file of root's, say
        # /etc/shadow) must not make root give that file away at the next start.
        server = self.make_server()
        secret = os.path.join(server.dir, "root-secret")
        with open(secret, "w") as f:
            f.write("root's\n")
        os.chown(secret, 0, 0)
        elsewhere = os.path.join(server.dir, "root-folder")
        os.mkdir(elsewhere)
        os.chown(elsewhere, 0, 0)
        os.makedirs(os.path.join(server.spool_path, "queue"))
        os.symlink(secret, os.path.join(server.spool_path, "soft"))
        os.link(secret, os.path.join(server.spool_path, "queue", "hard"))
        os.symlink(elsewhere, os.path.join(server.spool_path, "folder"))
        server.start()
        for path in (secret, elsewhere):
            st = os.lstat(path)
            self.assertEqual((st.st_uid, st.st_gid), (0, 0), path)
        # the spool itself is the daemon's
        self.assertEqual(os.lstat(server.spool_path).st_uid, self.ehlo.pw_uid)

    def test_without_a_control_group_the_socket_is_the_owners_only(self):
        server = self.start_server()
        self.assertEqual(proc_status(server.pid)["Groups"], [], "supplementary groups kept")
        st = os.lstat(os.path.join(server.spool_path, "control.sock"))
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (self.ehlo.pw_uid, 0o600))

    def refused_start(self, server_table):
        server = self.make_server(port=port_below_1024(), server=server_table)
        r = subprocess.run([server.binary, "serve", "--config", server.config_path],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertFalse(os.path.exists(server.spool_path), "the spool was made before the refusal")
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.1", server.port)), 0, "something listens")
        return r.stderr.decode(errors="replace")

    def test_a_missing_user_stops_the_start_and_says_how_to_make_it(self):
        err = self.refused_start({"user": "no-such-ehlo-user"})
        self.assertIn('"no-such-ehlo-user"', err)
        self.assertIn("no such user", err)
        self.assertIn("useradd", err)

    def test_root_as_the_user_is_refused(self):
        err = self.refused_start({"user": "root"})
        self.assertIn("must not be root", err)

    def test_a_key_the_user_cannot_read_again_is_named(self):
        # Read as root at the start (so TLS works now), but a reload after the drop could not.
        chain, key = harness.make_certificate(self.make_server().dir, "mx")
        os.chown(key, 0, 0)
        os.chmod(key, 0o600)
        server = self.start_server(tables={"tls": {"certificates": [{"chain": chain, "key": key}]}})
        server.wait_log("unreadable-file", timeout=5, file=key)
        with server.connect() as c:
            c.expect(220)
            r = c.cmd("EHLO client.test")
            self.assertTrue(any(b"STARTTLS" in line for line in r.lines), r.text)


if __name__ == "__main__":
    harness.main()
