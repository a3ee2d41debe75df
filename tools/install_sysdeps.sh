#!/usr/bin/env bash
# Install the Debian packages LiveFoley needs, only those missing. Never fails the build
# when it cannot install (no root, no apt): it says what is missing, and the tests that need
# a missing package skip with that reason.
set -u
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
((${#missing[@]})) || exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "livefoley: missing Debian packages: ${missing[*]} (run: sudo apt-get install -y ${missing[*]})" >&2
  exit 0
fi
echo "livefoley: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq "${missing[@]}" >/dev/null || echo "livefoley: apt-get could not install ${missing[*]}" >&2
exit 0
