"""``wavelens analyze``: how many rank-1 patterns each image needs."""

import time

import click

from ..analyze import analyze
from ..datasets import load_dataset
from ..results import check_output_dir, write_analysis
from ._options import dataset_options, output_options, wavelet_options


def format_lowrank(summary):
    """A few plain lines on what the low-rank analysis found."""
    d, lr, p = summary["dataset"], summary["lowrank"], summary["params"]
    shape = "x".join(str(s) for s in d["image_shape"])
    psnr = "exact" if lr["psnr_db_median"] is None else f"{lr['psnr_db_median']:.1f} dB"
    return "\n".join([
        f"{d['name']} ({d['split']}): {d['n_images']} images of {shape}, {d['n_classes']} classes.",
        f"Wavelet {p['wavelet']}, level {p['level']}, mode {p['mode']}: "
        f"the median image needs {lr['rank_median']:g} of {lr['max_possible_rank']} rank-1 patterns "
        f"for {lr['energy']:.0%} of its energy (mean {lr['rank_mean']:.2f}, 95th percentile "
        f"{lr['rank_p95']:g}, max {lr['rank_max']}).",
        f"Rebuilt from those patterns, the median image has PSNR {psnr} and relative error "
        f"{lr['relative_error_median']:.3f}; median numerical rank {lr['numerical_rank_median']:g}.",
    ])


@click.command("analyze")
@dataset_options
@wavelet_options
@click.option("--energy", type=click.FloatRange(0, 1, min_open=True), default=0.99, show_default=True,
              help="Energy fraction e: r(e) is the fewest rank-1 patterns keeping it.")
@output_options
def analyze_command(dataset, split, data_dir, limit, resize, seed, wavelet, level, mode, energy,
                    out, overwrite, jobs):
    """Write every image of DATASET as a sum of rank-1 patterns in the wavelet space.

    DATASET is a built-in name (digits, fashion-mnist, mnist; see 'wavelens
    datasets') or a path to a folder of IDX files, a CIFAR python folder, an
    image folder with one sub-folder per class, or a .npz file.

    Writes OUT/summary.json (rank statistics), OUT/per_image.csv (each image's
    r(e), numerical rank, relative error and PSNR) and OUT/arrays.npz (every
    image's singular values).
    """
    check_output_dir(out, overwrite=overwrite)
    start = time.perf_counter()
    data = load_dataset(dataset, split=split, data_dir=data_dir, limit=limit, seed=seed, resize=resize)
    load_s = time.perf_counter() - start
    params = {"dataset": dataset, "split": data.split, "limit": limit, "seed": seed,
              "resize": list(resize) if resize else None, "data_dir": data_dir}
    result = analyze(data, wavelet=wavelet, level=level, mode=mode, energy=energy, n_jobs=jobs,
                     params=params)
    result.timings_s = {"load": load_s, **result.timings_s}
    summary = write_analysis(result, out, overwrite=overwrite)
    click.echo(format_lowrank(summary))
    click.echo(f"Results in {out}/: summary.json, per_image.csv, arrays.npz.")
