"""Hugging Face input: datasets.Dataset, DatasetDict and save_to_disk folders, read offline, with the
pixel rules of image folders; and every bad input as one line."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image as PILImage

datasets = pytest.importorskip("datasets")

import pyarrow as pa  # noqa: E402 - installed with datasets
from datasets import Array2D, Array3D, ClassLabel, DatasetDict, Features, Image, Value  # noqa: E402
from datasets import Dataset as HFDataset  # noqa: E402

import wavelens  # noqa: E402
from conftest import run_cli  # noqa: E402
from wavelens import WavelensError, from_huggingface, load_dataset  # noqa: E402
from wavelens.datasets import UNLABELED  # noqa: E402

CLASSES = ["cat", "dog", "owl"]


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """Nothing may reach the network, and Hugging Face's caches stay in the test's folder."""
    cache = tmp_path / "hf-cache"
    for name, value in (("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1"), ("HF_HOME", cache),
                        ("HF_DATASETS_CACHE", cache / "datasets")):
        monkeypatch.setenv(name, str(value))  # for the command line's subprocesses
    # datasets reads these once, on import.
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache / "datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)

    def no_download(*args, **kwargs):
        raise AssertionError("datasets.load_dataset was called")

    monkeypatch.setattr(datasets, "load_dataset", no_download)
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


def gray_images(n=6, shape=(4, 6)):
    """Distinct uint8 images of known pixels."""
    return [((np.arange(shape[0] * shape[1]).reshape(shape) * (k + 1) * 7 + k) % 256).astype(np.uint8)
            for k in range(n)]


def hf_images(images, labels=None, names=CLASSES):
    """A datasets.Dataset of an Image column (PNG bytes) and, if given, a ClassLabel column."""
    columns, features = {"image": list(images)}, {"image": Image()}
    if labels is not None:
        columns["label"], features["label"] = list(labels), ClassLabel(names=names)
    return HFDataset.from_dict(columns, features=Features(features))


def one_line_error(call, match):
    with pytest.raises(WavelensError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and match in message, message
    return message


def assert_same(a, b):
    np.testing.assert_array_equal(a.images, b.images)
    assert a.stored[0].dtype == b.stored[0].dtype
    assert a.labels.tolist() == b.labels.tolist() and a.class_names == b.class_names
    assert a.ids.tolist() == b.ids.tolist() and a.labeled == b.labeled


def test_image_column_and_class_labels():
    images = gray_images()
    labels = [0, 2, 1, 2, 0, 1]
    d = from_huggingface(hf_images(images, labels))
    assert d.pixels.dtype == np.uint8 and d.pixel_max == 255
    np.testing.assert_array_equal(d.pixels, np.stack(images))
    assert d.labels.tolist() == labels and d.class_names == CLASSES and d.labeled
    assert d.ids.tolist() == [str(i) for i in range(6)]
    assert d.paths is None and d.split == "all"
    assert d.source == "Hugging Face dataset" and d.name == "huggingface"
    assert from_huggingface(hf_images(images, labels), name="pets").name == "pets"
    assert_same(load_dataset(hf_images(images, labels)), d)  # load_dataset takes the object too
    chosen = from_huggingface(hf_images(images, labels).select([4, 1]))  # rows in the dataset's order
    np.testing.assert_array_equal(chosen.pixels, np.stack([images[4], images[1]]))
    assert chosen.labels.tolist() == [0, 2] and chosen.ids.tolist() == ["0", "1"]


def write_images(folder, images):
    """Save PIL images as PNG files 0.png, 1.png... in ``folder``; return the files."""
    folder.mkdir(parents=True)
    files = [folder / f"{i}.png" for i in range(len(images))]
    for image, file in zip(images, files):
        image.save(file)
    return files


def mixed_modes():
    """8-bit images of every kind of colour and alpha, 4x6 each."""
    base = gray_images(4)
    rgb = np.stack([base[0], base[1], base[2]], axis=-1)
    rgba = np.dstack([rgb, np.array([0, 128, 255, 64, 200, 10] * 4, np.uint8).reshape(4, 6)])
    palette = PILImage.fromarray(base[3] % 4).convert("P")
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    palette.info["transparency"] = 2
    return [PILImage.fromarray(base[0]), PILImage.fromarray(rgb), PILImage.fromarray(rgba, "RGBA"),
            PILImage.fromarray(np.dstack([base[1], base[2]]), "LA"), palette]


@pytest.mark.parametrize("kind", ["8-bit modes", "16-bit"])
def test_pixels_follow_the_image_folder_rules(tmp_path, kind):
    if kind == "16-bit":
        deep = PILImage.fromarray((np.arange(24).reshape(4, 6) * 2500).astype(np.uint16))
        images = [deep, PILImage.fromarray(gray_images(1)[0])]
    else:
        images = mixed_modes()
    files = write_images(tmp_path / "flat", images)
    folder = load_dataset(tmp_path / "flat")
    assert folder.pixels.dtype == (np.uint16 if kind == "16-bit" else np.uint8)
    stored = HFDataset.from_dict({"image": [{"bytes": f.read_bytes(), "path": None} for f in files]},
                                 features=Features({"image": Image()}))
    d = from_huggingface(stored)
    np.testing.assert_array_equal(d.pixels, folder.pixels)
    assert d.pixels.dtype == folder.pixels.dtype and not d.labeled and d.class_names == [UNLABELED]
    # Images held as paths are read from those files, which are then the images' paths.
    by_path = from_huggingface(HFDataset.from_dict({"image": [str(f) for f in files]},
                                                   features=Features({"image": Image()})))
    np.testing.assert_array_equal(by_path.pixels, folder.pixels)
    assert by_path.paths.tolist() == folder.paths.tolist()


def test_file_paths_and_save_to_disk(tmp_path):
    files = write_images(tmp_path / "files", [PILImage.fromarray(a) for a in gray_images(3)])
    hf = HFDataset.from_dict({"image": [str(f) for f in files], "label": ["b", "a", "b"]},
                             features=Features({"image": Image(), "label": Value("string")}))
    d = from_huggingface(hf)
    assert d.paths.tolist() == [str(f) for f in files]
    assert d.class_names == ["a", "b"] and d.labels.tolist() == [1, 0, 1]
    hf.save_to_disk(tmp_path / "saved")  # save_to_disk stores the images' bytes: no file paths then
    saved = load_dataset(tmp_path / "saved")
    assert_same(saved, d)
    assert saved.paths is None and saved.source == str(tmp_path / "saved") and saved.name == "saved"
    assert str(tmp_path / "saved") in saved.input_paths


def test_dataset_dict_splits_and_save_to_disk(tmp_path):
    images = gray_images(7)
    train, test = hf_images(images[:4], [0, 1, 2, 0]), hf_images(images[4:], [2, 2, 1])
    dd = DatasetDict({"train": train, "test": test})
    d = from_huggingface(dd)
    assert d.split == "train" and d.ids.tolist() == ["train/0", "train/1", "train/2", "train/3"]
    np.testing.assert_array_equal(d.pixels, np.stack(images[:4]))
    t = from_huggingface(dd, split="test")
    assert t.ids.tolist() == ["test/0", "test/1", "test/2"] and t.labels.tolist() == [2, 2, 1]
    every = from_huggingface(dd, split="all")
    assert every.split == "all" and every.ids.tolist() == d.ids.tolist() + t.ids.tolist()
    np.testing.assert_array_equal(every.pixels, np.stack(images))
    only = from_huggingface(DatasetDict({"validation": test}))  # no train split: all of them
    assert_same(load_dataset(DatasetDict({"validation": test, "test": train}), split="validation"), only)
    assert only.split == "all" and only.ids.tolist() == ["validation/0", "validation/1", "validation/2"]
    dd.save_to_disk(tmp_path / "dd")
    for split, expected in ((None, d), ("test", t), ("all", every)):
        assert_same(load_dataset(tmp_path / "dd", split=split), expected)
    assert load_dataset(tmp_path / "dd", split="test", limit=2).n_images == 2
    test.save_to_disk(tmp_path / "one")
    assert_same(load_dataset(str(tmp_path / "one")), from_huggingface(test))


def test_digits_as_arrays():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    digits = load_dataset("digits")
    names = [str(c) for c in bunch.target_names]
    as_float = HFDataset.from_dict({"pixels": bunch.images, "digit": bunch.target},
                                   features=Features({"pixels": Array2D((8, 8), "float64"),
                                                      "digit": ClassLabel(names=names)}))
    d = from_huggingface(as_float)
    np.testing.assert_array_equal(d.images, digits.images)  # 0..16 over 16, as the built-in digits
    assert d.labels.tolist() == digits.labels.tolist() and d.class_names == digits.class_names
    assert d.ids.tolist() == digits.ids.tolist()
    # Plain lists of numbers, found by their column names; integer labels name their classes by number.
    plain = from_huggingface(HFDataset.from_dict({"image": bunch.images, "label": bunch.target}))
    np.testing.assert_array_equal(plain.images, digits.images)
    assert plain.class_names == names
    # uint8 arrays are kept as uint8 pixels.
    as_uint8 = (bunch.images * 15).astype(np.uint8)
    small = HFDataset.from_dict({"img": as_uint8[:50]}, features=Features({"img": Array2D((8, 8), "uint8")}))
    d8 = from_huggingface(small)
    assert d8.pixels.dtype == np.uint8 and not d8.labeled
    np.testing.assert_array_equal(d8.pixels, as_uint8[:50])
    # Channels first, as image processors write pixel_values, become channels last.
    planes = np.random.default_rng(0).random((5, 3, 8, 6), dtype=np.float32)
    processed = HFDataset.from_dict({"pixel_values": planes, "label": [0, 1, 0, 1, 0]},
                                    features=Features({"pixel_values": Array3D((3, 8, 6), "float32"),
                                                       "label": ClassLabel(names=["a", "b"])}))
    np.testing.assert_array_equal(from_huggingface(processed).images, planes.transpose(0, 2, 3, 1))


def test_labels_optional_and_chosen():
    images = gray_images(4)
    unlabeled = from_huggingface(hf_images(images))
    assert not unlabeled.labeled and unlabeled.class_names == [UNLABELED]
    no_labels = from_huggingface(hf_images(images, [-1] * 4))  # ClassLabel's "no label"
    assert not no_labels.labeled
    two = HFDataset.from_dict({"image": images, "coarse": [0, 0, 1, 1], "fine_label": [0, 1, 2, 3]},
                              features=Features({"image": Image(), "coarse": ClassLabel(names=["x", "y"]),
                                                 "fine_label": ClassLabel(names=list("abcd"))}))
    assert from_huggingface(two).class_names == list("abcd")
    assert from_huggingface(two, label_column="coarse").labels.tolist() == [0, 0, 1, 1]


def test_resize_brings_images_to_one_size():
    hf = hf_images([np.zeros((4, 6), np.uint8), np.full((8, 5), 200, np.uint8)], [0, 1])
    d = from_huggingface(hf, resize=(4, 4))
    assert d.image_shape == (4, 4) and d.pixels[1].min() == 200


def test_analyze_and_the_command_line(tmp_path):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images * 15).astype(np.uint8)
    names = [str(c) for c in bunch.target_names]
    hf = DatasetDict({"train": hf_images(images[:600], bunch.target[:600], names),
                      "test": hf_images(images[600:800], bunch.target[600:800], names)})
    hf.save_to_disk(tmp_path / "digits-hf")
    data = load_dataset(tmp_path / "digits-hf", limit=300)
    result = wavelens.analyze(data, random_repeats=2, n_patterns=20, n_jobs=1)
    assert len(result.per_image) == 300 and result.per_image["id"].str.startswith("train/").all()
    assert "300 images of 8x8" in result.summary()

    out = tmp_path / "out"
    run = run_cli("analyze", tmp_path / "digits-hf", "--split", "test", "--out", out, "--no-report")
    assert run.returncode == 0, run.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"] == {"name": "digits-hf", "split": "test", "source": str(tmp_path / "digits-hf"),
                                  "n_images": 200, "image_shape": [8, 8], "n_classes": 10, "class_names": names}
    ids = (out / "per_image.csv").read_text().splitlines()[1:]
    assert [line.split(",")[0] for line in ids] == [f"test/{i}" for i in range(200)]


def test_importing_wavelens_does_not_import_datasets():
    code = ("import sys, wavelens; wavelens.load_dataset('digits', limit=20); wavelens.from_huggingface; "
            "assert 'datasets' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_test_split_of_a_saved_or_held_dataset_dict(tmp_path):
    import pickle

    images = gray_images(7)
    train, test = hf_images(images[:4], [0, 1, 2, 0]), hf_images(images[4:], [2, 2, 1])
    DatasetDict({"train": train, "test": test}).save_to_disk(tmp_path / "both")
    DatasetDict({"train": train, "validation": test}).save_to_disk(tmp_path / "no_test")
    assert wavelens.load_test_split(load_dataset(tmp_path / "both", split="train")).n_images == 3
    assert wavelens.load_test_split(load_dataset(tmp_path / "no_test", split="train")) is None
    held = load_dataset(DatasetDict({"train": train, "test": test}), split="train")
    assert wavelens.load_test_split(held).n_images == 3
    # A copy of the dataset does not carry the Hugging Face object it was read from.
    assert wavelens.load_test_split(pickle.loads(pickle.dumps(held))) is None


def save(tmp_path, hf, name="saved"):
    hf.save_to_disk(tmp_path / name)
    return tmp_path / name


def damaged_offsets(tmp_path):
    """A save_to_disk folder whose Arrow file has image offsets that go backwards (Arrow's quick check passes)."""
    folder = save(tmp_path, hf_images(gray_images(3), [0, 1, 0]))
    arrow = next(folder.glob("*.arrow"))
    with pa.memory_map(str(arrow)) as source:
        table = pa.ipc.open_stream(source).read_all()
    offsets = pa.py_buffer(np.array([0, 15, 3, 20], np.int32).tobytes())
    data = pa.Array.from_buffers(pa.binary(), 3, [None, offsets, pa.py_buffer(b"x" * 20)])
    image = pa.StructArray.from_arrays([data, pa.array([None] * 3, pa.string())], names=["bytes", "path"])
    bad = pa.Table.from_arrays([image, table.column("label").combine_chunks()], schema=table.schema)
    with pa.OSFile(str(arrow), "wb") as sink, pa.ipc.new_stream(sink, bad.schema) as writer:
        writer.write_table(bad)
    return folder


def only_state_json(tmp_path):
    folder = save(tmp_path, hf_images(gray_images(2)))
    (folder / "dataset_info.json").unlink()
    return folder


def garbage_arrow(tmp_path):
    folder = save(tmp_path, hf_images(gray_images(2)))
    next(folder.glob("*.arrow")).write_bytes(b"not arrow at all" * 20)
    return folder


def truncated_arrow(tmp_path):
    folder = save(tmp_path, hf_images(gray_images(5)))
    arrow = next(folder.glob("*.arrow"))
    arrow.write_bytes(arrow.read_bytes()[:300])
    return folder


def mixed_sizes(tmp_path):
    return save(tmp_path, hf_images([np.zeros((4, 6), np.uint8), np.zeros((5, 6), np.uint8)], [0, 1]))


def two_image_columns():
    return HFDataset.from_dict({"a": gray_images(2), "b": gray_images(2)},
                               features=Features({"a": Image(), "b": Image()}))


def raw_images(values):
    return HFDataset.from_dict({"image": values}, features=Features({"image": Image()}))


# (what, make(tmp_path) -> the input, keyword arguments, the message)
BAD = [
    ("not a save_to_disk folder", only_state_json, {}, "is not a folder written by save_to_disk: it has only "
     "state.json, while a Dataset's folder has dataset_info.json and state.json, and a DatasetDict's "
     "dataset_dict.json; save the dataset with save_to_disk and pass that folder."),
    ("an empty folder", lambda p: p, {}, "is not a folder written by save_to_disk: it has none of these files"),
    ("no such folder", lambda p: p / "mnist", {}, "does not exist; give the folder written by save_to_disk "
     "(wavelens never downloads"),
    ("garbage Arrow file", garbage_arrow, {}, "is not a readable save_to_disk folder (ArrowInvalid"),
    ("truncated Arrow file", truncated_arrow, {}, "is not a readable save_to_disk folder ("),
    ("offsets going backwards", damaged_offsets, {}, "its Arrow data is damaged (ArrowInvalid: Column 0: In chunk 0: "
     "Invalid: Struct child array #0 invalid: Invalid: Offset invariant failure: non-monotonic offset"),
    ("images of two sizes", mixed_sizes, {}, "images have 2 different sizes (e.g. image 0 is 4x6, image 1 is "
     "5x6); pass resize=(H, W) to bring them to one size."),
    ("an unknown split", lambda p: DatasetDict({"train": hf_images(gray_images(2))}), {"split": "test"},
     "Hugging Face dataset has no split 'test'; its splits are train: use one of them, or split='all' for all."),
    ("a split of a single Dataset", lambda p: hf_images(gray_images(2)), {"split": "train"},
     "Hugging Face dataset holds a single split, not 'train'; use split='all'."),
    ("an unknown image column", lambda p: hf_images(gray_images(2), [0, 1]), {"image_column": "pixels"},
     "Hugging Face dataset has no column 'pixels' (its columns: image, label); name the column of images with "
     "image_column."),
    ("labels as the image column", lambda p: hf_images(gray_images(2), [0, 1]), {"image_column": "label"},
     "the column 'label' holds ClassLabel(names=['cat', 'dog', 'owl']), not images"),
    ("no image column", lambda p: HFDataset.from_dict({"text": ["a", "b"], "label": [0, 1]}), {},
     "Hugging Face dataset has no column of images (its columns: text, label); name the column of Image "
     "features or of arrays of pixels with image_column."),
    ("two image columns", lambda p: two_image_columns(), {}, "has several columns of images (a, b); choose one "
     "with image_column."),
    ("an unknown label column", lambda p: hf_images(gray_images(2), [0, 1]), {"label_column": "class"},
     "has no column 'class' of labels (its columns: image, label)"),
    ("a label column of lists", lambda p: HFDataset.from_dict({"image": gray_images(2), "label": [[0], [1]]}),
     {}, "), not one label per image; name the column of labels (ClassLabel, integers or text) with label_column."),
    ("labels missing from some rows", lambda p: hf_images(gray_images(3), [0, -1, 1]), {},
     "image 1 has no label (-1) in the column 'label' while others have one"),
    ("a null label", lambda p: HFDataset.from_dict({"image": gray_images(2), "label": [1, None]},
                                                   features=Features({"image": Image(), "label": Value("int64")})),
     {}, "image 1 has no label (null) in the column 'label'; give every row a label."),
    ("a null image", lambda p: raw_images([gray_images(1)[0], None]), {}, "image 1 is missing (null)"),
    ("bytes that are no image", lambda p: raw_images([{"bytes": b"not an image", "path": None}]), {},
     "Hugging Face dataset: image 0 is not a readable image (cannot identify image file <_io.BufferedReader "
     "name='0'>); remove or replace it."),
    ("an image at a URL", lambda p: raw_images([{"bytes": None, "path": "https://example.com/0.png"}]), {},
     "image 0 is the address 'https://example.com/0.png', not data; wavelens never downloads"),
    ("an image at a missing path", lambda p: raw_images([{"bytes": None, "path": str(p / "gone.png")}]), {},
     "image 0 is held as the path"),
    ("arrays of two shapes", lambda p: HFDataset.from_dict({"image": [np.zeros((2, 3)), np.zeros((3, 3))]}), {},
     "the arrays of the column 'image' differ in shape (image 0 and image 1)"),
    ("an empty dataset", lambda p: hf_images([]), {}, "the dataset is empty (0 rows)"),
    ("a streaming dataset", lambda p: hf_images(gray_images(2)).to_iterable_dataset(), {},
     "A streaming IterableDataset cannot be read"),
    ("a list", lambda p: [1, 2], {}, "Expected a datasets.Dataset, a datasets.DatasetDict or the folder"),
    ("a split that is not text", lambda p: hf_images(gray_images(2)), {"split": 1},
     "The 'split' parameter must be text. Got int instead."),
]


@pytest.mark.parametrize("what, make, kwargs, message", BAD, ids=[case[0] for case in BAD])
def test_bad_input(tmp_path, what, make, kwargs, message):
    given = make(tmp_path)
    one_line_error(lambda: from_huggingface(given, **kwargs), message)


def test_without_datasets_installed(tmp_path, monkeypatch):
    folder = save(tmp_path, hf_images(gray_images(2)))
    monkeypatch.setitem(sys.modules, "datasets", None)
    one_line_error(lambda: from_huggingface(folder), "needs the optional package datasets, which is not "
                   "installed: pip install 'wavelens[huggingface]'.")
    one_line_error(lambda: load_dataset(folder), "pip install 'wavelens[huggingface]'")


# (make(tmp_path) -> folder, extra arguments, the message as the command line says it)
CLI_BAD = [
    (only_state_json, [], "is not a folder written by save_to_disk"),
    (garbage_arrow, [], "is not a readable save_to_disk folder (ArrowInvalid"),
    (damaged_offsets, [], "its Arrow data is damaged"),
    (mixed_sizes, [], "pass --resize HxW to bring them to one size."),
    (lambda p: save(p, hf_images(gray_images(2))), ["--split", "test"], "holds a single split, not 'test'; use "
     "--split all."),
]


@pytest.mark.parametrize("make, extra, message", CLI_BAD, ids=["state-only", "garbage", "offsets", "sizes", "split"])
def test_bad_input_on_the_command_line(tmp_path, make, extra, message):
    folder = make(tmp_path)
    result = run_cli("analyze", folder, *extra, "--out", tmp_path / "out", "--no-report")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wavelens: error: ") and message in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


def test_without_datasets_on_the_command_line(tmp_path):
    folder = save(tmp_path, hf_images(gray_images(2)))
    code = ("import sys; sys.modules['datasets'] = None; from wavelens.cli import main; "
            f"main(['analyze', {str(folder)!r}, '--out', {str(tmp_path / 'out')!r}, '--no-report'])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("wavelens: error: Reading Hugging Face datasets needs the optional package "
                                     "datasets, which is not installed: pip install 'wavelens[huggingface]'.")
