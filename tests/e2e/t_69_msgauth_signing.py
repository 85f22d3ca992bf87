"""DKIM signing of what ehlo sends (RFC 6376 5, RFC 8463), end to end: a message submitted from
our own network is signed by one ehlo with an RSA and an Ed25519 key ([[msgauth.sign]]), relayed
to a second ehlo that verifies it against a real DNS server on loopback (unbound with the
keys' records, dns_server.py): dkim=pass for both signatures, spf=pass and dmarc=pass in its
Authentication-Results. The message as delivered also verifies in dkimpy's dkimverify
(Debian's python3-dkim), a verifier nobody here wrote. An authenticated-looking client from
outside is not signed for.
"""
import os
import re
import subprocess
import tempfile
import unittest

import dns_server
import harness

DOMAIN = "auth.example"
DKIMVERIFY = "/usr/bin/dkimverify"


def run(*args):
    return subprocess.run([harness.ehlo_binary(), *args], capture_output=True, timeout=60)


class MsgauthSigning(harness.E2ETest):

    @classmethod
    def setUpClass(cls):
        if not os.access(dns_server.UNBOUND, os.X_OK):
            raise unittest.SkipTest("unbound is not installed")
        cls.dir = tempfile.TemporaryDirectory(prefix="ehlo-msgauth-sign-")
        records = [f'{DOMAIN}. TXT "v=spf1 ip4:127.0.0.0/8 -all"', f'_dmarc.{DOMAIN}. TXT "v=DMARC1; p=reject"']
        cls.keys = []
        for selector, flags in (("rsa2026", []), ("ed2026", ["--ed25519"])):
            path = os.path.join(cls.dir.name, selector + ".pem")
            r = run("dkim", "keygen", DOMAIN, selector, "--out", path, *flags)
            assert r.returncode == 0, r.stderr
            records.append(dns_server.key_record(r.stdout.decode()))
            cls.keys.append({"domain": DOMAIN, "selector": selector, "key_file": path})
        cls.dns = dns_server.DnsServer(records).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        cls.dir.cleanup()

    def receiver(self):
        """The next hop: verifies everything (nobody is trusted there)."""
        return self.start_server(relay={"trusted_networks": []},
                                 domains=[{"name": "remote.example", "mailboxes": ["bob"],
                                           "maildir_root": "{dir}/mail", "postmaster": "bob"}],
                                 tables={"msgauth": {"verify": True},
                                         "dns": {"forwarders": [self.dns.forwarder], "timeout": 5}})

    def sender(self, receiver):
        return self.start_sender(routes=harness.route_to(receiver.port),
                                 tables={"msgauth": {"verify": False, "sign": self.keys}})

    def submit(self, server, sender=f"alice@{DOMAIN}", header_from=f"alice@{DOMAIN}", source=None):
        body = (f"From: Alice <{header_from}>\r\nTo: bob@remote.example\r\nSubject: signed by ehlo\r\n"
                "Date: Thu, 03 Dec 2026 10:00:00 +0000\r\nMessage-ID: <signed@auth.example>\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\nGr\u00fc\u00dfe,\r\n  folded    spaces   \r\n\r\n\r\n")
        with server.smtp(source=source) as s:
            s.ehlo()
            self.assertEqual(s.mail(sender)[0], 250)
            self.assertEqual(s.rcpt("bob@remote.example")[0], 250)
            code, text = s.data(body.encode())
            self.assertEqual(code, 250, text)

    def delivered_at(self, receiver):
        (path,) = receiver.wait_for_delivery("bob", 1)
        with open(path, "rb") as f:
            return f.read()

    def test_signed_by_one_ehlo_verified_by_the_next_rfc6376_rfc8463(self):
        rx = self.receiver()
        tx = self.sender(rx)
        self.submit(tx)
        msg = self.delivered_at(rx)
        head = msg.split(b"\n\n", 1)[0].decode()
        self.assertEqual(len(re.findall(r"^DKIM-Signature:", head, re.M)), 2, head)
        self.assertIn("a=rsa-sha256", head)
        self.assertIn("a=ed25519-sha256", head)
        self.assertIn("c=relaxed/relaxed", head)
        self.assertNotRegex(head, r"\bl=\d")  # never a body length limit
        ar = head.split("Authentication-Results:", 1)[1].split("\nReceived:", 1)[0]
        self.assertEqual(len(re.findall(r"dkim=pass", ar)), 2, ar)
        self.assertIn("header.s=rsa2026", ar)
        self.assertIn("header.s=ed2026", ar)
        self.assertIn(f"spf=pass smtp.mailfrom=alice@{DOMAIN}", ar)
        self.assertIn(f"dmarc=pass", ar)
        tx.wait_log("msgauth", verdicts=f"signed: d={DOMAIN} s=rsa2026 (rsa) d={DOMAIN} s=ed2026 (ed25519)")

    @unittest.skipUnless(os.access(DKIMVERIFY, os.X_OK), "dkimverify (python3-dkim) is not installed")
    def test_dkimpy_verifies_what_ehlo_signed(self):
        rx = self.receiver()
        tx = self.sender(rx)
        self.submit(tx)
        msg = self.delivered_at(rx)
        # dkimpy asks through its dnsfunc: it gets the records of the same zone the receiver
        # asked, and checks the message as it arrived (Return-Path aside), both signatures.
        message = msg.split(b"\n", 1)[1] if msg.startswith(b"Return-Path:") else msg
        keys = {}
        for record in self.dns.records:
            name = record.split()[0]
            if "._domainkey." in name:
                keys[name.rstrip(".").encode()] = "".join(re.findall(r'"([^"]*)"', record)).encode()
        script = ("import sys, dkim\n"
                  "m = sys.stdin.buffer.read().replace(b'\\n', b'\\r\\n')\n"
                  f"keys = {keys!r}\n"
                  "d = dkim.DKIM(m)\n"
                  "ok = [d.verify(idx=i, dnsfunc=lambda name, timeout=5: keys.get(name.rstrip(b'.'), b'')) for i in range(2)]\n"
                  "print(ok)\n"
                  "sys.exit(0 if all(ok) else 1)\n")
        r = subprocess.run(["/usr/bin/python3", "-c", script], input=message, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    # RFC 8601 2.7.4 and RFC 6376 5: an authenticated user's submission is marked auth=pass
    # and signed for the domain it may send as; a From of another of our domains is not signed.
    def test_submission_marked_and_signed_for_its_domain(self):
        users = os.path.join(self.dir.name, "users")
        password = "correct horse battery staple"
        if not os.path.exists(users):
            r = subprocess.run([harness.ehlo_binary(), "user", "--file", users, "add", f"alice@{DOMAIN}"],
                               input=(password + "\n").encode(), capture_output=True, timeout=60,
                               preexec_fn=harness.as_daemon_user)
            self.assertEqual(r.returncode, 0, r.stderr)
        keys = self.keys + [{"domain": "other.example", "selector": "rsa2026", "key_file": self.keys[0]["key_file"]}]
        tx = self.start_server(relay={"trusted_networks": []},
                               domains=[{"name": "example.test", "mailboxes": ["bob"], "maildir_root": "{dir}/mail",
                                         "postmaster": "bob"}],
                               tables={"auth": {"users_file": users, "plaintext_loopback": True},
                                       "msgauth": {"verify": True, "sign": keys},
                                       "dns": {"forwarders": [self.dns.forwarder], "timeout": 5}})
        for from_domain in (DOMAIN, "other.example"):
            with tx.smtp() as s:
                s.ehlo()
                s.login(f"alice@{DOMAIN}", password)
                self.assertEqual(s.mail(f"alice@{DOMAIN}")[0], 250)
                self.assertEqual(s.rcpt("bob@example.test")[0], 250)
                code, text = s.data(f"From: alice@{from_domain}\r\nSubject: sub\r\n\r\nhi\r\n".encode())
                self.assertEqual(code, 250, text)
        files = tx.wait_for_delivery("bob", 2)
        heads = {}
        for path in files:
            with open(path, "rb") as f:
                head = f.read().split(b"\n\n", 1)[0].decode()
            heads[re.search(r"^From: alice@(\S+)$", head, re.M).group(1)] = head
        own, other = heads[DOMAIN], heads["other.example"]
        for head in (own, other):
            self.assertRegex(head, r"Authentication-Results: mx\.test;\s+auth=pass smtp\.auth=alice@auth\.example")
            self.assertNotIn("spf=", head)  # a submission is not checked as mail from outside
        self.assertEqual(len(re.findall(r"^DKIM-Signature:", own, re.M)), 2, own)
        self.assertNotIn("DKIM-Signature", other)

    # Mail from outside is not ours to sign, whatever its From says.
    def test_mail_from_outside_is_not_signed(self):
        rx = self.receiver()
        tx = self.start_sender(routes=harness.route_to(rx.port), relay={"trusted_networks": []},
                               tables={"msgauth": {"verify": False, "sign": self.keys}})
        with tx.smtp() as s:
            s.ehlo()
            self.assertEqual(s.mail(f"alice@{DOMAIN}")[0], 250)
            code, _ = s.rcpt("alice@example.test")  # local: no relaying for outsiders
            self.assertEqual(code, 250)
            s.data(f"From: alice@{DOMAIN}\r\nSubject: x\r\n\r\nhi\r\n".encode())
        (path,) = tx.wait_for_delivery("alice", 1)
        with open(path, "rb") as f:
            self.assertNotIn(b"DKIM-Signature", f.read())


if __name__ == "__main__":
    unittest.main()
