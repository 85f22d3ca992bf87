# The contract with a new user: `make run` and `make test` (see README.md).
BUILD_DIR ?= build
BUILD_TYPE ?= Release
# The second build of `make test`, under ASan and UBSan (tests/sanitizer/run.sh).
SANITIZE_BUILD_DIR ?= build-asan
JOBS ?= $(shell nproc)
# Debian 12 packages the build, the tests and the benchmark need.
DEB_PACKAGES := g++ cmake ninja-build ccache pkg-config \
	libasio-dev libssl-dev libfmt-dev libspdlog-dev libcli11-dev libtomlplusplus-dev \
	libunbound-dev libgtest-dev libgmock-dev libsqlite3-dev nlohmann-json3-dev libbenchmark-dev \
	libsodium-dev libcrypt-dev libhttp-parser-dev \
	python3 swaks libnet-ssleay-perl libio-socket-ssl-perl curl openssl postfix unbound dnsmasq-base dns-root-data \
	prometheus \
	publicsuffix python3-dkim python3-spf postsrsd \
	dovecot-lmtpd dovecot-imapd \
	chromium testssl.sh \
	bsd-mailx git git-email libmailtools-perl
# The libFuzzer build of tests/fuzz (run_fuzzers.sh): clang and its sanitizer and fuzzer runtimes.
DEB_PACKAGES += clang libclang-rt-14-dev
CONFIG ?=
# The account ehlo runs as once started by root ([server] user).
DAEMON_USER := ehlo

.PHONY: all deps build run test test-sanitized clean bench

all: build

# Installs only what is missing; postfix is installed unconfigured and never started
# (tests run private instances of its tools), and so is postsrsd (the SRS tests start their
# own on loopback, to compare answers); prometheus is there for promtool and private test
# servers, so its system service is stopped and disabled where systemd runs one.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root to install packages" >&2; exit 1; fi; \
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
		if [ -d /run/systemd/system ]; then \
			for s in prometheus postsrsd; do \
				echo " $$missing " | grep -q " $$s " && { systemctl disable --now $$s || true; }; \
			done; \
		fi; \
	fi
	@# The console's browser test drives chromium with puppeteer-core (tests/browser).
	@if command -v npm >/dev/null && [ ! -d tests/browser/node_modules/puppeteer-core ]; then \
		npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error || echo "npm ci failed: the browser test will be SKIPPED" >&2; \
	fi
	@# Started as root, ehlo binds its ports and then runs as this account (docs/security.md).
	@if [ "$$(id -u)" = 0 ] && ! id -u $(DAEMON_USER) >/dev/null 2>&1; then \
		echo "creating the system user $(DAEMON_USER), which ehlo runs as"; \
		useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $(DAEMON_USER); \
	fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Without certificates in the configuration, a self-signed one for the host name is made on the
# first start under var/tls and STARTTLS is offered with it (the log says so).
run: build
	$(BUILD_DIR)/ehlo serve --self-signed var/tls $(if $(CONFIG),--config $(CONFIG))

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600
	tests/sanitizer/run.sh $(CURDIR)/$(SANITIZE_BUILD_DIR) $(JOBS)
	FUZZ_BUILD_DIR=$(CURDIR)/$(BUILD_DIR)/fuzz JOBS=$(JOBS) tests/fuzz/run_fuzzers.sh

# The sanitized build and its run alone.
test-sanitized: deps
	tests/sanitizer/run.sh $(CURDIR)/$(SANITIZE_BUILD_DIR) $(JOBS)

# The libFuzzer targets of tests/fuzz for FUZZ_TIME seconds each (`make test` gives them 12),
# their corpora kept and grown in var/fuzz-corpus/ from one run to the next.
FUZZ_TIME ?= 300
.PHONY: fuzz
fuzz: deps
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_CORPUS_DIR=$(CURDIR)/var/fuzz-corpus FUZZ_BUILD_DIR=$(CURDIR)/$(BUILD_DIR)/fuzz \
		JOBS=$(JOBS) tests/fuzz/run_fuzzers.sh

# The binary and the names programs call it by: sendmail (PREFIX/sbin, as /usr/sbin/sendmail
# is found) and mailq, links to it (docs/sendmail.md). No set-uid or set-gid bit anywhere.
# PREFIX=/usr puts sendmail where every program looks, replacing another MTA's: say so.
PREFIX ?= /usr/local
DESTDIR ?=
.PHONY: install install-binary
install: build
	$(MAKE) install-binary
# The copy and links alone, of an existing build (tests/e2e/t_38_sendmail.py runs it).
install-binary:
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD_DIR)/ehlo $(DESTDIR)$(PREFIX)/bin/ehlo
	ln -sf ../bin/ehlo $(DESTDIR)$(PREFIX)/sbin/sendmail
	ln -sf ehlo $(DESTDIR)$(PREFIX)/bin/mailq
	ln -sf ehlo $(DESTDIR)$(PREFIX)/bin/sendmail

bench: build
	../shared/bench/run postfix $(CURDIR)/bench/adapters/ehlo --out docs/bench-last.md

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_BUILD_DIR)
