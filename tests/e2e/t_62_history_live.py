#!/usr/bin/env python3
"""The history a live server records, read back with `ehlo trace --json` (and the first line
of the text form, which says where the message is):

- a submission over STARTTLS with AUTH: the client's address (the server looks up no client
  names, so none is recorded), HELO, the TLS protocol and cipher the client saw, the AUTH
  user with its 235; MAIL and each RCPT with its reply (one accepted, one refused); the
  queue id and the size, which is the octets the Maildir holds;
- onward delivery by a [[route]] to a scripted peer over STARTTLS: the routing decision, the
  attempt (time, next hop, host and address, TLS, duration, the peer's reply verbatim with
  its "queued as"), the delivery with that reply;
- a 451 deferral with its next attempt (the retry comes no earlier), then a 550 bounce that
  names the DSN's queue id, which is the DSN actually queued and delivered to the sender;
- operator actions: flush (all, then by id), hold, release, delete, in the timeline in that
  order, each flush before the attempt it brought;
- transcripts: "all" keeps a clean session's dialog, "off" keeps none, and neither holds
  message content; by default ("errors") a clean session keeps none;
- a history that cannot be written (a folder the server may not write in, a file that is no
  database): mail is still accepted and delivered, and the log says so.
"""
import json
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import time

import harness
from harness import LOCAL_SENDER

PASSWORD = "correct horse battery"
SECRET = "secret body text"
PEER_QUEUED = "250 2.0.0 Ok: queued as PEER4711"
LATER = "451 4.7.1 not yet, try later"
NO_SUCH_USER = "550 5.1.1 no such user here"


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def kinds(message):
    return [e["kind"] for e in message["events"]]


def events(message, kind):
    return [e for e in message["events"] if e["kind"] == kind]


def maildir_octets(path):
    """The octets of a Maildir file as the spool held them: without the Return-Path line the
    delivery adds, with CRLF line ends (a Maildir has LF)."""
    data = harness.read_file(path)
    first, _, rest = data.partition(b"\n")
    assert first.startswith(b"Return-Path:"), first
    return len(rest.replace(b"\n", b"\r\n"))


class HistoryLive(harness.E2ETest):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ehlo-history-")
        self.addCleanup(lambda: shutil.rmtree(self.tmp, ignore_errors=True))

    # -- reading the history

    def trace(self, server, *args):
        return subprocess.run([server.binary, "trace", *args, "--config", server.config_path],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)

    def traced(self, server, what, until, timeout=20):
        """The one message `ehlo trace WHAT --json` gives, once `until(message)` holds."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.trace(server, what, "--json")
            messages = json.loads(r.stdout)["messages"] if r.returncode == 0 and r.stdout.strip() else []
            if len(messages) == 1 and until(messages[0]):
                return messages[0]
            self.assertLess(time.monotonic(), deadline, f"trace {what}: {r.returncode} {r.stdout} {r.stderr}")
            time.sleep(0.2)

    def first_line(self, server, qid):
        r = self.trace(server, qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.splitlines()[0]

    # -- servers and peers

    def submission_server(self):
        users = os.path.join(self.tmp, "users")
        r = subprocess.run([harness.ehlo_binary(), "user", "--file", users, "add", "alice@example.test"],
                           input=(PASSWORD + "\n").encode(), capture_output=True, timeout=60,
                           preexec_fn=harness.as_daemon_user)
        self.assertEqual(r.returncode, 0, r.stderr)
        chain, key = harness.make_certificate(self.tmp, "mx", cn="mx.test")
        return self.start_server(
            tables={"tls": {"certificates": [{"chain": chain, "key": key}]}, "auth": {"users_file": users}},
            listeners=[{"address": "127.0.0.1:{port:submission}", "kind": "submission"}])

    def tls_peer(self):
        """A scripted peer that offers STARTTLS with a self-signed certificate."""
        chain, key = harness.make_certificate(self.tmp, "peer", cn="peer.example")
        peer = self.make_peer()
        peer.keywords.append("STARTTLS")
        peer.starttls = lambda s: "220 2.0.0 Ready to start TLS"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain, key)
        peer.tls_context = ctx
        return peer.start()

    def send_clean(self, server, token):
        """A session with no refusal: EHLO, MAIL, RCPT, DATA, QUIT; the queue id."""
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.cmd("MAIL FROM:<sender@client.test>")
            c.cmd("RCPT TO:<alice@example.test>")
            c.cmd("DATA")
            c.send(harness.simple_message(token, body=SECRET + "\r\n") + b".\r\n")
            qid = harness.QUEUED.match(c.reply().last).group(1).decode()
            c.line("QUIT")
            c.expect(221)
        return qid

    # -- the tests

    def test_session_tls_auth(self):
        server = self.submission_server()
        s = smtplib.SMTP("127.0.0.1", server.ports["submission"], local_hostname="client.test", timeout=20)
        try:
            s.ehlo()
            s.starttls(context=client_context())
            cipher, protocol, _ = s.sock.cipher()
            s.ehlo()
            s.login("alice@example.test", PASSWORD)
            self.assertEqual(s.mail("alice@example.test")[0], 250)
            self.assertEqual(s.rcpt("bob@example.test")[0], 250)
            self.assertEqual(s.rcpt("nobody@example.test")[0], 550)
            code, text = s.data(harness.simple_message("submitted", to="bob@example.test",
                                                       body=SECRET + "\r\n"))
            self.assertEqual(code, 250, text)
            qid = harness.queue_id(b"250 " + text)
            s.quit()
        finally:
            s.close()
        (path,) = server.wait_for_delivery("bob", 1)
        m = self.traced(server, qid, lambda m: "session-end" in kinds(m) and m["state"] == "delivered")

        (connect,) = events(m, "connect")
        self.assertEqual(connect.get("remote_address"), "127.0.0.1", connect)
        # RFC 6303 4.2: the resolver names 127.0.0.1 itself, and its A confirms it
        self.assertEqual(connect.get("remote_host"), "localhost", connect)
        self.assertEqual([e.get("helo") for e in events(m, "helo")], ["client.test", "client.test"])
        (tls,) = events(m, "tls")
        self.assertTrue(tls.get("tls", "").startswith(f"{protocol} with cipher {cipher} ("), (tls, protocol, cipher))
        (auth,) = events(m, "auth")
        self.assertEqual(auth.get("auth_user"), "alice@example.test", auth)
        self.assertTrue(auth.get("reply", "").startswith("235 2.7.0"), auth)  # RFC 4954 6
        k = kinds(m)
        self.assertLess(k.index("connect"), k.index("helo"))
        self.assertLess(k.index("tls"), k.index("auth"))
        self.assertLess(k.index("auth"), k.index("mail"))

        (mail,) = events(m, "mail")
        self.assertEqual(mail.get("sender"), "alice@example.test")
        self.assertTrue(mail.get("reply", "").startswith("250 2.1.0"), mail)
        self.assertEqual([(e.get("recipient"), e.get("reply", "")[:9]) for e in events(m, "rcpt")],
                         [("bob@example.test", "250 2.1.5"), ("nobody@example.test", "550 5.1.1")])
        (queued,) = events(m, "queued")
        self.assertEqual(queued.get("queue_id"), qid)
        self.assertEqual(queued.get("reply"), "250 " + text.decode())
        self.assertEqual(m["size"], maildir_octets(path))
        self.assertEqual(queued.get("size"), m["size"])
        self.assertEqual([r["address"] for r in m["recipients"]], ["bob@example.test"])
        # the session had a refusal: its transcript is kept (default "errors"), without the
        # credentials or the content
        self.assertIn("C: rcpt TO:<nobody@example.test>", m["transcript"])  # as smtplib writes it
        self.assertIn("[credentials not kept]", m["transcript"])
        self.assertNotIn(SECRET, m["transcript"])
        self.assertNotIn(PASSWORD, json.dumps(m))

    def test_remote_delivery(self):
        peer = self.tls_peer()
        peer.data_end = lambda s, message: PEER_QUEUED
        server = self.start_sender(routes=harness.route_to(peer.port))
        before_us = time.time() * 1e6
        qid = server.send("routed", to=("bob@remote.example",), sender=LOCAL_SENDER)
        m = self.traced(server, qid, lambda m: m["state"] == "delivered")
        hop = f"route 127.0.0.1:{peer.port}"

        (routed,) = events(m, "routed")
        self.assertEqual((routed.get("recipient"), routed.get("next_hop")), ("bob@remote.example", hop))
        (attempt,) = events(m, "attempt")
        self.assertEqual(attempt.get("next_hop"), hop, attempt)
        self.assertEqual((attempt.get("remote_host"), attempt.get("remote_address")), ("127.0.0.1", "127.0.0.1"))
        (session,) = [s for s in peer.sessions if s.tls]
        self.assertRegex(attempt.get("tls", ""), rf"^{re.escape(session.tls)} with cipher \S+ \(\d+/\d+ bits\), "
                                                 r"not verified$")  # RFC 3207: encrypted, self-signed
        self.assertGreater(attempt["duration_us"], 0)
        self.assertLessEqual(attempt["duration_us"], time.time() * 1e6 - before_us)
        self.assertGreaterEqual(attempt["time_us"], routed["time_us"])
        self.assertEqual(attempt.get("reply"), PEER_QUEUED)
        (delivered,) = events(m, "delivered")
        self.assertEqual(delivered.get("reply"), PEER_QUEUED)
        self.assertIn("127.0.0.1", delivered.get("remote_host", ""))
        self.assertEqual(m["recipients"][0]["reply"], PEER_QUEUED)
        self.assertLess(kinds(m).index("routed"), kinds(m).index("attempt"))
        self.assertEqual(self.first_line(server, qid),
                         f"{qid}  delivered to 127.0.0.1 [127.0.0.1]: {PEER_QUEUED}")

    def test_deferral_then_bounce(self):
        peer = self.start_peer()
        asked = []  # by RCPT, not by connection: a connection may carry the retry too

        def rcpt(session, addr, line):
            asked.append(addr)
            return LATER if len(asked) == 1 else NO_SUCH_USER
        peer.rcpt = rcpt
        server = self.start_sender(routes=harness.route_to(peer.port))
        qid = server.send("bounced", to=("bob@remote.example",), sender=LOCAL_SENDER)
        m = self.traced(server, qid, lambda m: m["state"] == "bounced")

        (deferred,) = events(m, "deferred")
        self.assertEqual(deferred.get("reply"), LATER)
        self.assertGreater(deferred["next_attempt_us"], deferred["time_us"])
        first, second = events(m, "attempt")
        self.assertEqual((first.get("reply"), second.get("reply")), (LATER, NO_SUCH_USER))
        # RFC 5321 4.5.4.1: the retry is not made before the time the deferral gave
        self.assertGreaterEqual(second["time_us"], deferred["next_attempt_us"])
        (bounced,) = events(m, "bounced")
        self.assertEqual(bounced.get("reply"), NO_SUCH_USER)
        dsn_id = bounced.get("dsn_id", "")
        self.assertRegex(dsn_id, r"^[0-9A-Za-z]+$")
        self.assertNotEqual(dsn_id, qid)
        self.assertEqual(m["recipients"][0]["dsn_id"], dsn_id)
        server.wait_log("bounced", id=qid, dsn_id=dsn_id)
        self.assertEqual(self.first_line(server, qid),
                         f"{qid}  bounced: 127.0.0.1 [127.0.0.1] said {NO_SUCH_USER} (DSN {dsn_id})")

        # the DSN of that id is the one queued and delivered to the sender (RFC 3464)
        dsn = self.traced(server, dsn_id, lambda m: m["state"] == "delivered")
        self.assertEqual(dsn["queue_id"], dsn_id)
        self.assertEqual(dsn["sender"], "")  # RFC 5321 4.5.5: from the null reverse-path
        self.assertEqual([r["address"] for r in dsn["recipients"]], [LOCAL_SENDER])
        mailbox = dsn["recipients"][0]["mailbox"]
        self.assertIn(dsn_id, os.path.basename(mailbox))
        (path,) = server.wait_for_delivery("alice", 1)
        self.assertEqual(os.path.basename(path), os.path.basename(mailbox))
        _, _, groups = harness.parse_dsn(harness.read_file(path))
        self.assertEqual(harness.dsn_recipient(groups, "bob@remote.example").get("action"), "failed")

    def test_operator_actions(self):
        peer = self.start_peer()
        peer.rcpt = lambda s, addr, line: LATER
        server = self.start_sender(routes=harness.route_to(peer.port),
                                   delivery={"retry_min": 60, "retry_max": 60})
        qid = server.send("operated", to=("bob@remote.example",), sender=LOCAL_SENDER)
        self.traced(server, qid, lambda m: m["state"] == "deferred")
        # retried only when flushed (retry_min 60): once with all, once by its id
        server.queue_ok("flush")
        self.traced(server, qid, lambda m: len(events(m, "attempt")) == 2 and len(events(m, "deferred")) == 2)
        server.queue_ok("flush", qid)
        self.traced(server, qid, lambda m: len(events(m, "attempt")) == 3 and len(events(m, "deferred")) == 3)
        server.queue_ok("hold", qid)
        self.assertTrue(self.traced(server, qid, lambda m: "held" in kinds(m))["held"])
        server.queue_ok("release", qid)
        server.queue_ok("delete", qid)
        m = self.traced(server, qid, lambda m: "deleted" in kinds(m))
        actions = [(e["kind"], e.get("detail")) for e in m["events"]
                   if e["kind"] in ("flushed", "held", "released", "deleted")]
        self.assertEqual(actions, [("flushed", "queue control"), ("flushed", "queue control"),
                                   ("held", "queue control"), ("released", "queue control"),
                                   ("deleted", "queue control")])
        k = kinds(m)
        attempts = [i for i, x in enumerate(k) if x == "attempt"]
        flushes = [i for i, x in enumerate(k) if x == "flushed"]
        self.assertTrue(attempts[0] < flushes[0] < attempts[1] < flushes[1] < attempts[2], k)
        self.assertTrue(m["deleted"])
        self.assertRegex(self.first_line(server, qid), rf"^{qid}  deleted by an operator at \d\d:\d\d \(queue control\)$")

    def test_transcripts_all(self):
        server = self.start_server(tables={"history": {"transcripts": "all"}})
        qid = self.send_clean(server, "kept-all")
        m = self.traced(server, qid, lambda m: m["transcript"] is not None)
        t = m["transcript"]
        for line in ("C: EHLO client.test", "C: MAIL FROM:<sender@client.test>", "C: RCPT TO:<alice@example.test>",
                     "C: DATA", f"S: 250 2.0.0 Ok: queued as {qid}", "C: QUIT"):
            self.assertIn(line, t)
        self.assertNotIn(SECRET, t)
        self.assertNotIn("Subject:", t)

    def test_transcripts_off(self):
        server = self.start_server(tables={"history": {"transcripts": "off"}})
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.cmd("MAIL FROM:<sender@client.test>")
            c.cmd("RCPT TO:<alice@example.test>")
            c.line("RCPT TO:<nobody@example.test>")
            c.expect(550)  # a refusal: "errors" would keep this session's dialog
            c.cmd("DATA")
            c.send(harness.simple_message("kept-none", body=SECRET + "\r\n") + b".\r\n")
            qid = harness.QUEUED.match(c.reply().last).group(1).decode()
            c.line("QUIT")
            c.expect(221)
        m = self.traced(server, qid, lambda m: "session-end" in kinds(m))
        self.assertIsNone(m["transcript"])
        self.assertIn("550 5.1.1", json.dumps(events(m, "rcpt")))  # the decisions are still there

    def test_transcripts_default(self):
        server = self.start_server()
        qid = self.send_clean(server, "clean-default")
        m = self.traced(server, qid, lambda m: "session-end" in kinds(m))
        self.assertIsNone(m["transcript"])  # "errors": a session without any 4xx or 5xx

    def test_unwritable_folder(self):
        locked = os.path.join(self.tmp, "locked")
        os.mkdir(locked)
        os.chmod(locked, 0o555)  # not the server's to write in, whoever it runs as
        path = os.path.join(locked, "history.db")
        server = self.start_server(tables={"history": {"path": path}})
        qid = server.send("unrecorded")
        server.wait_for_delivery("alice", 1)
        server.wait_log("history-unavailable", path=path)
        dropped = server.wait_log("history-dropped")
        self.assertGreater(int(dropped[0]["write_failed"]), 0, dropped)
        self.assertFalse(os.path.exists(path))
        server.wait_log("delivered", id=qid)

    def test_not_a_database(self):
        folder = os.path.join(self.tmp, "history")
        os.mkdir(folder)
        path = os.path.join(folder, "history.db")
        with open(path, "wb") as f:
            f.write(b"this file is no SQLite database\n" * 256)
        harness.give_to_daemon(folder)
        harness.give_to_daemon(path)
        server = self.start_server(tables={"history": {"path": path}})
        qid = server.send("unrecorded")
        server.wait_for_delivery("alice", 1)
        unavailable = server.wait_log("history-unavailable", path=path)
        self.assertIn("not a database", unavailable[0].get("error", ""))
        server.wait_log("history-dropped")
        server.wait_log("delivered", id=qid)
        r = self.trace(server, qid)
        self.assertNotEqual(r.returncode, 0, r.stdout)  # nothing to read back, and it says so


if __name__ == "__main__":
    harness.main()
