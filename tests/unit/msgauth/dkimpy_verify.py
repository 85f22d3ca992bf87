"""Runs dkimpy's own dkimverify program (Debian python3-dkim) with its DNS pointed at the
test's server on 127.0.0.1:PORT instead of /etc/resolv.conf.

    /usr/bin/python3 dkimpy_verify.py PORT [--index N] < message
"""
import sys

import dns.resolver


def main():
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = int(sys.argv[1])
    resolver.lifetime = 5
    dns.resolver.default_resolver = resolver
    sys.argv = ["dkimverify"] + sys.argv[2:]
    from dkim.dkimverify import main as dkimverify
    dkimverify()


if __name__ == "__main__":
    main()
