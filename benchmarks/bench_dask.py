"""Benchmark: `analyze` on a 2-worker Dask LocalCluster against the local run, and whether they agree.

Loads a dataset (default: the full Fashion-MNIST training set), runs
``wavelens.analyze`` locally and inside ``wavelens.use_dask`` on a LocalCluster of
2 single-threaded worker processes, alternately, and prints each run's wall time,
then whether summary figures, per-image tables, prototypes and dataset patterns
are identical.

    python benchmarks/bench_dask.py [--dataset fashion-mnist] [--split train] [--repeats 1]
"""

import argparse
import json
import statistics
import time

import numpy as np

import wavelens


def figures(result):
    summary = result.to_dict()
    summary.pop("timings_s", None)
    return json.dumps(summary, sort_keys=True, default=str)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--split", default="train")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    dataset = wavelens.load_dataset(args.dataset, split=args.split)
    print(dataset)
    times = {"local": [], "dask": []}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as cluster, Client(cluster) as client:
        for i in range(args.repeats):
            start = time.perf_counter()
            local = wavelens.analyze(dataset)
            times["local"].append(time.perf_counter() - start)
            start = time.perf_counter()
            with wavelens.use_dask(client):
                remote = wavelens.analyze(dataset)
            times["dask"].append(time.perf_counter() - start)
            print(f"run {i + 1}: local {times['local'][-1]:.1f} s, dask {times['dask'][-1]:.1f} s", flush=True)
    print(f"median: local {statistics.median(times['local']):.1f} s, dask {statistics.median(times['dask']):.1f} s "
          f"({statistics.median(times['dask']) / statistics.median(times['local']):.2f}x)")
    same = {
        "summary figures": figures(local) == figures(remote),
        "per-image table": local.per_image.equals(remote.per_image),
        "prototypes": np.array_equal(local.dictionary.prototypes, remote.dictionary.prototypes),
        "dataset patterns": np.array_equal(local.dataset_patterns.components, remote.dataset_patterns.components),
    }
    for what, equal in same.items():
        print(f"{what}: {'identical' if equal else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
