"""``wavelens learnability``: classifiers on images rebuilt from a few patterns, and on random labels."""

import click

from ..learning import CLASSIFIERS, NOISE_FRACTIONS, learnability
from ..report._drawing import start_figure_process
from ..results import OutputFolder, write_learnability
from ._options import command_line, dataset_options, input_paths, load_for_command, output_options, wavelet_options
from .noise_curve import FractionList


class CountList(click.ParamType):
    """Comma-separated pattern counts, e.g. 1,2,4,8."""

    name = "N,N,..."

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            counts = [int(x) for x in value.split(",") if x.strip()]
        except ValueError:
            self.fail(f"expected comma-separated whole numbers such as 1,2,4; got {value!r}.", param, ctx)
        if not counts or min(counts) < 1:
            self.fail(f"expected pattern counts of at least 1 such as 1,2,4; got {value!r}.", param, ctx)
        return counts


@click.command("learnability")
@dataset_options
@wavelet_options
@click.option("--classifiers", default=",".join(CLASSIFIERS), show_default=True,
              help="Classifiers, comma-separated: linear (ridge on all pixels), knn (on principal components).")
@click.option("--ranks", type=CountList(), default=None,
              help="Rank-1 patterns per image to rebuild from. Default: 1,2,4,... and the full rank.")
@click.option("--pattern-counts", type=CountList(), default=None,
              help="Dataset patterns to rebuild from. Default: 1,2,4,... and all of them.")
@click.option("--label-noise", type=FractionList(), default=",".join(f"{f:g}" for f in NOISE_FRACTIONS),
              show_default=True, help="Fractions of training labels replaced at random.")
@click.option("--components", "n_components", type=click.IntRange(min=1), default=50, show_default=True,
              help="Principal components the kNN works on.")
@click.option("--neighbors", type=click.IntRange(min=1), default=5, show_default=True,
              help="Neighbours the kNN votes with (distance-weighted).")
@click.option("--alpha", type=click.FloatRange(0, 1e300, min_open=True), default=1.0, show_default=True,
              help="Ridge penalty of the linear classifier.")
@click.option("--test-size", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.25,
              show_default=True, help="Share held out for testing when the dataset has no test split.")
@output_options
def learnability_command(dataset, split, data_dir, limit, resize, seed, wavelet, level, mode, classifiers, ranks,
                         pattern_counts, label_noise, n_components, neighbors, alpha, test_size, out, overwrite, jobs,
                         no_report):
    """Do DATASET's few rank-1 patterns keep what a classifier needs, and what does memorizing random
    labels look like?

    Every image is rebuilt from its top r rank-1 patterns (r = 1, 2, 4, ... up
    to the full rank) and from the top m dataset patterns; light classifiers
    (scikit-learn; no network) are trained on the rebuilt training images and
    tested on the rebuilt test images, beside the original images. Then they
    are trained on randomly relabeled training images: training accuracy
    (memorization) against test accuracy, with the patterns' NMI.

    A dataset with train and test splits (fashion-mnist, mnist, CIFAR) is
    trained on its train split and tested on its test split; --limit keeps N
    images of each. Others, and --split test or all, are split here: a
    stratified --test-size hold-out drawn with --seed.

    Writes OUT/summary.json, OUT/learnability.csv (a row per source, r and
    classifier), OUT/learnability_noise.csv (a row per label-noise fraction and
    classifier), OUT/learnability_per_class.csv and OUT/report.html.
    """
    with OutputFolder(out, overwrite=overwrite, inputs=input_paths(dataset, data_dir=data_dir)) as target:
        if not no_report:
            start_figure_process()
        train, load_s, params = load_for_command(dataset, split, data_dir, limit, resize, seed)
        # The test split, read as train was (load_test_split), or the hold-out when there is none.
        result = learnability(train, ranks=ranks, pattern_counts=pattern_counts, classifiers=classifiers,
                              label_noise=label_noise, n_components=n_components, n_neighbors=neighbors,
                              alpha=alpha, test_size=test_size, wavelet=wavelet, level=level, mode=mode,
                              random_state=seed, n_jobs=jobs or -1, params=params)
        result.timings_s = {"load": load_s, **result.timings_s}
        result.command = command_line()
        write_learnability(result, target, report=not no_report)
    click.echo(result.summary())
    click.echo(f"Results in {out}/: summary.json, learnability.csv, learnability_noise.csv, learnability_per_class.csv"
               + ("." if no_report else ", report.html."))
