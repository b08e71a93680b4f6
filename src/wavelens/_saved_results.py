"""A results folder read as input, with checks: what the report reads before it draws anything.

A folder a wavelens command wrote (``summary.json`` or ``noise_curve.json``,
and the ``.npz`` files beside them) may have been edited, truncated or made by
someone else, so every file is checked before the report uses it:

- the JSON summary against the layout its command writes (:func:`check_summary`:
  keys, types, and the few relations between them);
- each ``.npz`` member read by :class:`wavelens._npy.NpzArchive` (its entry,
  header and size checked before it is allocated, never unpickled), then its
  dtype kind, its shape (sizes shared by the file's arrays) and finite values
  (:class:`SavedArrays`).

Anything wrong is one :class:`~wavelens._validation.WavelensError` line naming
the file, what was expected and what was found, ending with :data:`RERUN`.
"""

import json

import numpy as np

from ._npy import NpzArchive, NpzRefused
from ._validation import WavelensError, printable, shown

__all__ = ["INTEGERS", "NUMBERS", "RERUN", "TEXT", "SavedArrays", "check_summary", "read_summary", "summary_kind"]

# Said to Python callers (build_report) and the command line (wavelens report) alike: no flags.
RERUN = ("give a results folder that a wavelens command or a result's .save() wrote, or write those results "
         "again")


# --- the JSON summary ------------------------------------------------------------------------

def _found(value):
    """What a JSON value is, for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {shown(value, 40)}"
    if isinstance(value, str):
        return f"the string {shown(repr(value), 40)}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Malformed(Exception):
    """A value in a results file is not what the report needs (raised as WavelensError with the file)."""


_LEAVES = {
    "number": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "count": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0"),
    "positive": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1"),
    "name": (lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool), "a string"),
    "flag": (lambda v: isinstance(v, bool), "true or false"),
    "any": (lambda v: True, "anything"),
}


def _list(item, minimum=0):
    return ("list", item, minimum)


def _or_none(spec):
    return ("or_none", spec)


def _mapping(value_spec):
    return ("mapping", value_spec)


def _check(value, spec, where):
    """Raise _Malformed unless ``value`` has the layout ``spec`` (a dict of keys, optional ones
    ending with '?'; _list, _or_none, _mapping; or a leaf name of _LEAVES)."""
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _Malformed(f"{repr(where) if where else 'the file'} should be an object {{...}}, found "
                             f"{_found(value)}")
        for key, sub in spec.items():
            name = key.rstrip("?")
            path = f"{where}.{name}" if where else name
            if name not in value:
                if key.endswith("?"):
                    continue
                raise _Malformed(f"'{path}' is missing")
            _check(value[name], sub, path)
    elif isinstance(spec, tuple) and spec[0] == "or_none":
        if value is not None:
            _check(value, spec[1], where)
    elif isinstance(spec, tuple) and spec[0] == "list":
        _, item, minimum = spec
        if not isinstance(value, list) or len(value) < minimum:
            raise _Malformed(f"'{where}' should be a list of at least {minimum} items, found {_found(value)}")
        for i, element in enumerate(value):
            _check(element, item, f"{where}[{i}]")
    elif isinstance(spec, tuple) and spec[0] == "mapping":
        if not isinstance(value, dict):
            raise _Malformed(f"'{where}' should be an object {{...}}, found {_found(value)}")
        for key, element in value.items():
            _check(element, spec[1], f"{where}.{shown(key, 40)}")
    else:
        accepts, expected = _LEAVES[spec]
        if not accepts(value):
            raise _Malformed(f"'{where}' should be {expected}, found {_found(value)}")


_STATS = {"nmi": "number", "mi_bits": "number", "cramers_v": "number", "purity": "number"}
_COMMON = {"command?": _or_none("any"), "wavelens_version?": "any", "params?": _mapping("any")}
_DATASET = {"name": "name", "split?": "name", "n_images": "count", "image_shape": _list("count", 2),
            "n_classes": "count", "class_names": _list("name", 1)}
_SCHEMAS = {
    "analyze": {
        "dataset": _DATASET,
        "params": {"wavelet": "name", "level": "name", "mode": "name"},
        "lowrank": {"energy": "number", "rank_median": "number", "rank_mean": "number", "rank_p95": "number",
                    "rank_max": "count", "max_possible_rank": "positive", "psnr_db_median": _or_none("number"),
                    "relative_error_median": "number", "numerical_rank_median": "number"},
        "spectrum?": {"numerical_rank_wavelet?": _or_none("number"), "numerical_rank_pixel?": _or_none("number"),
                      "n_patterns_at_energy?": _or_none("number"), "energy?": "number"},
        "association": {
            "image_patterns": {"true": _STATS, "top_k": "count", "n_patterns": "count",
                               "random?": {**_STATS, "nmi_std": "number", "repeats": "count"},
                               "z_score?": _or_none("number"), "p_value?": "number"},
            "dataset_patterns": {"true": _STATS, "n_patterns": "count",
                                 "random?": {**_STATS, "nmi_std": "number", "repeats": "count"},
                                 "z_score?": _or_none("number"), "p_value?": "number"},
            "label_noise?": _or_none("number"),
            "noise_curve?": _or_none(_list({"fraction": "number", "nmi": "number",
                                            "random_nmi?": _or_none("number")})),
        },
    },
    "communities": {
        "dataset": _DATASET,
        "params": {"mixed_threshold": "number"},
        "communities": {
            "n_communities": "count", "eigengap_k": _or_none("count"), "mixed": _list("any"),
            "numerical_rank": {"pixel": _or_none("number"), "wavelet": _or_none("number")},
            "features": {"n_features": "count", "n_total": "count", "method": "name"},
            "groups": _list({"name": "name", "eigenvalues": _list("number", 1), "eigengap_k": "count",
                             "count_from?": "name", "n_communities?": "count",
                             "stability?": _or_none({"gap_profile": _list("number"), "clear?": "flag",
                                                     "n_resamples?": "count"}),
                             "communities": _list({"community": "count", "size": "count", "purity": "number",
                                                   "top_class": "name", "mixed": "flag",
                                                   "classes": _mapping("count")})}, 1),
        },
    },
    "duplicates": {
        "dataset_a": {"name": "name", "split?": "name"},
        "dataset_b": _or_none({"name": "name", "split?": "name"}),
        "params": {"threshold": "number"},
        "duplicates": {"n_pairs": "count", "n_exact": "count", "n_labels_disagree": "count",
                       "n_images_a_with_duplicate": "count"},
    },
    "audit": {
        "audit": {
            "dataset": _DATASET,
            "dataset_b": _or_none({"name": "name", "split?": "name"}),
            "checks": _list("name", 1),
            "label_errors": _or_none({"n_flagged": "count", "n_estimated": "count",
                                      "top_suggestions": _list({"label": "name", "suggested": "name",
                                                                "count": "count"})}),
            "outliers": _or_none({"n_outliers": "count", "n_class_outliers": "count", "n_low_information": "count",
                                  "n_reconstruction_outliers?": _or_none("count"), "z_cut": "number"}),
            "classes": _or_none({"confusable": _list({"class_a": "name", "class_b": "name", "overlap": "number",
                                                      "share_a_to_b": "number", "share_b_to_a": "number"}),
                                 "self_share": _list("number"), "groups?": _list(_list("name")),
                                 "group_overlap?": "number", "spectrum?": _list("number")}),
            "duplicates?": _or_none({"summary": _list("name")}),
            "communities?": _or_none({"summary": _list("name"), "n_communities": "count"}),
            "analysis?": _or_none({"summary": _list("name")}),
        },
    },
    "learnability": {
        "dataset": _DATASET,
        "learnability": {
            "test_dataset": {"name": "name", "split?": "name", "n_images": "count"},
            "holdout": _or_none("number"), "n_train": "count", "n_test": "count",
            "classifiers": _mapping("name"), "max_rank": "positive", "chance": "number",
            "rows": _list({"source": "name", "r": _or_none("count"), "classifier": "name",
                           "test_accuracy": "number", "train_accuracy": _or_none("number"),
                           "psnr_db": _or_none("number")}, 1),
            "within_one_point": _mapping(_mapping(_or_none("count"))),
            "noise": _list({"fraction": "number", "classifier": "name", "train_accuracy": _or_none("number"),
                            "test_accuracy": "number", "loo_error": _or_none("number"),
                            "nmi": _or_none("number"), "random_nmi?": _or_none("number")}),
            "per_class?": _list({"source": "name", "r": _or_none("count"), "classifier": "name",
                                 "accuracy": _list(_or_none("number"))}),
        },
    },
    "noise-curve": {
        "dataset": {"name": "name", "split?": "name"},
        "rows": _list({"kind": "name", "fraction": "number", "nmi": "number", "random_nmi?": _or_none("number")}, 1),
    },
}


def summary_kind(name, s):
    """Which command wrote the summary ``s`` read from the file ``name``: 'analyze', 'audit', 'communities',
    'duplicates', 'learnability' or 'noise-curve' (the key of its layout in ``_SCHEMAS``)."""
    if name == "noise_curve.json":
        return "noise-curve"
    if isinstance(s, dict) and "audit" in s:
        return "audit"
    if isinstance(s, dict) and "learnability" in s:
        return "learnability"
    if isinstance(s, dict) and "communities" in s:
        return "communities"
    if isinstance(s, dict) and "duplicates" in s:
        return "duplicates"
    return "analyze"


def check_summary(path, kind, s):
    """Raise a one-line :class:`WavelensError` naming ``path`` unless the summary ``s`` has the layout
    that command ``kind`` (see :func:`summary_kind`) writes."""
    try:
        _check(s, {**_COMMON, **_SCHEMAS[kind]}, "")
        if kind == "analyze":
            image = s["association"]["image_patterns"]
            if "random" in image:
                _check(image, {"z_score": _or_none("number"), "p_value": "number"},
                       "association.image_patterns")
            if len(s["dataset"]["class_names"]) != s["dataset"]["n_classes"]:
                raise _Malformed(f"'dataset.class_names' should hold dataset.n_classes = "
                                 f"{s['dataset']['n_classes']} names, found {len(s['dataset']['class_names'])}")
        if kind == "learnability":
            classifiers = s["learnability"]["classifiers"]
            for row in s["learnability"]["rows"]:
                if row["classifier"] not in classifiers:
                    raise _Malformed(f"'learnability.rows' names the classifier {shown(repr(row['classifier']), 40)}, "
                                     "which 'learnability.classifiers' does not describe")
            if not any(r["source"] == "original" for r in s["learnability"]["rows"]):
                raise _Malformed("'learnability.rows' should hold rows of source \"original\", found none")
        if kind == "noise-curve" and not any(r["kind"] == "image_patterns" for r in s["rows"]):
            raise _Malformed("'rows' should hold rows of kind \"image_patterns\", found none")
    except _Malformed as exc:
        raise WavelensError(f"{shown(path)} is not a wavelens {kind} summary this report can read: {exc}; "
                            f"{RERUN}.") from None


def read_summary(folder):
    """``(file name, content)`` of the JSON summary in ``folder`` (``summary.json``, else
    ``noise_curve.json``), not yet checked (:func:`check_summary`).

    Raises
    ------
    WavelensError
        If ``folder`` holds neither, or the file cannot be read or is not JSON.
    """
    for name in ("summary.json", "noise_curve.json"):
        path = folder / name
        if path.is_file():
            try:
                content = json.loads(path.read_bytes())
            except OSError as exc:
                raise WavelensError(f"cannot read {shown(path)}: {exc.strerror or exc}; check its "
                                    "permissions.") from None
            except (ValueError, RecursionError) as exc:  # ValueError: not JSON, or not UTF-8
                reason = printable(f"{type(exc).__name__}: {exc}")[:120]
                raise WavelensError(f"{shown(path)} is not readable JSON ({reason}); {RERUN}.") from None
            return name, content
    try:
        empty = not any(True for _ in folder.iterdir())
    except OSError as exc:
        raise WavelensError(f"cannot read the folder {shown(folder)}: {exc.strerror or exc}; check its "
                            "permissions.") from None
    if not empty:
        what = "holds no wavelens results (no summary.json or noise_curve.json)"
    else:
        what = "is empty: it holds no wavelens results"
    raise WavelensError(
        f"{shown(folder)} {what}; give a results folder that a wavelens command (analyze, audit, communities, "
        "duplicates, learnability, noise-curve) or a result's .save() wrote."
    )


# --- the arrays -------------------------------------------------------------------------------

# The dtype kinds an array may have, and their names in messages.
NUMBERS, INTEGERS, TEXT = "uifb", "iu", "U"
_KIND_NAMES = {NUMBERS: "numbers", INTEGERS: "integers", TEXT: "text"}


def _read_npz(path, members):
    """``{member: array}`` of the .npz file ``path``; ``members``: ``{member: what it should hold}``.

    Each member is read by :class:`NpzArchive`: never unpickled, and allocated only after its entry,
    header and declared size are checked against the bytes the file holds.
    """
    where = shown(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "is missing"
        raise WavelensError(f"{where} {what} (the report draws from it); {RERUN}.")
    try:
        with NpzArchive(path) as archive:
            arrays = {}
            for member, expected in members.items():
                name = archive.find(member)
                if name is None:
                    raise WavelensError(f"{where} has no array '{member}' (the report draws it); {RERUN}.")
                arrays[member] = archive.read(name, expected=expected)
            return arrays
    except NpzRefused as exc:
        raise WavelensError(f"{exc.sentence(where)}; {RERUN}.") from None
    except OSError as exc:
        raise WavelensError(f"cannot read {where}: {exc.strerror or exc}; check its permissions.") from None


class SavedArrays:
    """The arrays of one ``.npz`` results file, checked; every failure one line naming the file.

    Parameters
    ----------
    folder : Path
        The results folder.
    name : str
        The file's name in it, e.g. ``'report.npz'``.
    members : dict
        ``{member: (kinds, shape)}``: ``kinds`` is :data:`NUMBERS`, :data:`INTEGERS`
        or :data:`TEXT`; ``shape`` a tuple of sizes (ints) and names of sizes,
        which bind on first use and must agree across the file's members (they
        are then in :attr:`dims`); a name in brackets, e.g. ``"[C]"``, is an
        optional last axis (channels), bound to None where it is absent.
    saved : dict, default=None
        ``{file name: {member: array}}`` standing in for files not written yet.

    Raises
    ------
    WavelensError
        If the file is missing or unreadable, or a member is missing, of
        another dtype kind or shape, or (floats) not finite.
    """

    def __init__(self, folder, name, members, saved=None):
        self.where = shown(folder / name)
        if saved is not None and name in saved:
            self.arrays = {m: np.asarray(saved[name][m]) for m in members if m in saved[name]}
            missing = [m for m in members if m not in self.arrays]
            if missing:
                raise WavelensError(f"{self.where} has no array '{missing[0]}' (the report draws it); {RERUN}.")
        else:
            self.arrays = _read_npz(folder / name, {m: _KIND_NAMES[kinds] for m, (kinds, _) in members.items()})
        self.dims = {}
        for member, (kinds, shape) in members.items():
            self._check(member, kinds, shape)

    def __getitem__(self, member):
        return self.arrays[member]

    def fail(self, member, expected, found):
        """Raise the one-line error: ``member`` of this file should be ``expected``, but is ``found``."""
        raise WavelensError(f"{self.where}: '{member}' should be {expected}, found {found}; {RERUN}.")

    def _check(self, member, kinds, shape):
        """Check ``member``'s dtype kind, shape (binding :attr:`dims`) and values, as described above."""
        array = self.arrays[member]
        if array.dtype.kind not in kinds and array.size:  # an empty list of captions is saved as floats
            self.fail(member, f"an array of {_KIND_NAMES[kinds]}", f"dtype {array.dtype}")
        optional = bool(shape) and isinstance(shape[-1], str) and shape[-1].startswith("[")
        fixed = shape[:-1] if optional else shape
        if array.ndim not in ((len(fixed), len(fixed) + 1) if optional else (len(fixed),)):
            axes = f"{len(fixed)} or {len(fixed) + 1}" if optional else f"{len(fixed)}"
            self.fail(member, f"an array of {axes} axes {self._pattern(shape)}", f"shape {array.shape}")
        names = list(fixed) + ([shape[-1].strip("[]")] if optional else [])
        sizes = list(array.shape) + ([None] if optional and array.ndim == len(fixed) else [])
        for name, size in zip(names, sizes):
            if isinstance(name, int):
                if size != name:
                    self.fail(member, f"of shape {self._pattern(shape)}", f"shape {array.shape}")
            elif name in self.dims and self.dims[name] != size:
                self.fail(member, f"of shape {self._pattern(shape)} with {name} = "
                                  f"{self.dims[name] if self.dims[name] is not None else 'no axis'} "
                                  "as in the file's other arrays", f"shape {array.shape}")
            else:
                self.dims[name] = size
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            self.fail(member, "finite numbers", "NaN or infinite values")

    @staticmethod
    def _pattern(shape):
        return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")

    def need(self, condition, member, expected, found):
        """:meth:`fail` unless ``condition`` (a check across members, or against the summary)."""
        if not condition:
            self.fail(member, expected, found)
