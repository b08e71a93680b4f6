"""Benchmark: decoding an image folder, wavelens against a plain multiprocessing.Pool + Pillow loop.

Writes N JPEG images of SIZE x SIZE x 3 in two class folders (once, kept with --keep),
then alternately, in fresh processes: the baseline (a ``multiprocessing.Pool`` with one
process per core mapping ``np.asarray(Image.open(path).convert("RGB"))`` over the files,
then ``np.stack``) and ``wavelens.load_dataset(folder)``. Prints each run, the medians,
and wavelens' throughput as a share of the baseline's.

    python benchmarks/bench_decode.py --images 5000 --size 224 [--repeats 3] [--keep /tmp/decode]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BASELINE = """
import os, sys, time
import numpy as np
from multiprocessing import Pool
from pathlib import Path
from PIL import Image

def read(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))

if __name__ == "__main__":
    start = time.perf_counter()
    files = sorted(str(p) for p in Path(sys.argv[1]).glob("*/*.jpg"))
    with Pool(len(os.sched_getaffinity(0))) as pool:
        images = np.stack(pool.map(read, files, chunksize=64))
    print(time.perf_counter() - start, images.shape, int(images.sum() % 1000003))
"""

WAVELENS = """
import sys, time
start = time.perf_counter()
import wavelens
data = wavelens.load_dataset(sys.argv[1], split="all")
print(time.perf_counter() - start, data.pixels.shape, int(data.pixels.sum() % 1000003))
"""


def write_folder(folder, n_images, size):
    from PIL import Image

    rng = np.random.default_rng(0)
    grid = np.linspace(0, 1, size)
    for i in range(n_images):
        label = "ab"[i % 2]
        (folder / label).mkdir(parents=True, exist_ok=True)
        cx, cy, scale = rng.random(3) * [1, 1, 0.3] + [0, 0, 0.05]
        blob = np.exp(-((grid[:, None] - cx) ** 2 + (grid[None, :] - cy) ** 2) / scale ** 2)
        pixels = np.clip(255 * (blob[..., None] * rng.random(3) + 0.2 * rng.random((size, size, 3))), 0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(folder / label / f"{i:06d}.jpg", quality=90)


def run(code, folder):
    result = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(result.stderr)
    seconds, *rest = result.stdout.split(maxsplit=1)
    return float(seconds), rest[0].strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", help="folder to write (or reuse) the images in")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="wavelens-decode-")) / f"jpeg-{args.images}x{args.size}"
    if not folder.exists():
        start = time.perf_counter()
        write_folder(folder, args.images, args.size)
        print(f"wrote {args.images} JPEGs of {args.size}x{args.size} in {time.perf_counter() - start:.0f} s")
    times = {"baseline": [], "wavelens": []}
    for i in range(args.repeats):
        for name, code in (("baseline", BASELINE), ("wavelens", WAVELENS)):
            seconds, what = run(code, folder)
            times[name].append(seconds)
            print(f"{name} run {i + 1}: {seconds:6.2f} s  {what}", flush=True)
    base, ours = statistics.median(times["baseline"]), statistics.median(times["wavelens"])
    print(f"median: baseline {base:.2f} s ({args.images / base:,.0f} images/s), wavelens {ours:.2f} s "
          f"({args.images / ours:,.0f} images/s): wavelens has {base / ours:.0%} of the baseline's throughput")


if __name__ == "__main__":
    main()
