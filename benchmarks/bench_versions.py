"""Benchmark: this checkout's `wavelens analyze` against another version's, side by side.

Both run as fresh processes, alternately, several rounds in one session, on the
same dataset and options; the script prints each run, the medians and their
ratio, and compares the two summary.json files figure by figure (every number
but timings, the command line and the version), so a change that should not
change results can be checked to change none.

    git worktree add /tmp/wl-old <commit>
    (cd /tmp/wl-old && python3 -m venv .venv && .venv/bin/pip install -e .)
    python benchmarks/bench_versions.py --other /tmp/wl-old/.venv/bin/python [--repeats 5]
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IGNORED = {"timings_s", "command", "wavelens_version"}


def run(python, out, options):
    command = [python, "-m", "wavelens", "analyze", *options, "--out", str(out)]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr}")
    return time.perf_counter() - start


def differences(a, b, where=""):
    """Paths at which two JSON values differ (numbers to 1e-9 relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            if key in IGNORED and not where:
                continue
            found += differences(a.get(key), b.get(key), f"{where}/{key}")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else [f"{where}: {a} != {b}"]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--other", required=True, help="the Python of the other version's environment")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--options", default="fashion-mnist --split train",
                        help="the analyze arguments, as one string")
    args = parser.parse_args()
    options = args.options.split()
    times = {"this": [], "other": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for name, python in (("this", sys.executable), ("other", args.other)):
                seconds = run(python, Path(tmp) / f"{name}{i}", options)
                times[name].append(seconds)
                print(f"{name} run {i + 1}: {seconds:6.2f} s", flush=True)
        summaries = [json.loads((Path(tmp) / f"{name}0" / "summary.json").read_text()) for name in ("this", "other")]
    this, other = statistics.median(times["this"]), statistics.median(times["other"])
    print(f"median: this {this:.2f} s, other {other:.2f} s; this / other = {this / other:.3f}")
    found = differences(*summaries)
    print("summary.json: the same figures" if not found else f"summary.json differs at {len(found)} places:")
    for line in found[:30]:
        print("  " + line)


if __name__ == "__main__":
    main()
