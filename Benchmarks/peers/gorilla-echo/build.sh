#!/usr/bin/env bash
# Builds the gorilla echo peer against Debian's golang-github-gorilla-websocket-dev (GOPATH mode, nothing fetched).
#     build.sh OUTPUT_BINARY DEPS_DIR        (DEPS_DIR: where the Go path and build cache go, e.g. .deps)
# Used by Benchmarks/run.sh and Benchmarks/fairness/run.sh.
set -euo pipefail
out=$1 deps=$2
mkdir -p "$(dirname "$out")" "$deps/gopath"
cd "$(dirname "${BASH_SOURCE[0]}")"
GO111MODULE=off GOPATH="$deps/gopath:/usr/share/gocode" GOCACHE="$deps/gocache" GOFLAGS= go build -o "$out" .
