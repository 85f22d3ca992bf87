#!/usr/bin/env python3
"""Certificates are read again on SIGHUP and `ehlo reload` without dropping sessions: the next
client sees the new certificate while a TLS session begun before goes on and delivers; a bad
new file keeps the old certificate in use and says why.
"""
import os
import shutil
import signal
import smtplib
import ssl
import subprocess
import tempfile

import harness


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def der_of(chain):
    with open(chain) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class TlsReload(harness.E2ETest):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ehlo-reload-")
        self.addCleanup(lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        self.old = harness.make_certificate(self.tmp, "old", cn="mx.test")
        self.new = harness.make_certificate(self.tmp, "new", cn="mx.test")
        self.chain = os.path.join(self.tmp, "live.pem")
        self.key = os.path.join(self.tmp, "live.key")
        self.install(self.old)

    def install(self, pair):
        harness.copy_keeping_owner(pair[0], self.chain + ".tmp")
        harness.copy_keeping_owner(pair[1], self.key + ".tmp")
        os.replace(self.chain + ".tmp", self.chain)
        os.replace(self.key + ".tmp", self.key)

    def server(self):
        return self.start_server(tables={"tls": {"certificates": [{"chain": self.chain, "key": self.key}]}})

    def peer_certificate(self, server):
        with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test", timeout=15) as s:
            s.starttls(context=client_context())
            return s.sock.getpeercert(binary_form=True)

    def test_sighup_reload_new_client_new_cert_old_session_goes_on(self):
        server = self.server()
        old_session = smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test", timeout=15)
        try:
            old_session.starttls(context=client_context())
            self.assertEqual(old_session.sock.getpeercert(binary_form=True), der_of(self.old[0]))
            old_session.ehlo()
            old_session.mail("sender@client.test")
            self.install(self.new)
            os.kill(server.pid, signal.SIGHUP)
            server.wait_log("reloaded", timeout=10)
            self.assertEqual(self.peer_certificate(server), der_of(self.new[0]))
            # the session begun before the reload goes on under its certificate
            old_session.rcpt("alice@example.test")
            old_session.data(harness.simple_message("through-the-reload"))
            old_session.quit()
        finally:
            old_session.close()
        server.wait_for_delivery("alice", 1)
        self.assertTrue(server.alive())

    def test_ehlo_reload_and_a_bad_file_keeps_the_old_certificate(self):
        server = self.server()
        reload = [server.binary, "reload", "--config", server.config_path]
        self.install(self.new)
        r = subprocess.run(reload, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.peer_certificate(server), der_of(self.new[0]))
        # a broken chain file: refused, the certificate in use stays
        with open(self.chain, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        r = subprocess.run(reload, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"live.pem", r.stderr)
        self.assertIn(b"stay in use", r.stderr)
        server.wait_log("reload-failed", timeout=10)
        self.assertEqual(self.peer_certificate(server), der_of(self.new[0]))
        # a key that belongs to another certificate: refused too
        harness.copy_keeping_owner(self.new[0], self.chain)
        harness.copy_keeping_owner(self.old[1], self.key)
        r = subprocess.run(reload, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"live.key", r.stderr)             # OpenSSL: "key values mismatch"
        self.assertIn(b"stay in use", r.stderr)
        server.send("still-served")
        server.wait_for_delivery("alice", 1)


if __name__ == "__main__":
    harness.main()
