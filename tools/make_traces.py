#!/usr/bin/env python3
"""Writes the bundled load traces in traces/ (deterministic: fixed seeds).

The first five (diurnal, spike, flash-crowd, ramp, noisy-flat) are the ones the policies were
tuned on; the others are the failing classes of issue 10, to test on shapes they were not tuned
on: periodic load with noise at several periods, a step after hours of quiet at several sizes,
a week with daily peaks, and a daily rush (for prediction). Each new trace has its own seed, so adding one changes no other.

CSV: minute,requests_per_minute[,error_rate]. Run: python3 tools/make_traces.py
"""
import math
import os
import random

PERIODS = (20, 40, 60)
STEP_SIZES = (4, 8, 12)
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

    # The failing classes (issue 10). Periodic load with noise: a sawtooth from 3,000 to 12,000
    # requests a minute that drops back at the end of each period, +-10 % noise, for 8 hours.
    for period in PERIODS:
        rng = random.Random(1000 + period)
        write(f"periodic-{period}.csv", [
            (m, (3000 + 9000 * (m % period) / period) * rng.uniform(0.9, 1.1)) for m in range(480)
        ])
    # A step after a long quiet period: 4 hours at 1,500 (+-3 %), then xN within a minute
    # (half-way at minute 240, all of it from 241) for 2 hours.
    for size in STEP_SIZES:
        rng = random.Random(2000 + size)
        write(f"step-x{size}.csv", [
            (m, 1500 * (1 if m < 240 else (1 + size) / 2 if m == 240 else size) * rng.uniform(0.97, 1.03))
            for m in range(360)
        ])
    # A week with daily peaks: nights at 1,500, weekday afternoons at 13,500, weekend
    # afternoons at 6,000 (a raised cosine from 06:00 to 22:00), +-5 % noise; Monday first.
    rng = random.Random(3000)

    def week_load(m):
        day, minute_of_day = divmod(m, 1440)
        peak = 6000 if day >= 5 else 13500
        hour = minute_of_day / 60
        shape = 0.5 - 0.5 * math.cos(2 * math.pi * (hour - 6) / 16) if 6 <= hour < 22 else 0.0
        return (1500 + (peak - 1500) * shape) * rng.uniform(0.95, 1.05)

    write("week.csv", [(m, week_load(m)) for m in range(7 * 1440)])
    # A daily rush: three days at 1,500 (+-3 %) but for a x8 step at 09:00 that lasts three
    # hours, the same every day: what a forecast from the day before can prepare for.
    rng = random.Random(4000)
    write("daily-rush.csv", [
        (m, 1500 * (8 if 9 * 60 <= m % 1440 < 12 * 60 else 1) * rng.uniform(0.97, 1.03))
        for m in range(3 * 1440)
    ])


if __name__ == "__main__":
    main()
