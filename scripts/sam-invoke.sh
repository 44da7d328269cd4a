#!/usr/bin/env bash
# make sam-invoke: the function as SAM runs it locally, in a Lambda container, against the
# local AWS stand-in. Works offline (see ../shared/reference/local-aws.md, "sam local invoke
# offline"):
#  1. Docker and debootstrap from Debian's packages, when missing (apt-get; needs root)
#  2. a Docker engine of our own: data and exec roots under the cache, a socket of its own,
#     no iptables rules and no ip_forward change, so the host's networking is left alone
#  3. a stand-in for the provided.al2023 base image (a Debian root filesystem made once with
#     debootstrap and cached as a tarball; the engine keeps the imported image between runs)
#  4. sam build (debug profile, the shared CARGO_TARGET_DIR)
#  5. the stand-in on docker0's address, seeded with logs, a group at desired 2 and CPU at 75 %
#  6. sam local invoke with events/scheduled.json, then with events/dry-run.json
# Everything it starts (the engine, its containerd, the stand-in) is stopped on exit, failure
# included, and docker0 is deleted. Files stay in the checkout (.aws-sam/sam-invoke) and the
# cache ($LOGSCALE_CACHE, default ~/.cache/logscale).
#
# Exit status 77 means "cannot run here" (not root, no apt-get, the engine does not start, no
# Debian mirror for the base image); the reason is printed. tests/sam_invoke.rs skips on it
# unless LOGSCALE_REQUIRE_DOCKER is set.
#
# Results, for tests: SAM_INVOKE_OUT (default .aws-sam/sam-invoke/out) receives
# scheduled.json and dry-run.json (the records), and capacity-{before,after-scheduled,
# after-dry-run}.json (the group as the stand-in reports it).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${LOGSCALE_CACHE:-$HOME/.cache/logscale}
VENV=${LOGSCALE_VENV:-.venv}
SAM_VENV=${LOGSCALE_SAM_VENV:-.venv-sam}
PY="$VENV/bin/python"
SAM="$SAM_VENV/bin/sam"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
WORK=.aws-sam/sam-invoke
OUT=${SAM_INVOKE_OUT:-$WORK/out}
ENGINE=$CACHE/docker
BASE_DIR=$CACHE/lambda-base
# The tag SAM builds its runtime image FROM for provided.al2023 on x86_64.
BASE_IMAGE=public.ecr.aws/lambda/provided:al2023-x86_64
# The engine's default bridge (docker0) has this address on the host; the function's
# container reaches the stand-in there (SAM never uses host networking).
BRIDGE_ADDRESS=172.17.0.1
BUCKET=sam-invoke-logs
GROUP=sam-invoke
SKIP=77

started=$(date +%s)
step() { echo "sam-invoke: [$1/6 +$(( $(date +%s) - started ))s] $2"; }
skip() { echo "sam-invoke: SKIPPED, cannot run here: $*" >&2; exit "$SKIP"; }
fail() { echo "sam-invoke: FAILED: $*" >&2; exit 1; }

# --- cleanup: whatever this run started, in reverse order -------------------------------------
standin_pid=""
engine_pid=""
delete_bridge=""
made_paths=()
cleanup() {
  local status=$?
  set +e
  if [ -n "$standin_pid" ]; then
    kill -TERM "$standin_pid" 2>/dev/null
    wait "$standin_pid" 2>/dev/null
  fi
  if [ -n "$engine_pid" ]; then
    # SAM removes its containers; one left by an interrupted invoke goes first.
    local left
    left=$(docker ps -aq 2>/dev/null)
    [ -n "$left" ] && docker rm -f $left >/dev/null 2>&1
    stop_engine "$engine_pid"
  fi
  # Only once no other engine was found: docker0 is then ours (or a killed run's).
  [ -n "$delete_bridge" ] && [ -e /sys/class/net/docker0 ] && ip link delete docker0 2>/dev/null
  # Whatever the data and exec roots, containerd keeps shim sockets in /run/containerd/s,
  # dockerd makes /run/docker/plugins and writes its identity to /etc/docker/key.json (20.10
  # has no flag to move it); removed when this run created them.
  for path in "${made_paths[@]}"; do rm -rf "$path"; done
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Stops a dockerd started by this script (its pid from our own pidfile) and the containerd it
# started (pid in the exec root), waiting for both to exit.
stop_engine() {
  local pid=$1 containerd_pid=""
  [ -f "$ENGINE/exec/containerd/containerd.pid" ] && containerd_pid=$(cat "$ENGINE/exec/containerd/containerd.pid")
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  if [ -n "$containerd_pid" ] && [ "$(cat "/proc/$containerd_pid/comm" 2>/dev/null)" = containerd ]; then
    for _ in $(seq 1 100); do kill -0 "$containerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$containerd_pid" 2>/dev/null && kill -TERM "$containerd_pid" 2>/dev/null
  fi
  rm -f "$ENGINE/dockerd.pid"
}

# --- 1. tools -----------------------------------------------------------------------------------
step 1 "Docker engine and debootstrap (Debian's docker.io)"
[ "$(id -u)" = 0 ] || skip "not root: starting a Docker engine (and installing it) needs root"
[ -x "$PY" ] || fail "no Python venv at $VENV: run make setup (or set LOGSCALE_VENV)"
[ -x "$SAM" ] || fail "no SAM CLI at $SAM: run make setup (or set LOGSCALE_SAM_VENV)"
mkdir -p "$WORK" "$OUT" "$ENGINE" "$BASE_DIR"
rm -f "$OUT"/*.json
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  command -v apt-get >/dev/null || skip "dockerd or debootstrap is missing and there is no apt-get to install them"
  echo "sam-invoke:   apt-get install docker.io debootstrap (about 20 s)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends docker.io debootstrap; } >"$WORK/apt.log" 2>&1 \
    || skip "apt-get could not install docker.io and debootstrap (see $WORK/apt.log)"
fi
command -v docker >/dev/null || skip "no docker client on PATH"
command -v ip >/dev/null || skip "no ip command (iproute2), needed to delete docker0 afterwards"

# --- 2. the engine ------------------------------------------------------------------------------
step 2 "starting a Docker engine of our own ($ENGINE)"
# One run at a time: two engines would share docker0 and the stand-in's names.
exec 9>"$ENGINE/lock"
flock -w 1800 9 || fail "another make sam-invoke held $ENGINE/lock for 30 minutes"
# An engine left by a run that was killed outright (the trap could not run).
if [ -f "$ENGINE/dockerd.pid" ]; then
  old=$(cat "$ENGINE/dockerd.pid")
  if [ "$(cat "/proc/$old/comm" 2>/dev/null)" = dockerd ]; then
    echo "sam-invoke:   stopping the engine a killed run left behind (pid $old)"
    stop_engine "$old"
  fi
  rm -f "$ENGINE/dockerd.pid"
fi
if other=$(pgrep -x dockerd); then
  skip "another Docker engine is running (pid $other); ours would share docker0 with it"
fi
for path in /run/containerd /run/docker /etc/docker/key.json; do [ -e "$path" ] || made_paths+=("$path"); done
delete_bridge=1
export DOCKER_HOST="unix://$ENGINE/docker.sock"
dockerd --data-root "$ENGINE/data" --exec-root "$ENGINE/exec" --pidfile "$ENGINE/dockerd.pid" \
  --host "$DOCKER_HOST" --iptables=false --ip-forward=false >"$WORK/dockerd.log" 2>&1 &
engine_pid=$!
for _ in $(seq 1 300); do
  docker version >/dev/null 2>&1 && break
  kill -0 "$engine_pid" 2>/dev/null || { engine_pid=""; skip "dockerd exited at start (see $WORK/dockerd.log)"; }
  sleep 0.1
done
docker version >/dev/null 2>&1 || skip "dockerd did not answer within 30 s (see $WORK/dockerd.log)"
ip -4 addr show docker0 2>/dev/null | grep -q "inet $BRIDGE_ADDRESS/" \
  || skip "docker0 does not have the address $BRIDGE_ADDRESS (see $WORK/dockerd.log)"

# --- 3. the base image --------------------------------------------------------------------------
step 3 "the provided.al2023 stand-in image ($BASE_IMAGE)"
debian_mirror() {
  if [ -n "${LOGSCALE_DEBIAN_MIRROR:-}" ]; then echo "$LOGSCALE_DEBIAN_MIRROR"; return; fi
  # deb822 sources (URIs: lines), then one-line ones; the first plain Debian archive.
  # (Missing files are normal; each reader's status is ignored.)
  { awk '$1 == "URIs:" {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    sed -E 's/\[[^]]*\] //' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" {print $2}' || true
  } | awk '/\/debian\/?$/ {print; exit}'
}
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "sam-invoke:   already in the engine"
else
  # The host's own release, so the container's glibc is the one the binary was linked against.
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$suite" ] || skip "cannot tell the Debian release from /etc/os-release"
  tarball="$BASE_DIR/rootfs-$suite-minbase.tar"
  if [ ! -s "$tarball" ]; then
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || skip "no Debian mirror in the apt sources (set LOGSCALE_DEBIAN_MIRROR)"
    echo "sam-invoke:   debootstrap $suite from $mirror (about a minute, once; cached as $tarball)"
    rootfs="$BASE_DIR/rootfs.tmp"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" "$mirror" \
      >"$WORK/debootstrap.log" 2>&1 || { rm -rf "$rootfs"; skip "debootstrap failed (see $WORK/debootstrap.log)"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc "$rootfs"/usr/share/man "$rootfs"/usr/share/locale "$rootfs"/usr/share/info
    # Where the Lambda runtime interface emulator looks for the function and the runtime.
    mkdir -p "$rootfs"/var/task "$rootfs"/var/runtime "$rootfs"/opt
    tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  echo "sam-invoke:   docker import $tarball"
  docker import -c 'ENV LAMBDA_TASK_ROOT=/var/task' -c 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    -c 'ENV LANG=C.UTF-8' -c 'WORKDIR /var/task' "$tarball" "$BASE_IMAGE" >/dev/null
fi

# --- 4. sam build -------------------------------------------------------------------------------
# SAM keeps its own settings in ~/.aws-sam unless told otherwise, and its build locks in TMPDIR:
# both go under the work folder, so nothing is written outside the checkout and the cache.
export SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR="$PWD/$WORK/sam-cli"
mkdir -p "$WORK/tmp"
sam() { TMPDIR="$PWD/$WORK/tmp" "$SAM" "$@"; }
# Dummy credentials and a region: SAM hands them to the function's container.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
  AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
step 4 "sam build (cargo lambda, debug profile, CARGO_TARGET_DIR=$CARGO_TARGET_DIR; minutes the first time)"
# The debug profile: a release build of the AWS SDK takes about 14 minutes on two cores.
SAM_BUILD_MODE=debug PATH="$VENV/bin:$PATH" sam build --no-cached \
  --build-dir "$WORK/build" --cache-dir "$WORK/cache" >"$WORK/build.log" 2>&1 \
  || { tail -n 30 "$WORK/build.log" >&2; fail "sam build failed (see $WORK/build.log)"; }

# --- 5. the stand-in ----------------------------------------------------------------------------
step 5 "the AWS stand-in on $BRIDGE_ADDRESS, seeded: s3://$BUCKET/logs/, group $GROUP (min 1, max 5, desired 2), CPU at 75 %"
rm -f "$WORK/standin.port" "$WORK/seed.log"
"$PY" tools/standin.py --host "$BRIDGE_ADDRESS" --port 0 --port-file "$WORK/standin.port" \
  --parent-pid $$ >"$WORK/standin.log" 2>&1 &
standin_pid=$!
for _ in $(seq 1 300); do [ -s "$WORK/standin.port" ] && break; sleep 0.1; done
[ -s "$WORK/standin.port" ] || fail "the stand-in did not start (see $WORK/standin.log)"
ENDPOINT="http://$BRIDGE_ADDRESS:$(cat "$WORK/standin.port")"
seed() { "$PY" tools/seed.py --endpoint "$ENDPOINT" "$@" 2>>"$WORK/seed.log"; }
seed bucket "$BUCKET"
# LOGSCALE_BIN: a logscale CLI already built (the test passes its own), else cargo builds it.
logscale() { if [ -n "${LOGSCALE_BIN:-}" ]; then "$LOGSCALE_BIN" "$@"; else cargo run --quiet --bin logscale -- "$@"; fi; }
loggen() { AWS_ENDPOINT_URL="$ENDPOINT" logscale loggen "$@" --s3 "s3://$BUCKET/logs/"; }
loggen --lines 2000 --error-share 0.01 --slow-share 0.02
loggen --lines 1500 --error-share 0.01 --slow-share 0.02 --seed 43 --gzip
seed group "$GROUP" --min 1 --max 5 --desired 2
seed cpu "$GROUP" --percent 75
seed show "$GROUP" >"$OUT/capacity-before.json"

# --- 6. sam local invoke ------------------------------------------------------------------------
# Warm-up and lag off: the stand-in's instances were launched a moment ago, the logs written
# a moment ago. LocalEndpointUrl sets AWS_ENDPOINT_URL in the function (a Parameter: --env-vars
# cannot add a variable the template does not declare; see the template's comment).
overrides="LogBucket=$BUCKET GroupName=$GROUP WarmupSeconds=0 LagSeconds=0 LocalEndpointUrl=$ENDPOINT"
invoke() { # event-file result-name
  sam local invoke LogscaleFunction --template "$WORK/build/template.yaml" --skip-pull-image \
    --event "$1" --parameter-overrides "$overrides" >"$OUT/$2.json" 2>"$WORK/$2.log" \
    || { tail -n 30 "$WORK/$2.log" >&2; fail "sam local invoke with $1 failed (see $WORK/$2.log)"; }
  seed show "$GROUP" >"$OUT/capacity-after-$2.json"
}
step 6 "sam local invoke LogscaleFunction --skip-pull-image --event events/scheduled.json"
invoke events/scheduled.json scheduled
step 6 "sam local invoke LogscaleFunction --skip-pull-image --event events/dry-run.json"
invoke events/dry-run.json dry-run

"$PY" - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
load = lambda name: json.loads((out / name).read_text())
before = load("capacity-before.json")
for event, name in (("events/scheduled.json", "scheduled"), ("events/dry-run.json", "dry-run")):
    record = load(f"{name}.json")
    after = load(f"capacity-after-{name}.json")
    d = record["decision"]
    print(f"\n=== {event}: the decision record ===")
    print(json.dumps(record, indent=2))
    print(f"--- {event}: {d['action']} {d['from']} -> {d['to']}, applied {str(record['applied']).lower()}, "
          f"dry run {str(record['dry_run']).lower()}: {d['explanation']}")
    print(f"--- the group's capacity (from the stand-in): desired {before['desired']} -> {after['desired']} "
          f"(min {after['min']}, max {after['max']}; instances {len(before['instances'])} -> {len(after['instances'])})")
    before = after
PY
echo "sam-invoke: done in $(( $(date +%s) - started )) s"
