#!/usr/bin/env python3
"""Python's smtplib as a client: what an application sending mail does.

sendmail() to several recipients, send_message() of an internationalised message
(RFC 6531 SMTPUTF8, RFC 6152 8BITMIME) to a catch-all domain, and how smtplib maps the
server's refusals (550 unknown mailbox, 554 relay denied) to its exceptions.
"""
import os
import email.policy
import smtplib
from email.message import EmailMessage

import harness


class Smtplib(harness.E2ETest):

    def test_sendmail_to_several_recipients_rfc5321_3_3(self):
        server = self.start_server()
        msg = harness.simple_message("several", to="alice@example.test")
        with server.smtp() as s:
            refused = s.sendmail("sender@client.test",
                                 ["alice@example.test", "bob@example.test", "carol@example.test"],
                                 msg)
        self.assertEqual(refused, {})
        for user in ("alice", "bob", "carol"):
            (path,) = server.wait_for_delivery(user, 1)
            with open(path, "rb") as f:
                stored = f.read()
            self.assertIn(b"Message-ID: <several@client.test>", stored)
        # one transaction, one queue id for every copy
        ids = {harness.received_fields(m)[0] for u in ("alice", "bob", "carol")
               for m in server.read_maildir(u)}
        self.assertEqual(len(ids), 1, ids)
        server.wait_spool_empty()

    def test_send_message_smtputf8_and_8bit_rfc6531_rfc6152(self):
        # a second domain where every local part is a mailbox (catch_all)
        server = self.start_server(extra_domains=[{
            "name": "intl.test", "catch_all": True, "mailboxes": [],
            "maildir_root": "{dir}/intl", "postmaster": "postmaster"}])
        intl_root = os.path.join(server.dir, "intl")

        msg = EmailMessage()
        msg["From"] = "Frédéric <frédéric@client.test>"
        msg["To"] = "José <josé@intl.test>"
        msg["Subject"] = "Grüße aus Köln"
        msg.set_content("Ça marche: naïve café, 東京, Ελληνικά.\n", cte="8bit")
        with server.smtp() as s:
            s.ehlo()
            self.assertTrue(s.has_extn("smtputf8"))
            self.assertTrue(s.has_extn("8bitmime"))
            # the addresses are not ASCII: smtplib adds SMTPUTF8 and BODY=8BITMIME itself
            # (passing them again would send each twice, which is a 501 5.5.4)
            refused = s.send_message(msg)
            self.assertEqual(refused, {})
            # the same with the MAIL parameters given explicitly
            raw = msg.as_bytes(policy=email.policy.SMTPUTF8)
            refused = s.sendmail("frédéric@client.test", ["zoë@intl.test"], raw,
                                 mail_options=["SMTPUTF8", "BODY=8BITMIME"])
            self.assertEqual(refused, {})

        # a Maildir for each UTF-8 local part, made by the server (whatever it names it)
        server.wait_for_delivery("*", 2, root=intl_root)
        server.assert_stays("*", 2, root=intl_root)
        self.assertEqual(len(os.listdir(intl_root)), 2, os.listdir(intl_root))
        (path,) = [p for p in server.maildir_files("*", root=intl_root)
                   if harness.received_fields(harness.read_file(p))[1] == "josé@intl.test"]
        with open(path, "rb") as f:
            stored = f.read()
        # RFC 6531 3.7.1: UTF-8 reverse-path and 8-bit content arrive octet for octet
        self.assertTrue(stored.startswith("Return-Path: <frédéric@client.test>\n".encode()),
                        stored[:80])
        self.assertIn("Ça marche: naïve café, 東京, Ελληνικά.".encode(), stored)
        self.assertIn("Subject: Grüße aus Köln".encode(), stored)
        self.assertEqual(harness.received_fields(stored)[1], "josé@intl.test")

    def test_unknown_mailbox_is_recipients_refused_550_rfc5321_4_2_3(self):
        server = self.start_server()
        with server.smtp() as s:
            # the only recipient refused: smtplib raises, nothing is sent
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
                s.sendmail("sender@client.test", ["nobody@example.test"],
                           harness.simple_message("nobody"))
            code, text = cm.exception.recipients["nobody@example.test"]
            self.assertEqual(code, 550)
            self.assertTrue(text.startswith(b"5.1.1"), text)
            # one of two refused: the other still gets the message
            s.rset()
            refused = s.sendmail("sender@client.test", ["nobody@example.test", "bob@example.test"],
                                 harness.simple_message("half"))
            self.assertEqual(refused["nobody@example.test"][0], 550)
            self.assertNotIn("bob@example.test", refused)
        server.wait_for_delivery("bob", 1)
        server.assert_stays("bob", 1)

    def test_relay_denied_is_recipients_refused_554_rfc5321_3_6_2(self):
        server = self.start_server()
        with server.smtp(source="127.0.0.2") as s:
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
                s.sendmail("sender@client.test", ["someone@other.test"],
                           harness.simple_message("relay"))
            code, text = cm.exception.recipients["someone@other.test"]
            self.assertEqual(code, 554)
            self.assertTrue(text.startswith(b"5.7.1"), text)
        self.assertEqual(server.spool_files(), [])


if __name__ == "__main__":
    harness.main()
