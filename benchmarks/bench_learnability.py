"""Benchmark: `wavelens learnability fashion-mnist` end to end, as a user runs it (a fresh process).

    python benchmarks/bench_learnability.py [--args "fashion-mnist"] [--repeats 1]

Trains on the 60,000 training images and tests on the 10,000 test images. Prints each run's wall
and CPU seconds (the command's process and its children) and its stage times, then the figures:
test accuracy per r (image patterns) and m (dataset patterns) per classifier, the fewest patterns
within 1 point of the original images, and training vs test accuracy on random labels.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--args", default="fashion-mnist")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.repeats):
            out = Path(folder) / f"run{run}"
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "wavelens", "learnability", *args.args.split(),
                                   "--out", str(out), "--quiet"], capture_output=True, text=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode:
                sys.exit(done.stderr)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            record = json.loads((out / "summary.json").read_text())
            stages = ", ".join(f"{k} {v:.1f}" for k, v in record["timings_s"].items())
            print(f"run {run}: {wall:.1f} s wall, {cpu:.1f} CPU-s, peak {after.ru_maxrss / 1024:.0f} MB; {stages}")
    lb = record["learnability"]
    print(f"\ntrained on {lb['n_train']}, tested on {lb['n_test']}; chance {lb['chance']:.3f}")
    for source in ("original", "image patterns", "dataset patterns"):
        rows = [r for r in lb["rows"] if r["source"] == source]
        for classifier in lb["classifiers"]:
            mine = [r for r in rows if r["classifier"] == classifier]
            cells = "  ".join(f"{'' if r['r'] is None else str(r['r']) + ':'}{100 * r['test_accuracy']:.1f}"
                              for r in mine)
            print(f"{source:16} {classifier:6} test accuracy (%) {cells}")
    psnr = [r for r in lb["rows"] if r["source"] == "image patterns" and r["classifier"] == next(iter(lb["classifiers"]))]
    print("median PSNR (dB) by r: " + "  ".join(f"{r['r']}:{'exact' if r['psnr_db'] is None else format(r['psnr_db'], '.1f')}"
                                                for r in psnr))
    print("fewest patterns within 1 point of the originals:", json.dumps(lb["within_one_point"]))
    print("\nrandom labels: fraction classifier train test loo_error nmi")
    for r in lb["noise"]:
        loo = "" if r["loo_error"] is None else f"{r['loo_error']:.3f}"
        print(f"  {r['fraction']:.2f} {r['classifier']:6} {r['train_accuracy']:.3f} {r['test_accuracy']:.3f} {loo:>6} "
              f"{r['nmi']:.4f}")


if __name__ == "__main__":
    main()
