#!/usr/bin/env bash
# Runs the whole test suite (unit + black-box + differential), installing what it needs:
# redis-server / redis-cli 7.0 from Debian's packages serve as the oracle and the admin tool.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  echo "== installing redis-server and redis-tools (Debian packages)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
  # The package starts a system service on 6379; the tests do not need it.
  ($SUDO service redis-server stop || $SUDO systemctl stop redis-server || true) >/dev/null 2>&1
fi
redis-server --version
if ! python3 -c "import redis" 2>/dev/null; then
  echo "== installing redis-py (the lock tests of tests/scripting.rs use it)"
  python3 -m pip install -q redis 2>/dev/null || python3 -m pip install -q --break-system-packages redis
fi
echo "== cargo test"
# Black-box tests start many servers; two test threads keep a 2-core machine responsive.
# (RUST_TEST_THREADS rather than --test-threads: the criterion benches, run once in test
# mode by --all-targets, do not take libtest's flags.)
RUST_TEST_THREADS="${TEST_THREADS:-2}" cargo test --all-targets
