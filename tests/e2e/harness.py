"""End-to-end harness: runs the real `ehlo` binary on loopback and lets a test talk to it.

Python 3 standard library only. The binary comes from the environment variable EHLO_BIN
(ctest sets it to the built target). Every server gets its own temporary folder with its
configuration, spool, Maildirs and log, and a free loopback port. Everything is bounded in
time, and a server is always stopped, also when a test fails or the test process is killed
(the server gets SIGKILL when its parent dies).

    class MyTest(harness.E2ETest):
        def test_something(self):
            server = self.start_server(limits={"recipients": 100})
            with server.connect() as c:
                c.expect(220)
                ...
            server.wait_for_delivery("alice", 1)
"""
import atexit
import contextlib
import ctypes
import email
import email.policy
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

START_TIMEOUT = 10.0      # s until the port accepts and greets
STOP_TIMEOUT = 10.0       # s after SIGTERM before SIGKILL
REPLY_TIMEOUT = 15.0      # s for one SMTP reply
DELIVERY_TIMEOUT = 30.0   # s until messages are in a Maildir

SENDER = "sender@client.test"
QUEUED = re.compile(rb"^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)")

_open_servers = set()     # servers not closed yet: closed at exit whatever happens
_open_lock = threading.Lock()


def _close_leftovers():
    with _open_lock:
        servers = list(_open_servers)
    for s in servers:
        if s.proc is not None and s.proc.poll() is None:
            s.proc.kill()
        s.close()


def _interrupt(signum, frame):
    # SIGTERM (timeout(1), a CI runner) ends the test run like Ctrl-C, so that the exit
    # handler above still stops the servers and removes their folders
    raise KeyboardInterrupt(f"signal {signum}")


atexit.register(_close_leftovers)
if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _interrupt)


def _die_with_parent():
    """preexec_fn: the server gets SIGKILL if the test process dies (ctest timeout)."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def ehlo_binary():
    path = os.environ.get("EHLO_BIN", "")
    if not path or not os.access(path, os.X_OK):
        raise unittest.SkipTest("EHLO_BIN is not set to an executable ehlo binary")
    return path


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# ------------------------------------------------------------------------------ configuration

def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)          # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


def to_toml(tables, domains):
    out = []
    for name, values in tables.items():
        out.append(f"[{name}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        out.append("")
    for d in domains:
        out.append("[[domain]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in d.items()]
        out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------------------ messages

def split_message(data: bytes):
    """(header lines unfolded, body) of a stored message (LF line endings)."""
    head, _, body = data.partition(b"\n\n")
    headers = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and headers:
            headers[-1] += b" " + line.strip()
        else:
            headers.append(line)
    return headers, body


def received_fields(data: bytes):
    """(queue id, recipient or None) from the first Received header of a stored message."""
    for h in split_message(data)[0]:
        if h.lower().startswith(b"received:"):
            qid = re.search(rb"\bid ([0-9A-Za-z]+)", h)
            rcpt = re.search(rb"\bfor <([^>]*)>", h)
            return (qid.group(1).decode() if qid else None,
                    rcpt.group(1).decode() if rcpt else None)
    return None, None


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def queue_id(reply_text: bytes):
    m = QUEUED.match(reply_text)
    return m.group(1).decode() if m else None


def simple_message(token, to="alice@example.test", subject=None, body=None):
    """A small RFC 5322 message with CRLF line endings that carries `token`."""
    subject = subject or f"test {token}"
    body = body or f"Hello, this is {token}.\r\n"
    return (f"From: <{SENDER}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{token}@client.test>\r\n\r\n{body}").encode()


_log_pair = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_log_line(line):
    """key=value pairs of one log line (quoted values unquoted)."""
    fields = {}
    for k, v in _log_pair.findall(line):
        if v.startswith('"'):
            try:
                v = json.loads(v)
            except ValueError:
                v = v[1:-1]
        fields[k] = v
    return fields


# ------------------------------------------------------------------------------ raw client

class Reply:
    def __init__(self, lines):
        self.lines = lines                    # raw lines without CRLF
        self.code = int(lines[-1][:3])
        self.text = b"\n".join(lines)

    @property
    def last(self):
        return self.lines[-1]

    def __repr__(self):
        return f"Reply({self.text!r})"


class Client:
    """A raw SMTP client: what a person types at telnet, with CRLF, and nothing helpful."""

    def __init__(self, host, port, source=None, timeout=REPLY_TIMEOUT):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout)
            if source:
                self.sock.bind((source, 0))
            self.sock.connect((host, port))
        except OSError:
            self.sock.close()
            raise
        self.buf = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes):
        self.sock.sendall(data)

    def line(self, text):
        """Send one command line, CRLF appended."""
        self.send((text if isinstance(text, bytes) else text.encode()) + b"\r\n")

    def _fill(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
        self.buf += chunk
        return chunk

    def read_line(self, timeout=REPLY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            if self.eof:
                raise EOFError(f"connection closed; unread {self.buf!r}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply line within {timeout} s; have {self.buf!r}")
            self._fill(left)
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def reply(self, timeout=REPLY_TIMEOUT):
        """One complete (possibly multi-line, RFC 5321 4.2.1) reply."""
        lines = [self.read_line(timeout)]
        while len(lines[-1]) > 3 and lines[-1][3:4] == b"-":
            lines.append(self.read_line(timeout))
        return Reply(lines)

    def expect(self, code, prefix=None, timeout=REPLY_TIMEOUT):
        r = self.reply(timeout)
        if r.code != code or (prefix is not None and not r.last.startswith(prefix.encode())):
            raise AssertionError(f"expected {code} {prefix or ''}, got {r.text!r}")
        return r

    def cmd(self, text, timeout=REPLY_TIMEOUT):
        self.line(text)
        return self.reply(timeout)

    def closed_by_peer(self, timeout=5.0):
        """True once the server has closed the connection (EOF) within timeout."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self._fill(left)
            except socket.timeout:
                return False
        return True

    def replies_until_close(self, timeout=10.0):
        """Every reply until the server closes the connection."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                out.append(self.reply(max(0.01, deadline - time.monotonic())))
            except EOFError:
                return out


# ------------------------------------------------------------------------------ the server

class Server:
    """One running `ehlo serve` with its own folder, port and configuration."""

    def __init__(self, name="e2e", *, host="127.0.0.1", server=None, limits=None, spool=None,
                 relay=None, log=None, domains=None, extra_domains=(), raw_config=None):
        self.binary = ehlo_binary()
        self.dir = tempfile.mkdtemp(prefix=f"ehlo-{name}-")
        os.chmod(self.dir, 0o755)
        self.host = host
        self.port = free_port(host)
        listen = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        self.stderr_path = os.path.join(self.dir, "ehlo.stderr")
        self.mail_root = os.path.join(self.dir, "mail")
        tables = {
            "server": {"hostname": "mx.test", "listen": [listen], "threads": 2},
            "limits": {"message_size": 26214400, "recipients": 1000, "connections": 10000,
                       "connections_per_client": 50, "errors": 10,
                       "command_timeout": 300, "data_timeout": 600},
            "spool": {"path": os.path.join(self.dir, "spool"), "sync": "syncfs"},
            "relay": {"trusted_networks": ["127.0.0.1/32", "::1/128"]},
            "log": {"level": "info", "file": "", "dialog": False},
        }
        for table, over in (("server", server), ("limits", limits), ("spool", spool),
                            ("relay", relay), ("log", log)):
            tables[table].update(over or {})
        # "{dir}" in [log] file stands for this server's folder
        tables["log"]["file"] = tables["log"]["file"].format(dir=self.dir)
        self.log_path = tables["log"]["file"] or self.stderr_path
        if domains is None:
            domains = [{"name": "example.test", "catch_all": False,
                        "mailboxes": ["alice", "bob", "carol"],
                        "maildir_root": self.mail_root, "postmaster": "alice"}]
        # "{dir}" in a domain's maildir_root stands for this server's folder
        self.domains = [dict(d, maildir_root=d.get("maildir_root", "").format(dir=self.dir))
                        for d in list(domains) + list(extra_domains)]
        # An administrator makes the Maildirs of the listed mailboxes; catch-all ones are
        # made by the server.
        for d in self.domains:
            for user in d.get("mailboxes", []):
                for sub in ("tmp", "new", "cur"):
                    os.makedirs(os.path.join(d["maildir_root"], user, sub), exist_ok=True)
        self.config_path = os.path.join(self.dir, "ehlo.toml")
        with open(self.config_path, "w") as f:
            f.write(raw_config if raw_config is not None else to_toml(tables, self.domains))
        self.proc = None
        self.final_log = ""
        self.closed = False
        with _open_lock:
            _open_servers.add(self)

    # -- lifecycle

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        err = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen([self.binary, "serve", "--config", self.config_path],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         preexec_fn=_die_with_parent)
        finally:
            err.close()
        self._wait_ready()
        return self

    def _wait_ready(self):
        """Bounded wait until the port greets; a session that ends with QUIT, so that the
        probe is gone again before the test counts connections."""
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ehlo exited with {self.proc.returncode} while starting:\n"
                                   + self.log_tail())
            try:
                with Client(self.host, self.port, timeout=2) as c:
                    c.expect(220)
                    c.cmd("QUIT")
                    c.closed_by_peer(2)
                return
            except (OSError, EOFError, AssertionError) as e:
                last = e
                time.sleep(0.05)
        self.kill9()
        raise RuntimeError(f"ehlo not serving on {self.host}:{self.port} within "
                           f"{START_TIMEOUT} s ({last}):\n" + self.log_tail())

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        """Graceful stop (bounded, then SIGKILL); the exit status (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                return "killed after SIGTERM timeout"
        return self.proc.returncode

    def kill9(self):
        """A crash: SIGKILL, nothing cleaned up."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def restart(self):
        """Start again on the same folder, configuration and port (after kill9 or stop)."""
        if self.alive():
            self.stop()
        return self.start()

    def close(self):
        if self.closed:
            return
        try:
            self.stop()
        finally:
            self.closed = True
            with _open_lock:
                _open_servers.discard(self)
            self.final_log = self.log_tail(60)
            if os.environ.get("E2E_KEEP"):
                sys.stderr.write(f"[e2e] kept {self.dir}\n")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- clients

    def connect(self, source=None, timeout=REPLY_TIMEOUT):
        return Client(self.host, self.port, source=source, timeout=timeout)

    def smtp(self, source=None, timeout=REPLY_TIMEOUT):
        """A Python smtplib client (EHLO done lazily by smtplib)."""
        src = (source, 0) if source else None
        return smtplib.SMTP(self.host, self.port, local_hostname="client.test",
                            timeout=timeout, source_address=src)

    def send(self, token, to=("alice@example.test",), sender=SENDER, message=None):
        """One full transaction with smtplib; the queue id from the reply to DATA."""
        with self.smtp() as s:
            s.ehlo()
            code, _ = s.mail(sender)
            assert code == 250, code
            for r in to:
                code, text = s.rcpt(r)
                assert code == 250, (r, code, text)
            code, text = s.data(message or simple_message(token, to=to[0]))
            assert code == 250, (code, text)
            return queue_id(b"250 " + text)

    # -- what the server left on disk

    def maildir(self, user, root=None):
        return os.path.join(root or self.mail_root, user)

    def maildir_files(self, user, root=None):
        """Delivered files of USER (new/ and cur/), sorted; USER "*": of every Maildir."""
        if user == "*":
            top = root or self.mail_root
            users = sorted(os.listdir(top)) if os.path.isdir(top) else []
            return sorted(p for u in users for p in self.maildir_files(u, root))
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(user, root), sub)
            try:
                out += [os.path.join(d, n) for n in os.listdir(d) if not n.startswith(".")]
            except FileNotFoundError:
                pass
        return sorted(out)

    def read_maildir(self, user, root=None):
        out = []
        for p in self.maildir_files(user, root):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait_for_delivery(self, user, n, timeout=DELIVERY_TIMEOUT, root=None):
        """Wait until USER has at least n files; the files. Fails with context otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            files = self.maildir_files(user, root)
            if len(files) >= n:
                return files
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{user}: {len(files)} of {n} messages delivered within {timeout} s; "
                    f"spool queue/ holds {len(self.spool_files())}; alive={self.alive()}\n"
                    + self.log_tail())
            time.sleep(0.02)

    def assert_stays(self, user, n, seconds=0.5, root=None):
        """USER's Maildir holds exactly n files now and still after `seconds`."""
        time.sleep(seconds)
        files = self.maildir_files(user, root)
        if len(files) != n:
            raise AssertionError(f"{user}: expected exactly {n} messages, found {len(files)}")
        return files

    def spool_files(self):
        """Names in the spool's queue/ folder: one per message not yet fully delivered."""
        try:
            return sorted(os.listdir(os.path.join(self.dir, "spool", "queue")))
        except FileNotFoundError:
            return []

    def wait_spool_empty(self, timeout=DELIVERY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while self.spool_files():
            if time.monotonic() > deadline:
                raise AssertionError(f"spool queue/ still holds {self.spool_files()}")
            time.sleep(0.02)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_lines(self):
        return self.log_text().splitlines()

    def log_events(self, event):
        """Parsed key=value fields of every log line with event=EVENT."""
        return [f for f in map(parse_log_line, self.log_lines()) if f.get("event") == event]

    def log_tail(self, n=30):
        lines = self.log_lines()
        if self.log_path != self.stderr_path and os.path.exists(self.stderr_path):
            with open(self.stderr_path, "rb") as f:
                lines += f.read().decode("utf-8", "replace").splitlines()
        return "\n".join("    | " + l for l in lines[-n:])


# ------------------------------------------------------------------------------ test base

class E2ETest(unittest.TestCase):
    """A test case whose servers are stopped after each test; on failure their log tail is
    printed (ctest --output-on-failure shows it)."""

    maxDiff = None

    def start_server(self, **kwargs):
        server = Server(self.id().rsplit(".", 1)[-1], **kwargs)
        self._servers.append(server)
        self.addCleanup(server.close)
        return server.start()

    def setUp(self):
        self._servers = []

    def run(self, result=None):
        result = result or self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for s in getattr(self, "_servers", []):
                sys.stderr.write(f"\n[e2e] log of the server in {s.dir}:\n{s.final_log}\n")
        return result


class Background(threading.Thread):
    """A well-behaved client that keeps sending messages to USER until stopped; counts the
    messages that got a 250 and records any failure."""

    def __init__(self, server, user="carol", pause=0.2):
        super().__init__(daemon=True)
        self.server, self.user, self.pause = server, user, pause
        self.stop_event = threading.Event()
        self.sent, self.failures = 0, []

    def run(self):
        i = 0
        while not self.stop_event.is_set():
            i += 1
            try:
                self.server.send(f"bg{i}", to=(f"{self.user}@example.test",))
                self.sent += 1
            except Exception as e:   # noqa: BLE001 - any failure of a good client counts
                self.failures.append(repr(e))
            self.stop_event.wait(self.pause)

    def finish(self, test):
        self.stop_event.set()
        self.join(REPLY_TIMEOUT * 3)
        test.assertFalse(self.is_alive(), "background client did not finish")
        test.assertEqual(self.failures, [], "a well-behaved client was not served")
        test.assertGreater(self.sent, 0)
        self.server.wait_for_delivery(self.user, self.sent)


@contextlib.contextmanager
def meanwhile_good_client(test, server, user="carol"):
    bg = Background(server, user)
    bg.start()
    try:
        yield bg
    except BaseException:
        bg.stop_event.set()
        bg.join(REPLY_TIMEOUT * 3)
        raise
    bg.finish(test)


def main():
    unittest.main(verbosity=2)
