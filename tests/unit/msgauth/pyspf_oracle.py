"""pyspf (Debian python3-spf) as the reference for ehlo's SPF: asks the DNS server on
127.0.0.1:PORT and prints one result word per case.

    /usr/bin/python3 pyspf_oracle.py PORT CASES_FILE

CASES_FILE has one case a line: IP <TAB> SENDER <TAB> HELO (SENDER may be empty: the HELO
identity, RFC 7208 2.3).
"""
import sys

import dns.resolver
import spf


def main():
    port, cases = int(sys.argv[1]), sys.argv[2]
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.lifetime = 5
    dns.resolver.default_resolver = resolver
    with open(cases) as f:
        for line in f:
            ip, sender, helo = line.rstrip("\n").split("\t")
            if not sender:
                sender = "postmaster@" + helo
            result, _ = spf.check2(i=ip, s=sender, h=helo, timeout=5)
            print(result, flush=True)


if __name__ == "__main__":
    main()
