"""Benchmark: `wavelens analyze fashion-mnist --split train` end to end vs the hand-written baseline.

Both run as fresh processes (interpreter start and imports included), one
after the other, several times, in one session; the script prints each run,
the medians and their ratio. wavelens runs twice a round: as the default
command (which also draws report.html) and with --no-report (the same work
as the baseline's and more: r(e), PSNR, dataset patterns, every statistic).

With --float64, each round also runs the baseline with its patterns kept in
float64, as ``np.array(patterns)`` makes them (slower than the float32 default).

    python benchmarks/bench_analyze.py [--repeats 5] [--float64]
"""

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command):
    """Wall seconds, CPU seconds (user + system) and stdout of a fresh process."""
    start, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, command))}\n{result.stderr}")
    return elapsed, _children_cpu() - cpu, result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--float64", action="store_true", help="also run the float64 baseline")
    args = parser.parse_args()
    baseline, ours, bare, wide = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            seconds, cpu, output = run([sys.executable, HERE / "baseline_analyze.py"])
            baseline.append(seconds)
            print(f"baseline run {i + 1}: {seconds:6.2f} s (CPU {cpu:5.2f} s)  ({output.strip()})")
            if args.float64:
                seconds, cpu, output = run([sys.executable, HERE / "baseline_analyze.py", "--float64"])
                wide.append(seconds)
                print(f"float64 baseline run {i + 1}: {seconds:6.2f} s (CPU {cpu:5.2f} s)  ({output.strip()})")
            seconds, cpu, output = run([sys.executable, "-m", "wavelens", "analyze", "fashion-mnist", "--split",
                                        "train", "--out", Path(tmp) / f"run{i}"])
            ours.append(seconds)
            nmi_line = next(line for line in output.splitlines() if "image-pattern prototypes" in line)
            print(f"wavelens run {i + 1}: {seconds:6.2f} s (CPU {cpu:5.2f} s)  ({nmi_line[:110]}...)")
            seconds, cpu, _ = run([sys.executable, "-m", "wavelens", "analyze", "fashion-mnist", "--split", "train",
                                   "--no-report", "--out", Path(tmp) / f"bare{i}"])
            bare.append(seconds)
            print(f"wavelens --no-report run {i + 1}: {seconds:6.2f} s (CPU {cpu:5.2f} s)")
    b, o, n = statistics.median(baseline), statistics.median(ours), statistics.median(bare)
    print(f"median: baseline {b:.2f} s; wavelens analyze {o:.2f} s ({b / o:.1f}x); "
          f"with --no-report {n:.2f} s ({b / n:.1f}x)")
    if wide:
        w = statistics.median(wide)
        print(f"float64 baseline {w:.2f} s: wavelens analyze {w / o:.1f}x, with --no-report {w / n:.1f}x")


if __name__ == "__main__":
    main()
