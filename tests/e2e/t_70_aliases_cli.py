#!/usr/bin/env python3
"""`ehlo aliases ADDRESS` and `ehlo check-config` on alias files, with the real binary.

`ehlo aliases` prints the RCPT reply for an address and a tree of what it expands to: each
alias with the FILE:LINE that defines it, each mailbox with its Maildir (and folder), each
remote destination with its route; it exits 0 when the address is accepted, 1 when refused.
`ehlo check-config` reads the alias files a configuration names and prints every problem as
FILE:LINE: message (exit 1). A Postfix `virtual` and `aliases` pair moved as the
documentation shows is accepted as it is.
"""
import os
import subprocess
import tempfile
import textwrap
import unittest

import harness


class AliasesCommand(unittest.TestCase):

    def setUp(self):
        self.binary = harness.ehlo_binary()
        self.tmp = tempfile.TemporaryDirectory(prefix="ehlo-e2e-aliases-")
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name
        os.makedirs(os.path.join(self.dir, "mail", "example.org", "bob", ".Lists"))
        self.write("aliases", """\
            # the whole company
            postmaster: alice
            team: alice, bob+lists,
                friends
            friends: carol, friend@partner.example, team
            """)
        self.write("virtual", """\
            example.org              anything
            info@example.org         alice@example.org
            @example.net             @example.org
            """)
        # A free port and a private spool, should `serve` ever start on this file.
        port = harness.free_port()
        self.write("ehlo.toml", f"""\
            [server]
            listen = ["127.0.0.1:{port}"]

            [spool]
            path = "{self.path('spool')}"

            [aliases]
            files = ["{self.path('aliases')}"]
            virtual_files = ["{self.path('virtual')}"]

            [[route]]
            domain = "partner.example"
            host = "192.0.2.25"
            port = 2525

            [[domain]]
            name = "example.org"
            mailboxes = ["alice", "bob", "carol"]
            maildir_root = "{self.path('mail', 'example.org')}"
            folders = true

            [[domain]]
            name = "example.net"
            """)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(textwrap.dedent(text))

    def ehlo(self, *args):
        return subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=20,
                              stdin=subprocess.DEVNULL)

    def aliases(self, address, *extra):
        return self.ehlo("aliases", address, "--config", self.path("ehlo.toml"), *extra)

    def test_a_tree_of_what_an_address_expands_to(self):
        r = self.aliases("Team@Example.org")
        self.assertEqual(r.returncode, 0, r.stderr)
        aliases = self.path("aliases")
        mail = self.path("mail", "example.org")
        self.assertEqual(r.stdout, textwrap.dedent(f"""\
            Team@Example.org: 250 2.1.5 Ok
            Team@Example.org  alias ({aliases}:3)
            |-- alice@example.org  mailbox {mail}/alice
            |-- bob+lists@example.org  mailbox {mail}/bob, folder .Lists
            `-- friends@example.org  alias ({aliases}:5)
                |-- carol@example.org  mailbox {mail}/carol
                |-- friend@partner.example  remote, by route to 192.0.2.25:2525, sender kept (no [srs] domain)
                `-- team@example.org  loop: skipped
            4 destinations
            """))

    def test_virtual_catch_all_and_domain_rewrite(self):
        r = self.aliases("info@example.net")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"info@example.net  alias ({self.path('virtual')}:3)", r.stdout)
        self.assertIn("`-- info@example.org  alias", r.stdout)
        self.assertIn(f"`-- alice@example.org  mailbox {self.path('mail', 'example.org')}/alice", r.stdout)

    def test_refusals_exit_1_with_the_reply(self):
        r = self.aliases("nobody@example.org")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stdout.startswith(
            "nobody@example.org: 550 5.1.1 <nobody@example.org>: Recipient address rejected: mailbox unknown\n"), r.stdout)
        r = self.aliases("someone@elsewhere.example")
        self.assertEqual(r.returncode, 1)
        self.assertIn("554 5.7.1", r.stdout)
        self.assertIn("relaying refused", r.stdout)
        r = self.aliases("someone@elsewhere.example", "--trusted")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("remote, by MX of elsewhere.example", r.stdout)

    # RFC 5321 4.1.1.3: "Postmaster" alone.
    def test_bare_postmaster(self):
        r = self.aliases("<Postmaster>")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("`-- alice@example.org  mailbox", r.stdout)

    def test_not_an_address(self):
        r = self.aliases("not an address")
        self.assertEqual(r.returncode, 2)
        self.assertIn("is not an address", r.stderr)

    def test_check_config_accepts_the_files(self):
        r = self.ehlo("check-config", self.path("ehlo.toml"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.path("ehlo.toml") + ": ok\n")

    def test_check_config_names_file_and_line_of_each_problem(self):
        self.write("aliases", """\
            postmaster: alice
            team: alice,
                "|/usr/bin/procmail"
            help@example.org: alcie
            """)
        self.write("virtual", """\
            new.example     anything
            """)
        r = self.ehlo("check-config", self.path("ehlo.toml"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.splitlines(), [
            f"{self.path('aliases')}:3: '\"|/usr/bin/procmail\"': delivery to a command is not supported"
            " (ehlo delivers to mailboxes and servers only)",
            f"{self.path('virtual')}:1: 'new.example' declares a virtual alias domain (virtual(5)); add a [[domain]] for it",
        ])
        # With those fixed, the target that reaches nothing is found too.
        self.write("aliases", "help@example.org: alcie\n")
        self.write("virtual", "")
        r = self.ehlo("check-config", self.path("ehlo.toml"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"{self.path('aliases')}:1: 'alcie@example.org' (a target of 'help@example.org')"
                                   " is neither a mailbox nor an alias\n")

    def test_serve_refuses_to_start_on_a_bad_alias_file(self):
        self.write("aliases", "team: :include:/etc/mail/team\n")
        r = self.ehlo("serve", "--config", self.path("ehlo.toml"))
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{self.path('aliases')}:1: ':include:/etc/mail/team': ':include:' is not supported", r.stderr)


if __name__ == "__main__":
    unittest.main()
