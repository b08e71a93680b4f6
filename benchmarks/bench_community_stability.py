"""Benchmark: is the community count stable between a dataset and random halves of it?

Issue 13, part 6, done when "the community count agrees within 20% between the
full Fashion-MNIST test set and random halves of it". For Fashion-MNIST test
(10,000 images) and digits (1,797), this runs :func:`wavelens.find_communities`
with its defaults on all the images and on ``--halves`` seeded random halves
(each run as a user would: its own feature selection, graph and resampling),
and prints for each run the count, its ratio to the full count, the adjusted
Rand index (ARI) of the half's communities against the full run's on the
half's images, the run's own stability figures, and wall and CPU time. The
same runs with ``n_resamples=0`` (the whole graph's eigengap alone, the count
before this change) are printed beside them, and Fashion-MNIST samples of
3,000 images (the size the issue reported 28 communities at).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_community_stability.py [--halves 5] [--seed 0]
"""

import argparse
import time

import numpy as np
from sklearn.metrics import adjusted_rand_score

import wavelens

TARGET = 0.20


def _subset(dataset, rows):
    return wavelens.from_arrays(dataset.images[rows], dataset.labels[rows], class_names=dataset.class_names,
                                name=dataset.name, split=dataset.split)


def _run(dataset, n_resamples):
    wall, cpu = time.perf_counter(), time.process_time()
    found = wavelens.find_communities(dataset, n_resamples=n_resamples)
    return found, time.perf_counter() - wall, time.process_time() - cpu


def _stability(found):
    s = found.groups[0]["stability"]
    if s is None:
        return "no resampling"
    return (f"own halves {s['half_counts']}, confidence {s['confidence']:.2f}, votes {s['votes']:.2f}, "
            f"ARI {s['mean_ari']:.3f}, {'clear' if s['clear'] else 'no clear structure'}")


def bench(name, dataset, *, halves, seed, n_resamples, sample=None):
    n = dataset.n_images
    size = sample or n // 2
    label = "halves" if sample is None else f"samples of {size}"
    print(f"\n{name}: {n} images, {halves} random {label}, n_resamples={n_resamples}")
    full, wall, cpu = _run(dataset, n_resamples)
    k_full = int(full.assignment.max()) + 1
    print(f"  full    : {k_full:3d} communities                      {wall:6.2f} s wall {cpu:6.2f} s CPU  "
          f"{_stability(full)}")
    ratios, aris, walls = [], [], [wall]
    for i in range(halves):
        rows = np.sort(np.random.default_rng(seed + i).choice(n, size, replace=False))
        part, wall, cpu = _run(_subset(dataset, rows), n_resamples)
        k = int(part.assignment.max()) + 1
        ari = adjusted_rand_score(full.assignment[rows], part.assignment)
        ratios.append(k / k_full)
        aris.append(ari)
        walls.append(wall)
        kind = "half" if sample is None else "sample"
        print(f"  {kind:6s} {i}: {k:3d} communities, ratio {k / k_full:4.2f}, ARI vs full {ari:.3f}  "
              f"{wall:6.2f} s wall {cpu:6.2f} s CPU  {_stability(part)}")
    worst = max(abs(r - 1) for r in ratios)
    verdict = "within" if worst <= TARGET + 1e-12 else "NOT within"
    print(f"  worst count ratio off by {worst:.0%} ({verdict} {TARGET:.0%}); mean ARI vs full {np.mean(aris):.3f}; "
          f"median wall {np.median(walls):.2f} s")
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--halves", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fashion = wavelens.load_dataset("fashion-mnist", split="test")
    digits = wavelens.load_dataset("digits")
    for resamples in (12, 0):
        tag = "stable gap (default)" if resamples else "before: the whole graph's eigengap alone"
        print(f"\n=== {tag} ===")
        bench("fashion-mnist test", fashion, halves=args.halves, seed=args.seed, n_resamples=resamples)
        bench("fashion-mnist test", fashion, halves=2, seed=args.seed + 100, n_resamples=resamples, sample=3000)
        bench("digits", digits, halves=args.halves, seed=args.seed, n_resamples=resamples)


if __name__ == "__main__":
    main()
