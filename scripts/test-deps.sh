#!/usr/bin/env bash
# Installs the system packages the test suite talks to, when they are missing.
# Idempotent and quiet when everything is there.
#   radicale, xandikos: CalDAV servers of the calendar sync tests;
#   chromium: the headless browser of the booking pages' tests
#     (internal/web, /usr/bin/chromium; RDVSYNC_SKIP_BROWSER=1 skips them);
#   curl, jq: scripts/demo.sh and the README walkthrough (cmd/rdvsync);
#   postgresql: the server binaries (initdb, postgres) with which the tests
#     of the PostgreSQL store start throwaway clusters (internal/store/postgres/pgtest);
#     the cluster the package may create and start is not used.
# Another apt or dpkg run (unattended-upgrades on a fresh machine) holds the
# dpkg lock: apt-get waits for it up to 10 minutes instead of failing
# (TEST_DEPS_RETRY_SECONDS: the pause between two tries of apt-get update).
set -euo pipefail

need=()
# Go modules are fetched by `go test` itself; system peers are listed here.
for pkg in "$@"; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "test-deps: installing ${need[*]}" >&2
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	apt=(apt-get -o DPkg::Lock::Timeout=600)
	# update takes the package lists' lock, which DPkg::Lock::Timeout does
	# not cover on every apt version: wait for that one too, 10 minutes.
	for i in $(seq 60); do
		if out=$($SUDO "${apt[@]}" update -qq 2>&1); then
			break
		fi
		if [ "$i" -eq 60 ] || ! grep -qi "lock" <<<"$out"; then
			echo "$out" >&2
			exit 1
		fi
		echo "test-deps: another apt run holds its lock; waiting" >&2
		sleep "${TEST_DEPS_RETRY_SECONDS:-10}"
	done
	DEBIAN_FRONTEND=noninteractive $SUDO "${apt[@]}" install -y -qq "${need[@]}" >/dev/null
fi
go mod download
