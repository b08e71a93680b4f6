"""``wavelens datasets`` and ``wavelens wavelets``: what wavelens can read and use."""

import click
import pywt

from ..datasets import BUILTIN_DATASETS, builtin_search_path
from ..datasets._idx import has_idx_files


@click.command("datasets")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Also look here, as 'analyze --data-dir' would.")
def datasets_command(data_dir):
    """List the built-in datasets, where each is looked for, and the kinds of path accepted."""
    click.echo("Built-in datasets:")
    for name, description in BUILTIN_DATASETS.items():
        click.echo(f"  {name:14s} {description}")
        if name == "digits":
            click.echo(f"  {'':14s} always available (bundled with scikit-learn)")
            continue
        for folder in builtin_search_path(name, data_dir):
            state = "found" if folder.is_dir() and has_idx_files(folder) else "not found"
            click.echo(f"  {'':14s} looks in {folder} ({state})")
        if not builtin_search_path(name, data_dir):
            click.echo(f"  {'':14s} pass --data-dir DIR or set $WAVELENS_DATA")
    click.echo(
        "\nThe $WAVELENS_DATA/<name> folders are searched when WAVELENS_DATA is set.\n"
        "Fashion-MNIST: 'apt-get install dataset-fashion-mnist' puts it in /usr/share/datasets/fashion-mnist.\n"
        "\nOr give a path:\n"
        "  a folder of MNIST-layout IDX files (train-images-idx3-ubyte.gz, t10k-..., raw or gzip)\n"
        "  a CIFAR-10 or CIFAR-100 python-version folder (data_batch_1..5, test_batch, batches.meta)\n"
        "  an image folder: one sub-folder of PNG/JPEG images per class (optionally under train/ and test/)\n"
        "  a .npz file holding 'images' (n, H, W[, C]) and 'labels' (n,), optionally 'class_names'\n"
        "  a .csv (or .parquet) table with columns path (relative to the table) and optionally label, split\n"
        "  unlabeled images: a folder of images without class folders, or a table without label"
    )


@click.command("wavelets")
def wavelets_command():
    """List the discrete wavelets accepted by --wavelet, by family."""
    discrete = set(pywt.wavelist(kind="discrete"))
    for family in pywt.families(short=True):
        names = [name for name in pywt.wavelist(family) if name in discrete]
        if names:
            click.echo(f"{family:6s} {' '.join(names)}")
