#!/usr/bin/env bash
# Installs Debian's headless-capable chromium for the report browser test, if it is not there yet.
# Exit codes: 0 = chromium available (path printed on stdout), 3 = no apt-get on this machine (caller may skip),
# anything else = the install failed (callers must fail, not skip).
set -euo pipefail

find_chromium() {
  command -v chromium || command -v chromium-browser || true
}

found="$(find_chromium)"
if [ -n "$found" ]; then
  echo "$found"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not found: cannot install Debian's chromium on this machine" >&2
  exit 3
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo -n"
fi
# Several test processes may race here; apt's own lock makes the loser wait instead of failing.
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
found="$(find_chromium)"
if [ -z "$found" ]; then
  echo "apt-get install chromium finished but no chromium binary is on PATH" >&2
  exit 1
fi
echo "$found"
