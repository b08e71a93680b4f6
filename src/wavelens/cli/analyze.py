"""``wavelens analyze``: rank-1 patterns, pattern dictionary, association with classes."""

import click

from ..report._drawing import start_figure_process
from ..analysis import analyze
from ..results import OutputFolder, write_analysis
from ._options import command_line, dataset_options, input_paths, load_for_command, output_options, pattern_options, wavelet_options


def run_analysis(dataset, split, data_dir, limit, resize, seed, jobs, *, report=False, **options):
    """Load DATASET and analyse it; shared by the commands that need the whole analysis.

    With ``report``, the process that will draw its figures starts first and loads
    matplotlib meanwhile.
    """
    if report:
        start_figure_process()
    data, load_s, params = load_for_command(dataset, split, data_dir, limit, resize, seed, kernel=True)
    result = analyze(data, random_state=seed, n_jobs=jobs or -1, params=params, **options)
    result.timings_s = {"load": load_s, **result.timings_s}
    return result


@click.command("analyze")
@dataset_options
@wavelet_options
@click.option("--energy", type=click.FloatRange(0, 1, min_open=True), default=0.99, show_default=True,
              help="Energy fraction e: r(e) is the fewest rank-1 patterns keeping it.")
@pattern_options
@click.option("--label-noise", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Replace this fraction of labels uniformly at random before relating patterns to "
                   "classes (1 = a randomly labeled dataset).")
@output_options
def analyze_command(dataset, split, data_dir, limit, resize, seed, wavelet, level, mode, energy,
                    top_k, n_patterns, center, random_repeats, label_noise, out, overwrite, jobs, no_report):
    """Find the rank-1 patterns DATASET is made of and how they go with its classes.

    DATASET is a built-in name (digits, fashion-mnist, mnist; see 'wavelens
    datasets') or a path to a folder of IDX files, a CIFAR python folder, an
    image folder with one sub-folder per class, a .npz file, a .csv (or
    .parquet) table of path,label, or a folder written by Hugging Face's
    save_to_disk.

    Every image's wavelet matrix is written as a sum of rank-1 patterns. Their
    top-k patterns are clustered into prototypes (the pattern dictionary), the
    dataset matrix is decomposed into dataset patterns, and both are related to
    the classes, with a random-label control.

    Writes to OUT: summary.json, per_image.csv, contingency_*.csv, patterns.npz
    and arrays.npz (see the README).
    """
    with OutputFolder(out, overwrite=overwrite, inputs=input_paths(dataset, data_dir=data_dir)) as target:
        result = run_analysis(dataset, split, data_dir, limit, resize, seed, jobs, wavelet=wavelet, level=level,
                              mode=mode, energy=energy, top_k=top_k, n_patterns=n_patterns, center=center,
                              random_repeats=random_repeats, label_noise=label_noise, report=not no_report)
        result.command = command_line()
        write_analysis(result, target, report=not no_report)
    click.echo(result.summary())
    click.echo(f"Results in {out}/" + ("." if no_report else "; open report.html in a browser."))
