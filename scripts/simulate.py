#!/usr/bin/env python3
"""Runs `logscale simulate` on every bundled trace with the original and the default policy,
prints the comparison as a Markdown table, checks the goal (default: at most half the
original's SLO violation minutes, at most 110 % of its instance-minutes, no flaps) and draws
one SVG per run into docs/simulate/.

Usage: scripts/simulate.py [--bin target/debug/logscale] [EXTRA simulate ARGS...]
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRACES = ["diurnal", "spike", "flash-crowd", "ramp", "noisy-flat"]


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
    for trace in TRACES:
        result = {}
        for policy in ("original", "default"):
            cmd = [binary, "simulate", "--trace", os.path.join(ROOT, "traces", f"{trace}.csv"),
                   "--policy", policy, "--json", "--plot", os.path.join(out_dir, f"{trace}-{policy}.svg")] + args
            result[policy] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        o, d = result["original"], result["default"]
        slo_ok = 2 * d["slo_violation_minutes"] <= o["slo_violation_minutes"]
        cost = d["instance_minutes"] / o["instance_minutes"]
        met = slo_ok and cost <= 1.10 and d["flaps"] == 0
        ok &= met
        rows.append((trace, o, d, cost, met))
    print("| trace | SLO violation min (original → default) | instance-minutes (original → default, ratio) "
          "| scaling actions | flaps | max instances | goal |")
    print("|---|---|---|---|---|---|---|")
    for trace, o, d, cost, met in rows:
        print(f"| {trace} | {o['slo_violation_minutes']} → {d['slo_violation_minutes']} "
              f"| {o['instance_minutes']:,} → {d['instance_minutes']:,} ({cost:.0%}) "
              f"| {o['scaling_actions']} → {d['scaling_actions']} | {o['flaps']} → {d['flaps']} "
              f"| {o['max_instances']} → {d['max_instances']} | {'met' if met else 'MISSED'} |")
    print(f"\nplots: {os.path.relpath(out_dir, ROOT)}/<trace>-<policy>.svg")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
