"""A private Dovecot for the tests: LMTP on a Unix socket under its folder, IMAP on a loopback
port, users in a passwd-file (PLAIN passwords), Maildirs under its folder, the quota plugin on.
Nothing of the system's Dovecot is used or touched: its own configuration file, base_dir,
state_dir and log. Tests that need one call start_dovecot(); without the binaries they skip."""
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness

DOVECOT = "/usr/sbin/dovecot"


class Dovecot:
    def __init__(self, users, quota_rules=None, quota_tempfail=False):
        """users: {name: password}; quota_rules: {name: "*:storage=100B"} (Dovecot quota_rule);
        quota_tempfail: a full mailbox answers 4xx (Dovecot's quota_full_tempfail), not 5xx."""
        if not os.path.exists(DOVECOT) or not os.path.exists("/usr/lib/dovecot/lmtp") \
                or not os.path.exists("/usr/lib/dovecot/imap"):
            raise unittest.SkipTest("Dovecot (dovecot-lmtpd, dovecot-imapd) is not installed")
        self.dir = tempfile.mkdtemp(prefix="ehlo-dovecot-")
        os.chmod(self.dir, 0o755)
        self.base = os.path.join(self.dir, "run")
        self.mail = os.path.join(self.dir, "mail")
        os.makedirs(self.base)
        os.makedirs(self.mail)
        self.imap_port = harness.free_port()
        self.lmtp_socket = os.path.join(self.base, "lmtp")
        self.lmtp_port = harness.free_port()
        self.log = os.path.join(self.dir, "dovecot.log")
        self.users = users
        if os.getuid() == 0:
            # Dovecot gives mail to no uid 0: the mail processes run as "nobody".
            mail_user = pwd.getpwnam("nobody")
            internal, login = "dovecot", "dovenull"
            os.chown(self.mail, mail_user.pw_uid, mail_user.pw_gid)
        else:
            mail_user = pwd.getpwuid(os.getuid())
            internal = login = mail_user.pw_name
        uid, gid = mail_user.pw_uid, mail_user.pw_gid
        with open(os.path.join(self.dir, "users"), "w") as f:
            for name, password in users.items():
                extra = ""
                if quota_rules and name in quota_rules:
                    extra = f"userdb_quota_rule={quota_rules[name]}"
                f.write(f"{name}:{{PLAIN}}{password}:{uid}:{gid}::{self.mail}/{name}::{extra}\n")
        self.config = os.path.join(self.dir, "dovecot.conf")
        with open(self.config, "w") as f:
            f.write(f"""\
instance_name = ehlo-test-{os.getpid()}-{self.imap_port}
base_dir = {self.base}
state_dir = {os.path.join(self.dir, "state")}
log_path = {self.log}
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {min(uid, 500)}
mail_location = maildir:~/Maildir
mail_plugins = quota
lmtp_rcpt_check_quota = no
quota_full_tempfail = {"yes" if quota_tempfail else "no"}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {os.path.join(self.dir, "users")}
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {os.path.join(self.dir, "users")}
}}
plugin {{
  quota = count:User quota
  quota_vsizes = yes
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
        self.proc = None

    def start(self):
        with open(self.log + ".stderr", "wb") as err:
            self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.config], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited:\n" + self.log_text())
            if os.path.exists(self.lmtp_socket) and not harness.port_free("127.0.0.1", self.imap_port) \
                    and not harness.port_free("127.0.0.1", self.lmtp_port):
                return self
            time.sleep(0.05)
        raise AssertionError("dovecot did not come up:\n" + self.log_text())

    def connections(self):
        """LMTP connections Dovecot has logged so far, on the socket ("local") and by TCP."""
        text = self.log_text_full()
        return text.count("Info: Connect from local"), text.count("Info: Connect from 127.0.0.1")

    def log_text_full(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_text(self):
        out = ""
        for p in (self.log, self.log + ".stderr"):
            try:
                with open(p, errors="replace") as f:
                    out += f.read()[-4000:]
            except FileNotFoundError:
                pass
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def messages(self, user):
        """The messages in USER's INBOX, read over IMAP (imaplib), oldest first."""
        i = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        try:
            i.login(user, self.users[user])
            i.select("INBOX", readonly=True)
            _, data = i.search(None, "ALL")
            out = []
            for n in data[0].split():
                _, msg = i.fetch(n, "(RFC822)")
                out.append(msg[0][1])
            return out
        finally:
            i.logout()

    def wait_messages(self, user, n, timeout=harness.DELIVERY_TIMEOUT):
        return harness.wait_until(lambda: (lambda m: m if len(m) >= n else None)(self.messages(user)), timeout,
                                  f"{n} messages for {user} in Dovecot\n" + self.log_text())
