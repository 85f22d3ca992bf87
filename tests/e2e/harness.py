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
LOCAL_SENDER = "alice@example.test"   # a sender with a local Maildir: its bounces can be read

# Onward delivery in tests: a deferred recipient is tried again after 1 s, then 2 s, 2 s, ...;
# the RFC 5321 4.5.3.2 client timeouts are scaled down (5 min -> 15 s) so that nothing in a
# test can wait for minutes.
ONWARD_DELIVERY = {"retry_min": 1, "retry_max": 2}
ONWARD_OUTBOUND = {"connect_timeout": 5, "timeout_scale": 0.05}
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


# Run as root (as `make test` is on a fresh machine), ehlo drops to its own account once its
# ports are bound, as it does in production (docs/security.md). The folders tests make for a
# server are then that account's, as an administrator makes them, and keys are root:ehlo 0640.
DAEMON_USER = "ehlo"


def daemon_account():
    """(uid, gid) of the account the server drops to when the tests run as root, else None."""
    if os.geteuid() != 0:
        return None
    import pwd
    try:
        pw = pwd.getpwnam(DAEMON_USER)
    except KeyError:
        raise RuntimeError(f"running as root, the server drops to user {DAEMON_USER!r}, which is "
                           "missing: `make deps` creates it") from None
    return pw.pw_uid, pw.pw_gid


def give_to_daemon(path):
    """Make a folder the tests made the daemon's (when it drops privileges); no-op otherwise."""
    account = daemon_account()
    if account:
        os.chown(path, *account)


def as_daemon_user():
    """preexec_fn: a command run as the daemon's account, as `sudo -u ehlo` would."""
    account = daemon_account()
    if account:
        os.setgroups([])
        os.setgid(account[1])
        os.setuid(account[0])


def copy_keeping_owner(source, target):
    """Copy a file with its mode and owner (cp -p), as an administrator installs a key."""
    shutil.copy(source, target)
    st = os.stat(source)
    if os.geteuid() == 0:
        os.chown(target, st.st_uid, st.st_gid)


if os.geteuid() == 0:
    _plain_mkdtemp = tempfile.mkdtemp

    def _daemon_mkdtemp(*args, **kwargs):
        path = _plain_mkdtemp(*args, **kwargs)
        give_to_daemon(path)
        return path

    tempfile.mkdtemp = _daemon_mkdtemp  # TemporaryDirectory uses it too


def require_tool(name):
    """The path of a command-line tool, or SKIPPED when it is not installed."""
    path = shutil.which(name)
    if not path:
        raise unittest.SkipTest(f"{name} is not installed")
    return path


def make_certificate(folder, name, cn="mx.test", sans=None, days=2):
    """A self-signed RSA certificate and key made with the openssl command: (chain, key)."""
    openssl = require_tool("openssl")
    chain = os.path.join(folder, f"{name}.pem")
    key = os.path.join(folder, f"{name}.key")
    san = ",".join(f"DNS:{n}" for n in (sans or [cn]))
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", chain, "-days", str(days), "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName={san}"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    account = daemon_account()
    if account:
        os.chown(key, 0, account[1])
        os.chmod(key, 0o640)
    return chain, key


def s_client(port, *args, input_data=b"", timeout=20, host="127.0.0.1"):
    """openssl s_client against the server; the finished process (stdout and stderr bytes)."""
    openssl = require_tool("openssl")
    return subprocess.run([openssl, "s_client", "-connect", f"{host}:{port}", "-ign_eof", *args],
                          input=input_data, capture_output=True, timeout=timeout)


def sanitized():
    """True when EHLO_BIN is the AddressSanitizer/UBSan build (tests/sanitizer/run.sh)."""
    return os.environ.get("EHLO_SANITIZED") == "1"


def skip_if_sanitized(why):
    """For a test whose measure is the real build's own (memory, speed): under the sanitizers,
    whose shadow memory and quarantine change both, it says SKIPPED; it runs in the plain build."""
    return unittest.skipIf(sanitized(), f"measures the plain build ({why}); SKIPPED under the sanitizers")


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
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)          # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


def to_toml(tables, domains, routes=(), listeners=()):
    out = []
    for name, values in tables.items():
        out.append(f"[{name}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        out.append("")
    for listener in listeners:
        out.append("[[listener]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in listener.items()]
        out.append("")
    for d in domains:
        out.append("[[domain]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in d.items()]
        out.append("")
    for r in routes:
        out.append("[[route]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in r.items()]
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

    def __init__(self, name="e2e", *, host="127.0.0.1", port=None, server=None, limits=None,
                 spool=None, relay=None, log=None, domains=None, extra_domains=(),
                 tables=None, routes=(), listeners=(), raw_config=None, env=None):
        """tables: further tables by name ({"delivery": {...}, "outbound": {...}}); routes:
        [[route]] tables; listeners: [[listener]] tables besides the plaintext `listen` one
        ("{port:NAME}" in an address is replaced by a free port, kept in self.ports[NAME]).
        port: a fixed port (e.g. 25 on 127.0.0.2 for an MX), else a free one. env: variables
        added to the server's environment (LD_PRELOAD of a fault shim)."""
        self.binary = ehlo_binary()
        self.env = dict(env or {})
        self.dir = tempfile.mkdtemp(prefix=f"ehlo-{name}-")
        os.chmod(self.dir, 0o755)
        self.host = host
        self.port = port or free_port(host)
        listen = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        self.stderr_path = os.path.join(self.dir, "ehlo.stderr")
        self.mail_root = os.path.join(self.dir, "mail")
        extra_tables = tables
        tables = {
            "server": {"hostname": "mx.test", "listen": [listen], "threads": 2},
            "limits": {"message_size": 26214400, "recipients": 1000, "connections": 10000,
                       "connections_per_client": 50, "errors": 10, "greeting_delay": 0,
                       "command_timeout": 300, "data_timeout": 600},
            "spool": {"path": os.path.join(self.dir, "spool"), "sync": "syncfs"},
            "relay": {"trusted_networks": ["127.0.0.1/32", "::1/128"]},
            "log": {"level": "info", "file": "", "dialog": False},
            # the console on a free port of its own, so that servers run side by side
            "console": {"listen": f"127.0.0.1:{free_port()}"},
            # No DNS answers on loopback unless a test serves them (dns_server.py): the tests
            # of message authentication turn it on with their own [dns] forwarders.
            "msgauth": {"verify": False},
        }
        self.console_port = int(tables["console"]["listen"].rsplit(":", 1)[1])
        for table, over in (("server", server), ("limits", limits), ("spool", spool),
                            ("relay", relay), ("log", log)):
            tables[table].update(over or {})
        for table, over in (extra_tables or {}).items():
            tables.setdefault(table, {}).update(over)
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
        self.ports = {}
        resolved = []
        for listener in listeners:
            address = listener["address"]
            m = re.search(r"\{port:(\w+)\}", address)
            if m:
                self.ports[m.group(1)] = free_port(host)
                address = address.replace(m.group(0), str(self.ports[m.group(1)]))
            resolved.append(dict(listener, address=address))
        with open(self.config_path, "w") as f:
            f.write(raw_config if raw_config is not None
                    else to_toml(tables, self.domains, routes, resolved))
        self.spool_path = tables["spool"]["path"]
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
                                         env=dict(os.environ, **self.env) if self.env else None,
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

    def wait_log(self, event, n=1, timeout=DELIVERY_TIMEOUT, **match):
        """Wait until at least n log lines have event=EVENT and every key=value of `match`;
        their parsed fields. Fails with the log's tail otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            found = [f for f in self.log_events(event)
                     if all(f.get(k) == v for k, v in match.items())]
            if len(found) >= n:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {n} event={event} {match} lines within "
                                     f"{timeout} s; alive={self.alive()}\n" + self.log_tail())
            time.sleep(0.05)

    def wait_log_where(self, event, predicate, timeout=DELIVERY_TIMEOUT):
        """Wait until a log line with event=EVENT satisfies predicate(fields) (the log is written
        by a thread of its own, so a line comes a moment after what it tells); its fields."""
        deadline = time.monotonic() + timeout
        while True:
            found = [f for f in self.log_events(event) if predicate(f)]
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no event={event} line as wanted within {timeout} s\n" + self.log_tail())
            time.sleep(0.05)

    # -- queue control (ehlo queue)

    @property
    def control_socket(self):
        return os.path.join(self.spool_path, "control.sock")

    def queue(self, *args, timeout=30):
        """`ehlo queue --config FILE ARGS...`: the finished process (text output)."""
        return subprocess.run([self.binary, "queue", "--config", self.config_path, *args],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)

    def queue_ok(self, *args, timeout=30):
        """`ehlo queue ARGS...` that must succeed: its standard output."""
        r = self.queue(*args, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"ehlo queue {' '.join(args)} exited {r.returncode}: "
                                 f"{r.stderr.strip()} {r.stdout.strip()}")
        return r.stdout

    def queue_list(self):
        """`ehlo queue list` parsed: {id: QueueEntry}."""
        return parse_queue_list(self.queue_ok("list"))


# ------------------------------------------------------------------------------ queue, DSN

class QueueEntry:
    """One message of `ehlo queue list`: "ID AGE SIZE <sender> STATE", then one indented line
    per recipient "ADDR STATUS attempts=N next=... last=\"...\""."""

    def __init__(self, line):
        self.line = line
        parts = line.split()
        self.id, self.age, self.size = parts[0], parts[1], parts[2]
        m = re.search(r"<([^>]*)>", line)
        self.sender = m.group(1) if m else None
        self.state = parts[-1]
        self.damage = None            # for a quarantined file (state "corrupt"): what is wrong
        self.recipients = []          # [{"address", "status", "attempts", "next", "last", "line"}]

    def add_recipient(self, line):
        parts = line.split()
        rcpt = {"line": line, "address": parts[0], "status": parts[1] if len(parts) > 1 else ""}
        m = re.search(r"\battempts=(\d+)", line)
        rcpt["attempts"] = int(m.group(1)) if m else None
        m = re.search(r"\bnext=(\S+)", line)
        rcpt["next"] = m.group(1) if m else None
        m = re.search(r'\blast="((?:[^"\\]|\\.)*)"', line)
        rcpt["last"] = m.group(1) if m else None
        self.recipients.append(rcpt)

    def __repr__(self):
        return f"QueueEntry({self.line!r}, {self.recipients!r})"


def parse_queue_list(text):
    """{id: QueueEntry} from the output of `ehlo queue list` (other lines ignored)."""
    out, current = {}, None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[:1] in (" ", "\t"):
            if current is not None and line.strip().startswith("damage: "):
                current.damage = line.strip()[len("damage: "):]
            elif current is not None:
                current.add_recipient(line.strip())
        elif re.match(r"^[0-9A-Za-z]+\s+\S+\s+\d+\s+<", line):
            current = QueueEntry(line)
            out[current.id] = current
        else:
            current = None
    return out


def parse_dsn(data: bytes):
    """A delivery status notification (RFC 3464) as stored in a Maildir: (message, per-message
    fields, [per-recipient fields]), fields as {lower-case name: value}. Fails unless it is a
    multipart/report; report-type=delivery-status with a message/delivery-status part."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    if msg.get_content_type() != "multipart/report":
        raise AssertionError(f"not a multipart/report: {msg.get_content_type()}")
    if (msg.get_param("report-type") or "").lower() != "delivery-status":
        raise AssertionError(f"report-type is {msg.get_param('report-type')!r}")
    parts = msg.get_payload()
    status = [p for p in parts if p.get_content_type() in ("message/delivery-status",
                                                           "message/global-delivery-status")]
    if len(status) != 1:
        raise AssertionError(f"{len(status)} delivery-status parts in "
                             f"{[p.get_content_type() for p in parts]}")
    # the delivery-status body is groups of header fields separated by empty lines: the first
    # group is about the message, each further one about one recipient (RFC 3464 2.1)
    raw = status[0].get_payload()
    if isinstance(raw, list):        # the email module may parse the groups as messages
        groups = [dict((k.lower(), str(v).strip()) for k, v in g.items()) for g in raw]
    else:
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        text = text.replace("\r\n", "\n")
        groups = []
        for block in re.split(r"\n\s*\n", text.strip()):
            fields = {}
            for line in re.sub(r"\n[ \t]+", " ", block).split("\n"):
                name, sep, value = line.partition(":")
                if sep:
                    fields[name.strip().lower()] = value.strip()
            if fields:
                groups.append(fields)
    if len(groups) < 2:
        raise AssertionError(f"delivery-status without recipient fields: {groups}")
    return msg, groups[0], groups[1:]


def is_dsn(data: bytes):
    try:
        parse_dsn(data)
        return True
    except AssertionError:
        return False


def route_to(port, domain="remote.example", host="127.0.0.1"):
    """[[route]] tables: DOMAIN's mail goes to host:port (a smart host; no MX lookup)."""
    return [{"domain": domain, "host": host, "port": port}]


def dsn_recipient(groups, address):
    """The per-recipient fields of ADDRESS (by Final-Recipient) in parse_dsn's groups."""
    for g in groups:
        final = g.get("final-recipient", "")
        if final.partition(";")[2].strip().lower() == address.lower():
            return g
    raise AssertionError(f"no Final-Recipient {address} in {groups}")


def return_path(data: bytes):
    """The address of the Return-Path header of a stored message (None without one)."""
    for h in split_message(data)[0]:
        if h.lower().startswith(b"return-path:"):
            m = re.search(rb"<([^>]*)>", h)
            return m.group(1).decode() if m else h[12:].strip().decode()
    return None


def doc_examples(path):
    """The shell examples of a document (docs/api.md): [(command, [lines of the answer shown])]
    from each indented "$ command" line and the indented lines under it, up to a blank line."""
    with open(path) as f:
        lines = f.read().splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.startswith("    $ "):
            continue
        shown = []
        for after in lines[i + 1:]:
            if not after.startswith("    ") or after.startswith("    $ "):
                break
            shown.append(after[4:])
        out.append((line[6:], shown))
    return out


def wait_until(predicate, timeout, what):
    """Poll predicate() every 50 ms until it is true (its value), else fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def port_free(host, port):
    """True if host:port can be bound now (TCP)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


# ------------------------------------------------------------------------------ scripted peer

STALL = "stall"   # a hook's answer: say nothing more; read until the client gives up
DROP = "drop"     # a hook's answer: close the connection at once, no reply


class PeerMessage:
    """A transaction the peer saw through to the end of data."""

    def __init__(self, session, mail):
        self.session = session        # its PeerSession
        self.mail = mail              # the MAIL command line as sent
        self.rcpt_lines = []          # RCPT command lines the peer answered 250
        self.recipients = []          # their addresses
        self.data = b""               # content, dot-unstuffed, CRLF line endings
        self.reply = None             # the peer's reply to the end of data
        self.began = time.monotonic() # MAIL received
        self.finished = None          # time.monotonic() just before the reply to the end of data
        self.accepted = False         # that reply was 2xx: the message is the peer's now


class PeerSession:
    def __init__(self, n, client):
        self.n = n                    # 0 for the first connection, 1 for the next, ...
        self.client = client          # (address, port)
        self.lines = []               # every command line received
        self.messages = []            # PeerMessage per transaction that reached DATA
        self.ended = None             # "quit", "eof", "dropped", "stalled"
        self.opened = time.monotonic()
        self.closed = None            # time.monotonic() when the connection was closed
        self.tls = None               # after STARTTLS: the protocol ("TLSv1.3")
        self.tls_resumed = False      # the client resumed an earlier session


class ScriptedPeer:
    """A small SMTP server on loopback that plays a fixed dialog, for the faults no real server
    produces on demand (421 at the greeting, a 4xx for one recipient, a drop in mid-DATA, a
    stall). Each hook gets the PeerSession (session.n counts connections from 0) and returns a
    reply line ("250 2.1.5 Ok"), STALL or DROP; tests replace the hooks they need:

        peer = ScriptedPeer().start()
        peer.greeting = lambda s: "421 4.3.2 busy" if s.n == 0 else "220 peer.example ESMTP"
        peer.rcpt = lambda s, addr, line: "250 2.1.5 Ok"
        peer.drop_in_data = lambda s: s.n == 0      # close after the first content bytes
        peer.data_end = lambda s, message: "250 2.0.0 Ok"

    Every wait is bounded; stop() (also at exit) ends every session thread."""

    def __init__(self, host="127.0.0.1", port=None, name="peer.example", dsn=False):
        self.host, self.name = host, name
        self.port = port or free_port(host)
        self.keywords = ["PIPELINING", "8BITMIME", "SIZE 52428800", "ENHANCEDSTATUSCODES",
                         "SMTPUTF8"] + (["DSN"] if dsn else [])
        self.greeting = lambda s: f"220 {self.name} ESMTP scripted"
        self.ehlo = lambda s, line: None          # None: the normal 250 with self.keywords
        self.mail = lambda s, line: "250 2.1.0 Ok"
        self.rcpt = lambda s, addr, line: "250 2.1.5 Ok"
        self.data_start = lambda s: "354 End data with <CR><LF>.<CR><LF>"
        self.drop_in_data = lambda s: False      # True: close after the first content bytes
        self.data_end = lambda s, message: "250 2.0.0 Ok: queued"
        # STARTTLS (offered only if a test puts it in self.keywords): the reply. After a 220
        # the peer does the server handshake with tls_context (an ssl.SSLContext) if one is
        # set; without one it sends bytes that are no TLS record and ends the session, so that
        # the client's handshake fails.
        self.starttls = lambda s: "502 5.5.2 Command not implemented"
        self.tls_context = None
        self.sessions = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = None
        self._threads = []

    # -- lifecycle

    def start(self):
        self._stop.clear()
        ls = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((self.host, self.port))
        ls.listen(64)
        ls.settimeout(0.1)
        self._listener = ls
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        with _open_lock:
            _open_peers.add(self)
        return self

    def stop(self):
        """Stop listening and end every session (the port then refuses connections)."""
        self._stop.set()
        for t in self._threads:
            t.join(10)
        self._threads = []
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with _open_lock:
            _open_peers.discard(self)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what it saw

    def messages(self, accepted_only=True):
        with self._lock:
            return [m for s in self.sessions for m in s.messages if m.accepted or not accepted_only]

    def deliveries_to(self, address):
        """How many accepted messages had ADDRESS among their accepted recipients."""
        return sum(1 for m in self.messages() if address.lower() in
                   (r.lower() for r in m.recipients))

    def command_lines(self, verb):
        """Every received command line starting with VERB (case-insensitive)."""
        with self._lock:
            return [l for s in self.sessions for l in s.lines if l.upper().startswith(verb.upper())]

    def most_at_once(self, others=()):
        """The largest number of transactions (MAIL to the reply to the end of data) in progress
        at the same time, at this peer and the peers in `others` together: how many connections
        the client used at once. Transactions rather than connections, because the peer sees a
        connection's end only after the client has moved on; a transaction's end it records
        before its reply, so the count has no such race."""
        edges = []
        for peer in (self, *others):
            with peer._lock:
                for s in peer.sessions:
                    for m in s.messages:
                        edges += [(m.began, 1), (m.finished or float("inf"), -1)]
        most = now = 0
        for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
            now += step
            most = max(most, now)
        return most

    def wait_messages(self, n, timeout=DELIVERY_TIMEOUT):
        return wait_until(lambda: len(self.messages()) >= n and self.messages(), timeout,
                          f"{n} messages accepted by the scripted peer on port {self.port} "
                          f"(has {len(self.messages())}; sessions {len(self.sessions)})")

    def wait_sessions(self, n, timeout=DELIVERY_TIMEOUT):
        return wait_until(lambda: len(self.sessions) >= n, timeout,
                          f"{n} connections to the scripted peer (has {len(self.sessions)})")

    # -- the dialog

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, addr = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                session = PeerSession(len(self.sessions), addr)
                self.sessions.append(session)
            t = threading.Thread(target=self._serve, args=(conn, session), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn, session):
        conn.settimeout(0.1)
        io = _PeerConnection(conn, self._stop)
        try:
            self._dialog(io, session)
        except (OSError, EOFError):
            session.ended = session.ended or "eof"
        finally:
            if io.conn is not conn:
                io.conn.close()           # the TLS socket over it
            conn.close()
            session.closed = time.monotonic()

    def _answer(self, io, session, reply):
        """Send a hook's answer; False when the session is over (DROP or STALL)."""
        if reply == DROP:
            session.ended = "dropped"
            return False
        if reply == STALL:
            io.drain()                                   # until the client gives up
            session.ended = session.ended or "stalled"
            return False
        io.send(reply.encode() + b"\r\n")
        return True

    def _dialog(self, io, session):
        greeting = self.greeting(session)
        if not self._answer(io, session, greeting):
            return
        if greeting[:1] != "2":
            # RFC 5321 3.1: after a 421/554 greeting only QUIT is expected
            line = io.line()
            session.lines.append(line)
            io.send(b"221 2.0.0 Bye\r\n")
            session.ended = "quit"
            return
        message = None
        while True:
            line = io.line()
            session.lines.append(line)
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                reply = self.ehlo(session, line)
                if reply is None:
                    if verb == "EHLO":
                        kw = [self.name] + self.keywords
                        reply = "\r\n".join(f"250-{k}" for k in kw[:-1]) + f"\r\n250 {kw[-1]}"
                    else:
                        reply = f"250 {self.name}"
            elif verb == "MAIL":
                reply = self.mail(session, line)
                if reply not in (STALL, DROP) and reply[:1] == "2":
                    message = PeerMessage(session, line)
            elif verb == "RCPT":
                m = re.match(r"(?i)RCPT TO:<([^>]*)>", line)
                addr = m.group(1) if m else ""
                reply = self.rcpt(session, addr, line)
                if message is not None and reply not in (STALL, DROP) and reply[:1] == "2":
                    message.rcpt_lines.append(line)
                    message.recipients.append(addr)
            elif verb == "DATA":
                if message is None or not message.recipients:
                    reply = "554 5.5.1 No valid recipients"
                else:
                    reply = self.data_start(session)
                    if reply[:1] == "3" and self.drop_in_data(session):
                        io.send(reply.encode() + b"\r\n")
                        io.wait_content()        # the first content bytes, then the drop
                        session.messages.append(message)
                        session.ended = "dropped"
                        return
                    if not self._answer(io, session, reply):
                        return
                    if reply[:1] != "3":
                        message = None
                        continue
                    message.data = io.content()
                    session.messages.append(message)
                    reply = self.data_end(session, message)
                    message.finished = time.monotonic()
                    if reply not in (STALL, DROP):
                        message.reply = reply
                        message.accepted = reply[:1] == "2"
                    message = None
            elif verb == "STARTTLS":
                reply = self.starttls(session)
                if reply[:3] == "220" and self.tls_context is not None:
                    io.send(reply.encode() + b"\r\n")
                    io.buf = b""                 # RFC 3207 4.2: nothing from before TLS
                    io.conn.settimeout(REPLY_TIMEOUT)
                    io.conn = self.tls_context.wrap_socket(io.conn, server_side=True)
                    io.conn.settimeout(0.1)
                    session.tls = io.conn.version()
                    session.tls_resumed = io.conn.session_reused
                    message = None
                    continue
                if reply[:3] == "220":
                    io.send(reply.encode() + b"\r\n" + b"this is not a TLS record\r\n")
                    session.ended = "starttls"
                    return
            elif verb == "RSET":
                message, reply = None, "250 2.0.0 Ok"
            elif verb == "NOOP":
                reply = "250 2.0.0 Ok"
            elif verb == "QUIT":
                io.send(b"221 2.0.0 Bye\r\n")
                session.ended = "quit"
                return
            else:
                reply = "502 5.5.2 Command not implemented"
            if not self._answer(io, session, reply):
                return


class _PeerConnection:
    """Line and content reading for ScriptedPeer, bounded by its stop event."""

    LIMIT = 64 << 20      # content larger than this is a runaway client

    def __init__(self, conn, stop):
        self.conn, self.stop, self.buf = conn, stop, b""

    def _fill(self):
        while not self.stop.is_set():
            try:
                chunk = self.conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise EOFError
            self.buf += chunk
            return
        raise EOFError("peer stopped")

    def send(self, data):
        self.conn.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 100000:
                raise EOFError("line too long")
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def content(self):
        """Message content up to the end-of-data line, dot-unstuffed (RFC 5321 4.5.2)."""
        while True:
            if self.buf.startswith(b".\r\n"):
                raw, self.buf = b"", self.buf[3:]
                break
            end = self.buf.find(b"\r\n.\r\n")
            if end >= 0:
                raw, self.buf = self.buf[:end + 2], self.buf[end + 5:]
                break
            if len(self.buf) > self.LIMIT:
                raise EOFError("content too large")
            self._fill()
        lines = raw.split(b"\r\n")
        return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)

    def wait_content(self):
        """For a drop in mid-DATA: the first content bytes, and not the end of data yet."""
        while not self.buf:
            self._fill()
        if b"\r\n.\r\n" in self.buf or self.buf.startswith(b".\r\n"):
            raise AssertionError("the whole content arrived in one read: make it larger")

    def drain(self):
        """Read and discard until the client closes (or the peer stops)."""
        try:
            while True:
                self.buf = b""
                self._fill()
        except EOFError:
            pass


_open_peers = set()


def _stop_peers():
    with _open_lock:
        peers = list(_open_peers)
    for p in peers:
        p.stop()


atexit.register(_stop_peers)


# ------------------------------------------------------------------------------ private Postfix

POSTFIX = "/usr/sbin/postfix"
POSTFIX_UID = 65534       # virtual(8) delivers as nobody:nogroup

_POSTFIX_MASTER_CF = """\
{listen} inet n - n - 20 smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def postfix_usable():
    """Why a private Postfix cannot run here, or None if it can."""
    if not os.access(POSTFIX, os.X_OK):
        return f"{POSTFIX} is not installed"
    if os.geteuid() != 0:
        return "a private Postfix needs root (its master starts as root)"
    try:
        import grp
        import pwd
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError:
        return "the postfix user or postdrop group is missing"
    return None


class PrivatePostfix:
    """A private Postfix instance with all of its state in a temporary folder (postfix -c DIR/etc),
    listening on host:port, receiving mail for DOMAIN's mailboxes into Maildirs by virtual(8);
    any other domain goes to `relayhost` ("[127.0.0.1]:P") or is deferred. Stopped at the end
    (postfix stop, then SIGKILL to whatever is left of it)."""

    def __init__(self, domain="postfix.example", mailboxes=("bob",), host="127.0.0.1",
                 port=None, relayhost=None, name="postfix", tls=None):
        """tls: (chain, key) PEM files for smtpd's STARTTLS (smtpd_tls_security_level = may)."""
        self.domain, self.mailboxes, self.host = domain, list(mailboxes), host
        self.tls = tls
        self.port = port or free_port(host)
        self.dir = tempfile.mkdtemp(prefix=f"ehlo-{name}-")
        self.relayhost = relayhost
        self.etc = os.path.join(self.dir, "etc")
        self.log_path = os.path.join(self.dir, "log", "postfix.log")

    def _main_cf(self):
        d = self.dir
        lines = [
            "compatibility_level = 3.6",
            f"queue_directory = {d}/spool",
            f"data_directory = {d}/data",
            "mail_owner = postfix",
            "setgid_group = postdrop",
            f"maillog_file = {self.log_path}",
            f"maillog_file_prefixes = {d}",
            f"myhostname = mx.{self.domain}",
            f"mydomain = {self.domain}",
            f"myorigin = {self.domain}",
            "mydestination =",
            f"inet_interfaces = {self.host}",
            "inet_protocols = ipv4",
            "mynetworks = 127.0.0.0/8",
            "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
            "smtpd_recipient_restrictions =",
            "message_size_limit = 52428800",
            "mailbox_size_limit = 0",
            "virtual_mailbox_limit = 0",
            f"virtual_mailbox_domains = {self.domain}",
            f"virtual_mailbox_base = {d}/mail",
            f"virtual_mailbox_maps = texthash:{d}/etc/vmailbox",
            f"virtual_uid_maps = static:{POSTFIX_UID}",
            f"virtual_gid_maps = static:{POSTFIX_UID}",
            "alias_maps =",
            "alias_database =",
            "local_recipient_maps =",
            "local_header_rewrite_clients =",       # leave the content of SMTP clients alone
            "queue_run_delay = 1s",
            "minimal_backoff_time = 1s",
            "maximal_backoff_time = 10s",
            "smtp_connect_timeout = 5s",
            "smtp_dns_support_level = disabled",
            "biff = no",
        ]
        if self.tls:
            lines += [f"smtpd_tls_cert_file = {self.tls[0]}", f"smtpd_tls_key_file = {self.tls[1]}",
                      "smtpd_tls_security_level = may", "smtpd_tls_loglevel = 1",
                      "smtpd_tls_received_header = yes"]
        if self.relayhost:
            lines.append(f"relayhost = {self.relayhost}")
        else:
            lines.append("default_transport = retry:4.4.1 no relay host")
        return "\n".join(lines) + "\n"

    def start(self):
        why = postfix_usable()
        if why:
            raise unittest.SkipTest(why)
        import pwd
        os.chmod(self.dir, 0o755)
        for sub in ("etc", "log", "data", "spool", "mail", f"mail/{self.domain}"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        os.chown(os.path.join(self.dir, "data"), pwd.getpwnam("postfix").pw_uid, -1)
        for sub in ("mail", f"mail/{self.domain}"):
            os.chown(os.path.join(self.dir, sub), POSTFIX_UID, POSTFIX_UID)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(self._main_cf())
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(_POSTFIX_MASTER_CF.format(listen=f"{self.host}:{self.port}"))
            if self.tls:                  # smtpd's TLS needs the TLS manager (entropy, caches)
                f.write("tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n")
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            f.write("".join(f"{u}@{self.domain} {self.domain}/{u}/\n" for u in self.mailboxes))
        with _open_lock:
            _open_postfixes.add(self)
        r = subprocess.run([POSTFIX, "-c", self.etc, "start"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                           env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})
        if r.returncode != 0:
            self.stop()
            raise RuntimeError("postfix start failed:\n" + r.stdout.decode(errors="replace"))
        deadline = time.monotonic() + START_TIMEOUT * 3
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    s.settimeout(5)
                    if s.recv(100).startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"postfix not serving on {self.host}:{self.port}:\n" + self.log_tail())

    def master_pid(self):
        try:
            with open(os.path.join(self.dir, "spool", "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _processes(self):
        """PIDs of this instance: its master and every process whose cwd is its queue folder."""
        spool = os.path.realpath(os.path.join(self.dir, "spool"))
        found = set()
        mpid = self.master_pid()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry}/cwd") == spool or int(entry) == mpid:
                    with open(f"/proc/{entry}/stat") as f:
                        if f.read().rpartition(")")[2].split()[0] != "Z":
                            found.add(int(entry))
            except (OSError, ValueError, IndexError):
                continue
        return found

    def stop(self):
        if self.dir is None:
            return
        if self._processes():
            subprocess.run([POSTFIX, "-c", self.etc, "stop"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            deadline = time.monotonic() + STOP_TIMEOUT
            while self._processes() and time.monotonic() < deadline:
                time.sleep(0.1)
            for pid in self._processes():       # this instance's only (cwd is its queue)
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        with _open_lock:
            _open_postfixes.discard(self)
        if os.environ.get("E2E_KEEP"):
            sys.stderr.write(f"[e2e] kept {self.dir}\n")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def maildir_files(self, user):
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.dir, "mail", self.domain, user, sub)
            try:
                out += [os.path.join(d, n) for n in os.listdir(d) if not n.startswith(".")]
            except FileNotFoundError:
                pass
        return sorted(out)

    def wait_for_delivery(self, user, n, timeout=DELIVERY_TIMEOUT):
        return wait_until(lambda: len(self.maildir_files(user)) >= n and self.maildir_files(user),
                          timeout, f"{n} messages for {user} in Postfix's Maildir\n"
                          + self.log_tail())

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "\n".join("    | " + l for l in f.read().splitlines()[-n:])
        except (OSError, TypeError):
            return ""


_open_postfixes = set()


def _stop_postfixes():
    with _open_lock:
        instances = list(_open_postfixes)
    for p in instances:
        p.stop()


atexit.register(_stop_postfixes)


# ------------------------------------------------------------------------------ test base

class E2ETest(unittest.TestCase):
    """A test case whose servers are stopped after each test; on failure their log tail is
    printed (ctest --output-on-failure shows it)."""

    maxDiff = None

    def make_server(self, **kwargs):
        """A server with its folder and configuration, not started yet (stopped at the end)."""
        server = Server(self.id().rsplit(".", 1)[-1], **kwargs)
        self._servers.append(server)
        self.addCleanup(server.close)
        return server

    def start_server(self, **kwargs):
        return self.make_server(**kwargs).start()

    def make_sender(self, routes=(), delivery=None, outbound=None, dns=None, smtp=None,
                    tables=None, **kwargs):
        """A server that carries mail onward (not started): the local domain example.test
        (alice, bob, carol; alice is postmaster and the local sender whose bounces can be
        read), fast retries (ONWARD_DELIVERY) and short client timeouts (ONWARD_OUTBOUND),
        each overridable; routes are [[route]] tables."""
        t = {"delivery": dict(ONWARD_DELIVERY, **(delivery or {})),
             "outbound": dict(ONWARD_OUTBOUND, **(outbound or {}))}
        if dns is not None:
            t["dns"] = dns
        if smtp is not None:
            t["smtp"] = smtp
        t.update(tables or {})
        return self.make_server(tables=t, routes=routes, **kwargs)

    def start_sender(self, **kwargs):
        return self.make_sender(**kwargs).start()

    def make_peer(self, **kwargs):
        """A ScriptedPeer, not listening yet (stopped at the end)."""
        peer = ScriptedPeer(**kwargs)
        self.addCleanup(peer.stop)
        return peer

    def start_peer(self, **kwargs):
        return self.make_peer(**kwargs).start()

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


# The exit status CTest reads as "skipped" (SKIP_RETURN_CODE in tests/e2e/CMakeLists.txt).
EXIT_SKIPPED = 77


def main():
    """Runs the script's tests. A test that could not run (a missing tool) makes the whole
    script report SKIPPED to CTest, never Passed; a failure still fails it."""
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.skipped:
        for test, reason in result.skipped:
            print(f"SKIPPED {test.id()}: {reason}", file=sys.stderr)
        sys.exit(EXIT_SKIPPED)
    sys.exit(0)
