#!/usr/bin/env python3
"""testssl.sh (Debian's) against both kinds of TLS listener: an smtp listener with STARTTLS
(RFC 3207) and a submissions listener, TLS from the first octet (RFC 8314 3.3). No finding may
be rated HIGH or CRITICAL, and the scan itself must have worked (no FATAL, the protocols
found). Only loopback is touched: no DNS lookups (--nodns none), no CRL or OCSP fetching
(testssl's --phone-out stays off).

The certificate is signed by a CA made for the test and given to testssl (--add-ca), valid
for a year, with the names mx.test and 127.0.0.1 and revocation addresses (on loopback, never
fetched): a self-signed, soon-expiring test certificate would be rated for what it is (HIGH,
CRITICAL), which says nothing about ehlo's TLS settings.

With TESTSSL_SUMMARY_OUT=PATH the summary (findings by severity, protocols, ciphers, the
command) is written there as Markdown; docs/testssl.md is that file.
"""
import collections
import concurrent.futures
import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

TESTSSL_TIMEOUT = 420       # s for one listener's scan (about a minute on a free machine)
FAILING = ("HIGH", "CRITICAL")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO", "OK", "WARN", "FATAL")
PROTOCOL_IDS = ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3")


def testssl_program():
    for name in ("testssl", "testssl.sh"):
        path = shutil.which(name)
        if path:
            return path
    raise unittest.SkipTest("testssl.sh is not installed")


def testssl_version(program):
    r = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=60)
    m = re.search(r"testssl(?:\.sh)?\s+(\S+)\s+from", re.sub(r"\x1b\[[0-9;]*m", "", r.stdout))
    return m.group(1) if m else "unknown"


def openssl(*args, folder):
    subprocess.run([harness.require_tool("openssl"), *args], cwd=folder, check=True,
                   capture_output=True, timeout=60)


def make_ca_signed_certificate(folder):
    """A CA and a server certificate it signed as a public CA would (RSA 2048, SHA-256, a
    year, the names mx.test and 127.0.0.1, server authentication, a CRL and an OCSP address):
    (ca, chain, key)."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "400", "-subj", "/CN=ehlo test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", folder=folder)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "mx.key", "-out", "mx.csr",
            "-subj", "/CN=mx.test", folder=folder)
    with open(os.path.join(folder, "mx.ext"), "w") as f:
        f.write("subjectAltName=DNS:mx.test,IP:127.0.0.1\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                # where a public CA's certificate says revocation is checked; never fetched
                "crlDistributionPoints=URI:http://127.0.0.1:9/ca.crl\n"
                "authorityInfoAccess=OCSP;URI:http://127.0.0.1:9/ocsp\n")
    openssl("x509", "-req", "-in", "mx.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "365", "-sha256", "-extfile", "mx.ext", "-out", "mx.pem", folder=folder)
    os.chmod(os.path.join(folder, "mx.key"), 0o600)
    return (os.path.join(folder, "ca.pem"), os.path.join(folder, "mx.pem"),
            os.path.join(folder, "mx.key"))


def scan(program, ca, port, starttls, folder):
    """One testssl.sh run (its default checks) against 127.0.0.1:PORT: (command, findings)."""
    jsonfile = os.path.join(folder, f"testssl-{port}.json")
    command = [program, "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
               "--add-ca", ca, "--connect-timeout", "10", "--openssl-timeout", "10",
               "--jsonfile", jsonfile]
    if starttls:
        command += ["-t", "smtp"]
    command.append(f"127.0.0.1:{port}")
    # testssl.sh reads the git state of its working directory for its banner: a folder of its own
    r = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=TESTSSL_TIMEOUT)
    if not os.path.exists(jsonfile):
        raise AssertionError(f"testssl.sh wrote no findings (exit {r.returncode}):\n"
                             f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    with open(jsonfile) as f:
        findings = json.load(f)
    shown = {program: os.path.basename(program), jsonfile: "findings.json", ca: "ca.pem",
             command[-1]: "127.0.0.1:PORT"}
    return " ".join(shown.get(a, a) for a in command), findings


class TestSsl(unittest.TestCase):
    """One server with both listeners; the two scans run side by side (most of a scan is
    waiting for handshakes), each test checks one listener's findings."""

    @classmethod
    def setUpClass(cls):
        cls.program = testssl_program()
        cls.version = testssl_version(cls.program)
        cls.tmp = tempfile.mkdtemp(prefix="ehlo-testssl-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        ca, chain, key = make_ca_signed_certificate(cls.tmp)
        server = harness.Server(
            "testssl", tables={"tls": {"certificates": [{"chain": chain, "key": key}]}},
            listeners=[{"address": "127.0.0.1:{port:submissions}", "kind": "submissions"}])
        cls.addClassCleanup(server.close)
        server.start()
        listeners = {"smtp listener, STARTTLS (-t smtp)": (server.port, True),
                     "submissions listener, implicit TLS": (server.ports["submissions"], False)}
        with concurrent.futures.ThreadPoolExecutor(len(listeners)) as pool:
            futures = {title: pool.submit(scan, cls.program, ca, port, starttls, cls.tmp)
                       for title, (port, starttls) in listeners.items()}
            cls.scans = {title: f.result() for title, f in futures.items()}
        out = os.environ.get("TESTSSL_SUMMARY_OUT")
        if out:
            with open(out, "w") as f:
                f.write(summary_markdown(cls.version, cls.scans))

    def check(self, title):
        command, findings = self.scans[title]
        by_id = {f["id"]: f for f in findings}
        fatal = [f for f in findings if f["severity"] == "FATAL"]
        self.assertEqual(fatal, [], "the scan did not work")
        # the scan saw the listener: TLS 1.2 and 1.3 offered, nothing older
        self.assertIn("offered", by_id["TLS1_2"]["finding"])
        self.assertIn("offered", by_id["TLS1_3"]["finding"])
        for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
            self.assertIn("not offered", by_id[old]["finding"], old)
        bad = [f"{f['severity']} {f['id']}: {f['finding']}" for f in findings if f["severity"] in FAILING]
        self.assertEqual(bad, [], f"testssl.sh findings rated {' or '.join(FAILING)}")

    def test_smtp_listener_with_starttls_rfc3207(self):
        self.check("smtp listener, STARTTLS (-t smtp)")

    def test_submissions_listener_implicit_tls_rfc8314_3_3(self):
        self.check("submissions listener, implicit TLS")


def summary_markdown(version, summaries):
    lines = ["# testssl.sh against ehlo's TLS listeners", "",
             "Written by `tests/e2e/t_37_testssl.py` (`TESTSSL_SUMMARY_OUT=docs/testssl.md`); the test",
             "fails on any finding rated HIGH or CRITICAL. The certificate is a test CA's, RSA 2048,",
             "valid for a year, passed to testssl.sh with `--add-ca`; everything runs on loopback.", "",
             f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- testssl.sh {version}, with {openssl_version()}", ""]
    for title, (command, findings) in summaries.items():
        counts = collections.Counter(f["severity"] for f in findings)
        by_id = {f["id"]: f for f in findings}
        lines += [f"## {title}", "", f"    {command}", "",
                  "| severity | findings |", "|---|---|"]
        lines += [f"| {s} | {counts.get(s, 0)} |" for s in SEVERITIES]
        lines += ["", "Protocols:", ""]
        lines += [f"- {p}: {by_id[p]['finding']}" for p in PROTOCOL_IDS if p in by_id]
        ciphers = [f for f in findings if f["id"].startswith("cipherorder_") or f["id"].startswith("supportedciphers_")]
        lines += ["", "Ciphers offered (in the server's order):", ""]
        lines += [f"- {f['id'].split('_', 1)[1]}: {f['finding']}" for f in ciphers]
        noted = [f for f in findings if f["severity"] in ("MEDIUM", "LOW", "WARN")]
        lines += ["", "Findings rated MEDIUM, LOW or WARN:", ""]
        lines += [f"- {f['severity']} `{f['id']}`: {f['finding']}" for f in noted] or ["- none"]
        lines.append("")
    return "\n".join(lines)


def openssl_version():
    r = subprocess.run([harness.require_tool("openssl"), "version"], capture_output=True, text=True, timeout=30)
    return r.stdout.strip()


if __name__ == "__main__":
    harness.main()
