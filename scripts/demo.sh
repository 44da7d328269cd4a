#!/usr/bin/env bash
# make demo: one logscale cycle, for real, on a local AWS stand-in.
#  1. build the binaries          4. run the Lambda under `cargo lambda watch`
#  2. start the stand-in          5. invoke it with events/scheduled.json
#  3. seed logs, a group, CPU     6. print the decision record and the capacity change
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${LOGSCALE_VENV:-.venv}
PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
work=.demo
rm -rf "$work" && mkdir -p "$work"
BUCKET=logscale-demo-logs
GROUP=logscale-demo

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port seconds what
  for _ in $(seq 1 $(( $2 * 10 ))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: $3 did not start; see $work/" >&2
  exit 1
}

echo "demo: [1/6] building logscale (the first build compiles the AWS SDK: several minutes)"
cargo build --bins

echo "demo: [2/6] starting the local AWS stand-in (moto + CBOR front)"
"$PY" tools/standin.py --port 0 --port-file "$work/standin.port" --parent-pid $$ >"$work/standin.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -s "$work/standin.port" ] && break; sleep 0.1; done
[ -s "$work/standin.port" ] || { echo "demo: the stand-in did not start; see $work/standin.log" >&2; exit 1; }
ENDPOINT="http://127.0.0.1:$(cat "$work/standin.port")"
export AWS_ENDPOINT_URL="$ENDPOINT" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
seed() { "$PY" tools/seed.py --endpoint "$ENDPOINT" "$@"; }

echo "demo: [3/6] seeding s3://$BUCKET/logs/, group $GROUP (min 1, max 5, desired 2), CPU at 75 %"
seed bucket "$BUCKET"
cargo run --quiet --bin logscale -- loggen --lines 3000 --error-share 0.02 --slow-share 0.04 \
  --s3 "s3://$BUCKET/logs/"
cargo run --quiet --bin logscale -- loggen --lines 2000 --error-share 0.02 --slow-share 0.04 \
  --seed 43 --gzip --s3 "s3://$BUCKET/logs/"
seed group "$GROUP" --min 1 --max 5 --desired 2
seed cpu "$GROUP" --percent 75 --memory 58
before=$(seed show "$GROUP")

echo "demo: [4/6] starting the Lambda under cargo lambda watch"
cat >"$work/lambda.env" <<ENV
LOGSCALE_BUCKET=$BUCKET
LOGSCALE_PREFIX=logs/
LOGSCALE_GROUP=$GROUP
# The stand-in launches instances the moment the group is made; without this they would all
# still be warming up (300 s by default) and stay out of the CPU average.
LOGSCALE_WARMUP_SECONDS=0
# The logs were uploaded a moment ago; with the usual lag the window would end before them.
LOGSCALE_LAG_SECONDS=0
AWS_ENDPOINT_URL=$ENDPOINT
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_REGION=us-east-1
AWS_EC2_METADATA_DISABLED=true
ENV
LPORT=$(free_port)
cargo lambda watch --ignore-changes -A 127.0.0.1 -P "$LPORT" --env-file "$work/lambda.env" \
  >"$work/watch.log" 2>&1 &
pids+=($!)
wait_port "$LPORT" 120 "cargo lambda watch"

echo "demo: [5/6] cargo lambda invoke logscale-lambda --data-file events/scheduled.json"
cargo lambda invoke logscale-lambda -A 127.0.0.1 -P "$LPORT" --data-file events/scheduled.json \
  --output-format json >"$work/record.json"

echo "demo: [6/6] the decision record:"
"$PY" -m json.tool "$work/record.json"
after=$(seed show "$GROUP")
"$PY" - "$before" "$after" <<'PY'
import json, sys
b, a = (json.loads(x) for x in sys.argv[1:3])
print(f"\ncapacity of the group: desired {b['desired']} -> {a['desired']} "
      f"(min {a['min']}, max {a['max']}; instances {len(b['instances'])} -> {len(a['instances'])})")
PY
