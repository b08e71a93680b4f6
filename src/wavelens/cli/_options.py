"""Options shared by several subcommands, so each has one name and one help text; and the
flag of each library parameter, for the library's error messages."""

import ast
import re
import shlex
import sys
import threading
import time
from contextlib import contextmanager

import click
import pywt

from .. import _progress as progress
from ..datasets import BUILTIN_DATASETS, builtin_search_path, load_dataset
from .._validation import SEED_MAX, WavelensError, render
from ..decomposition import load_kernel


# The library's errors name its parameters (``use n_patterns=898 or fewer``, see
# wavelens._validation.param); the command line names the flag of each instead
# (``use --patterns 898 or fewer``). A name not listed here stays as Python says it.
FLAGS = {
    # datasets
    "dataset": "DATASET", "dataset_a": "DATASET_A", "dataset_b": "DATASET_B", "split": "--split", "data_dir": "--data-dir",
    "limit": "--limit", "resize": "--resize", "random_state": "--seed",
    # Hugging Face columns have no flag: the command line points to the Python call that names them
    "image_column": "wavelens.from_huggingface(image_column=...) in Python",
    "label_column": "wavelens.from_huggingface(label_column=...) in Python",
    "class_names": "wavelens.load_dataset(class_names=...) in Python",
    # the wavelet transform and the patterns
    "wavelet": "--wavelet", "level": "--level", "mode": "--mode", "energy": "--energy", "top_k": "--top-k",
    "n_patterns": "--patterns", "center": "--center", "random_repeats": "--random-repeats",
    "label_noise": "--label-noise", "fractions": "--fractions",
    # communities and duplicates
    "features": "--features", "n_features": "--n-features", "condition": "--condition",
    "max_features": "--max-features", "n_neighbors": "--neighbors", "checks": "--checks", "n_resamples": "--resamples", "n_components": "--components",
    "working_size": "--working-size", "max_shift": "--max-shift", "size": "--size", "max_communities": "--max-communities",
    "n_communities": "--communities", "per_class": "--per-class", "mixed_threshold": "--mixed-threshold",
    "threshold": "--threshold",
    # learnability
    "train": "DATASET", "test": "DATASET's test split", "classifiers": "--classifiers", "ranks": "--ranks",
    "pattern_counts": "--pattern-counts", "alpha": "--alpha", "test_size": "--test-size",
    "max_train_eval": "wavelens.learnability(max_train_eval=...) in Python",
    # output
    "folder": "--out", "overwrite": "--overwrite", "n_jobs": "--jobs",
    # Python ways to look something up (wavelens._validation.see): the command that shows it
    "see pywt.wavelist(kind='discrete')": "run 'wavelens wavelets'",
    "see help(wavelens.load_dataset)": "run 'wavelens datasets'",
}


def _flag_value(name, text):
    """The command-line text of a value Python writes as ``text``: its repr, or a placeholder."""
    size = re.fullmatch(r"\(\s*(\w+)\s*,\s*(\w+)\s*\)", text)
    if name == "resize" and size:  # (32, 32) -> 32x32, the placeholder (H, W) -> HxW
        return f"{size[1]}x{size[2]}"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):  # another placeholder: as it is
        return text
    return "" if value is True else str(value)  # True: a flag that takes no value, e.g. --overwrite


def error_message(exc):
    """The message of library error ``exc`` with flags for parameters: ``use --patterns 898 or fewer``."""
    names = {**FLAGS, **getattr(exc, "cli_flags", {})}

    def say(name, value):
        flag = names.get(name)
        if flag is None:
            return None  # as Python says it
        shown = None if value is None else _flag_value(name, value)
        return f"{flag} {shown}" if shown else flag

    return render(exc.template, say)


@contextmanager
def flags(**names):
    """Within the block, library errors name these flags for these parameters, e.g.
    ``flags(split="--split-b")`` for the second dataset of a command."""
    try:
        yield
    except WavelensError as exc:
        exc.cli_flags = {**names, **getattr(exc, "cli_flags", {})}  # an inner block's names win
        raise


class ImageSize(click.ParamType):
    """``HxW``, e.g. ``32x32``."""

    name = "HxW"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value)
        if not match or 0 in (int(match[1]), int(match[2])):
            self.fail(f"expected HEIGHTxWIDTH with positive integers, e.g. 32x32; got {value!r}.", param, ctx)
        return int(match[1]), int(match[2])


class Seed(click.IntRange):
    """A seed: an integer from 0 to 2**32 - 1 (what NumPy's generators accept)."""

    name = "seed"

    def __init__(self):
        super().__init__(min=0, max=SEED_MAX)


def input_paths(*datasets, data_dir=None):
    """The paths a command reads (dataset paths, the folders searched for built-in datasets),
    which its --out must keep clear of."""
    paths = [data_dir] if data_dir else []
    for dataset in datasets:
        if dataset is None:
            continue
        if dataset in BUILTIN_DATASETS:
            paths += [folder for folder in builtin_search_path(dataset, data_dir) if folder.exists()]
        else:
            paths.append(dataset)
    return paths


def load_for_command(dataset, split, data_dir, limit, resize, seed, *, kernel=False):
    """Load DATASET as the dataset options say; return it, the seconds it took, and the options to record.

    With ``kernel``, the compiled per-image kernel is imported on another
    thread while the data loads (decompression releases the GIL).
    """
    start = time.perf_counter()
    warm_up = threading.Thread(target=load_kernel, daemon=True) if kernel else None
    if warm_up:
        warm_up.start()
    data = load_dataset(dataset, split=split, data_dir=data_dir, limit=limit, random_state=seed, resize=resize)
    if warm_up:
        warm_up.join()
    params = {"dataset": dataset, "split": data.split, "limit": limit,
              "resize": list(resize) if resize else None, "data_dir": data_dir}
    return data, time.perf_counter() - start, params


def command_line():
    """The command as typed, for the record in summaries and reports."""
    return "wavelens " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])


def _set_progress(ctx, param, quiet):
    progress.enable(not quiet and sys.stderr.isatty())
    return quiet


def _use_scheduler(ctx, param, address):
    """Run the command's chunked work on the Dask scheduler at ``address`` until the command ends."""
    if address is not None:
        from .._parallel import use_dask

        ctx.with_resource(use_dask(address))
    return address


def _apply(options, func):
    """Decorate ``func`` with ``options``, listed in the order --help shows them."""
    for option in reversed(options):
        func = option(func)
    return func


def dataset_options(func):
    """DATASET argument and the options that pick and subsample its images."""
    options = [
        click.argument("dataset"),
        click.option("--split", type=click.Choice(["train", "test", "all"]), default=None,
                     help="Which split. Default: train where the dataset has train and test splits, "
                          "else all."),
        click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                     help="Folder to look in first for a built-in dataset's files "
                          "(then $WAVELENS_DATA/<name>, then system folders)."),
        click.option("--limit", type=click.IntRange(min=1), default=None,
                     help="Analyse a stratified random subsample of N images (drawn with --seed)."),
        click.option("--resize", type=ImageSize(), default=None,
                     help="Resize every image of an image folder to HxW (needed when sizes differ)."),
        click.option("--seed", type=Seed(), default=0, show_default=True,
                     help="Seed of every random choice, for reproducible results."),
    ]
    return _apply(options, func)


def dataset_pair_options(first, *, seed_help):
    """The FIRST dataset argument, an optional DATASET_B (the second dataset of a comparison), and the
    options that pick and subsample the images of both."""
    shown_first = first.upper()

    def decorate(func):
        options = [
            click.argument(first),
            click.argument("dataset_b", required=False),
            click.option("--split", type=click.Choice(["train", "test", "all"]), default=None,
                         help=f"Split of {shown_first}. Default: train where it has splits, else all."),
            click.option("--split-b", type=click.Choice(["train", "test", "all"]), default=None,
                         help="Split of DATASET_B. Default: train where it has splits, else all."),
            click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                         help="Folder to look in first for built-in datasets' files."),
            click.option("--limit", type=click.IntRange(min=1), default=None,
                         help="Use a stratified random subsample of N images of each dataset (drawn with --seed)."),
            click.option("--resize", type=ImageSize(), default=None, help="Resize image-folder images to HxW."),
            click.option("--seed", type=Seed(), default=0, show_default=True, help=seed_help),
        ]
        return _apply(options, func)

    return decorate


def load_pair(dataset, dataset_b, split, split_b, data_dir, limit, resize, seed):
    """Load DATASET (and DATASET_B, None if not given) as :func:`dataset_pair_options` say; return both and
    the seconds it took."""
    start = time.perf_counter()
    a = load_dataset(dataset, split=split, data_dir=data_dir, limit=limit, random_state=seed, resize=resize)
    b = None
    if dataset_b is not None:
        with flags(split="--split-b"):
            b = load_dataset(dataset_b, split=split_b, data_dir=data_dir, limit=limit, random_state=seed,
                             resize=resize)
    return a, b, time.perf_counter() - start


def wavelet_options(func):
    """The wavelet transform's options."""
    options = [
        click.option("--wavelet", default="db1", show_default=True,
                     help="Discrete wavelet (db1 = Haar); 'wavelens wavelets' lists them all."),
        click.option("--level", type=int, default=1, show_default=True,
                     help="Decomposition levels of the 2D wavelet transform."),
        click.option("--mode", type=click.Choice(pywt.Modes.modes), default="periodization",
                     show_default=True,
                     help="Signal extension at the borders; periodization keeps the image's size "
                          "and, with orthogonal wavelets, its energy."),
    ]
    return _apply(options, func)


def output_options(func):
    options = [
        click.option("--out", "out", required=True, type=click.Path(),
                     help="Folder to write the results into (must not exist or be empty)."),
        click.option("--overwrite", is_flag=True, help="Replace --out if it already holds results."),
        click.option("--jobs", type=click.IntRange(min=1), default=None,
                     help="Threads to use. Default: every core."),
        click.option("--scheduler", metavar="ADDRESS", callback=_use_scheduler, expose_value=False,
                     help="Run the work over chunks of images on the Dask cluster of this scheduler "
                          "(e.g. tcp://host:8786; needs wavelens[dask]). Default: this machine."),
        click.option("--quiet", "-q", is_flag=True, callback=_set_progress, expose_value=False,
                     help="No progress bars (they show only when stderr is a terminal)."),
        click.option("--no-report", "no_report", is_flag=True,
                     help="Do not write OUT/report.html (rebuild it later with 'wavelens report OUT')."),
    ]
    return _apply(options, func)


def pattern_options(func):
    """Options of the pattern dictionary, the dataset patterns and the random-label control."""
    options = [
        click.option("--top-k", type=click.IntRange(min=1), default=3, show_default=True,
                     help="Rank-1 patterns taken from each image for the pattern dictionary."),
        click.option("--patterns", "n_patterns", type=click.IntRange(min=2), default=100, show_default=True,
                     help="Prototypes in the pattern dictionary, and dataset patterns kept."),
        click.option("--center", is_flag=True,
                     help="Center the dataset wavelet matrix (remove the mean image) before its SVD."),
        click.option("--random-repeats", type=click.IntRange(min=1), default=5, show_default=True,
                     help="Label permutations in the random-label control (always on)."),
    ]
    return _apply(options, func)
