"""``wavelens communities``: communities of similar images and their class make-up."""

import click

from ..report._drawing import start_figure_process
from ..results import OutputFolder, write_communities
from ..communities import find_communities
from ._options import load_for_command, command_line, input_paths, dataset_options, output_options, wavelet_options


def _community_lines(result, *, limit=40):
    """A line per community (at most ``limit`` per group), from the result's community table."""
    lines = []
    table = result.communities
    for group, members in table.groupby("group", sort=False):
        head = "" if group == "all" else f"[{group}] "
        for row in members.head(limit).itertuples():
            make_up = ", ".join(f"{name} {n}" for name, n in sorted(row.classes.items(), key=lambda i: -i[1])[:4])
            flag = "  MIXED" if row.mixed else ""
            lines.append(f"  {head}community {row.community:3d}: {row.size:6d} images, purity {row.purity:.2f} "
                         f"({make_up}){flag}")
    return "\n".join(lines)


@click.command("communities")
@dataset_options
@wavelet_options
@click.option("--features", type=click.Choice(["qr", "laplacian", "all"]), default="qr", show_default=True,
              help="Feature selection on the wavelet matrix: pivoted QR, Laplacian score, or all coefficients.")
@click.option("--n-features", type=click.IntRange(min=1), default=None,
              help="Keep this many features. Default: as many as --condition allows.")
@click.option("--condition", type=click.FloatRange(min=1), default=1e5, show_default=True,
              help="Keep features while the condition number of the kept ones stays below this.")
@click.option("--max-features", type=click.IntRange(min=1), default=256, show_default=True,
              help="With --condition, keep at most this many features (the neighbour search costs "
                   "images^2 x features).")
@click.option("--neighbors", type=click.IntRange(min=1), default=10, show_default=True,
              help="Neighbours of each image in the similarity graph.")
@click.option("--max-communities", type=click.IntRange(min=2), default=30, show_default=True,
              help="Largest number of communities the eigengap may choose.")
@click.option("--resamples", "n_resamples", type=click.IntRange(min=0), default=12, show_default=True,
              help="Random halves of the images on which the count and membership are checked; the count is "
                   "the largest eigengap averaged over them and the whole graph (0: the whole graph's alone).")
@click.option("--communities", "n_communities", type=click.IntRange(min=2), default=None,
              help="Use this many communities instead of the eigengap estimate.")
@click.option("--per-class", is_flag=True, help="Find communities within each class instead of over all images.")
@click.option("--mixed-threshold", type=click.FloatRange(0, 1, min_open=True), default=0.5, show_default=True,
              help="A community is mixed when no class holds more than this share of it.")
@output_options
def communities_command(dataset, split, data_dir, limit, resize, seed, wavelet, level, mode, features, n_features,
                        condition, max_features, neighbors, max_communities, n_resamples, n_communities, per_class,
                        mixed_threshold, out,
                        overwrite, jobs, no_report):
    """Find communities of similar images in DATASET and what each is made of.

    Images are compared by cosine distance on selected wavelet coefficients in
    a sparse k-nearest-neighbour graph; the largest eigengap of its normalized
    Laplacian, averaged over the whole graph and random halves of the images,
    gives the number of communities, and spectral clustering finds them. How
    stable the count and membership are under resampling is printed, and said
    plainly when there is no clear structure. Each community is listed with its class make-up; mixed ones
    (no class above --mixed-threshold) show where classes overlap.

    Writes OUT/summary.json and OUT/communities.csv (image index, label, community,
    community_stability).
    """
    with OutputFolder(out, overwrite=overwrite, inputs=input_paths(dataset, data_dir=data_dir)) as target:
        if not no_report:
            start_figure_process()  # loads matplotlib while the graph is built
        data, load_s, params = load_for_command(dataset, split, data_dir, limit, resize, seed)
        result = find_communities(data, wavelet=wavelet, level=level, mode=mode, features=features,
                                  n_features=n_features, condition=condition, max_features=max_features,
                                  n_neighbors=neighbors,
                                  n_communities=n_communities, max_communities=max_communities,
                                  n_resamples=n_resamples,
                                  per_class=per_class, mixed_threshold=mixed_threshold, random_state=seed, n_jobs=jobs or -1,
                                  params=params)
        result.timings_s = {"load": load_s, **result.timings_s}
        result.command = command_line()
        write_communities(result, target, report=not no_report)
    click.echo(result.summary())
    click.echo(_community_lines(result))
    click.echo(f"Results in {out}/: summary.json, communities.csv" + ("." if no_report else ", report.html."))
