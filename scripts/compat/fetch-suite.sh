#!/usr/bin/env bash
# Fetches Redis's own Tcl test suite from Debian's source package of the
# installed redis-server into $1 (default .compat/): adds deb-src beside
# the machine's deb sources, installs dpkg-dev and tcl, runs
# `apt-get source redis`. Does nothing when the suite is already there.
# Prints the suite's directory (the one with runtest) on stdout.
set -euo pipefail
cache=${1:-.compat}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

find_suite() {
  local d
  for d in "$cache"/src/redis-*/; do
    [ -x "$d/runtest" ] && [ -d "$d/tests/unit" ] && { echo "${d%/}"; return 0; }
  done
  return 1
}
if dir=$(find_suite); then echo "$dir"; exit 0; fi

sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

# deb-src beside every deb source (deb822 .sources files and the classic
# one-line format), once.
changed=0
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  if grep -qE '^Types:\s*deb\s*$' "$f"; then
    echo "compat: adding deb-src to $f" >&2
    $sudo sed -i -E 's/^Types:\s*deb\s*$/Types: deb deb-src/' "$f"
    changed=1
  fi
done
if [ -f /etc/apt/sources.list ] && grep -qE '^deb\s' /etc/apt/sources.list \
   && ! grep -qE '^deb-src\s' /etc/apt/sources.list; then
  echo "compat: adding deb-src lines to /etc/apt/sources.list" >&2
  grep -E '^deb\s' /etc/apt/sources.list | sed -E 's/^deb(\s)/deb-src\1/' | $sudo tee -a /etc/apt/sources.list >/dev/null
  changed=1
fi
if [ "$changed" = 1 ] || ! apt-cache showsrc redis >/dev/null 2>&1 || [ -z "$(apt-cache showsrc redis 2>/dev/null)" ]; then
  $sudo apt-get update -qq >&2
fi
need=()
command -v dpkg-source >/dev/null 2>&1 || need+=(dpkg-dev)
command -v tclsh >/dev/null 2>&1 || need+=(tcl)
if [ ${#need[@]} -gt 0 ]; then
  echo "compat: installing ${need[*]}" >&2
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The source of the installed server, so the suite matches the binary.
ver=$(dpkg-query -W -f='${source:Version}' redis-server 2>/dev/null || true)
rm -rf "$cache/src.tmp" && mkdir -p "$cache/src.tmp"
(
  cd "$cache/src.tmp"
  if [ -n "$ver" ]; then
    apt-get source -qq "redis=$ver" >&2 || apt-get source -qq redis >&2
  else
    apt-get source -qq redis >&2
  fi
)
rm -rf "$cache/src" && mv "$cache/src.tmp" "$cache/src"
if dir=$(find_suite); then echo "$dir"; exit 0; fi
echo "compat: apt-get source redis unpacked no runtest under $cache/src" >&2
exit 1
