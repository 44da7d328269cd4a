#!/usr/bin/env python3
"""Runs `logscale simulate` on every trace with four policies: logscale's original and default,
and the peers users would pick instead, EC2 Auto Scaling target tracking and the Kubernetes HPA
(both on CPU at the default policy's target). Prints the comparison as a Markdown table, checks
the goal (default: at most half the original's SLO violation minutes, at most 110 % of its
instance-minutes, no flaps) on every trace, and says where it is out of reach for any policy:
where the cheapest capacity that meets the SLO every minute (`oracle_instance_minutes`) costs
more than 110 % of the original. Then the multi-day traces with the request history's forecast
acted on (`LOGSCALE_PREDICT=active`) beside the default. Draws one SVG per run into
docs/simulate/.

Exit status: 1 when the default policy misses the goal on one of the five bundled traces (the
ones it was tuned on); on the others the table reports it.

Usage: scripts/simulate.py [--bin target/debug/logscale] [EXTRA simulate ARGS...]
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The traces the policies were tuned on: the goal must hold on these.
BUNDLED = ["diurnal", "spike", "flash-crowd", "ramp", "noisy-flat"]
# The failing classes of issue 10 (tools/make_traces.py): shapes the tuning did not see.
FAILING_CLASSES = ["periodic-20", "periodic-40", "periodic-60", "step-x4", "step-x8", "step-x12",
                   "week", "daily-rush"]
# Traces of several days, on which a forecast from the day or week before can act.
MULTI_DAY = ["week", "daily-rush"]
POLICIES = ["original", "default", "target-tracking", "hpa"]


def goal_met(o, d):
    """The default's goal against the original: half the SLO minutes, 110 % of the cost, no flaps."""
    return (2 * d["slo_violation_minutes"] <= o["slo_violation_minutes"]
            and 10 * d["instance_minutes"] <= 11 * o["instance_minutes"]
            and d["flaps"] == 0)


def out_of_reach(o, d):
    """No policy meets the SLO every minute for 110 % of the original's instance-minutes."""
    return 10 * d["oracle_instance_minutes"] > 11 * o["instance_minutes"]


def run(binary, trace, policy, args, plot=None):
    cmd = [binary, "simulate", "--trace", os.path.join(ROOT, "traces", f"{trace}.csv"),
           "--policy", policy, "--json"] + (["--plot", plot] if plot else []) + args
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


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
        result = {p: run(binary, trace, p, args, os.path.join(out_dir, f"{trace}-{p}.svg"))
                  for p in POLICIES}
        o, d = result["original"], result["default"]
        met = goal_met(o, d)
        unreachable = not met and out_of_reach(o, d)
        # Required on the traces the policy was tuned on; reported on the others.
        ok &= met or trace not in BUNDLED
        rows.append((trace, [result[p] for p in POLICIES], met, unreachable,
                     beats_peers(d, [result["target-tracking"], result["hpa"]])))
    print("| trace | SLO violation minutes (original / default / target tracking / HPA) "
          "| instance-minutes (original / default / target tracking / HPA) | cheapest meeting the SLO "
          "| flaps (original / default / target tracking / HPA) | goal | default vs both peers |")
    print("|---|---|---|---|---|---|---|")
    for trace, runs, met, unreachable, beats in rows:
        slo = " / ".join(str(r["slo_violation_minutes"]) for r in runs)
        cost = " / ".join(f"{r['instance_minutes']:,}" for r in runs)
        oracle = runs[0]["oracle_instance_minutes"]
        share = 100 * oracle / runs[0]["instance_minutes"]
        flaps = " / ".join(str(r["flaps"]) for r in runs)
        goal = "met" if met else (f"out of reach ({share:.0f} %)" if unreachable
                                  else f"missed (cheapest: {share:.0f} %)")
        print(f"| {trace} | {slo} | {cost} | {oracle:,} | {flaps} | {goal} | {'better' if beats else 'not better'} |")
    print("\ngoal: default ≤ 50 % of the original's SLO violation minutes, ≤ 110 % of its "
          "instance-minutes, 0 flaps; 'out of reach (N %)': the cheapest capacity that meets the "
          "SLO every minute, instances ready at once, costs N % of the original's instance-minutes, "
          "so no policy meeting the SLO stays within 110 %; 'missed (cheapest: N %)' gives the same figure where the goal was within reach. default vs both peers: fewer SLO "
          "violation minutes than each (or none) at no more instance-minutes.")

    print("\n| multi-day trace | SLO violation minutes (default / with prediction) "
          "| instance-minutes (default / with prediction) | forecast error | scale-outs led by the forecast |")
    print("|---|---|---|---|---|")
    active = os.path.join(out_dir, "predict-active.json")
    with open(active, "w") as f:
        json.dump({"LOGSCALE_PREDICT": "active"}, f)
    try:
        for trace in MULTI_DAY:
            d = run(binary, trace, "default", args)
            a = run(binary, trace, active, args, os.path.join(out_dir, f"{trace}-default-active.svg"))
            fc = a["forecast"]
            print(f"| {trace} | {d['slo_violation_minutes']} / {a['slo_violation_minutes']} "
                  f"| {d['instance_minutes']:,} / {a['instance_minutes']:,} "
                  f"| {fc['mean_absolute_percent_error']:.1f} % over {fc['windows']:,} windows "
                  f"| {fc['led_scale_outs']} |")
    finally:
        os.remove(active)
    print("\nwith prediction: LOGSCALE_PREDICT=active (the requests per instance learned, as by default); "
          "forecast error: mean |forecast − actual| / actual of the windows that had a forecast.")
    print(f"plots: {os.path.relpath(out_dir, ROOT)}/<trace>-<policy>.svg")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
