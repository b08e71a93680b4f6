"""Benchmark: `wavelens analyze` on large images, peak memory and time, against another version.

Writes a synthetic dataset of N colour images (smooth random shapes, uint8, in an
uncompressed .npz, or with --jpeg a folder of JPEG files), then runs `wavelens analyze X.npz --no-report` in fresh
processes, this checkout and optionally another version alternately, and prints
for each run the wall time, the CPU time and the peak resident memory (ru_maxrss
of the child), then the medians and the ratios. A run that fails (e.g. killed for
memory) is reported as such with its peak memory, not hidden.

    python benchmarks/bench_sizes.py --images 20000 --size 128 [--other OTHER_PYTHON] [--repeats 1]
    python benchmarks/bench_sizes.py --images 10000 --size 24 --grey --other OTHER_PYTHON --repeats 3
    python benchmarks/bench_sizes.py --images 50000 --size 224 --jpeg --keep /tmp/sizes   # a folder of JPEGs
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def image_batches(n_images, size, channels, seed=0, grey=False):
    """``(labels, images)`` in batches of 256: blurred random blobs, a class each of 10 (the classes
    differ by blob scale), uint8; with ``grey``, every channel the same (grey images stored as
    colour: a rank-deficient dataset)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_images) % 10
    grid = np.linspace(0, 1, size)
    for start in range(0, n_images, 256):
        stop = min(start + 256, n_images)
        n = stop - start
        scale = 0.05 + 0.03 * labels[start:stop, None, None, None]
        cx, cy = rng.random((2, n, 1, 1, 1))
        colour = np.ones((n, 1, 1, channels)) if grey else rng.random((n, 1, 1, channels))
        blob = np.exp(-((grid[None, :, None, None] - cx) ** 2 + (grid[None, None, :, None] - cy) ** 2) / scale ** 2)
        noise = rng.random((n, size, size, 1 if grey else channels)) * 0.2
        yield labels[start:stop], np.clip(255 * (blob * colour + noise), 0, 255).astype(np.uint8)


def make_dataset(path, n_images, size, channels, seed=0, grey=False):
    """The images of :func:`image_batches` in an uncompressed .npz."""
    images = np.empty((n_images, size, size, channels), dtype=np.uint8)
    start = 0
    for _, batch in image_batches(n_images, size, channels, seed, grey):
        images[start:start + len(batch)] = batch
        start += len(batch)
    np.savez(path, images=images, labels=np.arange(n_images) % 10)


def make_folder(folder, n_images, size, channels, seed=0, grey=False):
    """The images of :func:`image_batches` as JPEG files (quality 90), a folder per class."""
    from PIL import Image

    for c in range(10):
        (folder / f"class{c}").mkdir(parents=True, exist_ok=True)
    i = 0
    for labels, batch in image_batches(n_images, size, channels, seed, grey):
        for label, image in zip(labels, batch):
            Image.fromarray(image[..., 0] if channels == 1 else image).save(
                folder / f"class{label}" / f"{i:07d}.jpg", quality=90)
            i += 1


def run(python, dataset, out, jobs):
    """Wall s, CPU s, peak RSS (GB) of one fresh `wavelens analyze`, and whether it succeeded."""
    command = [python, "-m", "wavelens", "analyze", str(dataset), "--out", str(out), "--no-report", "--quiet"]
    if jobs:
        command += ["--jobs", str(jobs)]
    code = ("import resource, subprocess, sys, time\n"
            "start = time.perf_counter()\n"
            "rc = subprocess.run(sys.argv[1:], capture_output=True).returncode\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(time.perf_counter() - start, u.ru_utime + u.ru_stime, u.ru_maxrss, rc)\n")
    # A wrapper process per run, so that ru_maxrss is this run's alone.
    fields = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True).stdout.split()
    wall, cpu, rss_kb, rc = float(fields[0]), float(fields[1]), int(fields[2]), int(fields[3])
    return wall, cpu, rss_kb / 2 ** 20, rc == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--other", help="the Python of another version's environment, run side by side")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--grey", action="store_true", help="grey images stored as colour (rank-deficient)")
    parser.add_argument("--jpeg", action="store_true", help="a folder of JPEG files rather than an .npz")
    parser.add_argument("--keep", help="folder to write (or reuse) the dataset in")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="wavelens-sizes-"))
    folder.mkdir(parents=True, exist_ok=True)
    name = f"sizes-{args.images}x{args.size}x{args.size}x{args.channels}{'-grey' if args.grey else ''}"
    dataset = folder / (f"{name}-jpeg" if args.jpeg else f"{name}.npz")
    if not dataset.exists():
        start = time.perf_counter()
        if args.jpeg:
            make_folder(dataset, args.images, args.size, args.channels, grey=args.grey)
            size = sum(f.stat().st_size for f in dataset.glob("*/*.jpg"))
        else:
            make_dataset(dataset, args.images, args.size, args.channels, grey=args.grey)
            size = dataset.stat().st_size
        print(f"wrote {dataset} ({size / 2 ** 30:.2f} GB) in {time.perf_counter() - start:.0f} s")
    versions = {"this": sys.executable, **({"other": args.other} if args.other else {})}
    runs = {name: [] for name in versions}
    for i in range(args.repeats):
        for name, python in versions.items():
            with tempfile.TemporaryDirectory(dir=folder) as out:
                wall, cpu, rss, ok = run(python, dataset, Path(out) / "result", args.jobs)
            runs[name].append((wall, cpu, rss, ok))
            print(f"{name} run {i + 1}: wall {wall:7.1f} s, CPU {cpu:7.1f} s, peak RSS {rss:5.2f} GB"
                  + ("" if ok else "  FAILED"), flush=True)
    for name, rows in runs.items():
        done = [r for r in rows if r[3]]
        if done:
            print(f"{name}: median wall {statistics.median(r[0] for r in done):.1f} s, CPU "
                  f"{statistics.median(r[1] for r in done):.1f} s, peak RSS {max(r[2] for r in done):.2f} GB "
                  f"({len(done)} of {len(rows)} runs completed)")
        else:
            print(f"{name}: no run completed (peak RSS up to {max(r[2] for r in rows):.2f} GB)")
    if args.other and all(r[3] for rows in runs.values() for r in rows):
        this, other = (statistics.median(r[0] for r in runs[k]) for k in ("this", "other"))
        print(f"this / other wall = {this / other:.2f}")
    if not args.keep:
        shutil.rmtree(dataset) if args.jpeg else os.remove(dataset)


if __name__ == "__main__":
    main()
