"""``wavelens duplicates``: near-duplicate images within a dataset or across two."""

import click

from ..report._drawing import start_figure_process
from ..duplicates import find_near_duplicates
from ..results import OutputFolder, write_duplicates
from ._options import command_line, dataset_pair_options, input_paths, load_pair, output_options


@click.command("duplicates")
@dataset_pair_options("dataset_a", seed_help="Seed of --limit's subsample.")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=0.9, show_default=True,
              help="Lowest similarity (best correlation over small shifts) of a near-duplicate pair.")
@click.option("--ratio", type=click.FloatRange(0, 1, min_open=True), default=0.25, show_default=True,
              help="How far a pair must stand out: 1 - similarity at most RATIO times the distance to the "
                   "image's 6th most similar candidate.")
@click.option("--fixed", is_flag=True, help="No ratio test: flag every pair at or above --threshold.")
@click.option("--max-shift", type=click.IntRange(min=0), default=2, show_default=True,
              help="Largest shift (pixels) undone when comparing two images.")
@output_options
def duplicates_command(dataset_a, dataset_b, split, split_b, data_dir, limit, resize, seed, threshold, ratio, fixed,
                       max_shift, out, overwrite, jobs, no_report):
    """Find exact copies and near-duplicate images within DATASET_A, or of DATASET_A's images in DATASET_B.

    Candidates are each image's nearest images by a coarse descriptor; a pair's
    similarity is the best correlation of the two images over shifts of up to
    --max-shift pixels (blind to brightness and contrast). A pair is flagged
    when its similarity is at least --threshold and it stands out from the
    image's other near images (--ratio; --fixed turns that off). Identical
    images are flagged as exact. For train/test leakage, compare test against train:

        wavelens duplicates fashion-mnist --split test fashion-mnist --split-b train --out DIR

    Writes OUT/duplicates.csv (a row per pair, label-disagreeing pairs first:
    both images' ids and positions, similarity, exact, both labels and classes,
    whether they disagree, the reference similarity, the group) and
    OUT/summary.json with the counts.
    """
    inputs = input_paths(dataset_a, dataset_b, data_dir=data_dir)
    with OutputFolder(out, overwrite=overwrite, inputs=inputs) as target:
        if not no_report:
            start_figure_process()  # loads matplotlib while the images are compared
        a, b, load_s = load_pair(dataset_a, dataset_b, split, split_b, data_dir, limit, resize, seed)
        result = find_near_duplicates(a, b, threshold=threshold, ratio=None if fixed else ratio, max_shift=max_shift,
                                      n_jobs=jobs or -1, params={"limit": limit, "random_state": seed})
        result.timings_s = {"load": load_s, **result.timings_s}
        result.command = command_line()
        write_duplicates(result, target, report=not no_report)
    click.echo(result.summary())
    for row in result.pairs_table.head(10).itertuples():
        click.echo(f"  A {row.id_a} ({row.class_a}) ~ B {row.id_b} ({row.class_b}): {row.similarity:.4f}"
                   + (" exact" if row.exact else "") + (" labels disagree" if row.labels_disagree else ""))
    click.echo(f"Results in {out}/: duplicates.csv, summary.json" + ("." if no_report else ", report.html."))
