#!/usr/bin/env python3
"""STARTTLS (RFC 3207) on an smtp listener, against real clients: openssl s_client, Python's
smtplib, swaks and curl; the Received header names protocol and cipher (RFC 3848 ESMTPS, as
Postfix writes it). The STARTTLS injection of CVE-2011-0411 is not executed; TLS 1.1 is
refused; garbage instead of a ClientHello, or no ClientHello at all, costs one log line and
the connection; the certificate is chosen by SNI (RFC 6066 3). Certificates are made in the
test's folder with the openssl command.
"""
import os
import smtplib
import socket
import ssl
import subprocess
import time

import harness


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def start_tls(c, server_hostname="mx.test"):
    """TLS on a harness.Client whose STARTTLS got its 220; its socket is then the TLS one."""
    wrapped = client_context().wrap_socket(c.sock, server_hostname=server_hostname)
    c.sock = wrapped
    return wrapped


class StartTls(harness.E2ETest):

    def tls_server(self, tls=None, **kwargs):
        folder = self.cert_dir = os.path.join(self.tmp, "certs")
        os.makedirs(folder, exist_ok=True)
        chain, key = harness.make_certificate(folder, "mx", cn="mx.test")
        self.chain = chain
        t = {"certificates": [{"chain": chain, "key": key}], "handshake_timeout": 5}
        t.update(tls or {})
        tables = kwargs.pop("tables", {})
        tables["tls"] = t
        return self.start_server(tables=tables, **kwargs)

    def setUp(self):
        super().setUp()
        import tempfile
        self.tmp = tempfile.mkdtemp(prefix="ehlo-tls-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))

    def test_openssl_s_client_starttls_delivers_esmtps(self):
        server = self.tls_server()
        dialog = (b"EHLO client.test\r\n"
                  b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
                  + harness.simple_message("over-tls") + b".\r\nQUIT\r\n")
        r = harness.s_client(server.port, "-starttls", "smtp", "-servername", "mx.test",
                             input_data=dialog)
        out = r.stdout
        self.assertIn(b"250 2.0.0 Ok: queued as", out, r.stderr)
        self.assertRegex(out, rb"Protocol *: TLSv1\.[23]")
        # after the handshake the EHLO reply offers no STARTTLS (RFC 3207 4.2)
        after = out.split(b"---\n")[-1]
        self.assertNotIn(b"STARTTLS", after)
        (path,) = server.wait_for_delivery("alice", 1)
        headers, _ = harness.split_message(harness.read_file(path))
        received = [h for h in headers if h.startswith(b"Received:")][0]
        self.assertRegex(received, rb"\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ \(\d+/\d+ bits\)\)")
        self.assertIn(b"with ESMTPS id", received)
        lines = server.log_events("tls")
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("cipher", lines[0])
        server.wait_log_where("disconnect", lambda f: f.get("tls", "").startswith("TLSv1."), timeout=10)

    def test_smtplib_starttls(self):
        server = self.tls_server()
        with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test", timeout=15) as s:
            code, text = s.ehlo()
            self.assertIn(b"STARTTLS", text)
            s.starttls(context=client_context())
            code, text = s.ehlo()
            self.assertNotIn(b"STARTTLS", text)
            s.sendmail("sender@client.test", ["alice@example.test"], harness.simple_message("smtplib-tls"))
        server.wait_for_delivery("alice", 1)

    def test_swaks_tls(self):
        swaks = harness.require_tool("swaks")
        if subprocess.run(["perl", "-MNet::SSLeay", "-e", "1"], capture_output=True).returncode != 0:
            self.skipTest("swaks needs Net::SSLeay for TLS (libnet-ssleay-perl)")
        server = self.tls_server()
        r = subprocess.run([swaks, "--server", f"127.0.0.1:{server.port}", "--tls",
                            "--from", "sender@client.test", "--to", "alice@example.test",
                            "--helo", "client.test", "--timeout", "15"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(b"TLS started", r.stdout)
        server.wait_for_delivery("alice", 1)

    def test_curl_ssl_reqd(self):
        curl = harness.require_tool("curl")
        server = self.tls_server()
        path = os.path.join(self.tmp, "m.eml")
        with open(path, "wb") as f:
            f.write(harness.simple_message("curl-tls"))
        r = subprocess.run([curl, "-sS", "--max-time", "30", "--ssl-reqd", "-k",
                            f"smtp://127.0.0.1:{server.port}/client.test",
                            "--mail-from", "sender@client.test", "--mail-rcpt", "alice@example.test",
                            "--upload-file", path], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        server.wait_for_delivery("alice", 1)

    def test_starttls_injection_is_not_executed_cve_2011_0411(self):
        server = self.tls_server()
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            # the command and the injected one in one packet, as a man in the middle would add it
            c.send(b"STARTTLS\r\nMAIL FROM:<evil@attacker.test>\r\n")
            c.expect(220, "220 2.0.0")
            self.assertEqual(c.buf, b"")   # nothing answered the injected line in plaintext
            start_tls(c)
            ehlo = c.cmd("EHLO client.test")
            self.assertEqual(ehlo.code, 250, ehlo)       # the first reply inside TLS is EHLO's
            c.line("RCPT TO:<alice@example.test>")
            c.expect(503, "503 5.5.1")                   # no transaction: MAIL never ran
            c.line("QUIT")
            c.expect(221)
        self.assertFalse([l for l in server.log_events("mail")], "the injected MAIL ran")

    def test_tls_1_1_client_is_refused(self):
        server = self.tls_server()
        r = harness.s_client(server.port, "-starttls", "smtp", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
                             input_data=b"QUIT\r\n")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn(b"Cipher is (NONE)", r.stdout)     # no session was agreed
        server.wait_log("tls-failed", timeout=10)
        # a TLS 1.2 client is fine
        r = harness.s_client(server.port, "-starttls", "smtp", "-tls1_2", input_data=b"QUIT\r\n")
        self.assertIn(b"Protocol  : TLSv1.2", r.stdout)

    def test_garbage_instead_of_client_hello_closes(self):
        server = self.tls_server(limits={"connections_per_client": 2})
        for _ in range(3):
            with server.connect() as c:
                c.expect(220)
                c.cmd("EHLO client.test")
                c.line("STARTTLS")
                c.expect(220)
                start = time.monotonic()
                c.send(b"GET / HTTP/1.0\r\nHost: mx.test\r\n\r\n")
                self.assertTrue(c.closed_by_peer(3))
                self.assertLess(time.monotonic() - start, 3)
        server.wait_log("tls-failed", n=3, timeout=10)
        # no slot was kept: a good client is served
        server.send("after-garbage")
        server.wait_for_delivery("alice", 1)

    def test_silent_client_meets_the_handshake_timeout(self):
        server = self.tls_server(tls={"handshake_timeout": 2})
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.line("STARTTLS")
            c.expect(220)
            start = time.monotonic()
            self.assertTrue(c.closed_by_peer(8))
            self.assertGreater(time.monotonic() - start, 1.5)
        # The log is written by its own thread: wait for the line rather than read at once.
        server.wait_log("tls-failed", timeout=10, error="handshake timeout")

    def test_certificate_chosen_by_sni_rfc6066_3(self):
        folder = os.path.join(self.tmp, "sni")
        os.makedirs(folder)
        a = harness.make_certificate(folder, "a", cn="mx.test")
        b = harness.make_certificate(folder, "b", cn="other.test", sans=["other.test", "*.wild.test"])
        server = self.start_server(tables={"tls": {"certificates": [
            {"chain": a[0], "key": a[1]}, {"chain": b[0], "key": b[1]}]}})
        def subject(*args):
            r = harness.s_client(server.port, "-starttls", "smtp", *args, input_data=b"QUIT\r\n")
            for line in r.stdout.splitlines():
                if line.startswith(b"subject="):
                    return line
            self.fail(r.stdout + r.stderr)
        self.assertIn(b"mx.test", subject())
        self.assertIn(b"other.test", subject("-servername", "other.test"))
        self.assertIn(b"other.test", subject("-servername", "x.wild.test"))
        self.assertIn(b"mx.test", subject("-servername", "unknown.test"))

    def test_no_certificate_no_starttls_rfc3207_4(self):
        server = self.start_server()
        with server.connect() as c:
            c.expect(220)
            self.assertNotIn(b"STARTTLS", c.cmd("EHLO client.test").text)
            c.line("STARTTLS")
            c.expect(502)


if __name__ == "__main__":
    harness.main()
