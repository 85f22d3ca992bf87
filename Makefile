# The contract with a new user: `make run` and `make test` (see README.md).
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
# Debian 12 packages the build, the tests and the benchmark need.
DEB_PACKAGES := g++ cmake ninja-build ccache pkg-config \
	libasio-dev libssl-dev libfmt-dev libspdlog-dev libcli11-dev libtomlplusplus-dev \
	libunbound-dev libgtest-dev libgmock-dev \
	python3 swaks curl postfix postsrsd unbound dnsmasq-base
CONFIG ?=

.PHONY: all deps build run test clean bench

all: build

# Installs only what is missing; postfix is installed unconfigured and never started
# (tests run private instances of its tools), and so is postsrsd (the SRS tests start their
# own on loopback, to compare answers).
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root to install packages" >&2; exit 1; fi; \
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/ehlo serve $(if $(CONFIG),--config $(CONFIG))

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

bench: build
	../shared/bench/run postfix $(CURDIR)/bench/adapters/ehlo --out docs/bench-last.md

clean:
	rm -rf $(BUILD_DIR)
