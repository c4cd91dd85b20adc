#!/usr/bin/env bash
# Runs every native fuzz target briefly (FUZZTIME each, default 5s), so
# the seed corpora and a little exploration run in every `make test`.
set -euo pipefail
fuzztime="${1:-5s}"
cd "$(dirname "$0")/.."
found=0
for mod in dataplane controlplane; do
  while IFS= read -r pkg; do
    dir=$(cd "$mod" && go list -f '{{.Dir}}' "$pkg")
    for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
      found=$((found+1))
      echo "fuzz: $pkg $target ($fuzztime)"
      (cd "$mod" && go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg")
    done
  done < <(cd "$mod" && go list ./...)
done
echo "fuzz: $found targets"
