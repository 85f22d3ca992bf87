"""Message authentication at reception, against a real DNS server on loopback (unbound with the
test's zone, dns_server.py) and mail signed by a signer nobody here wrote (dkimpy, Debian's
python3-dkim): SPF at MAIL (RFC 7208), DKIM while the content streams (RFC 6376), DMARC at the
end of DATA (RFC 7489), one Authentication-Results field of ours on top (RFC 8601), forged ones
removed (RFC 8601 5), p=reject refused with 550 5.7.1, p=quarantine delivered marked, and the
verdicts in the message's history (`ehlo trace`).

Mail comes from 127.0.0.1 (allowed by the sender domain's SPF record) or 127.0.0.2 (not), and
the server trusts neither: both are "outside".
"""
import datetime
import json
import os
import xml.etree.ElementTree as ET
import re
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import dns_server
import harness

DKIMSIGN = "/usr/bin/dkimsign"  # dkimpy's signer (Debian's python3-dkim)

DOMAIN = "auth.example"      # SPF ip4:127.0.0.1, DKIM key "sel", DMARC p=reject
QUARANTINED = "quar.example"  # SPF -all, DMARC p=quarantine
AUTHSERV = "mx.test"


def run(*args):
    return subprocess.run([harness.ehlo_binary(), *args], capture_output=True, timeout=60)


def headers_of(message: bytes):
    """The header fields of a delivered message (a Maildir file: LF line ends) as (name, value)
    pairs, in order, unfolded, without the Return-Path that delivery puts on top."""
    head = message.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
    fields = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
        elif ":" in line:
            name, value = line.split(":", 1)
            fields.append((name, value.strip()))
    return fields[1:] if fields and fields[0][0] == "Return-Path" else fields


def message(sender, subject, extra=b"", body=b"Hello there.\r\n"):
    return (b"From: Someone <" + sender.encode() + b">\r\n"
            b"To: alice@example.test\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n"
            b"Message-ID: <" + subject.replace(" ", "-").encode() + b"@auth.example>\r\n" + extra +
            b"\r\n" + body)


@unittest.skipUnless(os.access(DKIMSIGN, os.X_OK), "dkimsign (python3-dkim) is not installed")
class MsgauthReception(harness.E2ETest):

    @classmethod
    def setUpClass(cls):
        if not os.access(dns_server.UNBOUND, os.X_OK):
            raise unittest.SkipTest("unbound is not installed")
        cls.dir = tempfile.TemporaryDirectory(prefix="ehlo-msgauth-rx-")
        cls.key = os.path.join(cls.dir.name, "sel.pem")
        r = run("dkim", "keygen", DOMAIN, "sel", "--out", cls.key)
        assert r.returncode == 0, r.stderr
        record = dns_server.key_record(r.stdout.decode())
        cls.dns = dns_server.DnsServer([
            record,
            f'{DOMAIN}. TXT "v=spf1 ip4:127.0.0.1 -all"',
            f'_dmarc.{DOMAIN}. TXT "v=DMARC1; p=reject"',
            f'{QUARANTINED}. TXT "v=spf1 -all"',
            f'_dmarc.{QUARANTINED}. TXT "v=DMARC1; p=quarantine"',
        ]).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        cls.dir.cleanup()

    def verifying_server(self, **msgauth):
        return self.start_server(relay={"trusted_networks": []},
                                 tables={"msgauth": dict({"verify": True}, **msgauth),
                                         "dns": {"forwarders": [self.dns.forwarder], "timeout": 5}})

    def signed(self, subject, bcanon="relaxed", **kwargs):
        """The message as dkimpy signs it (its own choice of fields; LF line ends in, CRLF out)."""
        raw = message(f"alice@{DOMAIN}", subject, **kwargs)
        r = subprocess.run([DKIMSIGN, "--bcanon", bcanon, "sel", DOMAIN, self.key], input=raw.replace(b"\r\n", b"\n"),
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def deliver(self, server, raw, sender, source="127.0.0.1"):
        with server.smtp(source=source) as s:
            s.ehlo()
            self.assertEqual(s.mail(sender)[0], 250)
            self.assertEqual(s.rcpt("alice@example.test")[0], 250)
            return s.data(raw)

    def delivered(self, server, n=1):
        server.wait_for_delivery("alice", n)
        return server.read_maildir("alice")

    def ours(self, fields):
        return [v for n, v in fields if n.lower() == "authentication-results" and v.split(";")[0].strip() == AUTHSERV]

    # RFC 8601 2, 4: one field with our authserv-id, above the Received field we add.
    def test_signed_aligned_message_passes_spf_dkim_dmarc(self):
        server = self.verifying_server()
        code, text = self.deliver(server, self.signed("signed one"), f"alice@{DOMAIN}")
        self.assertEqual(code, 250, text)
        (msg,) = self.delivered(server)
        fields = headers_of(msg)
        self.assertEqual(fields[0][0], "Authentication-Results", fields[:3])
        self.assertEqual(fields[1][0], "Received")
        (ar,) = self.ours(fields)
        self.assertIn(f"spf=pass smtp.mailfrom=alice@{DOMAIN}", ar)
        self.assertIn(f"dkim=pass", ar)
        self.assertIn(f"header.d={DOMAIN}", ar)
        self.assertIn(f"dmarc=pass", ar)
        self.assertIn(f"header.from={DOMAIN}", ar)

    # RFC 8601 5: a field claiming our authserv-id from outside is removed; others stay.
    def test_forged_authentication_results_are_removed(self):
        server = self.verifying_server()
        forged = (b"Authentication-Results: " + AUTHSERV.encode() + b"; dkim=pass header.d=bank.example\r\n"
                  b"Authentication-Results: elsewhere.example; spf=pass\r\n"
                  b"authentication-results:  (comment) " + AUTHSERV.upper().encode() + b";\r\n\tdmarc=pass\r\n")
        code, text = self.deliver(server, self.signed("forged results", extra=forged), f"alice@{DOMAIN}")
        self.assertEqual(code, 250, text)
        (msg,) = self.delivered(server)
        fields = headers_of(msg)
        ours = self.ours(fields)
        self.assertEqual(len(ours), 1, fields)
        # Ours on top and the one of elsewhere.example: the three that claimed mx.test are gone.
        self.assertEqual(len([n for n, _ in fields if n.lower() == "authentication-results"]), 2, fields)
        self.assertNotIn("bank.example", msg.decode("utf-8", "replace"))
        self.assertIn(("Authentication-Results", "elsewhere.example; spf=pass"), fields)
        self.assertIn("dkim=pass", ours[0])  # the removed fields were not signed (h=)

    # RFC 7489 6.6.2, 6.7: SPF fails (127.0.0.2 is not allowed), no DKIM: p=reject refuses.
    def test_spoofed_from_is_refused_under_p_reject(self):
        server = self.verifying_server()
        code, text = self.deliver(server, message(f"ceo@{DOMAIN}", "spoofed"), f"ceo@{DOMAIN}", source="127.0.0.2")
        self.assertEqual(code, 550, text)
        self.assertIn(b"5.7.1", text)
        self.assertIn(b"DMARC", text)
        server.wait_log_where("msgauth", lambda f: f.get("result", "").startswith("550"))
        time.sleep(0.5)
        self.assertEqual(server.maildir_files("alice"), [])

    # RFC 7489 6.6.1: a From whose author domain cannot be told is refused, not passed unchecked.
    def test_from_with_two_author_domains_is_refused(self):
        server = self.verifying_server()
        raw = self.signed("two authors").replace(f"From: Someone <alice@{DOMAIN}>".encode(),
                                                 f"From: Someone <alice@{DOMAIN}>, <boss@bank.example>".encode())
        code, text = self.deliver(server, raw, f"alice@{DOMAIN}")
        self.assertEqual(code, 550, text)
        self.assertIn(b"one author domain", text)

    # Under p=quarantine the message is delivered, marked.
    def test_quarantine_policy_delivers_marked(self):
        server = self.verifying_server()
        code, text = self.deliver(server, message(f"news@{QUARANTINED}", "quarantined"), f"news@{QUARANTINED}")
        self.assertEqual(code, 250, text)
        (msg,) = self.delivered(server)
        fields = headers_of(msg)
        (ar,) = self.ours(fields)
        self.assertIn("spf=fail", ar)
        self.assertIn("dmarc=fail", ar)
        self.assertIn("dis=quarantine", ar)
        self.assertIn(("X-Ehlo-Quarantine", f"DMARC policy of {QUARANTINED} (p=quarantine)"), fields)

    # dmarc_reject = "none": the operator only records what the domain asks to refuse.
    def test_operator_may_only_mark_instead_of_rejecting(self):
        server = self.verifying_server(dmarc_reject="none")
        code, text = self.deliver(server, message(f"ceo@{DOMAIN}", "spoofed, kept"), f"ceo@{DOMAIN}", source="127.0.0.2")
        self.assertEqual(code, 250, text)
        (msg,) = self.delivered(server)
        (ar,) = self.ours(headers_of(msg))
        self.assertIn("dmarc=fail (p=reject dis=reject)", ar)

    # RFC 7208 8.4 / RFC 7372 X.7.23: spf_fail = "reject" refuses at RCPT once the verdict is in.
    def test_spf_fail_may_be_refused(self):
        server = self.verifying_server(spf_fail="reject")
        with server.smtp(source="127.0.0.2") as s:
            s.ehlo()
            self.assertEqual(s.mail(f"ceo@{DOMAIN}")[0], 250)
            time.sleep(1.0)  # the answer from the loopback DNS is in by then
            code, text = s.rcpt("alice@example.test")
        self.assertEqual(code, 550, text)
        self.assertIn(b"5.7.23", text)

    # A message larger than what is held in memory (256 KiB) gets the field on top too: it is
    # in the spool file's Top record, which every reader gives first.
    def test_large_message_has_the_field_on_top(self):
        server = self.verifying_server()
        body = b"".join(b"line %06d of a long message, to be spooled before its end\r\n" % i for i in range(8000))
        code, text = self.deliver(server, self.signed("large one", body=body), f"alice@{DOMAIN}")
        self.assertEqual(code, 250, text)
        (msg,) = self.delivered(server)
        self.assertGreater(len(msg), 400_000)
        fields = headers_of(msg)
        self.assertEqual(fields[0][0], "Authentication-Results")
        self.assertEqual(fields[1][0], "Received")
        self.assertIn("dkim=pass", fields[0][1])
        self.assertTrue(msg.endswith(b"line 007999 of a long message, to be spooled before its end\n"))

    # RFC 8617 5.1: mail an alias forwards to another domain leaves sealed with our verdicts,
    # and the next ehlo validates the chain (arc=pass) beside DKIM and SPF.
    def test_forwarded_message_is_arc_sealed_and_the_chain_verifies(self):
        receiver = self.start_server(relay={"trusted_networks": []},
                                     domains=[{"name": "remote.example", "mailboxes": ["bob"],
                                               "maildir_root": "{dir}/mail", "postmaster": "bob"}],
                                     tables={"msgauth": {"verify": True},
                                             "dns": {"forwarders": [self.dns.forwarder], "timeout": 5}})
        aliases = os.path.join(self.dir.name, "aliases-arc")
        with open(aliases, "w") as f:
            f.write("fwd: bob@remote.example\n")
        forwarder = self.start_sender(
            routes=harness.route_to(receiver.port), relay={"trusted_networks": []},
            tables={"aliases": {"files": [aliases]},
                    "msgauth": {"verify": True, "arc_domain": DOMAIN,
                                "sign": [{"domain": DOMAIN, "selector": "sel", "key_file": self.key}]},
                    "dns": {"forwarders": [self.dns.forwarder], "timeout": 5}})
        with forwarder.smtp() as s:
            s.ehlo()
            self.assertEqual(s.mail(f"alice@{DOMAIN}")[0], 250)
            self.assertEqual(s.rcpt("fwd@example.test")[0], 250)
            code, text = s.data(self.signed("forwarded one"))
        self.assertEqual(code, 250, text)
        forwarder.wait_log_where("msgauth", lambda f: "sealed: d=auth.example s=sel" in f.get("verdicts", ""))
        (path,) = receiver.wait_for_delivery("bob", 1)
        with open(path, "rb") as f:
            msg = f.read()
        fields = headers_of(msg)
        names = [n for n, _ in fields]
        self.assertIn("ARC-Seal", names)
        self.assertIn("ARC-Message-Signature", names)
        (aar,) = [v for n, v in fields if n == "ARC-Authentication-Results"]
        self.assertTrue(aar.startswith(f"i=1; {AUTHSERV};"), aar)
        self.assertIn("dkim=pass", aar)
        seal = [v for n, v in fields if n == "ARC-Seal"][0]
        self.assertIn("cv=none", seal)
        (ar,) = [v for n, v in fields if n == "Authentication-Results"]  # the receiver's own
        self.assertIn("arc=pass", ar)
        self.assertIn("dkim=pass", ar)

    # A DNS that never answers: each question ends at [dns] timeout (a temperror), and the end
    # of DATA waits at most 3 x timeout (5 s at least) for the whole verdict, then says 451
    # 4.7.5: never a hang. Five signatures make five key questions in turn, more than that.
    def test_silent_dns_puts_the_message_off_in_bounded_time(self):
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        self.addCleanup(silent.close)
        stop = threading.Event()
        self.addCleanup(stop.set)

        def swallow():
            silent.settimeout(0.2)
            while not stop.is_set():
                try:
                    silent.recv(4096)
                except (socket.timeout, OSError):
                    pass
        threading.Thread(target=swallow, daemon=True).start()
        server = self.start_server(relay={"trusted_networks": []},
                                   tables={"msgauth": {"verify": True},
                                           "dns": {"forwarders": [f"127.0.0.1@{silent.getsockname()[1]}"], "timeout": 1}})
        signatures = b"".join(b"DKIM-Signature: v=1; a=rsa-sha256; d=auth.example; s=k%d; h=from; "
                              b"bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n" % i for i in range(5))
        started = time.monotonic()
        code, text = self.deliver(server, message(f"alice@{DOMAIN}", "silent dns", extra=signatures), f"alice@{DOMAIN}")
        waited = time.monotonic() - started
        self.assertEqual(code, 451, text)
        self.assertIn(b"4.7.5", text)
        self.assertLess(waited, 15)
        self.assertGreater(waited, 4)
        server.wait_log_where("msgauth", lambda f: "not decided within 5 s" in f.get("verdicts", ""))
        # The session goes on: the next transaction is answered.
        with server.smtp() as s:
            self.assertEqual(s.noop()[0], 250)

    # RFC 7489 7.2, appendix C: the day's aggregate report, from what reception recorded: the
    # passing message and the refused spoof, each with its source, disposition and verdicts.
    def test_dmarc_aggregate_report_of_the_day(self):
        server = self.verifying_server()
        code, _ = self.deliver(server, self.signed("reported"), f"alice@{DOMAIN}")
        self.assertEqual(code, 250)
        code, _ = self.deliver(server, message(f"ceo@{DOMAIN}", "spoof, reported"), f"ceo@{DOMAIN}", source="127.0.0.2")
        self.assertEqual(code, 550)
        day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        deadline = time.monotonic() + 15
        while True:
            r = subprocess.run([server.binary, "dmarc", "report", "--domain", DOMAIN, "--day", day, "--config", server.config_path],
                               capture_output=True, text=True, timeout=30)
            records = ET.fromstring(r.stdout).findall("record") if r.returncode == 0 else []
            if len(records) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(r.returncode, 0, r.stderr)
        feedback = ET.fromstring(r.stdout)
        self.assertEqual(feedback.findtext("policy_published/domain"), DOMAIN)
        self.assertEqual(feedback.findtext("policy_published/p"), "reject")
        self.assertEqual(feedback.findtext("report_metadata/org_name"), "mx.test")
        rows = {rec.findtext("row/source_ip"): rec for rec in feedback.findall("record")}
        self.assertEqual(set(rows), {"127.0.0.1", "127.0.0.2"}, r.stdout)
        good, spoof = rows["127.0.0.1"], rows["127.0.0.2"]
        self.assertEqual(good.findtext("row/policy_evaluated/disposition"), "none")
        self.assertEqual(good.findtext("row/policy_evaluated/dkim"), "pass")
        self.assertEqual(good.findtext("auth_results/dkim/domain"), DOMAIN)
        self.assertEqual(good.findtext("auth_results/dkim/result"), "pass")
        self.assertEqual(spoof.findtext("row/policy_evaluated/disposition"), "reject")
        self.assertEqual(spoof.findtext("row/policy_evaluated/spf"), "fail")
        self.assertEqual(spoof.findtext("auth_results/spf/result"), "fail")
        self.assertEqual(spoof.findtext("identifiers/header_from"), DOMAIN)
        nothing = subprocess.run([server.binary, "dmarc", "report", "--domain", "other.example", "--day", day,
                                  "--config", server.config_path], capture_output=True, text=True, timeout=30)
        self.assertEqual(nothing.returncode, 1)

    # The verdicts are in the message's history: `ehlo trace ID`.
    def test_verdicts_are_in_the_trace(self):
        server = self.verifying_server()
        code, text = self.deliver(server, self.signed("traced"), f"alice@{DOMAIN}")
        self.assertEqual(code, 250, text)
        qid = harness.queue_id(b"250 " + text)
        self.delivered(server)
        deadline = time.monotonic() + 15
        while True:
            r = subprocess.run([server.binary, "trace", qid, "--json", "--config", server.config_path],
                               capture_output=True, text=True, timeout=30)
            events = json.loads(r.stdout)["messages"][0]["events"] if r.returncode == 0 and r.stdout.strip() else []
            verified = [e for e in events if e["kind"] == "verified"]
            if verified or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertTrue(verified, r.stdout + r.stderr)
        self.assertIn("spf=pass", json.dumps(verified[0]))
        self.assertIn("dmarc=pass", json.dumps(verified[0]))
        human = subprocess.run([server.binary, "trace", qid, "--config", server.config_path],
                               capture_output=True, text=True, timeout=30)
        self.assertIn("verified", human.stdout)
        self.assertIn("dkim=pass", human.stdout)


if __name__ == "__main__":
    unittest.main()
