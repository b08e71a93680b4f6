"""``wavelens duplicates``: near-duplicate images within a dataset or across two."""

import time

import click
import numpy as np

from .._drawing import start_figure_process
from .._version import __version__
from ..datasets import load_dataset
from ..duplicates import find_duplicates
from ..results import OutputFolder, write_duplicates
from ..transform import wavelet_transform
from ._options import command_line, ImageSize, input_paths, Seed, output_options, wavelet_options


def _describe(data):
    return {"name": data.name, "split": data.split, "source": data.source, "n_images": data.n_images,
            "image_shape": list(data.image_shape)}


@click.command("duplicates")
@click.argument("dataset_a")
@click.argument("dataset_b", required=False)
@click.option("--split", type=click.Choice(["train", "test", "all"]), default=None,
              help="Split of DATASET_A. Default: train where it has splits, else all.")
@click.option("--split-b", type=click.Choice(["train", "test", "all"]), default=None,
              help="Split of DATASET_B. Default: train where it has splits, else all.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder to look in first for built-in datasets' files.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Use a stratified random subsample of N images of each dataset (drawn with --seed).")
@click.option("--resize", type=ImageSize(), default=None, help="Resize image-folder images to HxW.")
@click.option("--seed", type=Seed(), default=0, show_default=True, help="Seed of --limit's subsample.")
@wavelet_options
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=0.98, show_default=True,
              help="Cosine similarity in the wavelet space at or above which two images are near-duplicates.")
@output_options
def duplicates_command(dataset_a, dataset_b, split, split_b, data_dir, limit, resize, seed, wavelet, level, mode,
                       threshold, out, overwrite, jobs, no_report):
    """Find near-duplicate images within DATASET_A, or between DATASET_A and DATASET_B.

    Two images are near-duplicates when the cosine similarity of their wavelet
    coefficients is at least --threshold; identical images are flagged as
    exact. For train/test leakage, compare test against train:

        wavelens duplicates fashion-mnist --split test fashion-mnist --split-b train --out DIR

    Writes OUT/duplicates.csv (index in A, index in B, similarity, both labels,
    whether they disagree, exact) and OUT/summary.json with the counts.
    """
    inputs = input_paths(dataset_a, dataset_b, data_dir=data_dir)
    with OutputFolder(out, overwrite=overwrite, inputs=inputs) as target:
        if not no_report:
            start_figure_process()  # loads matplotlib while the images are compared
        timings = {}
        start = time.perf_counter()
        a = load_dataset(dataset_a, split=split, data_dir=data_dir, limit=limit, seed=seed, resize=resize)
        b = None
        if dataset_b is not None:
            b = load_dataset(dataset_b, split=split_b, data_dir=data_dir, limit=limit, seed=seed, resize=resize)
        timings["load"] = time.perf_counter() - start
        start = time.perf_counter()
        rows_a, _ = wavelet_transform(a.images, wavelet=wavelet, level=level, mode=mode, n_jobs=jobs)
        rows_b = None
        if b is not None:
            if b.image_shape != a.image_shape:
                raise click.UsageError(
                    f"DATASET_A has {a.image_shape} images but DATASET_B has {b.image_shape}; "
                    "compare datasets of one image size (or pass --resize HxW).")
            rows_b, _ = wavelet_transform(b.images, wavelet=wavelet, level=level, mode=mode, n_jobs=jobs)
        timings["transform"] = time.perf_counter() - start
        start = time.perf_counter()
        pairs = find_duplicates(rows_a, rows_b, threshold=threshold, images_a=a.images,
                                images_b=None if b is None else b.images)
        timings["search"] = time.perf_counter() - start
        other = a if b is None else b
        disagree = a.labels[pairs.index_a] != other.labels[pairs.index_b]
        summary = {
            "wavelens_version": __version__,
            "command": command_line(),
            "dataset_a": _describe(a),
            "dataset_b": None if b is None else _describe(b),
            "params": {"threshold": threshold, "wavelet": wavelet, "level": level, "mode": mode, "limit": limit,
                       "seed": seed, "split": a.split, "split_b": None if b is None else b.split},
            "duplicates": {
                "n_pairs": int(len(pairs)),
                "n_exact": int(pairs.exact.sum()),
                "n_labels_disagree": int(disagree.sum()),
                "n_images_a_with_duplicate": int(len(np.unique(pairs.index_a))),
                "n_images_b_with_duplicate": int(len(np.unique(pairs.index_b))),
            },
            "timings_s": {k: round(v, 4) for k, v in timings.items()},
        }
        write_duplicates(pairs, a, other, target, summary=summary, report=not no_report)
    counts = summary["duplicates"]
    where = "within " + a.name if b is None else f"between {a.name} ({a.split}) and {b.name} ({b.split})"
    click.echo(f"{counts['n_pairs']} near-duplicate pairs (cosine >= {threshold}) {where}: "
               f"{counts['n_exact']} exact, {counts['n_labels_disagree']} with different labels; "
               f"{counts['n_images_a_with_duplicate']} images of A have one.")
    for i in range(min(10, len(pairs))):
        ia, ib = int(pairs.index_a[i]), int(pairs.index_b[i])
        click.echo(f"  A[{int(a.index[ia])}] ({a.class_names[a.labels[ia]]}) ~ B[{int(other.index[ib])}] "
                   f"({other.class_names[other.labels[ib]]}): {pairs.similarity[i]:.4f}"
                   + (" exact" if pairs.exact[i] else ""))
    click.echo(f"Results in {out}/: duplicates.csv, summary.json" + ("." if no_report else ", report.html."))
