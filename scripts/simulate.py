#!/usr/bin/env python3
"""Runs `logscale simulate` on every trace with four policies: logscale's original and default,
and the peers users would pick instead, EC2 Auto Scaling target tracking and the Kubernetes HPA
(both on CPU at the default policy's target). Prints the comparison as a Markdown table, checks
the goal on the five bundled traces (default: at most half the original's SLO violation
minutes, at most 110 % of its instance-minutes, no flaps) and reports it, without failing, on
the failing-class traces (periodic, step, week). Draws one SVG per run into docs/simulate/.

Exit status: 1 when the default policy misses the goal on a bundled trace.

Usage: scripts/simulate.py [--bin target/debug/logscale] [EXTRA simulate ARGS...]
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The traces the policies were tuned on: the goal must hold on these.
BUNDLED = ["diurnal", "spike", "flash-crowd", "ramp", "noisy-flat"]
# The failing classes of issue 10 (tools/make_traces.py): reported, not yet required.
FAILING_CLASSES = ["periodic-20", "periodic-40", "periodic-60", "step-x4", "step-x8", "step-x12", "week"]
POLICIES = ["original", "default", "target-tracking", "hpa"]


def goal_met(o, d):
    """The default's goal against the original: half the SLO minutes, 110 % of the cost, no flaps."""
    return (2 * d["slo_violation_minutes"] <= o["slo_violation_minutes"]
            and 10 * d["instance_minutes"] <= 11 * o["instance_minutes"]
            and d["flaps"] == 0)


def beats_peers(d, peers):
    """Fewer SLO minutes than each peer (or none where it has none) at no more of its cost."""
    return all((d["slo_violation_minutes"] < p["slo_violation_minutes"] or d["slo_violation_minutes"] == 0)
               and d["instance_minutes"] <= p["instance_minutes"] for p in peers)


def main():
    args = sys.argv[1:]
    binary = None
    if args[:1] == ["--bin"]:
        binary, args = args[1], args[2:]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = binary or os.path.join(target, "debug", "logscale")
    out_dir = os.path.join(ROOT, "docs", "simulate")
    os.makedirs(out_dir, exist_ok=True)
    rows, ok = [], True
    for trace in BUNDLED + FAILING_CLASSES:
        result = {}
        for policy in POLICIES:
            cmd = [binary, "simulate", "--trace", os.path.join(ROOT, "traces", f"{trace}.csv"),
                   "--policy", policy, "--json", "--plot", os.path.join(out_dir, f"{trace}-{policy}.svg")] + args
            result[policy] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        o, d = result["original"], result["default"]
        met = goal_met(o, d)
        bundled = trace in BUNDLED
        ok &= met or not bundled
        rows.append((trace, [result[p] for p in POLICIES], met, bundled,
                     beats_peers(d, [result["target-tracking"], result["hpa"]])))
    print("| trace | SLO violation minutes (original / default / target tracking / HPA) "
          "| instance-minutes (original / default / target tracking / HPA) "
          "| flaps (original / default / target tracking / HPA) | goal | default vs both peers |")
    print("|---|---|---|---|---|---|")
    for trace, runs, met, bundled, beats in rows:
        slo = " / ".join(str(r["slo_violation_minutes"]) for r in runs)
        cost = " / ".join(f"{r['instance_minutes']:,}" for r in runs)
        flaps = " / ".join(str(r["flaps"]) for r in runs)
        goal = "met" if met else ("MISSED" if bundled else "not yet")
        print(f"| {trace} | {slo} | {cost} | {flaps} | {goal} | {'better' if beats else 'not better'} |")
    print("\ngoal: default ≤ 50 % of the original's SLO violation minutes, ≤ 110 % of its "
          "instance-minutes, 0 flaps (required on the five bundled traces, reported on the others); "
          "default vs both peers: fewer SLO violation minutes than each (or none) at no more "
          "instance-minutes.")
    print(f"plots: {os.path.relpath(out_dir, ROOT)}/<trace>-<policy>.svg")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
