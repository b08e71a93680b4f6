"""Hugging Face ``datasets`` input: a ``datasets.Dataset``, a ``DatasetDict``, or a folder written by their
``save_to_disk`` (the optional extra ``pip install 'wavelens[huggingface]'``).

Nothing is downloaded
    A folder is read with ``datasets.load_from_disk`` (Arrow files, memory-mapped; nothing is unpickled)
    only when it holds what ``save_to_disk`` writes: ``dataset_info.json`` and ``state.json`` (a Dataset)
    or ``dataset_dict.json`` (a DatasetDict). The Arrow data of the columns read is validated in full
    before any value is used, so a damaged file gives an error, not a crash.

Images
    An ``Image`` column's encoded files (PNG, JPEG...) are decoded by the decoder of image folders
    (:func:`._folder.load_image_files`' rules: formats, pixel type, alpha, limits, one size or
    ``resize``), never by ``datasets``, whose decoder accepts every Pillow plugin and fetches URLs.
    An image held as a path alone is read from that local file; a URL is refused. Arrays
    (``Array2D``, ``Array3D``, nested lists of numbers) keep their type and follow the rule of
    :class:`Dataset`, as :func:`from_arrays` does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._limits import check_limit
from .._validation import WavelensError, param, printable, shown
from ._base import Dataset, make_dataset, split_ids
from ._folder import _read_images, _reason, check_resize

if TYPE_CHECKING:
    import datasets

__all__ = ["from_huggingface", "is_huggingface"]

SOURCE = "Hugging Face dataset"
_INSTALL = "pip install 'wavelens[huggingface]'"
_DATASET_FILES = ("dataset_info.json", "state.json")
_DICT_FILE = "dataset_dict.json"
_IMAGE_NAMES = ("image", "img", "pixel_values")
_LABEL_NAMES = ("label", "labels", "fine_label")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CHUNK = 4096  # rows of images held as Python bytes at a time


def is_huggingface(spec) -> bool:
    """Whether ``spec`` is a ``datasets`` object, or a folder holding a file that ``save_to_disk`` writes
    (:func:`from_huggingface` then says what else it needs). Does not import ``datasets``."""
    if isinstance(spec, (str, os.PathLike)):
        folder = Path(spec)
        return folder.is_dir() and any((folder / f).is_file() for f in (*_DATASET_FILES, _DICT_FILE))
    module = sys.modules.get("datasets")  # an object of its classes exists only once it is imported
    kinds = tuple(getattr(module, k, None) for k in ("Dataset", "DatasetDict", "IterableDataset",
                                                    "IterableDatasetDict"))
    return module is not None and isinstance(spec, tuple(k for k in kinds if isinstance(k, type)))


def huggingface_folder_has_split(folder: str | os.PathLike, split: str) -> bool:
    """Whether a ``save_to_disk`` folder of a DatasetDict names ``split`` in its ``dataset_dict.json``
    (a folder of one Dataset holds one split, of no name: False); read without ``datasets``."""
    path = Path(folder) / _DICT_FILE
    try:
        if not path.is_file() or path.stat().st_size > 1 << 20:
            return False
        splits = json.loads(path.read_text(encoding="utf-8")).get("splits", [])
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(splits, list) and split in splits


def from_huggingface(hf_dataset: datasets.Dataset | datasets.DatasetDict | str | os.PathLike, *,
                     split: str | None = None, image_column: str | None = None, label_column: str | None = None,
                     name: str | None = None, resize: tuple[int, int] | None = None) -> Dataset:
    """A :class:`Dataset` of a Hugging Face ``datasets.Dataset``, ``DatasetDict`` or ``save_to_disk`` folder.

    Needs the optional package ``datasets`` (``pip install 'wavelens[huggingface]'``). Nothing is
    downloaded: a folder is read by ``datasets.load_from_disk`` only if it holds
    ``dataset_info.json`` and ``state.json``, or ``dataset_dict.json``.

    Parameters
    ----------
    hf_dataset : datasets.Dataset, datasets.DatasetDict, str or Path
        The dataset, or the folder its ``save_to_disk`` wrote.
    split : str, default=None
        A split of a DatasetDict by name (``'train'``, ``'test'``, ``'validation'``...) or ``'all'``
        for every split in turn; None means ``'train'`` where there is one, else ``'all'``. A
        Dataset is one split: None, ``'all'`` or its own split name take it.
    image_column : str, default=None
        The column of images; by default the one ``Image`` column, else the one ``Array2D`` or
        ``Array3D`` column, else a column of numbers named ``image``, ``img`` or ``pixel_values``.
    label_column : str, default=None
        The column of labels; by default the ``ClassLabel`` column (its names are the class names;
        ``label``, ``labels`` or ``fine_label`` first if several), else a column of integers or
        text named ``label``, ``labels`` or ``fine_label``. Without one the images are unlabeled,
        as they are when every label is -1 (``ClassLabel``'s "no label").
    name : str, default=None
        The dataset's name; the folder's name, else the dataset's own (``info.dataset_name``).
    resize : tuple of int, default=None
        ``(height, width)`` for ``Image`` columns whose images differ in size (bilinear).

    Returns
    -------
    Dataset
        Its ``ids`` are ``"{split}/{row}"`` (``"{row}"`` for a Dataset without a split name), the
        row being the position in the Hugging Face split; ``paths`` are the image files where
        every image is held as a local file path (not as bytes), else None. ``source`` is the
        folder, or ``"Hugging Face dataset"``.

    Raises
    ------
    WavelensError
        One line, when ``datasets`` is not installed, for a folder not written by
        ``save_to_disk`` or damaged, an unknown split or column, no image column, an image that
        does not decode, images of several sizes without ``resize``, or labels that are missing.

    Examples
    --------
    >>> import numpy as np
    >>> from datasets import ClassLabel, Dataset as HFDataset, Features, Image
    >>> hf = HFDataset.from_dict(
    ...     {"image": [np.full((4, 4), v, np.uint8) for v in (0, 128, 255)], "label": [0, 1, 1]},
    ...     features=Features({"image": Image(), "label": ClassLabel(names=["cat", "dog"])}))
    >>> d = from_huggingface(hf)
    >>> d.class_names, d.labels.tolist(), d.ids.tolist()
    (['cat', 'dog'], [0, 1, 1], ['0', '1', '2'])
    >>> d.pixels[:, 0, 0].tolist(), d.image_shape, d.source
    ([0, 128, 255], (4, 4), 'Hugging Face dataset')
    """
    size = check_resize(resize)
    for key, value in (("split", split), ("image_column", image_column), ("label_column", label_column),
                       ("name", name)):
        if value is not None and not isinstance(value, str):
            raise WavelensError(f"The '{param(key)}' parameter must be text. Got {type(value).__name__} instead.")
    datasets = _import_datasets()
    if isinstance(hf_dataset, (datasets.IterableDataset, datasets.IterableDatasetDict)):
        raise WavelensError("A streaming IterableDataset cannot be read: wavelens needs every row at hand. "
                            "Load the dataset without streaming=True, or save it with save_to_disk.")
    if isinstance(hf_dataset, (str, os.PathLike)):
        folder = Path(hf_dataset)
        where, hf_dataset = shown(folder), _load_folder(datasets, folder)
        name = name or shown(Path(os.path.abspath(folder)).name)
        inputs = (os.path.abspath(folder),)
    elif isinstance(hf_dataset, (datasets.Dataset, datasets.DatasetDict)):
        where, inputs = SOURCE, None
    else:
        raise WavelensError(f"Expected a datasets.Dataset, a datasets.DatasetDict or the folder of one written by "
                            f"save_to_disk; got {printable(type(hf_dataset).__name__)}.")
    parts, chosen = _parts(hf_dataset, split, where)
    first = parts[0][1]
    if name is None:
        name = getattr(first.info, "dataset_name", None) or first.info.builder_name or "huggingface"
    if inputs is None:  # the Arrow files behind the dataset, which a result must keep clear of
        inputs = sorted({os.path.dirname(f["filename"]) for _, part in parts for f in part.cache_files})
    image_column = _image_column(datasets, first, image_column, where)
    label_column = _label_column(datasets, first, label_column, image_column, where)
    columns = [image_column] + ([label_column] if label_column else [])
    for part_name, part in parts[1:]:
        for column in columns:
            if part.features.get(column) != first.features[column]:
                raise WavelensError(f"{where}: the splits {_listed([parts[0][0], part_name])} differ in the column "
                                    f"{printable(column)!r}; load one split at a time ({param('split')}).")
    tables = [_table(part, columns, where) for _, part in parts]
    n_rows = [t.num_rows for t in tables]
    if sum(n_rows) == 0:
        raise WavelensError(f"{where}: the dataset is empty (0 rows); point wavelens at a dataset with images.")
    named = [(part_name, n) for (part_name, _), n in zip(parts, n_rows)]
    ids = split_ids(named) if parts[0][0] is not None else np.arange(n_rows[0]).astype(str)
    if isinstance(first.features[image_column], datasets.Image):
        images, paths = _decode_images([t.column(image_column) for t in tables], ids, size, where)
    else:
        images, paths = _arrays([t.column(image_column) for t in tables], image_column, ids, where), None
    labels, class_names = None, None
    if label_column:
        labels, class_names = _labels(datasets, first.features[label_column],
                                      [t.column(label_column) for t in tables], label_column, ids, where)
    return make_dataset(images, labels, class_names, name=name, split=chosen, source=where, ids=ids, paths=paths,
                        input_paths=inputs)


def _import_datasets():
    try:
        import datasets
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == "datasets":
            raise WavelensError("Reading Hugging Face datasets needs the optional package datasets, which is not "
                                f"installed: {_INSTALL}.") from None
        raise WavelensError(f"The package datasets cannot be imported ({_reason(exc)}); reinstall it: "
                            f"{_INSTALL}.") from None
    return datasets


def _load_folder(datasets, folder):
    """The Dataset or DatasetDict that ``save_to_disk`` wrote into ``folder``, or raise."""
    where = shown(folder)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise WavelensError(f"{where} {what}; give the folder written by save_to_disk (wavelens never downloads, "
                            "so a name on the Hugging Face Hub is not read).")
    found = [f for f in (*_DATASET_FILES, _DICT_FILE) if (folder / f).is_file()]
    if not (set(_DATASET_FILES) <= set(found) or _DICT_FILE in found):
        has = f"only {' and '.join(found)}" if found else "none of these files"
        raise WavelensError(f"{where} is not a folder written by save_to_disk: it has {has}, while a Dataset's "
                            "folder has dataset_info.json and state.json, and a DatasetDict's dataset_dict.json; "
                            "save the dataset with save_to_disk and pass that folder.")
    try:
        return datasets.load_from_disk(os.path.abspath(folder))
    except MemoryError:
        raise
    # The file-parsing boundary: damaged JSON or Arrow files raise many kinds of exception
    # (JSONDecodeError, ArrowInvalid, OSError, KeyError, UnicodeDecodeError...).
    except Exception as exc:
        raise WavelensError(f"{where} is not a readable save_to_disk folder ({_reason(exc)}); save the dataset "
                            "again.") from None


def _parts(hf_dataset, split, where):
    """``[(split name or None, datasets.Dataset)]`` to load, and the split of the :class:`Dataset`."""
    if not hasattr(hf_dataset, "keys"):  # a Dataset: one split
        own = None if hf_dataset.split is None else str(hf_dataset.split)
        if split not in (None, "all", own):
            held = f" ({printable(own)})" if own else ""
            raise WavelensError(f"{where} holds a single split{held}, not {printable(split)!r}; use "
                                f"{param('split', 'all')}.")
        return [(own, hf_dataset)], own or "all"
    names = list(hf_dataset.keys())
    if not names:
        raise WavelensError(f"{where} is a DatasetDict without splits; point wavelens at a dataset with images.")
    if split is None:
        split = "train" if "train" in names else "all"
    if split == "all":
        return [(n, hf_dataset[n]) for n in names], "all"
    if split not in names:
        raise WavelensError(f"{where} has no split {printable(split)!r}; its splits are {_listed(names)}: use one "
                            f"of them, or {param('split', 'all')} for all.")
    return [(split, hf_dataset[split])], split


def _listed(names):
    names = [printable(n) for n in names]
    return ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "") or "none"


def _numeric_depth(arrow_type):
    """How many list levels hold numbers in ``arrow_type`` (0 if it is not lists of numbers)."""
    import pyarrow as pa

    depth = 0
    while True:
        if isinstance(arrow_type, pa.ExtensionType):
            arrow_type = arrow_type.storage_type
        elif pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) \
                or pa.types.is_fixed_size_list(arrow_type):
            arrow_type, depth = arrow_type.value_type, depth + 1
        else:
            numeric = pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) \
                or pa.types.is_boolean(arrow_type)
            return depth if numeric else 0


def _image_column(datasets, part, image_column, where):
    """The name of the column of images, or raise."""
    features = part.features
    if image_column is not None:
        if image_column not in features:
            raise WavelensError(f"{where} has no column {printable(image_column)!r} (its columns: "
                                f"{_listed(features)}); name the column of images with {param('image_column')}.")
        if not (isinstance(features[image_column], datasets.Image)
                or _numeric_depth(part.data.schema.field(image_column).type) in (2, 3)):
            raise WavelensError(f"{where}: the column {printable(image_column)!r} holds {features[image_column]}, "
                                "not images; name a column of Image features or of arrays of pixels with "
                                f"{param('image_column')}.")
        return image_column
    kinds = (
        [c for c, f in features.items() if isinstance(f, datasets.Image)],
        [c for c, f in features.items() if isinstance(f, (datasets.Array2D, datasets.Array3D))],
        [c for c in _IMAGE_NAMES if c in features and _numeric_depth(part.data.schema.field(c).type) in (2, 3)],
    )
    for candidates in kinds:
        named = [c for c in _IMAGE_NAMES if c in candidates]
        if len(candidates) == 1 or named:
            return (named or candidates)[0]
        if candidates:
            raise WavelensError(f"{where} has several columns of images ({_listed(candidates)}); choose one with "
                                f"{param('image_column')}.")
    raise WavelensError(f"{where} has no column of images (its columns: {_listed(features)}); name the column "
                        f"of Image features or of arrays of pixels with {param('image_column')}.")


def _label_column(datasets, part, label_column, image_column, where):
    """The name of the column of labels, or None for unlabeled images; or raise."""
    features = part.features
    if label_column is not None:
        if label_column not in features or label_column == image_column:
            raise WavelensError(f"{where} has no column {printable(label_column)!r} of labels (its columns: "
                                f"{_listed(features)}); name the column of labels with {param('label_column')}.")
        return label_column
    classes = [c for c, f in features.items() if isinstance(f, datasets.ClassLabel) and c != image_column]
    named = [c for c in _LABEL_NAMES if c in classes]
    if len(classes) == 1 or named:
        return (named or classes)[0]
    if classes:
        raise WavelensError(f"{where} has several ClassLabel columns ({_listed(classes)}); choose one with "
                            f"{param('label_column')}.")
    return next((c for c in _LABEL_NAMES if c in features and c != image_column), None)


def _table(part, columns, where):
    """``columns`` of ``part`` as a pyarrow Table in the dataset's row order, validated in full first."""
    try:
        # Arrow's full validation checks every offset and length, so no read goes out of bounds.
        part.data.table.select(columns).validate(full=True)
        return part.with_format("arrow", columns=columns)[:]
    except MemoryError:
        raise
    except Exception as exc:  # damaged Arrow data: ArrowInvalid, OSError, IndexError...
        raise WavelensError(f"{where}: its Arrow data is damaged ({_reason(exc)}); save the dataset again.") from None


def _decode_images(columns, ids, size, where):
    """The pixels of Image columns (``{'bytes', 'path'}`` per row), decoded by the image folders' decoder;
    and the image files, where every image is one (else None)."""
    files, local = [], []
    with tempfile.TemporaryDirectory(prefix="wavelens-hf-") as scratch:
        row = 0
        for column in columns:
            for start in range(0, len(column), _CHUNK):
                for value in column.slice(start, _CHUNK).to_pylist():
                    files.append(_image_file(value, scratch, row, ids[row], where))
                    local.append(files[-1].parent != Path(scratch))
                    row += 1
        try:
            images = _read_images(files, size, where, None)
        except WavelensError as exc:
            # The decoder names the files it reads: name the scratch files by their images' ids instead
            # ("image train/3", or "'train/3'" where Pillow's reason quotes the file).
            scratch_file = re.compile(r"(image |')?" + re.escape(os.path.join(shown(scratch), "")) + r"([0-9]+)")
            message = scratch_file.sub(lambda m: ("'" if m[1] == "'" else "image ") + ids[int(m[2])], exc.template)
            raise WavelensError(message if message.startswith(where) else f"{where}: {message}") from None
    return images, [str(f) for f in files] if all(local) else None


def _image_file(value, scratch, row, image_id, where):
    """The file holding one row's image: its bytes written into ``scratch``, or the local file it names."""
    value = value if isinstance(value, dict) else {}
    data, path = value.get("bytes"), value.get("path")
    if data is not None:
        target = Path(scratch) / str(row)
        try:
            target.write_bytes(data)
        except OSError as exc:
            raise WavelensError(f"{where}: cannot write the images to a temporary folder ({_reason(exc)}); free "
                                f"space in {shown(tempfile.gettempdir())} or point TMPDIR elsewhere.") from None
        return target
    if not path:
        raise WavelensError(f"{where}: image {image_id} is missing (null); remove that row, or give it an image.")
    if _URL.match(path):
        raise WavelensError(f"{where}: image {image_id} is the address {shown(path)!r}, not data; wavelens never "
                            "downloads: store the images in the dataset (or as local files) first.")
    if not os.path.isfile(path):
        raise WavelensError(f"{where}: image {image_id} is held as the path {shown(path)!r}, which is not a file "
                            "here; store the images in the dataset (save_to_disk keeps their bytes), or fix the path.")
    return Path(os.path.abspath(path))


def _arrays(columns, column_name, ids, where):
    """Columns of nested lists of numbers (Array2D, Array3D...) as one ndarray (n, H, W[, C]) of their type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pieces, row = [], 0
    for chunk in (c for column in columns for c in column.chunks if len(c)):
        if isinstance(chunk, pa.ExtensionArray):
            chunk = chunk.storage
        shape, values = [len(chunk)], chunk
        while not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
                   or pa.types.is_boolean(values.type)):
            if values.null_count:
                bad = row + int(np.flatnonzero(~values.is_valid().to_numpy(zero_copy_only=False))[0]
                                // int(np.prod(shape[1:])))
                raise WavelensError(f"{where}: image {ids[bad]} is missing (null) in the column "
                                    f"{printable(column_name)!r}; remove that row, or give it an image.")
            lengths = pc.list_value_length(values).to_numpy(zero_copy_only=False)
            if len(lengths) and np.any(lengths != lengths[0]):
                k = int(np.flatnonzero(lengths != lengths[0])[0])
                bad = row + k // int(np.prod(shape[1:]))
                raise _shapes_differ(where, column_name, f"image {ids[row]} and image {ids[bad]}")
            shape.append(int(lengths[0]) if len(lengths) else 0)
            values = values.flatten()
        if values.null_count:
            bad = row + int(np.flatnonzero(~values.is_valid().to_numpy(zero_copy_only=False))[0]
                            // int(np.prod(shape[1:])))
            raise WavelensError(f"{where}: image {ids[bad]} has missing (null) pixels; fill them or remove that row.")
        pieces.append((values, shape))
        row += len(chunk)
    shapes = sorted({tuple(shape[1:]) for _, shape in pieces})
    if len(shapes) > 1:
        raise _shapes_differ(where, column_name, " and ".join("x".join(map(str, s)) for s in shapes[:2]))
    image_shape = shapes[0]
    dtype = pieces[0][0].type.to_pandas_dtype()
    check_limit("data_bytes", row * int(np.prod(image_shape)) * np.dtype(dtype).itemsize,
                f"the {row:,} images of {where} ({'x'.join(map(str, image_shape))} {np.dtype(dtype).name} each)")
    images = np.concatenate([values.to_numpy(zero_copy_only=False).reshape(shape) for values, shape in pieces])
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[3] not in (1, 3, 4):
        images = np.moveaxis(images, 1, -1)  # channels first (C, H, W), as image processors write pixel_values
    return images


def _shapes_differ(where, column_name, which):
    # resize= applies to Image columns only: the decoder of image files resizes.
    return WavelensError(f"{where}: the arrays of the column {printable(column_name)!r} differ in shape ({which}); "
                         "wavelens needs one size for every image: resize them first, or store them as Image "
                         f"features and pass {param('resize', text='(H, W)')}.")


def _labels(datasets, feature, columns, column_name, ids, where):
    """Labels and class names of a label column (ClassLabel, integers or text); (None, None) if every
    ClassLabel value is -1 ("no label")."""
    import pyarrow as pa

    values = [c for column in columns for c in column.chunks]
    kind = values[0].type if values else pa.int64()
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
            or pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise WavelensError(f"{where}: the column {printable(column_name)!r} holds {feature}, not one label per "
                            f"image; name the column of labels (ClassLabel, integers or text) with "
                            f"{param('label_column')}.")
    column = pa.chunked_array(values, type=kind)
    if column.null_count:
        bad = int(np.flatnonzero(~column.is_valid().to_numpy(zero_copy_only=False))[0])
        raise WavelensError(f"{where}: image {ids[bad]} has no label (null) in the column "
                            f"{printable(column_name)!r}; give every row a label.")
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return np.asarray(column.to_pylist(), dtype=str), None
    labels = column.to_numpy()
    if not isinstance(feature, datasets.ClassLabel):
        return labels, None
    missing = labels == -1
    if missing.all():
        return None, None
    if missing.any():
        raise WavelensError(f"{where}: image {ids[int(np.flatnonzero(missing)[0])]} has no label (-1) in the column "
                            f"{printable(column_name)!r} while others have one; keep only the labeled rows "
                            "(datasets' filter), or load the unlabeled ones apart.")
    return labels, list(feature.names)


def _skip_examples_without_datasets(function):
    """Mark the doctest examples of ``function`` skipped where the optional ``datasets`` is not installed."""
    if function.__doc__ and importlib.util.find_spec("datasets") is None:
        function.__doc__ = re.sub(r"^(\s*>>> .*)$", r"\1  # doctest: +SKIP", function.__doc__, flags=re.M)


_skip_examples_without_datasets(from_huggingface)
