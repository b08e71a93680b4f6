"""A table of image paths: a CSV file (or a parquet file, with pyarrow) with columns ``path,label``.

The table
    The first line (row) names the columns: ``path`` (required), ``label``
    (optional: without it the images are unlabeled) and ``split`` (optional,
    ``train`` or ``test``: with it the table is a dataset with splits). Other
    columns are ignored; column names are matched without regard to case or
    surrounding spaces. A CSV is UTF-8 (a byte-order mark is allowed), comma
    separated, quoted as Python's ``csv`` module and spreadsheets write it;
    blank lines are skipped.

Paths
    Relative paths are resolved against the table's folder; each image's id is
    its path relative to that folder, with '/' separators (``../x.png`` for a
    file beside the folder). Each path must name a regular file, once. The
    images are decoded as image folders' are (pixel type, alpha, limits),
    by :func:`._folder.load_image_files`.

Labels
    Class names: the class numbers are the sorted names (by value when every
    name is a whole number, so "2" comes before "10"), taken from the rows of
    every split, whichever is loaded (as an image folder's class folders of
    train/ and test/), so that the train and test splits number them alike.

Limits
    The table is read into memory: its size, and then the text of its rows
    (with Python's overhead per row), are checked against
    ``WAVELENS_MAX_DATA_BYTES`` before and while they are read; a field may
    hold at most 131,072 characters (the ``csv`` module's limit) and a path at
    most 4,096. Every image is checked as in an image folder.

Errors
    Each is one line naming the table and the line of the CSV (the row of a
    parquet file, counting the header as row 1) it is about.
"""

from __future__ import annotations

import csv
import itertools
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._limits import check_limit
from .._validation import WavelensError, param, printable, shown
from ._base import Dataset, numbered_with_rows, refuse_class_names, sorted_class_names, stratified_rows
from ._folder import check_resize, load_image_files

__all__ = ["TABLE_SUFFIXES", "is_path_table", "load_path_table", "table_has_splits", "table_has_test_rows"]

TABLE_SUFFIXES = (".csv", ".parquet")
_SPLIT_VALUES = ("train", "test")
_MAX_PATH = 4096  # PATH_MAX of Linux: no longer path names a file
# What one row costs in memory besides its text: the list entries and str objects of its fields.
_ROW_OVERHEAD = 200
_CHECK_EVERY = 4096  # rows between two checks of the memory the table holds
_HOW = "the first line must name the columns, e.g. path,label (label and split are optional)"


def is_path_table(path: Path) -> bool:
    """Whether ``path`` is named like a table of image paths (``.csv`` or ``.parquet``)."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES


class _Row:
    """One row of the table: where it is (``"list.csv line 3"``), and its values."""

    __slots__ = ("table", "at", "path", "label", "split")

    def __init__(self, table, at, path, label, split):
        self.table, self.at, self.path, self.label, self.split = table, at, path, label, split

    @property
    def where(self):
        return f"{self.table} {self.at}"


def _columns(table, names, where):
    """Positions of the columns path, label and split in ``names`` (None where absent), or raise."""
    cleaned = [str(n).strip().lower() for n in names]
    found = {}
    for k, name in enumerate(cleaned):
        if name in ("path", "label", "split"):
            if name in found:
                raise WavelensError(f"{table}: {where} names the column {name!r} twice; name it once.")
            found[name] = k
    if "path" not in found:
        listed = ", ".join(repr(printable(n))[1:-1] for n in names[:10]) or "none"
        how = _HOW if where.startswith("its header") else "name the columns path, label (optional), split (optional)"
        raise WavelensError(f"{table}: {where} has no 'path' column (its columns: {listed}); {how}.")
    return found.get("path"), found.get("label"), found.get("split")


def _check_memory(table, held, rows):
    check_limit("data_bytes", held, f"{table} (the text of its {rows:,} rows, read so far)")


def _lines(text):
    """The lines of ``text``, each with its end ('\\n', '\\r\\n', or '\\r' in a text without '\\n'), one at a
    time (no copy of the whole text, as ``io.StringIO`` would make, 4 bytes a character)."""
    start, size = 0, len(text)
    newline = "\n" if "\n" in text or "\r" not in text else "\r"
    while start < size:
        end = text.find(newline, start)
        end = size if end < 0 else end + 1
        yield text[start:end]
        start = end


def _read_csv(path, table):
    """The rows of a CSV table, each checked for its fields; and whether it has labels and splits."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            check_limit("data_bytes", size, f"reading {table} ({size:,} bytes)")
            data = handle.read(size + 1)
    except OSError as exc:
        raise WavelensError(f"{table} cannot be read ({printable(exc.strerror or exc)}); check that it exists "
                            "and that you may read it.") from None
    check_limit("data_bytes", len(data), f"reading {table} ({len(data):,} bytes)")  # it grew meanwhile
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise WavelensError(f"{table} line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 text; save the "
                            "table as UTF-8 (CSV UTF-8 in spreadsheets).") from None
    del data
    reader = csv.reader(_lines(text), strict=True)  # strict: a quote left open is an error
    rows, header, held = [], None, len(text)
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line
            if header is None:
                header = record
                columns = _columns(table, header, f"its header (line {reader.line_num})")
                continue
            at = f"line {reader.line_num}"
            if len(record) != len(header):
                raise WavelensError(f"{table} {at} has {len(record)} field(s) but the header has {len(header)}; give "
                                    "every row one value per column (quote values holding commas).")
            path_at, label_at, split_at = columns
            rows.append(_row(table, at, record[path_at], None if label_at is None else record[label_at],
                             None if split_at is None else record[split_at]))
            held += _ROW_OVERHEAD + len(rows[-1].path) + len(rows[-1].label or "")
            if len(rows) % _CHECK_EVERY == 0:
                _check_memory(table, held, len(rows))
    except csv.Error as exc:
        raise WavelensError(f"{table} line {reader.line_num}: not a readable CSV row ({printable(exc)}); fix "
                            "the quoting (or the line ends) of that line.") from None
    if header is None:
        raise WavelensError(f"{table} is empty; {_HOW}, then one line per image.")
    _check_memory(table, held, len(rows))
    return rows, columns[1] is not None, columns[2] is not None


def _row(table, at, path, label, split):
    """One row, its path, label and split checked (label and split are None where the table has no such column)."""
    where = f"{table} {at}"
    if not path:
        raise WavelensError(f"{where} has an empty path; give every row the path of an image file.")
    if len(path) > _MAX_PATH or "\0" in path:
        what = f"a path of {len(path):,} characters" if len(path) > _MAX_PATH else "a path holding a NUL character"
        raise WavelensError(f"{where} has {what}, which names no file; fix that row.")
    if label is not None:
        if not label:
            raise WavelensError(f"{where} has an empty label; give every row a label, or leave out the label "
                                "column for unlabeled images.")
    if split is not None:
        if split.strip().lower() not in _SPLIT_VALUES:
            raise WavelensError(f"{where} has the split {printable(split)!r}; expected train or test.")
        split = split.strip().lower()
    return _Row(table, at, path, label, split)


def _read_parquet(path, table):
    """The rows of a parquet table (read with pyarrow), each checked; and whether it has labels and splits."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise WavelensError(f"{table}: reading parquet files needs pyarrow, which is not installed; "
                            "pip install pyarrow, or save the table as CSV.") from None
    try:
        size = os.stat(path).st_size
        check_limit("data_bytes", size, f"reading {table} ({size:,} bytes)")
        with pq.ParquetFile(path) as handle:
            names = list(handle.schema_arrow.names)
            columns = _columns(table, names, "its schema")
            n_rows = handle.metadata.num_rows
            # Each row holds at least a path: its text and the overhead of the objects made from it.
            check_limit("data_bytes", n_rows * _ROW_OVERHEAD, f"{table} ({n_rows:,} rows)")
            wanted = [names[k] for k in columns if k is not None]
            read = handle.read(columns=wanted)
    except WavelensError:
        raise
    except OSError as exc:
        raise WavelensError(f"{table} cannot be read ({printable(exc.strerror or exc)}); check that it exists "
                            "and that you may read it.") from None
    # pyarrow raises many kinds of exception on a damaged file (ArrowInvalid, OSError, ValueError...).
    except Exception as exc:
        raise WavelensError(f"{table} is not a readable parquet file ({printable(exc)[:200]}); "
                            "save it again.") from None
    values = {}
    for key, k in zip(("path", "label", "split"), columns):
        if k is None:
            continue
        column = read.column(names[k])
        kind = str(column.type)
        allowed = ("string", "large_string") + (("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                                                 "uint64") if key == "label" else ())
        if kind.startswith("dictionary<values=") and kind.split("=")[1].split(",")[0] in ("string", "large_string"):
            column = column.cast("string")
        elif kind not in allowed:
            raise WavelensError(f"{table}: the column {names[k]!r} holds {kind}; expected text"
                                + (" or integers" if key == "label" else "") + ".")
        values[key] = column.to_pylist()
    rows = []
    for i in range(read.num_rows):
        at = f"row {i + 2}"
        record = {}
        for key, column in values.items():
            if column[i] is None:
                raise WavelensError(f"{table} {at} has no {key} (null); give every row a {key}.")
            record[key] = str(column[i])
        rows.append(_row(table, at, record["path"], record.get("label"), record.get("split")))
    return rows, columns[1] is not None, columns[2] is not None


def _read_table(path):
    table = shown(path)
    if Path(path).suffix.lower() == ".parquet":
        return _read_parquet(path, table)
    return _read_csv(path, table)


def table_has_splits(path: Path) -> bool:
    """Whether the table at ``path`` has a ``split`` column (False if it cannot be read: loading says why)."""
    try:
        if Path(path).suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            with pq.ParquetFile(path) as handle:
                names = handle.schema_arrow.names
        else:
            with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
                lines = itertools.islice(iter(lambda: handle.readline(65536), ""), 1000)
                names = next(csv.reader(line for line in lines if line.strip()), [])
        return "split" in (str(n).strip().lower() for n in names)
    except Exception:  # noqa: BLE001 - any failure is reported by the load itself
        return False


def table_has_test_rows(path: Path) -> bool:
    """Whether some row of the table at ``path`` has the split ``test`` (the table is read and checked)."""
    rows, _, has_splits = _read_table(path)
    return has_splits and any(row.split == "test" for row in rows)


def _check_file(row, resolved):
    """Raise if ``resolved`` (the path of ``row``) is not a regular file."""
    try:
        info = os.stat(resolved)
    except OSError as exc:
        what = "does not exist" if isinstance(exc, FileNotFoundError) else f"cannot be examined ({exc.strerror})"
        raise WavelensError(f"{row.where}: the path {shown(row.path)!r} {what} (resolved to {shown(resolved)}); "
                            "fix the path or remove the row.") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise WavelensError(f"{row.where}: the path {shown(row.path)!r} is {kind}; each row names one image file.")


def load_path_table(path: str | os.PathLike, split: str, *, resize: tuple[int, int] | None = None,
                    name: str | None = None, limit: int | None = None, random_state: int = 0,
                    class_names: Sequence[str] | None = None) -> Dataset:
    """Load the images listed in a CSV (or parquet) table of ``path,label[,split]``.

    Parameters
    ----------
    path : str or Path
        The table (``.csv``, or ``.parquet`` when pyarrow is installed).
    split : {'train', 'test', 'all'}
        ``train`` or ``test`` need a ``split`` column; ``all`` takes every row.
    resize : tuple of int, optional
        ``(height, width)`` to resize every image to, as for image folders.
    name : str, optional
        The dataset's name; the table's file name without suffix by default.
    limit, random_state : optional
        Decode only the ``limit`` images :func:`~wavelens.datasets.load_dataset`'s
        stratified subsample keeps (the same images, without decoding the others).
    class_names : list of str, optional
        The classes in their order, instead of the sorted labels of every row:
        each label of the split loaded must be one of them.

    Returns
    -------
    Dataset
        Its ``ids`` are the paths relative to the table's folder, its
        ``paths`` the absolute paths; unlabeled (``labeled`` False) without a
        ``label`` column.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> folder = Path(tempfile.mkdtemp())
    >>> for i in range(3):
    ...     Image.fromarray(np.full((4, 4), 50 * i, np.uint8)).save(folder / f"{i}.png")
    >>> _ = (folder / "list.csv").write_text("path,label\\n0.png,cat\\n1.png,dog\\n2.png,cat\\n")
    >>> d = load_path_table(folder / "list.csv", "all")
    >>> d.ids.tolist(), d.class_names, d.labels.tolist()
    (['0.png', '1.png', '2.png'], ['cat', 'dog'], [0, 1, 0])
    """
    path = Path(path)
    table = shown(path)
    size = check_resize(resize)
    rows, labeled, has_splits = _read_table(path)
    if not rows:
        raise WavelensError(f"{table} has a header but no rows; add one row per image.")
    if not labeled and class_names is not None:
        raise refuse_class_names(table)
    # The classes of every split, whichever is loaded: one numbering for train and test.
    every_class = sorted_class_names(row.label for row in rows) if labeled else None
    if split != "all":
        if not has_splits:
            raise WavelensError(f"{table} has no split column, so it has no '{split}' split; "
                                f"use {param('split', 'all')}, "
                                "or add a split column (train or test).")
        rows = [row for row in rows if row.split == split]
        if not rows:
            raise WavelensError(f"{table}: the {split} split is empty (no row has split {split}).")
    base = os.path.dirname(os.path.abspath(path))
    files, seen = [], {}
    for row in rows:
        resolved = os.path.normpath(os.path.join(base, row.path))
        if resolved in seen:
            raise WavelensError(f"{row.where}: the path {shown(row.path)!r} names the file of {seen[resolved].at} "
                                f"again ({shown(resolved)}); list each image once.")
        seen[resolved] = row
        _check_file(row, resolved)
        files.append(Path(resolved))
    if labeled:  # class_names are checked here, before any image is decoded
        labels, class_names, keep = numbered_with_rows([row.label for row in rows], every_class, class_names, limit,
                                                       random_state, table)
    else:
        labels, keep = None, stratified_rows(np.zeros(len(rows)), limit, random_state)
    return load_image_files(files, labels, class_names, root=base, split=split, name=name or shown(path.stem),
                            source=table, resize=size, describe=lambda i: rows[i].where, rows=keep)
