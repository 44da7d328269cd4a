#!/usr/bin/env python3
"""Writes the bundled load traces in traces/ (deterministic: fixed seeds).

CSV: minute,requests_per_minute[,error_rate]. Run: python3 tools/make_traces.py
"""
import math
import os
import random

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "traces")


def write(name, rows, with_errors=False):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        f.write("minute,requests_per_minute" + (",error_rate" if with_errors else "") + "\n")
        for row in rows:
            f.write(",".join(f"{v:.0f}" if i < 2 else f"{v:.2f}" for i, v in enumerate(row)) + "\n")
    print(f"wrote {path} ({len(rows)} minutes)")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(7)
    # A day: quiet at 04:00, busiest at 16:00, a little noise.
    write("diurnal.csv", [
        (m, (2000 + 8000 * (0.5 - 0.5 * math.cos(2 * math.pi * (m - 240) / 1440))) * rng.uniform(0.97, 1.03))
        for m in range(1440)
    ])
    # A sudden spike: x4 for 90 minutes.
    write("spike.csv", [(m, 12000 if 60 <= m < 150 else 3000) for m in range(360)])
    # A flash crowd that fades: x6 at once, decaying with a 40-minute time constant.
    write("flash-crowd.csv", [
        (m, 2500 + (12500 * math.exp(-(m - 60) / 40) if m >= 60 else 0)) for m in range(360)
    ])
    # A slow ramp: 2,000 to 16,000 over six hours, then flat.
    write("ramp.csv", [(m, 2000 + 14000 * min(m, 360) / 360) for m in range(480)])
    # A noisy flat load, with a steady 0.5 % of application errors.
    write("noisy-flat.csv", [(m, 5000 * rng.uniform(0.85, 1.15), 0.5) for m in range(480)], with_errors=True)


if __name__ == "__main__":
    main()
