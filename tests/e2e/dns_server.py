"""A real DNS server on loopback for end-to-end tests: Debian's unbound on a free port of
127.0.0.1, answering only from the records a test gives it.

The same server as tests/unit/delivery/dns_test_server.cpp: every name without local data is
NXDOMAIN (the zone "." is a static local zone), and no query ever leaves the machine
(do-not-query-address covers every address). Python 3 standard library only. The server is
stopped when the `with` block ends, also when a test fails, and gets SIGKILL if the test
process dies.

Names under "test." cannot be used for routing: libunbound (in ehlo) and unbound answer
NXDOMAIN for them on their own (RFC 6761 6.2). Use "example." (RFC 2606).

    with dns_server.DnsServer(["remote.example. MX 10 mx.remote.example.",
                               "mx.remote.example. A 127.0.0.1"]) as dns:
        config = {"delivery": {"dns_servers": [dns.forwarder]}}   # "127.0.0.1@PORT"

Run by hand: python3 dns_server.py 'a.example. MX 10 mx.a.example.' 'mx.a.example. A 127.0.0.2'
prints the forwarder address and serves until interrupted.
"""
import atexit
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

UNBOUND = "/usr/sbin/unbound"
START_TIMEOUT = 10.0   # s until the server answers a query
STOP_TIMEOUT = 5.0     # s after SIGTERM before SIGKILL
START_ATTEMPTS = 3     # another process may take the chosen port before unbound binds it

_running = set()


def _kill_leftovers():
    for p in list(_running):
        if p.poll() is None:
            p.kill()
            p.wait(STOP_TIMEOUT)


atexit.register(_kill_leftovers)


def _die_with_parent():
    """preexec_fn: the server gets SIGKILL if the test process dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _quoted(value):
    """unbound.conf strings are quoted; a record with double quotes in it (TXT) is single-quoted."""
    if "\n" in value or "\r" in value:
        raise ValueError("newline in a DNS record")
    if '"' not in value:
        return '"%s"' % value
    if "'" in value:
        raise ValueError("both quote kinds in a DNS record")
    return "'%s'" % value


def unbound_config(port, directory, records, refused_zones=()):
    """The configuration DnsServer runs with (the same as the C++ test support writes)."""
    lines = [
        "server:",
        "  interface: 127.0.0.1",
        "  port: %d" % port,
        "  do-ip6: no",
        "  do-daemonize: no",
        '  chroot: ""',
        '  username: ""',
        "  directory: %s" % _quoted(directory),
        '  pidfile: ""',
        "  use-syslog: no",
        '  logfile: ""',
        "  verbosity: 1",
        "  num-threads: 1",
        "  so-reuseport: no",
        "  access-control: 127.0.0.0/8 allow",
        '  module-config: "iterator"',
        "  do-not-query-address: 0.0.0.0/0",
        "  do-not-query-address: ::/0",
        '  local-zone: "." static',
    ]
    lines += ["  local-zone: %s refuse" % _quoted(z) for z in refused_zones]
    lines += ["  local-data: %s" % _quoted(r) for r in records]
    lines += ["remote-control:", "  control-enable: no"]
    return "\n".join(lines) + "\n"


def key_record(printed):
    """What `ehlo dkim keygen` prints (`NAME. IN TXT ( "a" "b" )`) as a record for DnsServer."""
    m = re.match(r'(\S+) IN TXT \((.*)\)', printed.strip(), re.S)
    return m.group(1) + " TXT " + " ".join('"%s"' % s for s in re.findall(r'"([^"]*)"', m.group(2)))


def _free_port():
    """A port of 127.0.0.1 free for both UDP and TCP (unbound listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free loopback port")


def dns_answers(port, timeout=0.1):
    """True if a DNS server on 127.0.0.1:port answers a query ("probe." A) within timeout."""
    query = b"\x45\x48\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05probe\x00\x00\x01\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(query, ("127.0.0.1", port))
            reply = s.recv(512)
        except OSError:  # timeout, or ICMP port unreachable
            time.sleep(0.02)
            return False
    return len(reply) >= 12 and reply[:2] == query[:2]


class DnsServer:
    """unbound with the given local-data records; refused_zones are answered REFUSED (a resolver
    reports them as SERVFAIL: a temporary DNS failure)."""

    def __init__(self, records, refused_zones=()):
        self.records = list(records)
        self.refused_zones = list(refused_zones)
        self.port = None
        self.config = None
        self.dir = None
        self._proc = None

    @property
    def forwarder(self):
        return "127.0.0.1@%d" % self.port

    def start(self):
        if not os.access(UNBOUND, os.X_OK):
            raise RuntimeError("%s is not installed (Debian package unbound)" % UNBOUND)
        self.dir = tempfile.mkdtemp(prefix="ehlo-dns-")
        log = ""
        for _ in range(START_ATTEMPTS):
            if self._try_start(_free_port()):
                return self
            log = self.log()
        self.stop()
        raise RuntimeError("unbound did not start; its log:\n" + log)

    def _try_start(self, port):
        self.port = port
        self.config = unbound_config(port, self.dir, self.records, self.refused_zones)
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write(self.config)
        with open(os.path.join(self.dir, "unbound.log"), "wb") as log:
            self._proc = subprocess.Popen([UNBOUND, "-d", "-p", "-c", conf], stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=log, preexec_fn=_die_with_parent)
        _running.add(self._proc)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if dns_answers(port):
                return True
            if self._proc.poll() is not None:  # exited: most likely the port was taken
                _running.discard(self._proc)
                self._proc = None
                return False
        self._stop_process()
        return False

    def log(self):
        try:
            with open(os.path.join(self.dir, "unbound.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _stop_process(self):
        p, self._proc = self._proc, None
        if p is None:
            return
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(STOP_TIMEOUT)
        _running.discard(p)

    def stop(self):
        self._stop_process()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


if __name__ == "__main__":
    with DnsServer(sys.argv[1:]) as server:
        print(server.forwarder, flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
