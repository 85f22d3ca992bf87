#!/usr/bin/env python3
"""The content of a message is bounded in time and size however it is sent.

A message that flows steadily but too slowly (a byte now and then, so the idle timeout of
RFC 5321 4.5.3.2 never fires) meets limits.data_total_timeout: 421 4.4.2, the connection is
closed and nothing is queued. A BDAT chunk larger than the advertised SIZE (RFC 1870, RFC 3030
2) is refused at once with 552 5.3.4, and the connection is closed without reading it; the
client still gets both replies before the close.
"""
import time

import harness


class MessageTimeLimits(harness.E2ETest):

    def test_slow_steady_data_hits_total_limit(self):
        server = self.start_server(limits={"data_timeout": 600, "data_total_timeout": 2})
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
            c.expect(250)
            c.expect(250)
            c.expect(354)
            start = time.monotonic()
            c.send(b"Subject: slow\r\n\r\n")
            reply = None
            while time.monotonic() - start < 10:
                try:
                    c.send(b"x\r\n")
                except OSError:
                    break
                try:
                    reply = c.reply(timeout=0.4)
                    break
                except TimeoutError:
                    continue
            self.assertIsNotNone(reply, "no reply within 10 s")
            self.assertEqual(reply.code, 421, reply)
            self.assertTrue(reply.last.startswith(b"421 4.4.2 "), reply)
            self.assertIn(b"time limit", reply.last)
            elapsed = time.monotonic() - start
            self.assertGreater(elapsed, 1.5)
            self.assertLess(elapsed, 6)
            self.assertTrue(c.closed_by_peer(5))
        server.wait_log("data-timeout")
        server.assert_stays("alice", 0)

    def test_huge_bdat_chunk_refused_unread_rfc3030_2(self):
        server = self.start_server(limits={"message_size": 100_000})
        with server.connect() as c:
            c.expect(220)
            c.cmd("EHLO client.test")
            c.send(b"MAIL FROM:<sender@client.test>\r\nRCPT TO:<alice@example.test>\r\n")
            c.expect(250)
            c.expect(250)
            start = time.monotonic()
            c.send(b"BDAT 10000000000 LAST\r\n")
            # the client goes on sending its chunk (half a MiB of it, within what the server
            # drains before it closes) while the replies come back
            try:
                for _ in range(8):
                    c.send(b"z" * 65536)
            except OSError:
                pass
            replies = c.replies_until_close(timeout=10)
            self.assertLess(time.monotonic() - start, 8)
            codes = [r.code for r in replies]
            self.assertEqual(codes, [552, 421], replies)
            self.assertTrue(replies[0].last.startswith(b"552 5.3.4 "))
        server.wait_log("chunk-too-big")
        # the server is fine
        server.send("after-the-big-chunk")
        server.wait_for_delivery("alice", 1)


if __name__ == "__main__":
    harness.main()
