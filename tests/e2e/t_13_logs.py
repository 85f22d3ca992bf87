#!/usr/bin/env python3
"""Logs that let an operator follow a message: key=value lines, one per event.

A delivered message's queue id is in an event=queued line together with the session id of
the connection that brought it, and in an event=delivered line. With [log] dialog = true
every command and reply is logged, but never the message content (privacy; RFC 5321 7.x
does not ask a server to keep content anywhere but in the mailbox).
"""
import os

import harness


class Logs(harness.E2ETest):

    def test_queue_id_in_queued_and_delivered_lines_with_session(self):
        server = self.start_server()
        qid = server.send("logged")
        server.wait_for_delivery("alice", 1)
        server.wait_spool_empty()

        queued = [e for e in server.log_events("queued") if e.get("id") == qid]
        self.assertEqual(len(queued), 1, server.log_tail())
        session = queued[0].get("session")
        self.assertTrue(session, queued[0])

        delivered = [e for e in server.log_events("delivered") if e.get("id") == qid]
        self.assertGreaterEqual(len(delivered), 1, server.log_tail())
        for e in delivered:
            if "session" in e:
                self.assertEqual(e["session"], session, e)
        # the session id ties the message to its connection: other lines of it carry it too
        with_session = [f for f in map(harness.parse_log_line, server.log_lines())
                        if f.get("session") == session]
        self.assertGreater(len(with_session), 1, "only the queued line names the session")

    def test_log_file_and_dialog_without_content(self):
        server = self.start_server(log={"dialog": True, "file": "{dir}/ehlo.log"})
        self.assertTrue(server.log_path.endswith("ehlo.log"))
        secret_subject = "SubjectThatMustNotBeLogged"
        secret_body = "BodyLineThatMustNotBeLogged"
        message = (f"From: <sender@client.test>\r\nTo: <alice@example.test>\r\n"
                   f"Subject: {secret_subject}\r\n\r\n{secret_body}\r\n").encode()
        qid = server.send("dialog", message=message)
        server.wait_for_delivery("alice", 1)
        text = server.log_text()
        self.assertTrue(os.path.getsize(server.log_path) > 0)
        # smtplib writes "mail FROM:" and "rcpt TO:" (verbs are case-insensitive)
        for seen in ("MAIL FROM:<sender@client.test>", "RCPT TO:<alice@example.test>",
                     "DATA", "250 2.1.0", "250 2.1.5", "354", qid):
            self.assertIn(seen.lower(), text.lower())
        self.assertNotIn(secret_subject, text)
        self.assertNotIn(secret_body, text)


if __name__ == "__main__":
    harness.main()
