#!/usr/bin/env python3
"""Outbound TLS (RFC 3207 from the sending side) against real peers: a second ehlo with a
certificate (STARTTLS inbound), and scripted peers that do not offer STARTTLS or fail the
handshake. Certificates are made in the test's folder with the openssl command: a CA, a
certificate it signed for the MX host, one it signed for another name, and a self-signed one.

The route's host is a name (mx.remote.example) answered by a private unbound, so that SNI and
the RFC 6125 host check see what they would see for an MX host.

- may: delivered encrypted; the remote-attempt line has tls, protocol, cipher, verified; the
  peer's Received header says ESMTPS (RFC 3848); a second connection resumes the session;
  STARTTLS refused (502) or a failed handshake: delivered in plaintext;
- verify with the right CA file: delivered, verified=yes; a certificate for another name or
  from an unknown CA: deferred, with the reason in the log and in `ehlo queue show`, and in the
  "delayed" DSN (what the certificate names and what it had to, the TLS session); without a CA
  file, the system's store: the one SSL_CERT_FILE names verifies, OpenSSL's default does not
  know the test CA and defers;
- a 5xx from the peer over TLS: the failure DSN says the connection was TLS and verified;
- encrypt to a peer without STARTTLS, or whose handshake fails: deferred, no MAIL sent; the
  reason is the diagnostic of the "delayed" DSN (RFC 3464 2.3.3);
- none: plaintext to a peer that offers STARTTLS;
- a private Postfix (smtpd with the CA-signed certificate, when Postfix is installed and the
  test runs as root): verify delivers, recorded as verified on our side and as ESMTPS in
  Postfix's Received header; with a certificate for another name the message is deferred.
"""
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import unittest

import dns_server
import harness
from harness import LOCAL_SENDER

MX_NAME = "mx.remote.example"
RECORDS = [f"{MX_NAME}. A 127.0.0.1"]
SLOW_RETRY = {"retry_min": 60, "retry_max": 60}   # a deferred message stays deferred in a test


def openssl(*args, cwd):
    subprocess.run([harness.require_tool("openssl"), *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def make_ca(folder):
    """A CA certificate and key: (ca.pem, ca.key)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ehlo test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    return os.path.join(folder, "ca.pem"), os.path.join(folder, "ca.key")


def make_signed(folder, name, dns_name):
    """A certificate for DNS_NAME signed by the CA in FOLDER: (chain, key)."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={dns_name}", cwd=folder)
    with open(os.path.join(folder, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName=DNS:{dns_name}\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=folder)
    key = os.path.join(folder, f"{name}.key")
    os.chmod(key, 0o600)
    return os.path.join(folder, f"{name}.pem"), key


class OutboundTls(harness.E2ETest):

    @classmethod
    def setUpClass(cls):
        if not os.access(dns_server.UNBOUND, os.X_OK):
            raise unittest.SkipTest("unbound is not installed")
        harness.require_tool("openssl")
        cls.certs = tempfile.mkdtemp(prefix="ehlo-outtls-")
        cls.ca, _ = make_ca(cls.certs)
        cls.good = make_signed(cls.certs, "mx", MX_NAME)
        cls.wrong_name = make_signed(cls.certs, "other", "other.example")
        cls.self_signed = harness.make_certificate(cls.certs, "self", cn=MX_NAME)
        cls.dns = dns_server.DnsServer(RECORDS).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        shutil.rmtree(cls.certs, ignore_errors=True)

    # -- the two sides

    def tls_peer(self, certificate):
        """A receiving ehlo for remote.example (bob) that offers STARTTLS with CERTIFICATE."""
        chain, key = certificate
        return self.start_server(
            server={"hostname": MX_NAME},
            domains=[{"name": "remote.example", "catch_all": False, "mailboxes": ["bob"],
                      "maildir_root": "{dir}/mail", "postmaster": "bob"}],
            tables={"tls": {"certificates": [{"chain": chain, "key": key}], "handshake_timeout": 5}})

    def sender(self, port, tls=None, ca_file=None, outbound=None, delivery=None, env=None):
        route = {"domain": "remote.example", "host": MX_NAME, "port": port}
        if tls is not None:
            route["tls"] = tls
        if ca_file is not None:
            route["tls_ca_file"] = ca_file
        return self.start_sender(routes=[route], dns={"forwarders": [self.dns.forwarder], "timeout": 5},
                                 outbound=outbound, delivery=delivery, env=env)

    def send(self, server, token):
        return server.send(token, to=("bob@remote.example",), sender=LOCAL_SENDER)

    def attempt(self, server, qid, outcome):
        (line,) = server.wait_log("remote-attempt", id=qid, outcome=outcome)[:1]
        return line

    def received(self, peer):
        (path,) = peer.wait_for_delivery("bob", 1)[:1]
        headers, _ = harness.split_message(harness.read_file(path))
        return [h for h in headers if h.startswith(b"Received:")][0]

    def dsn_to_alice(self, server, recipient):
        """The DSN in alice's Maildir: its message, the recipient's fields (RFC 3464 2.3) and
        that recipient's Diagnostic-Code on one line."""
        (path,) = server.wait_for_delivery("alice", 1, timeout=20)
        msg, _, recipients = harness.parse_dsn(harness.read_file(path))
        fields = harness.dsn_recipient(recipients, recipient)
        return msg, fields, re.sub(r"\s+", " ", fields.get("diagnostic-code", ""))

    def deferred_reason(self, server, qid):
        """The reason `ehlo queue show` gives for the deferred recipient."""
        out = server.queue_ok("show", qid)
        return out.partition("attempts:")[2] or out

    # -- may

    def test_may_delivers_encrypted_and_records_how(self):
        peer = self.tls_peer(self.self_signed)
        server = self.sender(peer.port)          # no tls key: [outbound] tls, default "may"
        qid = self.send(server, "may-tls")
        line = self.attempt(server, qid, "delivered")
        self.assertEqual(line.get("tls"), "yes", line)
        self.assertRegex(line.get("protocol", ""), r"^TLSv1\.[23]$")
        self.assertRegex(line.get("cipher", ""), r"^[A-Z0-9_-]+$")
        self.assertEqual(line.get("verified"), "no", line)   # self-signed: recorded, not required
        self.assertTrue(line.get("verify_error"), line)
        received = self.received(peer)
        self.assertIn(b"with ESMTPS", received)              # RFC 3848 at the peer
        self.assertRegex(received, rb"using TLSv1\.[23] with cipher")
        # the peer saw SNI for the MX host name (RFC 6066 3)
        (tls,) = peer.wait_log("tls")[:1]
        self.assertEqual(tls.get("sni"), MX_NAME, tls)
        # and the message's history says how the attempt was protected
        deadline = time.monotonic() + 15
        while True:
            r = subprocess.run([server.binary, "trace", qid, "--json", "--config", server.config_path],
                               capture_output=True, text=True, timeout=30)
            attempts = [e for m in (json.loads(r.stdout)["messages"] if r.returncode == 0 else [])
                        for e in m["events"] if e["kind"] == "attempt"]
            if attempts or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(len(attempts), 1, r.stdout + r.stderr)
        self.assertRegex(attempts[0].get("tls", ""), r"^TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\), not verified$")

    def test_verify_resumes_the_session_on_the_next_connection(self):
        # A Python peer, which tells whether it resumed: the TLS 1.3 ticket (or TLS 1.2
        # session id) of the last connection is offered on the next one to the same host.
        peer = self.start_peer()
        peer.keywords.append("STARTTLS")
        peer.starttls = lambda s: "220 2.0.0 Ready to start TLS"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.good)
        peer.tls_context = ctx
        server = self.sender(peer.port, tls="verify", ca_file=self.ca,
                             outbound={"messages_per_connection": 1})
        first = self.send(server, "resume-1")
        line = self.attempt(server, first, "delivered")
        self.assertEqual((line.get("tls"), line.get("verified"), line.get("resumed")), ("yes", "yes", "no"), line)
        second = self.send(server, "resume-2")
        line = self.attempt(server, second, "delivered")
        self.assertEqual(line.get("tls"), "yes", line)
        self.assertEqual(line.get("resumed"), "yes", [(s.tls, s.tls_resumed) for s in peer.sessions])
        self.assertEqual(line.get("verified"), "yes", line)    # the resumed session's verdict
        self.assertEqual([s.tls_resumed for s in peer.sessions if s.tls], [False, True])
        self.assertEqual(len(peer.messages()), 2)

    def test_may_goes_on_in_plaintext_when_starttls_is_refused_Rfc3207_4(self):
        peer = self.start_peer()
        peer.keywords.append("STARTTLS")          # offered, then answered 502
        server = self.sender(peer.port)
        qid = self.send(server, "may-refused")
        line = self.attempt(server, qid, "delivered")
        self.assertEqual(line.get("tls"), "no", line)
        self.assertEqual(len(peer.command_lines("STARTTLS")), 1)
        (refused,) = server.wait_log("remote-starttls-refused")[:1]
        self.assertIn("502", refused.get("reply", ""), refused)
        self.assertEqual(len(peer.messages()), 1)

    def test_may_retries_in_plaintext_after_a_failed_handshake(self):
        peer = self.start_peer()
        peer.keywords.append("STARTTLS")
        peer.starttls = lambda s: "220 2.0.0 Ready to start TLS"   # then no TLS at all
        peer.ehlo = lambda s, line: None if s.n == 0 else "250 peer.example"  # no STARTTLS later
        server = self.sender(peer.port)
        qid = self.send(server, "may-fallback")
        line = self.attempt(server, qid, "delivered")
        self.assertEqual(line.get("tls"), "no", line)
        server.wait_log("remote-tls-failed")
        server.wait_log("remote-tls-fallback")
        self.assertEqual(len(peer.messages()), 1)

    # -- verify

    def test_verify_with_the_right_ca_delivers_verified_Rfc6125(self):
        peer = self.tls_peer(self.good)
        server = self.sender(peer.port, tls="verify", ca_file=self.ca,
                             outbound={"messages_per_connection": 1})
        qid = self.send(server, "verify-ok")
        line = self.attempt(server, qid, "delivered")
        self.assertEqual(line.get("tls"), "yes", line)
        self.assertEqual(line.get("verified"), "yes", line)
        self.assertIn(b"with ESMTPS", self.received(peer))
        # the next connection to the same ehlo resumes, and keeps the verdict
        again = self.send(server, "verify-ok-again")
        line = self.attempt(server, again, "delivered")
        self.assertEqual((line.get("resumed"), line.get("verified")), ("yes", "yes"), line)

    def test_verify_defers_a_certificate_for_another_name_Rfc6125_6_4(self):
        peer = self.tls_peer(self.wrong_name)
        # the per-domain table of [outbound] this time, not the route
        server = self.sender(peer.port, delivery=SLOW_RETRY,
                             outbound={"tls_policy": {'"remote.example"': "verify"}, "tls_ca_file": self.ca})
        qid = self.send(server, "verify-wrong-name")
        line = self.attempt(server, qid, "deferred")
        self.assertIn("4.7.5", line.get("reply", ""), line)
        self.assertIn("hostname mismatch", line.get("reply", ""), line)
        # the attempt was encrypted, and says so, with what did not verify
        self.assertEqual((line.get("tls"), line.get("verified")), ("yes", "no"), line)
        self.assertIn("hostname mismatch", line.get("verify_error", ""), line)
        shown = self.deferred_reason(server, qid)
        self.assertIn("hostname mismatch", shown)
        self.assertIn("other.example", shown)            # what the certificate is for
        self.assertIn(MX_NAME, shown)                    # which host it was
        self.assertEqual(peer.maildir_files("bob"), [])
        self.assertIn(qid, server.spool_files())

    def test_verify_defers_a_certificate_from_an_unknown_ca(self):
        peer = self.tls_peer(self.self_signed)
        server = self.sender(peer.port, tls="verify", ca_file=self.ca, delivery=SLOW_RETRY)
        qid = self.send(server, "verify-unknown-ca")
        line = self.attempt(server, qid, "deferred")
        self.assertIn("did not verify", line.get("reply", ""), line)
        shown = self.deferred_reason(server, qid)
        self.assertRegex(shown, r"self-signed certificate|unable to get local issuer")
        self.assertIn("451 4.7.5", shown)
        self.assertEqual(peer.maildir_files("bob"), [])

    def test_verify_trusts_ssl_cert_file(self):
        # No tls_ca_file: the system's store, which OpenSSL's SSL_CERT_FILE names.
        peer = self.tls_peer(self.good)
        server = self.sender(peer.port, tls="verify", env={"SSL_CERT_FILE": self.ca})
        qid = self.send(server, "verify-system-store")
        line = self.attempt(server, qid, "delivered")
        self.assertEqual((line.get("tls"), line.get("verified")), ("yes", "yes"), line)
        self.assertNotIn("verify_error", line)
        self.assertIn(b"with ESMTPS", self.received(peer))

    def test_verify_default_store_defers(self):
        # The same peer against OpenSSL's default store (SSL_CERT_FILE empty: not set), which
        # does not hold the test CA: deferred as unverified, nothing sent.
        peer = self.tls_peer(self.good)
        server = self.sender(peer.port, tls="verify", delivery=SLOW_RETRY, env={"SSL_CERT_FILE": ""})
        qid = self.send(server, "verify-default-store")
        line = self.attempt(server, qid, "deferred")
        self.assertIn("451 4.7.5", line.get("reply", ""), line)
        self.assertIn("did not verify", line.get("reply", ""), line)
        self.assertEqual((line.get("tls"), line.get("verified")), ("yes", "no"), line)
        self.assertIn("unable to get local issuer certificate", line.get("verify_error", ""), line)
        self.assertEqual(peer.maildir_files("bob"), [])
        self.assertIn(qid, server.spool_files())

    def test_verify_delayed_dsn_says_why_Rfc3464_2_3_3(self):
        peer = self.tls_peer(self.wrong_name)
        server = self.sender(peer.port, tls="verify", ca_file=self.ca, delivery={"delay_warning": 2})
        self.send(server, "verify-delayed")
        _, bob, diagnostic = self.dsn_to_alice(server, "bob@remote.example")
        self.assertEqual(bob.get("action", "").lower(), "delayed", bob)
        self.assertEqual(bob.get("status"), "4.7.5", bob)
        self.assertIn("TLS required by policy verify", diagnostic, bob)
        # what the certificate names, what it had to name, and the session it came over
        self.assertIn(f"hostname mismatch (the certificate is for other.example, not {MX_NAME})", diagnostic, bob)
        self.assertRegex(diagnostic, r"\(TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)\)", bob)
        self.assertEqual(peer.maildir_files("bob"), [])

    def test_bounce_over_tls_says_so_Rfc3464(self):
        # A 5xx from the peer over TLS: the DSN's Diagnostic-Code is the peer's reply as it was
        # (RFC 3464 2.3.6), and the part people read says how that connection was protected.
        peer = self.tls_peer(self.good)
        server = self.sender(peer.port, tls="verify", ca_file=self.ca)
        qid = server.send("tls-bounce", to=("nobody@remote.example",), sender=LOCAL_SENDER)
        self.attempt(server, qid, "failed")
        msg, nobody, diagnostic = self.dsn_to_alice(server, "nobody@remote.example")
        self.assertEqual(nobody.get("action", "").lower(), "failed", nobody)
        self.assertEqual(nobody.get("status"), "5.1.1", nobody)
        self.assertIn(MX_NAME, nobody.get("remote-mta", ""), nobody)
        self.assertRegex(diagnostic, r"^smtp; 550 5\.1\.1 ", nobody)
        self.assertNotIn("TLS", diagnostic, nobody)
        prose = re.sub(r"\s+", " ", msg.get_payload()[0].get_payload())
        self.assertRegex(prose, r"<nobody@remote\.example>: failed, host " + re.escape(MX_NAME)
                         + r"[^:]* said \(over TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\), verified\): 550 5\.1\.1 ")

    # -- encrypt

    def test_encrypt_defers_a_peer_without_starttls(self):
        peer = self.start_peer()                  # offers no STARTTLS
        server = self.sender(peer.port, tls="encrypt", delivery=SLOW_RETRY)
        qid = self.send(server, "encrypt-no-tls")
        line = self.attempt(server, qid, "deferred")
        self.assertIn("4.7.10", line.get("reply", ""), line)
        self.assertEqual(line.get("tls"), "no", line)
        shown = self.deferred_reason(server, qid)
        self.assertIn("TLS required by policy encrypt", shown)
        self.assertIn("does not offer STARTTLS", shown)
        self.assertEqual(peer.command_lines("MAIL"), [])
        listed = server.queue_list()[qid]
        self.assertIn("4.7.10", listed.recipients[0]["last"] or "", listed)

    def test_delayed_dsn_says_why_Rfc3464_2_3_3(self):
        peer = self.start_peer()                  # offers no STARTTLS
        server = self.sender(peer.port, tls="encrypt", delivery={"delay_warning": 2})
        self.send(server, "encrypt-delayed")
        _, bob, diagnostic = self.dsn_to_alice(server, "bob@remote.example")
        self.assertEqual(bob.get("action", "").lower(), "delayed", bob)
        self.assertEqual(bob.get("status"), "4.7.10", bob)
        self.assertIn("TLS required by policy encrypt", diagnostic, bob)
        self.assertIn("does not offer STARTTLS", diagnostic, bob)
        self.assertNotIn("remote-mta", bob)       # our reply, not the peer's
        self.assertEqual(peer.command_lines("MAIL"), [])

    def test_encrypt_never_falls_back_after_a_failed_handshake(self):
        peer = self.start_peer()
        peer.keywords.append("STARTTLS")
        peer.starttls = lambda s: "220 2.0.0 Ready to start TLS"
        server = self.sender(peer.port, tls="encrypt", delivery=SLOW_RETRY)
        qid = self.send(server, "encrypt-bad-handshake")
        line = self.attempt(server, qid, "deferred")
        self.assertIn("4.7.5", line.get("reply", ""), line)
        self.assertIn("TLS handshake", self.deferred_reason(server, qid))
        self.assertEqual(peer.command_lines("MAIL"), [])
        self.assertEqual(server.log_events("remote-tls-fallback"), [])
        self.assertEqual(len(peer.sessions), 1)

    # -- a private Postfix with a certificate (its smtpd's STARTTLS)

    def postfix(self, certificate):
        why = harness.postfix_usable()
        if why:
            self.skipTest(why)
        postfix = harness.PrivatePostfix(domain="remote.example", mailboxes=("bob",), tls=certificate)
        self.addCleanup(postfix.stop)
        return postfix.start()

    def test_verify_to_postfix_delivers_verified_and_recorded(self):
        postfix = self.postfix(self.good)
        server = self.sender(postfix.port, tls="verify", ca_file=self.ca)
        qid = self.send(server, "postfix-verify")
        line = self.attempt(server, qid, "delivered")
        self.assertEqual((line.get("tls"), line.get("verified")), ("yes", "yes"), line)
        self.assertRegex(line.get("protocol", ""), r"^TLSv1\.[23]$")
        (path,) = postfix.wait_for_delivery("bob", 1)
        headers, _ = harness.split_message(harness.read_file(path))
        received = [h for h in headers if h.startswith(b"Received:")][0]
        self.assertIn(b"with ESMTPS", received)          # Postfix's own record of it
        self.assertIn("TLS connection established from", postfix.log_tail(200))

    def test_verify_to_postfix_with_a_wrong_host_name_defers(self):
        postfix = self.postfix(self.wrong_name)
        server = self.sender(postfix.port, tls="verify", ca_file=self.ca, delivery=SLOW_RETRY)
        qid = self.send(server, "postfix-wrong-name")
        line = self.attempt(server, qid, "deferred")
        self.assertIn("hostname mismatch", line.get("reply", ""), line)
        self.assertIn("hostname mismatch", self.deferred_reason(server, qid))
        self.assertEqual(postfix.maildir_files("bob"), [])

    # -- none

    def test_none_sends_plaintext_to_a_peer_that_offers_starttls(self):
        peer = self.tls_peer(self.good)
        server = self.sender(peer.port, tls="none")
        qid = self.send(server, "none-plain")
        line = self.attempt(server, qid, "delivered")
        self.assertEqual(line.get("tls"), "no", line)
        received = self.received(peer)
        self.assertNotIn(b"ESMTPS", received)
        self.assertIn(b"with ESMTP", received)
        self.assertEqual(peer.log_events("tls"), [])


if __name__ == "__main__":
    harness.main()
