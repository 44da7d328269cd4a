#!/usr/bin/env python3
"""Whole-program benchmark of `logscale analyze` against the yardsticks, in one run.

Generates a corpus with `logscale loggen` (original format; plain and gzip), then times, each
--runs times (median reported), on the same files:
  * logscale analyze, one thread, plain text
  * mawk computing the same counts (requests, errors, slow, latency sum, status codes)
  * the original tool's approach: Python, its three regexes per line
  * logscale analyze on the gzip file, and `gzip -dc > /dev/null` on it
  * logscale analyze on one file with one thread, and on two such files with two threads
and prints wall time, MB/s and lines/s of log text, peak memory (max RSS of the process), and
the counts each tool found, so they can be checked against each other.

With --baseline OTHER_BIN (another build of logscale, e.g. the last release's), the plain and gzip
analyze rows are measured for both binaries, run for run alternately, and their ratio printed:
before/after figures from one run on one machine.

Usage: scripts/bench.py [--size-mb 1000] [--runs 3] [--bin target/release/logscale] [--dir D]
                        [--baseline OTHER_BIN]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

MAWK = r"""
{
  if (match($0, /status[: \t]+[0-9][0-9][0-9]/)) {
    s = substr($0, RSTART, RLENGTH); code = substr(s, length(s) - 2)
    if (match($0, /response_time[: \t]+[0-9]+\.?[0-9]*ms/)) {
      t = substr($0, RSTART, RLENGTH); sub(/^response_time[: \t]+/, "", t); sub(/ms$/, "", t)
      requests++; sum += t; status[code]++
      if (t + 0 > 1000) slow++
      if ($0 ~ /ERROR|FATAL|Exception|Failed/) errors++
    }
  }
}
END { printf "{\"requests\": %d, \"errors\": %d, \"slow\": %d, \"sum_ms\": %.2f}\n", requests, errors, slow, sum }
"""

PYTHON_ORIGINAL = r"""
import json, re, sys
error_pattern = re.compile(r'(ERROR|FATAL|Exception|Failed)')
response_time_pattern = re.compile(r'response_time[:\s]+(\d+\.?\d*)ms')
status_code_pattern = re.compile(r'status[:\s]+(\d{3})')
requests = errors = slow = 0
total = 0.0
codes = {}
with open(sys.argv[1], encoding='utf-8', errors='replace') as f:
    for line in f:
        rt = response_time_pattern.search(line)
        st = status_code_pattern.search(line)
        if rt and st:
            requests += 1
            ms = float(rt.group(1))
            total += ms
            if ms > 1000:
                slow += 1
            if error_pattern.search(line):
                errors += 1
            codes[st.group(1)] = codes.get(st.group(1), 0) + 1
print(json.dumps({"requests": requests, "errors": errors, "slow": slow, "sum_ms": round(total, 2)}))
"""


GNU_TIME = "/usr/bin/time"


def run(cmd, stdout=subprocess.PIPE):
    """Runs cmd; returns (seconds, max RSS in MB, stdout text).

    Peak memory comes from GNU time's %M: a child forked straight from this Python process
    would report Python's own resident size as its high-water mark.
    """
    rss_file = None
    if os.path.exists(GNU_TIME):
        rss_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"logscale-bench-rss-{os.getpid()}")
        cmd = [GNU_TIME, "-f", "%M", "-o", rss_file] + cmd
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    out = proc.stdout.read() if stdout == subprocess.PIPE else b""
    err = proc.stderr.read().decode(errors="replace")
    proc.wait()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}): {err}")
    rss_mb = float("nan")
    if rss_file:
        with open(rss_file) as f:
            rss_mb = int(f.read().split()[-1]) / 1024
        os.remove(rss_file)
    return seconds, rss_mb, out.decode(errors="replace")


def measure(label, cmd, runs, text_bytes, lines, stdout=subprocess.PIPE):
    times, rss, out = [], [], ""
    for n in range(runs):
        print(f"  {label}: run {n + 1}/{runs}", file=sys.stderr, flush=True)
        t, m, out = run(cmd, stdout)
        times.append(t)
        rss.append(m)
    med = statistics.median(times)
    return {
        "label": label,
        "seconds": med,
        "mb_per_s": text_bytes / 1e6 / med,
        "lines_per_s": lines / med,
        "max_rss_mb": max(rss),
        "output": out,
    }


def measure_pair(label, ours, theirs, runs, text_bytes, lines):
    """Like measure, for two commands run alternately (ours first): one row for each."""
    samples = {"ours": [], "theirs": []}
    outs = {}
    for n in range(runs):
        for who, cmd in (("ours", ours), ("theirs", theirs)):
            print(f"  {label} ({who}): run {n + 1}/{runs}", file=sys.stderr, flush=True)
            t, m, outs[who] = run(cmd)
            samples[who].append((t, m))
    rows = []
    for who, name in (("ours", label), ("theirs", f"{label}, baseline")):
        med = statistics.median(t for t, _ in samples[who])
        rows.append({
            "label": name,
            "seconds": med,
            "mb_per_s": text_bytes / 1e6 / med,
            "lines_per_s": lines / med,
            "max_rss_mb": max(m for _, m in samples[who]),
            "output": outs[who],
        })
    return rows


def counts(row):
    try:
        d = json.loads(row["output"])
    except ValueError:
        return ""
    s = d.get("sum_ms")
    if s is None and "mean_ms" in d and d.get("timed"):
        s = d["mean_ms"] * d["timed"]
    return f'{d.get("requests")} req, {d.get("errors")} err, {d.get("slow")} slow' + (
        f", sum {s:,.0f} ms" if s is not None else ""
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-mb", type=int, default=1000, help="size of the plain corpus")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--bin", default=None, help="the logscale binary (default: release build)")
    p.add_argument("--dir", default=None, help="where the corpus goes")
    p.add_argument("--skip-python", action="store_true", help="skip the slow Python baseline")
    p.add_argument("--baseline", default=None,
                   help="another logscale binary, timed alternately with --bin on the analyze rows")
    args = p.parse_args()
    if args.baseline and not os.path.exists(args.baseline):
        sys.exit(f"bench: no baseline binary at {args.baseline}")

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    binary = args.bin or os.path.join(target, "release", "logscale")
    if not os.path.exists(binary):
        sys.exit(f"bench: no binary at {binary}; run `cargo build --release --bin logscale` first")
    work = args.dir or os.path.join(target, "bench-corpus")
    os.makedirs(work, exist_ok=True)
    if not os.path.exists(GNU_TIME):
        print("bench: /usr/bin/time is missing (apt-get install time); no peak memory figures", file=sys.stderr)
    for tool in ("mawk", "gzip"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed (apt-get install {tool})")

    # ~91 bytes a line in the original format.
    lines = args.size_mb * 1_000_000 // 91
    a = os.path.join(work, f"a-{lines}.log")
    b = os.path.join(work, f"b-{lines}.log")
    gz = a + ".gz"
    for path, seed in ((a, 1), (b, 2)):
        if not os.path.exists(path):
            print(f"bench: generating {path} ({lines:,} lines)", file=sys.stderr, flush=True)
            run([binary, "loggen", "-n", str(lines), "--seed", str(seed),
                 "--start", "2024-12-08T00:00:00", "-o", path], stdout=None)
    if not os.path.exists(gz):
        print(f"bench: compressing {gz} (gzip -1)", file=sys.stderr, flush=True)
        with open(gz, "wb") as out:
            subprocess.run(["gzip", "-1", "-c", a], stdout=out, check=True)
    size = os.path.getsize(a)
    actual_lines = sum(1 for _ in open(a, "rb"))

    rows = []
    analyze = [binary, "analyze", "--json", "--threads", "1"]
    if args.baseline:
        theirs = [args.baseline, "analyze", "--json", "--threads", "1"]
        rows += measure_pair("logscale analyze (1 thread, plain)", analyze + [a], theirs + [a],
                             args.runs, size, actual_lines)
    else:
        rows.append(measure("logscale analyze (1 thread, plain)", analyze + [a], args.runs, size, actual_lines))
    rows.append(measure("mawk, same counts", ["mawk", MAWK, a], args.runs, size, actual_lines))
    if not args.skip_python:
        rows.append(measure("original approach (Python, 3 regexes)", [sys.executable, "-c", PYTHON_ORIGINAL, a],
                            args.runs, size, actual_lines))
    if args.baseline:
        rows += measure_pair("logscale analyze (gzip)", analyze + [gz], theirs + [gz],
                             args.runs, size, actual_lines)
    else:
        rows.append(measure("logscale analyze (gzip)", analyze + [gz], args.runs, size, actual_lines))
    with open(os.devnull, "wb") as null:
        rows.append(measure("gzip -dc > /dev/null", ["gzip", "-dc", gz], args.runs, size, actual_lines, stdout=null))
    two = [binary, "analyze", "--json", "--threads", "2", a, b]
    rows.append(measure("logscale analyze, 2 files, 2 threads", two, args.runs, 2 * size, 2 * actual_lines))

    print(f"\ncorpus: {size / 1e6:,.0f} MB, {actual_lines:,} lines (original format); gzip -1: "
          f"{os.path.getsize(gz) / 1e6:,.0f} MB; medians of {args.runs} runs; {os.cpu_count()} cores\n")
    print(f"{'tool':42} {'seconds':>8} {'MB/s':>8} {'Mlines/s':>9} {'max RSS MB':>11}  counts")
    for r in rows:
        print(f"{r['label']:42} {r['seconds']:8.2f} {r['mb_per_s']:8.0f} {r['lines_per_s'] / 1e6:9.2f} "
              f"{r['max_rss_mb']:11.1f}  {counts(r)}")
    by = {r["label"]: r for r in rows}
    ours = by["logscale analyze (1 thread, plain)"]
    print()
    print(f"logscale vs mawk: {by['mawk, same counts']['seconds'] / ours['seconds']:.1f}x faster")
    if not args.skip_python:
        py = by["original approach (Python, 3 regexes)"]
        print(f"logscale vs the original approach: {py['seconds'] / ours['seconds']:.1f}x faster")
    g = by["logscale analyze (gzip)"]["seconds"] / by["gzip -dc > /dev/null"]["seconds"]
    print(f"gzip input: logscale takes {g:.2f}x the time of gzip -dc alone")
    t = by["logscale analyze, 2 files, 2 threads"]["seconds"] / ours["seconds"]
    print(f"two files on two threads take {t:.2f}x the time of one file on one thread")
    if args.baseline:
        for label in ("logscale analyze (1 thread, plain)", "logscale analyze (gzip)"):
            ratio = by[label]["seconds"] / by[f"{label}, baseline"]["seconds"]
            print(f"{label}: {ratio:.3f}x the baseline's time ({args.baseline})")


if __name__ == "__main__":
    main()
