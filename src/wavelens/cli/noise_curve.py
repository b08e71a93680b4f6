"""``wavelens noise-curve``: the association as labels are made random."""

import click

from ..analysis import noise_curve
from ..results import OutputFolder, write_noise_curve
from ._options import command_line, dataset_options, input_paths, output_options, pattern_options, wavelet_options
from .analyze import run_analysis


class FractionList(click.ParamType):
    """Comma-separated fractions in [0, 1], e.g. 0,0.25,0.5,1."""

    name = "F,F,..."

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            fractions = [float(x) for x in value.split(",") if x.strip()]
        except ValueError:
            self.fail(f"expected comma-separated numbers such as 0,0.5,1; got {value!r}.", param, ctx)
        if not fractions or any(not 0 <= f <= 1 for f in fractions):
            self.fail(f"expected fractions in [0, 1] such as 0,0.5,1; got {value!r}.", param, ctx)
        return fractions


@click.command("noise-curve")
@dataset_options
@wavelet_options
@pattern_options
@click.option("--fractions", type=FractionList(), default="0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1",
              show_default=True, help="Fractions of labels to replace uniformly at random.")
@output_options
def noise_curve_command(dataset, split, data_dir, limit, resize, seed, wavelet, level, mode, top_k,
                        n_patterns, center, random_repeats, fractions, out, overwrite, jobs, no_report):
    """Show how the pattern-class association falls as DATASET's labels are corrupted.

    The patterns are found once; then, for each fraction F, that fraction of
    labels is replaced uniformly at random and the association statistics (and
    their random-label control) are computed again. F = 1 is the paper's
    randomly labeled dataset.

    Writes OUT/noise_curve.json and OUT/noise_curve.csv.
    """
    with OutputFolder(out, overwrite=overwrite, inputs=input_paths(dataset, data_dir=data_dir)) as target:
        result = run_analysis(dataset, split, data_dir, limit, resize, seed, jobs, wavelet=wavelet, level=level,
                              mode=mode, top_k=top_k, n_patterns=n_patterns, center=center,
                              random_repeats=random_repeats, report=not no_report)
        curve = noise_curve(result, fractions, random_repeats=random_repeats, random_state=seed)
        curve.command = command_line()
        record = write_noise_curve(curve, target, report=not no_report)
    click.echo(f"{record['dataset']['name']} ({record['dataset']['split']}): "
               f"{record['dataset']['n_images']} images. NMI of patterns with classes as labels are randomized:")
    click.echo(f"{'fraction':>8}  {'image patterns':>14}  {'random':>7}  {'dataset patterns':>16}  {'random':>7}")
    by_fraction = {}
    for row in curve.rows:
        by_fraction.setdefault(row["fraction"], {})[row["kind"]] = row
    for fraction, kinds in by_fraction.items():
        i, d = kinds["image_patterns"], kinds["dataset_patterns"]
        click.echo(f"{fraction:8.2f}  {i['nmi']:14.4f}  {i.get('random_nmi', float('nan')):7.4f}  "
                   f"{d['nmi']:16.4f}  {d.get('random_nmi', float('nan')):7.4f}")
    click.echo(curve.summary())
    click.echo(f"Results in {out}/: noise_curve.json, noise_curve.csv" + ("." if no_report else ", report.html."))
