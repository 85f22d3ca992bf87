#!/usr/bin/env python3
"""Listener kinds: submission (RFC 6409, port 587 style) wants STARTTLS and then AUTH before
MAIL (530 5.7.0 either way), submissions (RFC 8314 3.3, port 465 style) speaks TLS from the
first octet and greets only then; the smtp listener of the same server is not affected.
"""
import os
import ssl
import subprocess
import tempfile

import harness


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Submission(harness.E2ETest):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ehlo-sub-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))

    def submission_server(self, **kwargs):
        chain, key = harness.make_certificate(self.tmp, "mx", cn="mx.test")
        return self.start_server(
            tables={"tls": {"certificates": [{"chain": chain, "key": key}]}},
            listeners=[{"address": "127.0.0.1:{port:submission}", "kind": "submission"},
                       {"address": "127.0.0.1:{port:submissions}", "kind": "submissions"}],
            **kwargs)

    def test_submission_wants_starttls_then_auth_rfc6409_rfc3207_4(self):
        server = self.submission_server()
        with harness.Client("127.0.0.1", server.ports["submission"]) as c:
            c.expect(220)
            self.assertIn(b"STARTTLS", c.cmd("EHLO client.test").text)
            c.line("MAIL FROM:<sender@client.test>")
            c.expect(530, "530 5.7.0 Must issue a STARTTLS command first")
            c.line("STARTTLS")
            c.expect(220)
            c.sock = client_context().wrap_socket(c.sock, server_hostname="mx.test")
            self.assertNotIn(b"STARTTLS", c.cmd("EHLO client.test").text)
            c.line("MAIL FROM:<sender@client.test>")
            c.expect(530, "530 5.7.0 Authentication required")
            c.line("QUIT")
            c.expect(221)

    def test_submissions_is_tls_from_the_first_octet_rfc8314_3_3(self):
        server = self.submission_server()
        r = harness.s_client(server.ports["submissions"], "-servername", "mx.test",
                             input_data=b"EHLO client.test\r\nMAIL FROM:<sender@client.test>\r\nQUIT\r\n")
        out = r.stdout
        self.assertRegex(out, rb"Protocol *: TLSv1\.[23]")
        self.assertIn(b"220 mx.test ESMTP", out)
        self.assertNotIn(b"STARTTLS", out.split(b"220 mx.test")[-1])
        self.assertIn(b"530 5.7.0 Authentication required", out)
        # a plaintext client gets no greeting at all: the port expects a ClientHello
        with harness.Client("127.0.0.1", server.ports["submissions"]) as c:
            c.send(b"EHLO client.test\r\n")
            self.assertTrue(c.closed_by_peer(8))
            self.assertNotIn(b"220", c.buf)

    def test_smtp_listener_beside_them_is_unchanged(self):
        server = self.submission_server()
        server.send("plain-smtp")
        server.wait_for_delivery("alice", 1)

    def test_submission_without_certificate_refuses_to_start(self):
        server = self.make_server(listeners=[{"address": "127.0.0.1:{port:s}", "kind": "submission"}])
        with self.assertRaises(RuntimeError) as e:
            server.start()
        self.assertIn("needs a TLS certificate", str(e.exception))


if __name__ == "__main__":
    harness.main()
