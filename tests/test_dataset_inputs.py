"""Every input names its images (ids, paths); CSV/parquet tables of paths; unlabeled data; arrays (issue 11)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import write_cifar_folder, write_idx_folder
from wavelens import Dataset, WavelensError
from wavelens.datasets import UNLABELED, default_split, from_arrays, load_dataset, stratified_subsample
from wavelens.datasets._base import to_unit_float32


def _save(path, array, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **options)
    return path


def _one_line(excinfo, *parts):
    message = str(excinfo.value)
    assert "\n" not in message and message.isprintable(), message
    for part in parts:
        assert part in message, message
    return message


def _class_folder(root, rng, layout=(("cat", 3), ("dog", 2)), shape=(6, 5)):
    """``root/<class>/<i>.png`` gray images; returns the relative file names in load order."""
    names = []
    for cls, n in layout:
        for i in range(n):
            _save(root / cls / f"{i}.png", rng.integers(0, 256, shape, dtype=np.uint8))
            names.append(f"{cls}/{i}.png")
    return names


def _write_csv(path, lines, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def _check_names(dataset):
    """What every dataset promises of its ids and paths."""
    ids = dataset.ids
    assert isinstance(ids, np.ndarray) and ids.ndim == 1 and ids.dtype.kind == "U"
    assert len(ids) == dataset.n_images == len(set(ids.tolist()))
    assert all(i and i.isprintable() for i in ids.tolist())
    if dataset.paths is not None:
        assert dataset.paths.ndim == 1 and dataset.paths.dtype.kind == "U" and len(dataset.paths) == dataset.n_images
        assert all(os.path.isabs(p) for p in dataset.paths.tolist())


# --- ids and paths of every format ----------------------------------------------------------------

def test_image_folder_ids_are_relative_paths_and_paths_absolute(tmp_path, rng):
    names = _class_folder(tmp_path / "data", rng)
    data = load_dataset(tmp_path / "data")
    _check_names(data)
    assert data.ids.tolist() == names
    assert data.paths.tolist() == [str(tmp_path / "data" / n) for n in names]
    assert data.labeled and data.class_names == ["cat", "dog"]


def test_image_folder_with_splits(tmp_path, rng):
    _class_folder(tmp_path / "train", rng)
    _class_folder(tmp_path / "test", rng, (("cat", 1), ("dog", 1)))
    train, test, both = (load_dataset(tmp_path, split=s) for s in ("train", "test", "all"))
    assert train.ids.tolist() == ["train/cat/0.png", "train/cat/1.png", "train/cat/2.png", "train/dog/0.png",
                                  "train/dog/1.png"]
    assert test.ids.tolist() == ["test/cat/0.png", "test/dog/0.png"]
    assert both.ids.tolist() == train.ids.tolist() + test.ids.tolist()
    assert both.paths.tolist() == [str(tmp_path / i) for i in both.ids.tolist()]
    for data in (train, test, both):
        _check_names(data)


def test_folder_given_as_relative_path_gives_absolute_paths(tmp_path, rng, monkeypatch):
    _class_folder(tmp_path / "data", rng)
    monkeypatch.chdir(tmp_path)
    data = load_dataset("data")
    assert data.ids[0] == "cat/0.png" and data.paths[0] == str(tmp_path / "data" / "cat" / "0.png")


def test_npz_and_digits_ids_are_positions(tmp_path, rng):
    np.savez(tmp_path / "d.npz", images=rng.random((5, 4, 4)), labels=np.arange(5) % 2)
    data = load_dataset(tmp_path / "d.npz")
    assert data.ids.tolist() == ["0", "1", "2", "3", "4"] and data.paths is None
    digits = load_dataset("digits")
    assert digits.ids[0] == "0" and digits.ids[-1] == "1796" and digits.paths is None
    _check_names(digits)


def test_idx_ids_name_the_split(tmp_path, rng):
    write_idx_folder(tmp_path, rng.integers(0, 256, (6, 4, 4)), np.arange(6) % 3, split="train")
    write_idx_folder(tmp_path, rng.integers(0, 256, (3, 4, 4)), np.arange(3), split="test")
    assert load_dataset(tmp_path).ids.tolist() == [f"train/{i}" for i in range(6)]
    assert load_dataset(tmp_path, split="test").ids.tolist() == ["test/0", "test/1", "test/2"]
    both = load_dataset(tmp_path, split="all")
    assert both.ids.tolist() == [f"train/{i}" for i in range(6)] + ["test/0", "test/1", "test/2"]
    assert both.paths is None
    _check_names(both)


def test_cifar_ids_number_each_split_across_its_batches(tmp_path, rng):
    batches = [rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8) for _ in range(6)]
    write_cifar_folder(tmp_path, batches, [[0, 1, 2, 0]] * 6, ["a", "b", "c"])
    assert load_dataset(tmp_path).ids.tolist() == [f"train/{i}" for i in range(20)]
    both = load_dataset(tmp_path, split="all")
    assert both.ids.tolist() == [f"train/{i}" for i in range(20)] + [f"test/{i}" for i in range(4)]
    _check_names(both)


def test_ids_and_paths_survive_limit(tmp_path, rng):
    _class_folder(tmp_path / "train", rng, (("a", 6), ("b", 4)))
    _class_folder(tmp_path / "test", rng, (("a", 2), ("b", 2)))
    full = load_dataset(tmp_path, split="all")
    small = load_dataset(tmp_path, split="all", limit=5, random_state=1)
    assert small.n_images == 5
    np.testing.assert_array_equal(small.ids, full.ids[small.index])
    np.testing.assert_array_equal(small.paths, full.paths[small.index])
    np.testing.assert_array_equal(small.pixels, full.pixels[small.index])
    again = load_dataset(tmp_path, split="all", limit=5, random_state=1)  # stable across runs
    np.testing.assert_array_equal(again.ids, small.ids)
    write_idx_folder(tmp_path / "idx", rng.integers(0, 256, (10, 4, 4)), np.arange(10) % 2)
    idx = load_dataset(tmp_path / "idx", limit=4, random_state=0)
    assert idx.ids.tolist() == [f"train/{i}" for i in idx.index]
    assert load_dataset("digits", limit=30, random_state=2).ids.tolist() == [
        str(i) for i in load_dataset("digits", limit=30, random_state=2).index]


def test_dataset_checks_ids_and_paths():
    images = np.zeros((3, 2, 2), np.uint8)
    with pytest.raises(WavelensError) as excinfo:
        Dataset(images, [0, 1, 0], None, name="t", split="all", source="memory", ids=["a", "b", "a"])
    _one_line(excinfo, "memory: ids must be unique", "images 0 and 2", "'a'")
    with pytest.raises(WavelensError) as excinfo:
        Dataset(images, [0, 1, 0], None, name="t", split="all", source="memory", ids=["a", "b"])
    _one_line(excinfo, "ids must be a 1-d array of 3 values", "(2,)")
    with pytest.raises(WavelensError) as excinfo:
        Dataset(images, [0, 1, 0], None, name="t", split="all", source="memory", ids=["a", "", "c"])
    _one_line(excinfo, "ids must be non-empty text; id 1 is empty")
    with pytest.raises(WavelensError) as excinfo:
        Dataset(images, [0, 1, 0], None, name="t", split="all", source="memory", paths=["a", "b", 3])
    _one_line(excinfo, "paths must be file paths (text); path 2 is int")
    data = Dataset(images, [0, 1, 0], None, name="t", split="all", source="memory",
                   ids=["x\x1b[31m", b"caf\xe9", 7], paths=["rel.png", "/abs.png", b"/b\xff.png"])
    assert data.ids.tolist() == ["x\\x1b[31m", "caf\\xe9", "7"]  # printable
    assert data.paths.tolist() == [os.path.abspath("rel.png"), "/abs.png", "/b\\xff.png"]


def test_default_ids_follow_the_split_and_index():
    images = np.zeros((3, 2, 2))
    data = Dataset(images, [0, 0, 1], None, name="t", split="test", source="m", index=[4, 10, 11])
    assert data.ids.tolist() == ["test/4", "test/10", "test/11"]
    with pytest.raises(WavelensError) as excinfo:
        Dataset(images, [0, 0, 1], None, name="t", split="test", source="m", index=[0, 1])
    _one_line(excinfo, "index must be a 1-d array of 3 values")


def test_file_names_that_are_not_utf8_keep_distinct_ids(tmp_path):
    folder = os.fsencode(tmp_path / "a")
    os.makedirs(folder)
    for name in (b"caf\xe9.png", b"caf\xe8.png"):
        Image.fromarray(np.zeros((2, 2), np.uint8)).save(os.fsdecode(os.path.join(folder, name)))
    data = load_dataset(tmp_path, split="all")
    assert sorted(data.ids.tolist()) == ["a/caf\\xe8.png", "a/caf\\xe9.png"]
    _check_names(data)


# --- CSV tables of paths ----------------------------------------------------------------------------

def _mixed_folder(root, rng):
    """Classes of 8-bit gray, colour and 16-bit images: the folder rules all apply."""
    _save(root / "a" / "0.png", rng.integers(0, 256, (5, 4), dtype=np.uint8))
    _save(root / "a" / "1.png", rng.integers(0, 256, (5, 4, 3), dtype=np.uint8))
    _save(root / "b" / "2.png", rng.integers(0, 65536, (5, 4), dtype=np.uint16))
    _save(root / "b" / "3.png", rng.integers(0, 256, (5, 4, 4), dtype=np.uint8))  # RGBA


def test_csv_round_trip_equals_the_folder(tmp_path, rng):
    _mixed_folder(tmp_path, rng)
    folder = load_dataset(tmp_path, split="all")
    _write_csv(tmp_path / "list.csv", ["path,label"] + [f"{i},{i.split('/')[0]}" for i in folder.ids.tolist()])
    table = load_dataset(tmp_path / "list.csv")
    assert table.split == "all" and table.name == "list" and table.labeled
    assert table.pixels.dtype == folder.pixels.dtype == np.uint16
    np.testing.assert_array_equal(table.pixels, folder.pixels)
    np.testing.assert_array_equal(table.labels, folder.labels)
    assert table.class_names == folder.class_names == ["a", "b"]
    np.testing.assert_array_equal(table.ids, folder.ids)
    np.testing.assert_array_equal(table.paths, folder.paths)
    _check_names(table)


def test_csv_resize_like_the_folder(tmp_path, rng):
    _save(tmp_path / "a" / "0.png", rng.integers(0, 256, (9, 7), dtype=np.uint8))
    _save(tmp_path / "b" / "1.png", rng.integers(0, 256, (4, 4), dtype=np.uint8))
    _write_csv(tmp_path / "list.csv", ["path,label", "a/0.png,a", "b/1.png,b"])
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "list.csv")
    _one_line(excinfo, "list.csv: images have 2 different sizes", "resize=(H, W)")
    np.testing.assert_array_equal(load_dataset(tmp_path / "list.csv", resize=(6, 6)).pixels,
                                  load_dataset(tmp_path, split="all", resize=(6, 6)).pixels)


def test_csv_relative_paths_are_resolved_against_its_folder(tmp_path, rng, monkeypatch):
    _class_folder(tmp_path / "images", rng, (("x", 2),))
    _save(tmp_path / "lists" / "local.png", rng.integers(0, 256, (6, 5), dtype=np.uint8))
    absolute = tmp_path / "images" / "x" / "1.png"
    _write_csv(tmp_path / "lists" / "list.csv",
               ["path,label", "../images/x/0.png,p", f"{absolute},q", "./sub/../local.png,p"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data = load_dataset(Path("..") / "lists" / "list.csv")
    assert data.ids.tolist() == ["../images/x/0.png", "../images/x/1.png", "local.png"]
    assert data.paths.tolist() == [str(tmp_path / "images/x/0.png"), str(absolute), str(tmp_path / "lists/local.png")]
    assert data.class_names == ["p", "q"] and data.labels.tolist() == [0, 1, 0]


def test_csv_split_column(tmp_path, rng):
    _class_folder(tmp_path, rng, (("a", 2), ("b", 2)))
    _write_csv(tmp_path / "list.csv", ["Path, Label ,SPLIT, note", "a/0.png,a,train,x", "a/1.png,a,Test,y",
                                       "b/0.png,b,train,", "b/1.png,b,train,z"])
    assert default_split(str(tmp_path / "list.csv")) == "train"
    train = load_dataset(tmp_path / "list.csv")
    assert train.split == "train" and train.ids.tolist() == ["a/0.png", "b/0.png", "b/1.png"]
    test = load_dataset(tmp_path / "list.csv", split="test")
    assert test.ids.tolist() == ["a/1.png"] and test.class_names == ["a", "b"]  # the classes of every split
    assert load_dataset(tmp_path / "list.csv", split="all").n_images == 4
    _write_csv(tmp_path / "plain.csv", ["path,label", "a/0.png,a"])
    assert default_split(str(tmp_path / "plain.csv")) == "all"


def _split_table(root, rng, labels_by_split):
    """A CSV of path,label,split; each image's pixels hold its label's number, to check labels against images."""
    lines = ["path,label,split"]
    for split, labels in labels_by_split.items():
        for i, label in enumerate(labels):
            _save(root / split / f"{i}.png", np.full((3, 3), int(label), np.uint8))
            lines.append(f"{split}/{i}.png,{label},{split}")
    _write_csv(root / "list.csv", lines)
    return root / "list.csv"


def test_csv_splits_share_one_class_list_when_test_lacks_a_class(tmp_path, rng):
    table = _split_table(tmp_path, rng, {"train": ["10", "2", "1", "2", "10", "1"], "test": ["10", "2", "10"]})
    train, test = load_dataset(table), load_dataset(table, split="test")
    assert train.split == "train" and test.split == "test"
    assert train.class_names == test.class_names == ["1", "2", "10"]  # sorted by value, over both splits
    assert train.labels.tolist() == [2, 1, 0, 1, 2, 0] and test.labels.tolist() == [2, 1, 2]
    for data in (train, test):
        np.testing.assert_array_equal(data.pixels[:, 0, 0], np.array([1, 2, 10])[data.labels])
    # A subsample keeps the class list, and the images load_dataset's subsample of the whole split keeps.
    small = load_dataset(table, split="test", limit=2, random_state=4)
    assert small.class_names == ["1", "2", "10"] and sorted(small.labels.tolist()) == [1, 2]
    np.testing.assert_array_equal(small.ids, stratified_subsample(test, 2, 4).ids)


def test_class_names_fix_the_numbering_of_a_table(tmp_path, rng):
    table = _split_table(tmp_path, rng, {"train": ["1", "2", "3"], "test": ["3", "1"]})
    test = load_dataset(table, split="test", class_names=["3", "2", "1"])
    assert test.class_names == ["3", "2", "1"] and test.labels.tolist() == [0, 2]
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(table, split="train", class_names=["1", "3"])
    _one_line(excinfo, "list.csv: the label '2' is not one of class_names (2 names)", "leave class_names out")
    _write_csv(tmp_path / "unlabeled.csv", ["path", "train/0.png"])
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "unlabeled.csv", class_names=["1"])
    _one_line(excinfo, "unlabeled.csv: class_names were given but the images have no labels")


def test_class_names_renumber_every_kind_of_dataset(tmp_path, rng):
    np.savez(tmp_path / "d.npz", images=rng.random((6, 4, 4)), labels=np.array(["x", "y", "z", "x", "y", "z"]))
    data = load_dataset(tmp_path / "d.npz", class_names=["z", "x", "y", "w"])
    assert data.class_names == ["z", "x", "y", "w"] and data.labels.tolist() == [1, 2, 0, 1, 2, 0]
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "d.npz", class_names=["x", "y"])
    _one_line(excinfo, "the label 'z' is not one of class_names")
    write_idx_folder(tmp_path / "idx", rng.integers(0, 256, (6, 4, 4)), np.arange(6) % 3, split="train")
    write_idx_folder(tmp_path / "idx", rng.integers(0, 256, (2, 4, 4)), np.array([2, 0]), split="test")
    test = load_dataset(tmp_path / "idx", split="test", class_names=["2", "1", "0"])
    assert test.labels.tolist() == [0, 2] and test.ids.tolist() == ["test/0", "test/1"]
    digits = load_dataset("digits", limit=50, random_state=0)
    reversed_digits = load_dataset("digits", limit=50, random_state=0, class_names=list("9876543210"))
    assert reversed_digits.ids.tolist() == digits.ids.tolist()  # the same subsample
    assert (reversed_digits.labels == 9 - digits.labels).all()


def test_load_test_split_reads_the_test_split_as_the_train_split_was_read(tmp_path, rng):
    from wavelens.datasets import load_test_split

    table = _split_table(tmp_path, rng, {"train": ["1", "2", "3", "1", "2", "3"], "test": ["3", "1", "3", "1"]})
    train = load_dataset(table, limit=3, random_state=5, class_names=["3", "2", "1"])
    test = load_test_split(train)
    assert test.split == "test" and test.n_images == 3 and test.class_names == ["3", "2", "1"]
    np.testing.assert_array_equal(test.ids, load_dataset(table, split="test", limit=3, random_state=5).ids)
    assert load_test_split(load_dataset(table, split="test")) is None  # not a train split
    assert load_test_split(load_dataset(table, split="all")) is None
    assert load_test_split(from_arrays(np.zeros((2, 4, 4)), [0, 1], split="train")) is None  # not read from files
    all_train = _split_table(tmp_path / "only", rng, {"train": ["1", "2"]})  # its split column never says test
    assert load_test_split(load_dataset(all_train)) is None
    with pytest.raises(WavelensError, match="'dataset' parameter must be a wavelens Dataset"):
        load_test_split(np.zeros((2, 4, 4)))


def test_csv_quoting_bom_and_blank_lines(tmp_path, rng):
    _save(tmp_path / "with, comma.png", rng.integers(0, 256, (3, 3), dtype=np.uint8))
    _save(tmp_path / "plain.png", rng.integers(0, 256, (3, 3), dtype=np.uint8))
    (tmp_path / "list.csv").write_bytes(b'\xef\xbb\xbfpath,label\r\n"with, comma.png","a ""quoted"" name"\r\n'
                                        b"\r\n\r\nplain.png,caf\xc3\xa9\r\n")
    data = load_dataset(tmp_path / "list.csv")
    assert data.ids.tolist() == ["with, comma.png", "plain.png"]
    assert data.class_names == ['a "quoted" name', "café"]
    (tmp_path / "old-mac.csv").write_bytes(b"path,label\rplain.png,a\r")  # lines ended by CR alone
    assert load_dataset(tmp_path / "old-mac.csv").ids.tolist() == ["plain.png"]


def test_csv_labels_in_digits_are_ordered_by_value(tmp_path, rng):
    rows = ["path,label"]
    for i, label in enumerate(["10", "2", "1", "2"]):
        _save(tmp_path / f"{i}.png", rng.integers(0, 256, (3, 3), dtype=np.uint8))
        rows.append(f"{i}.png,{label}")
    _write_csv(tmp_path / "list.csv", rows)
    data = load_dataset(tmp_path / "list.csv")
    assert data.class_names == ["1", "2", "10"] and data.labels.tolist() == [2, 1, 0, 1]


def test_csv_label_text_is_made_printable(tmp_path, rng):
    _save(tmp_path / "0.png", rng.integers(0, 256, (3, 3), dtype=np.uint8))
    _write_csv(tmp_path / "list.csv", ["path,label", "0.png,evil\x1b[31m"])
    assert load_dataset(tmp_path / "list.csv").class_names == ["evil\\x1b[31m"]


def _good_images(root, rng, n=3):
    for i in range(n):
        _save(root / f"{i}.png", rng.integers(0, 256, (4, 4), dtype=np.uint8))


BAD_CSVS = {
    # name: (bytes of list.csv, parts of the one-line message)
    "empty file": (b"", ["list.csv is empty", "path,label"]),
    "only blank lines": (b"\n\n  \n", ["list.csv is empty"]),
    "no path column": (b"file,label\n0.png,a\n", ["list.csv: its header (line 1) has no 'path' column",
                                                 "its columns: file, label"]),
    "column twice": (b"path,label,path\n0.png,a,0.png\n", ["names the column 'path' twice"]),
    "header only": (b"path,label\n", ["list.csv has a header but no rows"]),
    "missing file": (b"path,label\n0.png,a\n\nnope.png,b\n", ["list.csv line 4: the path 'nope.png' does not exist",
                                                             "resolved to"]),
    "a folder": (b"path,label\n0.png,a\nsub,b\n", ["list.csv line 3: the path 'sub' is a folder"]),
    "not a regular file": (b"path,label\n/dev/null,a\n", ["list.csv line 2: the path '/dev/null' is not a regular"]),
    "duplicate path": (b"path,label\n0.png,a\n1.png,b\nsub/../0.png,a\n",
                       ["list.csv line 4: the path 'sub/../0.png' names the file of line 2 again"]),
    "not utf-8": (b"path,label\n0.png,a\n1.png,caf\xe9\n", ["list.csv line 3: byte 0xe9 is not UTF-8"]),
    "fields": (b"path,label\n0.png,a\n1.png,b,extra\n", ["list.csv line 3 has 3 field(s) but the header has 2"]),
    "empty label": (b"path,label\n0.png,\n", ["list.csv line 2 has an empty label", "leave out the label column"]),
    "empty path": (b"path,label\n,a\n", ["list.csv line 2 has an empty path"]),
    "bad split": (b"path,label,split\n0.png,a,valid\n",
                  ["list.csv line 2 has the split 'valid'; expected train or test"]),
    "NUL in path": (b"path,label\n0.png\x00x,a\n", ["list.csv line 2 has a path holding a NUL character"]),
    "long path": (b"path,label\n" + b"x" * 5000 + b",a\n", ["list.csv line 2 has a path of 5,000 characters"]),
    "huge field": (b"path,label\n0.png," + b"y" * 200_000 + b"\n", ["list.csv line 2: not a readable CSV row",
                                                                   "field larger than field limit"]),
    "unclosed quote": (b'path,label\n0.png,a\n"1.png,b\n', ["list.csv line", "not a readable CSV row"]),
    "broken image": (b"path,label\n0.png,a\nbad.png,b\n", ["list.csv line 3: ", "bad.png is not a readable image"]),
}


@pytest.mark.parametrize("case", list(BAD_CSVS))
def test_bad_csv_is_one_line_error(tmp_path, rng, case):
    content, parts = BAD_CSVS[case]
    _good_images(tmp_path, rng)
    (tmp_path / "sub").mkdir()
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (tmp_path / "list.csv").write_bytes(content)
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "list.csv", split="all")
    _one_line(excinfo, *parts)


def test_csv_split_that_the_table_lacks(tmp_path, rng):
    _good_images(tmp_path, rng)
    _write_csv(tmp_path / "list.csv", ["path,label", "0.png,a"])
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "list.csv", split="train")
    _one_line(excinfo, "list.csv has no split column, so it has no 'train' split", "split='all'")
    _write_csv(tmp_path / "split.csv", ["path,label,split", "0.png,a,train"])
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "split.csv", split="test")
    _one_line(excinfo, "split.csv: the test split is empty")


def test_csv_limits_are_checked_before_reading(tmp_path, rng, monkeypatch):
    _good_images(tmp_path, rng)
    _write_csv(tmp_path / "list.csv", ["path,label"] + [f"{i}.png,a" for i in range(3)])
    monkeypatch.setenv("WAVELENS_MAX_DATA_BYTES", "20")  # below the file's size
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "list.csv")
    _one_line(excinfo, "reading", "list.csv", "WAVELENS_MAX_DATA_BYTES")
    monkeypatch.setenv("WAVELENS_MAX_DATA_BYTES", "400")  # above the file, below its rows in memory
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "list.csv")
    _one_line(excinfo, "list.csv (the text of its 3 rows", "WAVELENS_MAX_DATA_BYTES")
    monkeypatch.delenv("WAVELENS_MAX_DATA_BYTES")
    _save(tmp_path / "big.png", np.zeros((40, 40), np.uint8))
    _write_csv(tmp_path / "big.csv", ["path,label", "0.png,a", "big.png,b"])
    monkeypatch.setenv("WAVELENS_MAX_IMAGE_PIXELS", "100")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "big.csv", resize=(4, 4))
    _one_line(excinfo, "big.csv line 3: ", "big.png", "WAVELENS_MAX_IMAGE_PIXELS")


def test_unreadable_csv(tmp_path, monkeypatch):
    from wavelens.datasets import _table

    (tmp_path / "list.csv").write_text("path,label\n")

    def refuse(file, mode="r", *args, **kwargs):
        raise PermissionError(13, "Permission denied", os.fspath(file))

    monkeypatch.setattr(_table, "open", refuse, raising=False)
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "list.csv", split="all")
    _one_line(excinfo, "list.csv cannot be read (Permission denied)")


def test_missing_csv(tmp_path):
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "list.csv")
    _one_line(excinfo, "list.csv' does not exist")


def test_csv_input_is_not_changed(tmp_path, rng):
    _good_images(tmp_path, rng)
    _write_csv(tmp_path / "list.csv", ["path,label", "0.png,a", "1.png,b"])
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    load_dataset(tmp_path / "list.csv")
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_parquet_table(tmp_path, rng):
    _good_images(tmp_path, rng)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        (tmp_path / "list.parquet").write_bytes(b"PAR1")
        with pytest.raises(WavelensError) as excinfo:
            load_dataset(tmp_path / "list.parquet")
        _one_line(excinfo, "list.parquet: reading parquet files needs pyarrow", "pip install pyarrow")
        return
    pq.write_table(pa.table({"path": ["0.png", "1.png", "2.png"], "label": [3, 1, 3],
                             "split": ["train", "test", "train"]}), tmp_path / "list.parquet")
    assert default_split(str(tmp_path / "list.parquet")) == "train"
    data = load_dataset(tmp_path / "list.parquet")
    assert data.ids.tolist() == ["0.png", "2.png"] and data.class_names == ["1", "3"]  # the classes of both splits
    assert data.labels.tolist() == [1, 1]
    pq.write_table(pa.table({"path": ["0.png", None]}), tmp_path / "null.parquet")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "null.parquet")
    _one_line(excinfo, "null.parquet row 3 has no path (null)")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really PAR1")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(tmp_path / "bad.parquet")
    _one_line(excinfo, "bad.parquet is not a readable parquet file")


# --- unlabeled images -------------------------------------------------------------------------------

def test_unlabeled_folder(tmp_path, rng):
    _good_images(tmp_path / "data", rng)
    (tmp_path / "data" / "empty").mkdir()  # a sub-folder without images does not make it labeled
    data = load_dataset(tmp_path / "data")
    assert not data.labeled and data.class_names == [UNLABELED] and data.labels.tolist() == [0, 0, 0]
    assert data.ids.tolist() == ["0.png", "1.png", "2.png"]
    small = stratified_subsample(data, 2, 0)
    assert not small.labeled and small.class_names == [UNLABELED] and small.n_images == 2


def test_unlabeled_folder_with_splits(tmp_path, rng):
    _good_images(tmp_path / "train", rng, 3)
    _good_images(tmp_path / "test", rng, 2)
    assert default_split(str(tmp_path)) == "train"
    data = load_dataset(tmp_path, split="all")
    assert not data.labeled and data.ids.tolist() == ["train/0.png", "train/1.png", "train/2.png", "test/0.png",
                                                      "test/1.png"]


def test_images_beside_class_folders_are_not_part_of_a_labeled_folder(tmp_path, rng):
    _class_folder(tmp_path, rng, (("a", 1), ("b", 1)))
    _save(tmp_path / "preview.png", np.zeros((6, 5), np.uint8))
    data = load_dataset(tmp_path)
    assert data.labeled and data.ids.tolist() == ["a/0.png", "b/0.png"]


def test_unlabeled_csv(tmp_path, rng):
    _good_images(tmp_path, rng)
    _write_csv(tmp_path / "list.csv", ["path", "2.png", "0.png"])
    data = load_dataset(tmp_path / "list.csv")
    assert not data.labeled and data.class_names == [UNLABELED] and data.labels.tolist() == [0, 0]
    assert data.ids.tolist() == ["2.png", "0.png"]


def test_labeled_is_true_for_labeled_data():
    assert load_dataset("digits", limit=20).labeled


# --- arrays -----------------------------------------------------------------------------------------

def test_from_arrays_string_labels(rng):
    images = rng.integers(0, 256, (5, 4, 4), dtype=np.uint8)
    data = from_arrays(images, np.array(["dog", "cat", "dog", "bird", "cat"]))
    assert data.class_names == ["bird", "cat", "dog"] and data.labels.tolist() == [2, 1, 2, 0, 1]
    assert data.labeled and data.name == "arrays" and data.split == "all" and data.source == "from_arrays"
    assert data.ids.tolist() == ["0", "1", "2", "3", "4"] and data.paths is None
    ordered = from_arrays(images, ["dog", "cat", "dog", "bird", "cat"], class_names=["dog", "cat", "bird"])
    assert ordered.labels.tolist() == [0, 1, 0, 2, 1]
    with pytest.raises(WavelensError) as excinfo:
        from_arrays(images, ["dog", "cat", "dog", "emu", "cat"], class_names=["dog", "cat"])
    _one_line(excinfo, "from_arrays: the label 'emu' is not one of class_names")
    assert from_arrays(images, np.array([b"b", b"a", b"b", b"a", b"a"])).class_names == ["a", "b"]
    assert from_arrays(images, [3, 0, 1, 0, 3], class_names=list("wxyz")).class_names == list("wxyz")


@pytest.mark.parametrize("dtype, top", [(np.uint8, 255), (np.uint16, 65535)])
def test_from_arrays_unsigned_pixels_are_kept_and_scaled_by_their_type(rng, dtype, top):
    pixels = rng.integers(0, top + 1, (4, 5, 3), dtype=dtype)
    data = from_arrays(pixels, [0, 1, 0, 1])
    assert data.pixels is pixels and data.pixel_max == top  # no float copy
    np.testing.assert_array_equal(data.images, to_unit_float32(pixels, "x"))
    np.testing.assert_array_equal(data.images, Dataset(pixels, [0, 1, 0, 1], None, name="d", split="all",
                                                       source="m").images)
    np.testing.assert_allclose(data.images, pixels / top, rtol=1e-7)


@pytest.mark.parametrize("values", [np.linspace(0, 255, 48), np.linspace(-0.5, 1.0, 48), np.linspace(-3, 2, 48)])
def test_from_arrays_float_pixels_follow_the_dataset_rule(values):
    images = values.reshape(3, 4, 4)
    data = from_arrays(images, [0, 1, 1])
    np.testing.assert_array_equal(data.images, Dataset(images, [0, 1, 1], None, name="d", split="all",
                                                       source="m").images)
    scale = max(1.0, np.abs(values).max())
    np.testing.assert_allclose(data.images, images / scale, rtol=1e-6)


def test_from_arrays_channels_ids_paths_and_unlabeled(rng, tmp_path):
    colour = from_arrays(rng.random((2, 4, 4, 3)), split="test", name="mine")
    assert colour.image_shape == (4, 4, 3) and colour.ids.tolist() == ["test/0", "test/1"]
    assert not colour.labeled and colour.class_names == [UNLABELED] and colour.name == "mine"
    assert from_arrays(rng.random((2, 4, 4, 1)), [0, 1]).image_shape == (4, 4)
    named = from_arrays(rng.random((2, 4, 4)), [0, 1], ids=["x/a", "x/b"], paths=["a.png", tmp_path / "b.png"])
    assert named.ids.tolist() == ["x/a", "x/b"]
    assert named.paths.tolist() == [os.path.abspath("a.png"), str(tmp_path / "b.png")]
    kept = stratified_subsample(named, 1, 0)
    assert kept.ids.tolist() == named.ids[kept.index].tolist()
    assert kept.paths.tolist() == named.paths[kept.index].tolist()


@pytest.mark.parametrize("call, parts", [
    (lambda: from_arrays(np.zeros((2, 4, 4)), [0, 1], split="valid"),
     ["'split' parameter must be one of train, test, all", "'valid'"]),
    (lambda: from_arrays([np.zeros((4, 4)), np.zeros((3, 3))], [0, 1]), ["'images' parameter must be one array"]),
    (lambda: from_arrays(np.zeros((4, 4)), [0]), ["from_arrays: images must have shape (n, height, width)"]),
    (lambda: from_arrays(np.zeros((2, 4, 4), complex), [0, 1]), ["pixel type complex128"]),
    (lambda: from_arrays(np.full((2, 4, 4), np.nan), [0, 1]), ["NaN or infinite"]),
    (lambda: from_arrays(np.zeros((2, 4, 4)), [0, 1, 1]), ["2 images but 3 labels"]),
    (lambda: from_arrays(np.zeros((2, 4, 4)), ["a", "b", "c"]), ["2 images but 3 labels"]),
    (lambda: from_arrays(np.zeros((2, 4, 4)), [0, -1]), ["labels must be class numbers >= 0"]),
    (lambda: from_arrays(np.zeros((2, 4, 4)), [0.5, 1]), ["labels must be whole numbers"]),
    (lambda: from_arrays(np.zeros((2, 4, 4)), [0, 1], ids=["a", "a"]), ["ids must be unique"]),
    (lambda: from_arrays(np.zeros((2, 4, 4)), [0, 1], paths=["a.png"]), ["paths must be a 1-d array of 2"]),
    (lambda: from_arrays(np.zeros((2, 4, 4)), class_names=["a"]), ["class_names were given without labels"]),
    (lambda: from_arrays(np.zeros((2, 4, 4)), ["a", "b"], class_names=["a", "a", "b"]),
     ["class_names names 'a' twice"]),
    (lambda: from_arrays(np.zeros((2, 4, 4)), [0, 1], name=3), ["'name' parameter must be text"]),
])
def test_from_arrays_bad_input_is_one_line_error(call, parts):
    with pytest.raises(WavelensError) as excinfo:
        call()
    _one_line(excinfo, *parts)


def test_from_arrays_is_exported():
    import wavelens.datasets as datasets

    assert "from_arrays" in datasets.__all__ and datasets.from_arrays is from_arrays


def test_doctests_of_the_datasets_package():
    """The examples in the docstrings run (as ``pytest --doctest-modules src/wavelens/datasets/``)."""
    folder = Path(__import__("wavelens.datasets").datasets.__file__).parent
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--doctest-modules",
                             str(folder)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
