#!/usr/bin/env bash
# apt-ensure.sh PACKAGE… — installs the Debian packages that are not installed yet (one `apt-get update`
# only when something is missing). Shared by scripts/install-test-deps.sh and Benchmarks/run.sh.
set -euo pipefail
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "apt-ensure: apt-get install ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
