"""Benchmark: `wavelens audit` end to end, as a user runs it (a fresh process per run).

    python benchmarks/bench_audit.py [--repeats 3] [--args "fashion-mnist --split test fashion-mnist --split-b train"]

Prints each run's wall and CPU seconds (the command's process and its children) and
the stage times from its summary.json, then the medians and the peak resident memory.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--args", default="fashion-mnist --split test fashion-mnist --split-b train")
    args = parser.parse_args()
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.repeats):
            out = Path(folder) / f"run{run}"
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "wavelens", "audit", *args.args.split(), "--out", str(out),
                                   "--quiet"], capture_output=True, text=True)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                sys.exit(f"the audit failed:\n{done.stderr}")
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            stages = json.loads((out / "summary.json").read_text())["timings_s"]
            walls.append(wall)
            cpus.append(cpu)
            print(f"run {run + 1}: {wall:6.1f} s wall, {cpu:6.1f} s CPU; stages (s): "
                  + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()), flush=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20
    print(f"median: {statistics.median(walls):.1f} s wall, {statistics.median(cpus):.1f} s CPU; "
          f"peak RSS {peak:.2f} GB")


if __name__ == "__main__":
    main()
