#!/usr/bin/env python3
"""The retry schedule (RFC 5321 4.5.4.1): after a temporary failure the client waits before it
tries the destination again, retry_min at first, doubling up to retry_max.

A scripted peer answers every RCPT with 451 and notes when each attempt came. With
retry_min = 1 and retry_max = 4 the waits between attempts must be about 1, 2, 4, 4 s: never
shorter than the schedule says (a retry that comes early hammers a struggling peer), and
not much longer either (0.5 s of slack for the scheduler and a loaded machine).
"""
import time

import harness
from harness import LOCAL_SENDER

RETRY_MIN, RETRY_MAX = 1, 4
EXPECTED = [1, 2, 4, 4]        # s between attempts 1-2, 2-3, 3-4, 4-5
EARLY = 0.05                   # s a wait may fall short (clock granularity)
LATE = 0.5                     # s a wait may run over


class RetrySchedule(harness.E2ETest):

    def test_waits_double_from_retry_min_to_retry_max(self):
        peer = self.start_peer()
        times = []

        def rcpt(session, addr, line):
            times.append(time.monotonic())
            return "451 4.3.0 try again later"
        peer.rcpt = rcpt
        server = self.start_sender(routes=harness.route_to(peer.port),
                                   delivery={"retry_min": RETRY_MIN, "retry_max": RETRY_MAX})
        server.send("retry-schedule", to=("bob@remote.example",), sender=LOCAL_SENDER)
        harness.wait_until(lambda: len(times) > len(EXPECTED), sum(EXPECTED) + 10,
                           f"{len(EXPECTED) + 1} attempts (have {len(times)})")
        waits = [round(b - a, 2) for a, b in zip(times, times[1:])][:len(EXPECTED)]
        for want, got in zip(EXPECTED, waits):
            self.assertGreaterEqual(got, want - EARLY, f"retried too early: waits {waits}, "
                                                       f"schedule {EXPECTED}")
            self.assertLessEqual(got, want + LATE, f"retried too late: waits {waits}, "
                                                   f"schedule {EXPECTED}")

    def test_flush_makes_a_deferred_recipient_due_at_once(self):
        peer = self.start_peer()
        times = []

        def rcpt(session, addr, line):
            times.append(time.monotonic())
            return "451 4.3.0 try again later" if len(times) == 1 else "250 2.1.5 Ok"
        peer.rcpt = rcpt
        server = self.start_sender(routes=harness.route_to(peer.port),
                                   delivery={"retry_min": 30, "retry_max": 30})
        server.send("flush-now", to=("bob@remote.example",), sender=LOCAL_SENDER)
        harness.wait_until(lambda: times, 10, "a first attempt")
        server.wait_log("deferred", to="bob@remote.example")
        flushed = time.monotonic()
        server.queue_ok("flush")
        peer.wait_messages(1, timeout=10)
        self.assertLess(times[1] - flushed, 2.0, "flush did not make the retry happen now")


if __name__ == "__main__":
    harness.main()
