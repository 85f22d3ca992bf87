#!/usr/bin/env python3
"""EIO from the disk costs no acknowledged mail and delivers nothing twice.

An LD_PRELOAD shim (tests/fault/eio_shim.c; ctest passes its path in EIO_SHIM) makes write,
pwrite, fdatasync, fsync or syncfs fail with EIO for files under a directory while a control
file says so. RFC 5321 4.1.1.4 / 6.1: 250 only for what is durable: when the spool cannot
make a message durable the client gets 451 and nothing is acknowledged; once the fault clears
ehlo accepts again. A Maildir delivery that fails stays queued (deferred) and is delivered
exactly once after the fault, also when the mail reader moved a first copy to cur/ meanwhile.
"""
import os
import shutil
import tempfile
import unittest

import harness


def shim_path():
    path = os.environ.get("EIO_SHIM", "")
    if not path or not os.path.exists(path):
        raise unittest.SkipTest("EIO_SHIM does not name the built fault shim")
    return path


class DiskFaults(harness.E2ETest):

    def faulty_server(self, sync="syncfs", extra_env=None, **kwargs):
        """A started server under the shim, and a function that sets the faults:
        fault("OPS", PATH) fails OPS (comma-separated) under PATH; fault() clears them."""
        control_dir = tempfile.mkdtemp(prefix="ehlo-fault-")
        self.addCleanup(shutil.rmtree, control_dir, True)
        control = os.path.join(control_dir, "faults")
        env = {"LD_PRELOAD": shim_path(), "EHLO_FAULT_FILE": control}
        env.update(extra_env or {})
        server = self.make_server(spool={"sync": sync}, env=env, **kwargs).start()

        def fault(ops=None, path=None):
            tmp = control + ".new"
            with open(tmp, "w") as f:
                if ops:
                    f.write(f"{ops} {path}\n")
            os.replace(tmp, control)
        return server, fault

    def spool_eio(self, sync, ops):
        server, fault = self.faulty_server(sync=sync)
        server.send("before")
        server.wait_for_delivery("alice", 1)
        server.wait_spool_empty()                          # its last record written, file gone
        fault(ops, os.path.join(server.spool_path, "queue"))
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            for n in range(3):
                c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
                c.expect(250)
                c.expect(250)
                c.expect(354)
                c.send(harness.simple_message(f"faulted-{n}") + b".\r\n")
                r = c.reply()
                self.assertEqual(r.last, b"451 4.3.0 Could not store message, try again later",
                                 f"{sync}/{ops}: {r.text!r}")
            self.assertEqual(c.cmd("NOOP").code, 250)     # the session goes on
        self.assertTrue(server.alive())
        self.assertEqual(server.spool_files(), [], "a refused message left a file behind")
        server.wait_log("queue-error", n=3, timeout=5)     # the log is written by its own thread

        fault()                                            # the disk recovers
        server.send("after")
        server.wait_for_delivery("alice", 2)
        stored = b"\n".join(server.read_maildir("alice"))
        server.assert_stays("alice", 2, seconds=0.5)
        self.assertNotIn(b"faulted-", stored)              # 451 means not ours: never delivered
        server.wait_spool_empty()

    # RFC 5321 6.1: a failed write or sync of the spool is a 451, never a 250
    def test_spool_write_eio_gets_451(self):
        self.spool_eio("syncfs", "write,pwrite")

    def test_spool_syncfs_eio_gets_451(self):
        self.spool_eio("syncfs", "syncfs")

    def test_spool_fdatasync_eio_gets_451(self):
        self.spool_eio("fsync", "fdatasync")

    def test_spool_directory_fsync_eio_gets_451(self):
        self.spool_eio("fsync", "fsync")

    def wait_deferred(self, server, qid):
        def deferred():
            entry = server.queue_list().get(qid)
            return entry and entry.recipients and entry.recipients[0]["status"] == "deferred" \
                and entry.recipients[0]["attempts"] >= 1 and entry
        return harness.wait_until(deferred, 10, f"{qid} deferred after the failed delivery")

    def test_maildir_write_eio_stays_queued_then_delivered_once(self):
        server, fault = self.faulty_server(sync="syncfs")
        fault("all", server.maildir("alice"))
        qid = server.send("maildir-eio")
        self.wait_deferred(server, qid)
        self.assertEqual(server.maildir_files("alice"), [])
        self.assertEqual(server.spool_files(), [qid])
        fault()
        server.queue_ok("flush")
        (path,) = server.wait_for_delivery("alice", 1)
        server.wait_spool_empty()
        server.assert_stays("alice", 1, seconds=0.5)
        self.assertEqual(harness.received_fields(harness.read_file(path))[0], qid)

    def test_maildir_syncfs_eio_stays_queued_then_delivered_once(self):
        server, fault = self.faulty_server(sync="syncfs")
        fault("syncfs", server.maildir("alice"))
        qid = server.send("maildir-syncfs-eio")
        self.wait_deferred(server, qid)
        self.assertEqual(server.maildir_files("alice"), [])
        fault()
        server.queue_ok("flush")
        server.wait_for_delivery("alice", 1)
        server.wait_spool_empty()
        server.assert_stays("alice", 1, seconds=0.5)

    def test_maildir_retry_finds_copy_moved_to_cur(self):
        # The fsync of new/ after the rename fails: the file is in new/ but the recipient is
        # deferred. The mail reader moves it to cur/ (as it may: the name is there); the retry
        # must find it there and not deliver a second copy. (Here the retry comes from disk;
        # tests/unit/queue/queue_test.cpp has one from memory.)
        server, fault = self.faulty_server(sync="fsync")
        new_dir = os.path.join(server.maildir("alice"), "new")
        fault("fsync", new_dir)
        qid = server.send("moved-to-cur")
        self.wait_deferred(server, qid)
        (first,) = os.listdir(new_dir)
        cur = os.path.join(server.maildir("alice"), "cur", first + ":2,S")
        os.rename(os.path.join(new_dir, first), cur)       # read by the user
        fault()
        server.queue_ok("flush")
        server.wait_spool_empty()
        files = server.assert_stays("alice", 1, seconds=0.5)
        self.assertEqual(files, [cur], "delivered a second time")
        delivered = server.wait_log("delivered", id=qid)
        self.assertEqual(len(delivered), 1)

    def test_old_kernel_falls_back_from_syncfs_to_fsync(self):
        # syncfs(2) reports write-back errors only since Linux 5.8
        server, fault = self.faulty_server(sync="syncfs",
                                           extra_env={"EHLO_FAKE_KERNEL_RELEASE": "5.7.0-1-amd64"})
        (line,) = server.wait_log("sync-fallback", timeout=5)
        self.assertEqual(line.get("kernel"), "5.7.0-1-amd64")
        self.assertEqual(line.get("using"), "fsync")
        self.assertIn("WARN", " ".join(l for l in server.log_lines() if "sync-fallback" in l).upper())
        # it really syncs each file now: a failing fdatasync (unused by syncfs mode) fails commits
        fault("fdatasync", os.path.join(server.spool_path, "queue"))
        with server.smtp() as s:
            s.ehlo()
            s.mail(harness.SENDER)
            s.rcpt("alice@example.test")
            code, _ = s.data(harness.simple_message("old-kernel"))
        self.assertEqual(code, 451)
        fault()
        server.send("old-kernel-ok")
        server.wait_for_delivery("alice", 1)

    def test_new_kernel_keeps_syncfs(self):
        server, _ = self.faulty_server(sync="syncfs", extra_env={"EHLO_FAKE_KERNEL_RELEASE": "5.8.0"})
        server.send("new-kernel")
        server.wait_for_delivery("alice", 1)
        server.wait_log("delivered", timeout=5)            # the log is written up to here
        self.assertEqual(server.log_events("sync-fallback"), [])


if __name__ == "__main__":
    harness.main()
