#!/usr/bin/env bash
# Headless Chromium for tests/test_follow_clients.py (a browser downloading a cold table), from Debian's apt.
# Only as root with apt-get: elsewhere it says so and the browser test skips with that reason. Idempotent: an
# installed chromium is left alone (under a second). One progress line; apt's own output only on a failure.
set -euo pipefail

if command -v chromium >/dev/null; then
    echo "setup-browser: chromium present ($(chromium --version 2>/dev/null | head -n1))"
    exit 0
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "setup-browser: no chromium, and no root apt-get to install it (the headless Chromium test will skip)"
    exit 0
fi
printf "setup-browser: installing chromium with apt-get (a minute or two, once) ... "
log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$SECONDS
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium; } >"$log" 2>&1; then
    echo "failed" >&2
    cat "$log" >&2
    echo "setup-browser: apt-get could not install chromium (its output is above)" >&2
    exit 1
fi
echo "$(chromium --version 2>/dev/null | head -n1), in $((SECONDS - started)) s"
