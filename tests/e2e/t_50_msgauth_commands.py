"""The message-authentication commands against a real DNS server on loopback (unbound with
the test's zone, dns_server.py): `ehlo dkim keygen` writes a 0600 key and prints the record
the zone then publishes; `ehlo dkim sign` and `ehlo dkim verify` round trip, also through
dkimpy's dkimverify; `ehlo spf` prints the RFC 7208 word and the path; `ehlo dmarc` passes an
aligned message and fails a spoofed one under p=reject. Each command reads the [dns] section of
its --config.
"""
import os
import re
import stat
import subprocess
import tempfile
import unittest

import dns_server
import harness

DOMAIN = "auth.example"


def run(*args, stdin=None):
    return subprocess.run([harness.ehlo_binary(), *args], capture_output=True, timeout=60, input=stdin)


def zone_txt(printed):
    """`NAME. IN TXT ( "a" "b" )` -> ('NAME.', 'a b' joined) as unbound local-data."""
    m = re.match(r'(\S+) IN TXT \((.*)\)', printed.strip())
    strings = re.findall(r'"([^"]*)"', m.group(2))
    return m.group(1) + " TXT " + " ".join('"%s"' % s for s in strings), "".join(strings)


class MsgauthCommands(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(dns_server.UNBOUND, os.X_OK):
            raise unittest.SkipTest("unbound is not installed")
        cls.dir = tempfile.TemporaryDirectory(prefix="ehlo-msgauth-")
        d = cls.dir.name
        records = []
        cls.keys = {}
        for selector, flags in (("rsa", []), ("ed", ["--ed25519"])):
            path = os.path.join(d, selector + ".pem")
            r = run("dkim", "keygen", DOMAIN, selector, "--out", path, *flags)
            assert r.returncode == 0, r.stderr
            record, text = zone_txt(r.stdout.decode())
            records.append(record)
            cls.keys[selector] = (path, text, r)
        records += [
            f'{DOMAIN}. TXT "v=spf1 ip4:127.0.0.0/24 -all"',
            f'_dmarc.{DOMAIN}. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{DOMAIN}"',
            f'{DOMAIN}. MX 10 mx.{DOMAIN}.',
        ]
        cls.dns = dns_server.DnsServer(records).start()
        cls.config = os.path.join(d, "ehlo.toml")
        with open(cls.config, "w") as f:
            f.write(f'[dns]\nforwarders = ["{cls.dns.forwarder}"]\ntimeout = 5\n')
        cls.message = os.path.join(d, "message.txt")
        with open(cls.message, "wb") as f:  # LF line ends, as a file usually has them
            f.write(f"From: Alice <alice@{DOMAIN}>\nTo: bob@example.net\nSubject: a\n folded subject\n"
                    f"Date: Mon, 1 Jan 2024 10:00:00 +0000\n\nGr\xc3\xbc\xc3\x9fe\n\n\n".encode("latin-1"))

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        cls.dir.cleanup()

    def sign(self, selector):
        path = self.keys[selector][0]
        r = run("dkim", "sign", "--domain", DOMAIN, "--selector", selector, "--key", path, self.message)
        self.assertEqual(r.returncode, 0, r.stderr)
        signed = os.path.join(self.dir.name, f"signed-{selector}.eml")
        with open(signed, "wb") as f:
            f.write(r.stdout)
        return signed, r.stdout

    def test_keygen_writes_a_private_key_and_prints_the_record(self):
        for selector in ("rsa", "ed"):
            path, text, r = self.keys[selector]
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            self.assertTrue(text.startswith("v=DKIM1; k=" + ("rsa" if selector == "rsa" else "ed25519") + "; p="), text)
            self.assertIn(f"{selector}._domainkey.{DOMAIN}. IN TXT", r.stdout.decode())
        # an existing key is never overwritten; a small RSA key is refused (RFC 8301 3.2)
        self.assertNotEqual(run("dkim", "keygen", DOMAIN, "rsa", "--out", self.keys["rsa"][0]).returncode, 0)
        self.assertNotEqual(run("dkim", "keygen", DOMAIN, "x", "--bits", "1024",
                                "--out", os.path.join(self.dir.name, "small.pem")).returncode, 0)

    def test_sign_then_verify(self):
        for selector in ("rsa", "ed"):
            signed, data = self.sign(selector)
            self.assertTrue(data.startswith(b"DKIM-Signature: v=1; a="), data[:80])
            r = run("dkim", "verify", "--config", self.config, signed)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(f"dkim=pass d={DOMAIN} s={selector}", r.stdout.decode())
            tampered = signed + ".tampered"
            with open(tampered, "wb") as f:
                f.write(data.replace(b"Gr", b"gr"))
            r = run("dkim", "verify", "--config", self.config, tampered)
            self.assertEqual(r.returncode, 1)
            self.assertIn("dkim=fail", r.stdout.decode())
            self.assertIn("body hash", r.stdout.decode())

    def test_unsigned_and_unknown_key(self):
        r = run("dkim", "verify", "--config", self.config, self.message)
        self.assertEqual(r.returncode, 1)
        self.assertIn("dkim=none", r.stdout.decode())
        signed, data = self.sign("ed")
        other = signed + ".other"
        with open(other, "wb") as f:
            f.write(data.replace(b"s=ed;", b"s=gone;"))
        r = run("dkim", "verify", "--config", self.config, other)
        self.assertEqual(r.returncode, 1)
        self.assertIn("dkim=permerror", r.stdout.decode())
        self.assertIn("no key record", r.stdout.decode())

    def test_signed_by_ehlo_passes_dkimverify(self):
        if not os.access("/usr/bin/dkimverify", os.X_OK):
            self.skipTest("dkimpy (python3-dkim) is not installed")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "msgauth", "dkimpy_verify.py")
        for selector in ("rsa", "ed"):
            _, data = self.sign(selector)
            r = subprocess.run(["/usr/bin/python3", script, str(self.dns.port)], input=data, capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_spf_word_and_path(self):
        r = run("spf", "--config", self.config, "127.0.0.9", f"alice@{DOMAIN}", "client.example")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertEqual(out.splitlines()[0], "pass")
        self.assertIn('v=spf1 ip4:127.0.0.0/24 -all', out)
        self.assertIn("ip4:127.0.0.0/24: match => pass", out)
        r = run("spf", "--config", self.config, "127.0.1.9", f"alice@{DOMAIN}")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout.decode().splitlines()[0], "fail")
        self.assertIn("-all: match => fail", r.stdout.decode())
        r = run("spf", "--config", self.config, "127.0.0.9", "bob@nothing.example")
        self.assertEqual(r.stdout.decode().splitlines()[0], "none")

    def test_dns_down_is_temperror_not_a_hang(self):
        silent = os.path.join(self.dir.name, "down.toml")
        with open(silent, "w") as f:
            f.write(f'[dns]\nforwarders = ["127.0.0.1@{harness.free_port()}"]\ntimeout = 2\n')
        r = run("spf", "--config", silent, "127.0.0.9", f"alice@{DOMAIN}")
        self.assertEqual(r.stdout.decode().splitlines()[0], "temperror")

    def test_dmarc_pass_and_spoof_under_reject(self):
        signed, _ = self.sign("ed")
        r = run("dmarc", "--config", self.config, signed)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout.decode()
        self.assertIn(f"dmarc=pass header.from={DOMAIN}", out)
        self.assertIn("Authentication-Results: ehlo;", out)
        self.assertIn("dkim=pass", out)
        # SPF alone aligns too
        r = run("dmarc", "--config", self.config, self.message, "--ip", "127.0.0.9", "--mail-from", f"bounce@{DOMAIN}",
                "--helo", "client.example")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # A spoofed From: unsigned, sent from elsewhere: fail, and p=reject applies (pct 100)
        r = run("dmarc", "--config", self.config, self.message, "--ip", "192.0.2.66", "--mail-from", "x@spammer.example",
                "--helo", "spammer.example")
        self.assertEqual(r.returncode, 1)
        out = r.stdout.decode()
        self.assertIn("dmarc=fail", out)
        self.assertIn("policy=reject", out)


if __name__ == "__main__":
    unittest.main()
