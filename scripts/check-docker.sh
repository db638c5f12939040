#!/usr/bin/env bash
# Checks the container image files, as `make test` does:
#   - with a Docker engine: builds the image, then checks that it refuses to
#     start without a mounted configuration and says how to give one;
#   - without one: lints the Dockerfile with BuildKit's build checks (the
#     rules of `docker build --check`, scripts/dockerlint), and with
#     hadolint too when it is installed (Debian does not package it).
# RDVSYNC_SKIP_DOCKER=1 skips all of it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${RDVSYNC_SKIP_DOCKER:-}" = 1 ]; then
	echo "check-docker: skipped (RDVSYNC_SKIP_DOCKER=1)"
	exit 0
fi
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	docker build -q -t rdvsync:check .
	if out=$(docker run --rm rdvsync:check 2>&1); then
		echo "check-docker: the image started without a configuration" >&2
		exit 1
	fi
	grep -q "no configuration file at /etc/rdvsync/config.yaml" <<<"$out" || {
		echo "check-docker: unexpected message without a configuration: $out" >&2
		exit 1
	}
	echo "check-docker: image built; it refuses to start without a configuration"
	# The compose files as Compose reads them (interpolation, schema).
	POSTGRES_PASSWORD=check docker compose -f compose.yaml config -q
	docker compose -f deploy/compose.bbolt.yaml config -q
	echo "check-docker: compose.yaml and deploy/compose.bbolt.yaml are valid"
else
	echo "check-docker: no Docker engine: linting the Dockerfile instead of building it"
	(cd scripts/dockerlint && go run . ../../Dockerfile)
	if command -v hadolint >/dev/null; then
		hadolint Dockerfile
	fi
fi
