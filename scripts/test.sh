#!/usr/bin/env bash
# THE test command (README): installs the test peers if missing, then builds, runs the unit
# tests, the fuzzers, and the interop and Autobahn conformance tests against the real
# release binary. Needs root (apt-get, unshare -n), no stdin. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "scripts/install-test-deps.sh"
bash scripts/install-test-deps.sh

# Fail in a second, not after the builds, when the test peers are missing.
[[ -x .deps/py/bin/pytest && -x .deps/autobahn/bin/wstest ]] ||
    { echo "test.sh: run scripts/install-test-deps.sh first" >&2; exit 1; }

# A warning in the project's own sources fails the build (Package.swift: only this package's targets, not the
# dependencies); WSGATE_WARNINGS_AS_ERRORS=0 turns that off for a local run.
export WSGATE_WARNINGS_AS_ERRORS="${WSGATE_WARNINGS_AS_ERRORS:-1}"

# Interop and Autobahn measure the binary users run, so build release.
step "swift build -c release --product wsgate"
swift build -c release --product wsgate
export WSGATE_BIN="${WSGATE_BIN:-$(swift build -c release --show-bin-path)/wsgate}"

step "swift test"
swift test

if [[ -f Fuzz/run.sh ]]; then
    step "Fuzz/run.sh"
    bash Fuzz/run.sh
fi

# Last, so that pytest's summary line is the last thing printed.
step "pytest tests/interop (WSGATE_BIN=$WSGATE_BIN)"
export PYTHONWARNINGS=ignore
exec .deps/py/bin/pytest -v tests/interop
