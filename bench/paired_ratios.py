#!/usr/bin/env python3
"""Repeat-by-repeat ratios of two servers from the shared benchmark's --json files.

    bench/paired_ratios.py SERVER BASELINE FILE.json [FILE.json ...]

In a --headline-only run the servers take turns in each repeat, so the i-th repeat of
SERVER and of BASELINE ran side by side, on the machine as it was then; their ratio is
freer of the machine's drift from repeat to repeat (up to 40 % here, docs/performance.md)
than a ratio of the two medians. Prints, per file and for all files pooled, the median and
mean ratio of accepted and delivered msg/s and of CPU seconds per 1000 messages.
"""
import json
import statistics
import sys

KEYS = (("accept_rate", "accepted msg/s"), ("deliver_rate", "delivered msg/s"), ("cpu_per_1k", "CPU s/1000 msgs"))


def ratios(path, server, baseline):
    runs = json.load(open(path))["raw"]["throughput"]
    # Paired by position first (the i-th repeat of each), then a pair with an error on
    # either side is left out: leaving errors out first would shift every later pair.
    a = [r for r in runs if r["server"] == server]
    b = [r for r in runs if r["server"] == baseline]
    if not a or not b:
        sys.exit(f"{path}: no repeats of {server if not a else baseline}")
    pairs = [(x, y) for x, y in zip(a, b) if not x.get("error") and not y.get("error")]
    return {k: [x[k] / y[k] for x, y in pairs if x.get(k) and y.get(k)] for k, _ in KEYS}


def show(label, r):
    def one(k, name):
        if not r[k]:
            return f"{name} -"
        return f"{name} {statistics.median(r[k]):.3f} / {statistics.mean(r[k]):.3f} (n={len(r[k])})"
    print(f"{label}: median / mean ratio: " + "; ".join(one(k, name) for k, name in KEYS))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    server, baseline, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    pooled = {k: [] for k, _ in KEYS}
    for f in files:
        r = ratios(f, server, baseline)
        show(f, r)
        for k in pooled:
            pooled[k] += r[k]
    if len(files) > 1:
        show("pooled", pooled)


main()
