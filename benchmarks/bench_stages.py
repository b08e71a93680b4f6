"""Benchmark: the stages of `analyze` one after the other, wall and CPU time of each.

Loads DATASET (optionally ``--limit`` images of it), then runs the per-image
decomposition, the pattern dictionary and the dataset patterns alone (in
`analyze` the dataset patterns run beside the other two), each on every core,
and prints each stage's wall and CPU seconds (the CPU time includes the
image-decoding worker processes).

    python benchmarks/bench_stages.py /tmp/sizes/sizes-50000x224x224x3-jpeg --limit 5000
"""

import argparse
import resource
import time

from threadpoolctl import threadpool_limits

import wavelens
from wavelens.dataset_patterns import find_dataset_patterns
from wavelens.decomposition import decompose_images
from wavelens.dictionary import build_pattern_dictionary


def cpu_seconds():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Stage:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()

    def __exit__(self, *exc):
        print(f"{self.name}: wall {time.perf_counter() - self.wall:.1f} s, CPU {cpu_seconds() - self.cpu:.1f} s",
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    with Stage("load"):
        dataset = wavelens.load_dataset(args.dataset, limit=args.limit)
    print(dataset)
    stored, pixel_max = dataset.stored
    with threadpool_limits(1, "blas"):
        with Stage("decompose"):
            patterns, layout = decompose_images(stored, top_k=3, pixel_max=pixel_max)
        with Stage("dictionary"):
            build_pattern_dictionary(patterns, n_patterns=100)
        with Stage("dataset patterns"):
            find_dataset_patterns(stored, layout, n_patterns=100, pixel_max=pixel_max)


if __name__ == "__main__":
    main()
