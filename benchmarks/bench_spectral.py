"""Benchmark: `wavelens communities` on all 70,000 Fashion-MNIST images, and
test-vs-train `wavelens duplicates`, each as a fresh process: wall time and
peak memory (the child's maximum resident set size), median over runs.

Targets (issue "spectral analysis"): communities under 2 minutes, duplicates
under 1 minute, peak memory under 4 GB. There is no hand-written baseline to
run beside them: the textbook way (a dense 70,000 x 70,000 similarity matrix,
as scikit-learn's SpectralClustering with a precomputed affinity takes) needs
about 39 GB in float64 and does not fit this machine; the script reports that
figure next to the measured peak.

    python benchmarks/bench_spectral.py [--repeats 3]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def run(command):
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        os.execv(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        sys.exit(f"failed ({status}): {' '.join(command)}")
    return elapsed, usage.ru_maxrss / 1024 ** 2  # KiB -> GiB


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    commands = {
        "communities (70,000 images)": (["communities", "fashion-mnist", "--split", "all"], 120),
        "duplicates (10,000 test x 60,000 train)": (
            ["duplicates", "fashion-mnist", "--split", "test", "fashion-mnist", "--split-b", "train"], 60),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (arguments, target) in commands.items():
            times, peaks = [], []
            for i in range(args.repeats):
                out = str(Path(tmp) / f"{arguments[0]}-{i}")
                seconds, peak = run([sys.executable, "-m", "wavelens", *arguments, "--out", out])
                times.append(seconds)
                peaks.append(peak)
                print(f"{name} run {i + 1}: {seconds:6.1f} s, peak {peak:.2f} GiB")
            median = statistics.median(times)
            print(f"{name}: median {median:.1f} s ({median / target:.2f} of the {target} s target), "
                  f"peak {max(peaks):.2f} GiB ({max(peaks) / 4:.2f} of 4 GiB)")
    print(f"a dense float64 70,000 x 70,000 similarity matrix alone: {70000 ** 2 * 8 / 1024 ** 3:.1f} GiB")


if __name__ == "__main__":
    main()
