"""``wavelens audit``: every check at once, a row per image of what to fix."""

import click

from ..auditing import CHECKS, audit, check_checks
from ..report._drawing import start_figure_process
from ..results import OutputFolder, write_audit
from ._options import command_line, dataset_pair_options, input_paths, load_pair, output_options


@click.command("audit")
@dataset_pair_options("dataset", seed_help="Seed of every random choice.")
@click.option("--checks", default=",".join(CHECKS), show_default=True,
              help="The checks to run, comma-separated.")
@click.option("--neighbors", type=click.IntRange(min=7), default=40, show_default=True,
              help="Neighbours of each image in the graph the label, outlier and class checks read.")
@click.option("--components", "n_components", type=click.IntRange(min=1), default=150, show_default=True,
              help="Dimensions of the image descriptor the neighbours are found with.")
@click.option("--working-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Images are averaged down to at most this many pixels a side for the descriptor.")
@output_options
def audit_command(dataset, dataset_b, split, split_b, data_dir, limit, resize, seed, checks, neighbors,
                  n_components, working_size, out, overwrite, jobs, no_report):
    """Audit DATASET: likely label errors, near-duplicates, outliers, confusable classes, communities.

    Every image of DATASET gets a row in OUT/issues.csv: for each check a
    score and a flag, and the evidence (its nearest images, a suggested label,
    its duplicate group, its community). With DATASET_B (e.g. the training set
    when DATASET is the test set), its images are searched for copies of
    DATASET's (leaks):

        wavelens audit fashion-mnist --split test fashion-mnist --split-b train --out DIR

    Writes OUT/issues.csv, OUT/summary.json, OUT/confusable_classes.csv and
    OUT/class_overlap.csv (labeled images), OUT/duplicates.csv (with the
    duplicates check) and OUT/report.html (a gallery per check).
    """
    chosen = check_checks(checks)
    inputs = input_paths(dataset, dataset_b, data_dir=data_dir)
    with OutputFolder(out, overwrite=overwrite, inputs=inputs) as target:
        if not no_report:
            start_figure_process()
        a, b, load_s = load_pair(dataset, dataset_b, split, split_b, data_dir, limit, resize, seed)
        result = audit(a, b, checks=chosen, n_neighbors=neighbors, n_components=n_components,
                       working_size=working_size, random_state=seed, n_jobs=jobs or -1, params={"limit": limit})
        result.timings_s = {"load": load_s, **result.timings_s}
        result.command = command_line()
        write_audit(result, target, report=not no_report)
    click.echo(result.summary())
    files = ("issues.csv, summary.json" + (", confusable_classes.csv, class_overlap.csv" if result.overlap is not None
                                           else "") + (", duplicates.csv" if result.duplicates is not None else ""))
    click.echo(f"Results in {out}/: {files}" + ("." if no_report else ", report.html."))
