"""The bad-input and fault matrix: every case gives one line, a known exit status, and harm to nothing.

Each case runs the real entry point (``wavelens.cli.main``) in this process
(or, for signals, in a subprocess) and checks:

- the exit status (2 for bad input, 128 + N for signal N) and exactly one
  line on stderr, ``wavelens: error: ...``, saying what the case is about;
- no traceback;
- nothing under the test's folder changed except ``--out`` (every input and
  every unrelated file keeps its bytes; the world is hashed before and after);
- no staging folder (``.NAME.tmp-*``) or moved-away result (``.NAME.old-*``)
  is left anywhere, and a failed run leaves no ``--out`` behind.
"""

import gzip
import hashlib
import io
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import idx_bytes, write_cifar_folder, write_idx_folder
from wavelens.cli import main


# --- the world: inputs and unrelated files, built once ----------------------------------------------

def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _zip_member(path, name, payload, method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", method) as archive:
        archive.writestr(name, payload)
    return path


def _npy_header_only(shape, dtype="<f4"):
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return b"\x93NUMPY\x01\x00" if False else buffer.getvalue()


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _png_with_size(path, width, height):
    """A valid 1x1 PNG whose header then claims ``width`` x ``height`` (CRC fixed)."""
    import zlib

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def _pickle_global(module, name):
    return b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n"


def _build_world(root):
    rng = np.random.default_rng(7)
    w = {}
    images = rng.integers(0, 256, (40, 8, 8), dtype=np.uint8)
    labels = np.arange(40) % 4
    w["good_npz"] = _npz(root / "good.npz", images=images, labels=labels)
    w["idx"] = write_idx_folder(root / "idx", images, labels)
    w["npz_9x9"] = _npz(root / "nine.npz", images=rng.integers(0, 256, (10, 9, 9), dtype=np.uint8),
                        labels=np.arange(10) % 2)
    # a good image folder, and a thesis folder nothing may touch
    folder = root / "folder"
    for c in range(3):
        (folder / f"class{c}").mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"class{c}" / f"{i}.png")
    w["folder"] = folder
    thesis = root / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("precious")
    w["thesis"] = thesis
    w["link_to_folder"] = root / "link_to_folder"
    w["link_to_folder"].symlink_to(folder, target_is_directory=True)
    w["file"] = root / "notes.txt"
    w["file"].write_text("a file, not a folder")

    # npz: every way its content can be wrong
    f = lambda name: root / f"{name}.npz"  # noqa: E731
    w["npz_not_zip"] = root / "not_zip.npz"
    w["npz_not_zip"].write_bytes(b"this is not a zip file at all")
    w["npz_empty_file"] = root / "empty_file.npz"
    w["npz_empty_file"].write_bytes(b"")
    w["npz_no_images"] = _npz(f("no_images"), labels=labels)
    w["npz_no_labels"] = _npz(f("no_labels"), images=images)
    w["npz_labels_2d"] = _npz(f("labels_2d"), images=images, labels=labels.reshape(20, 2))
    w["npz_labels_0d"] = _npz(f("labels_0d"), images=images, labels=np.array(3))
    w["npz_labels_float"] = _npz(f("labels_float"), images=images, labels=labels + 0.5)
    w["npz_labels_nan"] = _npz(f("labels_nan"), images=images, labels=np.where(labels == 0, np.nan, labels))
    w["npz_labels_negative"] = _npz(f("labels_negative"), images=images, labels=labels - 1)
    w["npz_labels_negative_float"] = _npz(f("labels_negative_float"), images=images, labels=(labels - 1.0))
    w["npz_labels_huge"] = _npz(f("labels_huge"), images=images, labels=np.where(labels == 0, 2**31 - 1, labels))
    w["npz_labels_uint64"] = _npz(f("labels_uint64"), images=images,
                                  labels=np.where(labels == 0, 2**64 - 1, labels).astype(np.uint64))
    w["npz_labels_float_huge"] = _npz(f("labels_float_huge"), images=images, labels=np.where(labels == 0, 1e300, labels))
    w["npz_labels_complex"] = _npz(f("labels_complex"), images=images, labels=labels + 0j)
    w["npz_count_mismatch"] = _npz(f("count_mismatch"), images=images, labels=labels[:-1])
    w["npz_images_2d"] = _npz(f("images_2d"), images=images.reshape(40, 64), labels=labels)
    w["npz_images_5d"] = _npz(f("images_5d"), images=images.reshape(40, 2, 2, 4, 4), labels=labels)
    w["npz_images_complex"] = _npz(f("images_complex"), images=images + 1j, labels=labels)
    w["npz_images_str"] = _npz(f("images_str"), images=images.astype(str), labels=labels)
    nan = images.astype(np.float64)
    nan[3, 2, 2] = np.nan
    w["npz_images_nan"] = _npz(f("images_nan"), images=nan, labels=labels)
    inf = images.astype(np.float64)
    inf[3, 2, 2] = np.inf
    w["npz_images_inf"] = _npz(f("images_inf"), images=inf, labels=labels)
    w["npz_zero_images"] = _npz(f("zero_images"), images=images[:0], labels=labels[:0])
    w["npz_zero_size"] = _npz(f("zero_size"), images=np.zeros((40, 0, 8)), labels=labels)
    w["npz_zero_channels"] = _npz(f("zero_channels"), images=np.zeros((40, 8, 8, 0)), labels=labels)
    w["npz_bytes_labels"] = _npz(f("bytes_labels"), images=images, labels=np.array([b"a\xff", b"b"] * 20))
    w["newline_path"] = root / "two\nlines.npz"
    w["newline_path"].write_bytes(b"not a zip")
    w["npz_one_class"] = _npz(f("one_class"), images=images, labels=np.zeros(40, int))
    w["npz_few_names"] = _npz(f("few_names"), images=images, labels=labels, class_names=np.array(["a", "b"]))
    w["npz_names_2d"] = _npz(f("names_2d"), images=images, labels=labels,
                             class_names=np.array([["a", "b"], ["c", "d"]]))
    w["npz_names_0d"] = _npz(f("names_0d"), images=images, labels=labels, class_names=np.array("abcd"))
    w["npz_object"] = root / "object.npz"
    np.savez(w["npz_object"], images=np.array([images[0], None], dtype=object), labels=labels[:2])
    w["npz_single_array"] = root / "single.npz"
    with open(w["npz_single_array"], "wb") as handle:
        np.save(handle, images)
    huge = _npy_header_only((10**6, 10**6))
    w["npz_huge_shape"] = _zip_member(root / "huge_shape.npz", "images.npy", huge + b"\0" * 64)
    with zipfile.ZipFile(w["npz_huge_shape"], "a") as archive:
        archive.writestr("labels.npy", _npy_bytes(labels))
    w["npz_truncated_member"] = _zip_member(root / "truncated_member.npz", "images.npy", _npy_bytes(images)[:300])
    with zipfile.ZipFile(w["npz_truncated_member"], "a") as archive:
        archive.writestr("labels.npy", _npy_bytes(labels))
    w["npz_bad_header"] = _zip_member(root / "bad_header.npz", "images.npy",
                                      b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f4', 'shape': (4,\n" + b" " * 20)
    with zipfile.ZipFile(w["npz_bad_header"], "a") as archive:
        archive.writestr("labels.npy", _npy_bytes(labels))
    data = w["good_npz"].read_bytes()
    w["npz_truncated_file"] = root / "truncated_file.npz"
    w["npz_truncated_file"].write_bytes(data[: len(data) // 2])

    # IDX
    def idx_folder(name, images_bytes, labels_bytes, compress=False):
        folder = root / name
        folder.mkdir()
        for kind, rank, payload in (("images", 3, images_bytes), ("labels", 1, labels_bytes)):
            target = folder / f"train-{kind}-idx{rank}-ubyte{'.gz' if compress else ''}"
            target.write_bytes(gzip.compress(payload) if compress else payload)
        return folder

    good_images, good_labels = idx_bytes(images), idx_bytes(labels)
    w["idx_not_idx"] = idx_folder("idx_not_idx", b"GIF89a" + good_images[6:], good_labels)
    w["idx_truncated"] = idx_folder("idx_truncated", good_images[:-7], good_labels)
    w["idx_too_long"] = idx_folder("idx_too_long", good_images + b"\0" * 9, good_labels)
    w["idx_header_only"] = idx_folder("idx_header_only", good_images[:6], good_labels)
    w["idx_count_mismatch"] = idx_folder("idx_count_mismatch", good_images, idx_bytes(labels[:-2]))
    w["idx_2d_images"] = idx_folder("idx_2d_images", idx_bytes(images.reshape(40, 64)), good_labels)
    huge_header = bytes([0, 0, 8, 3]) + struct.pack(">III", 2**31 - 1, 2**16, 2**16)
    w["idx_huge_header"] = idx_folder("idx_huge_header", huge_header + b"\0" * 64, good_labels)
    w["idx_huge_header_gz"] = idx_folder("idx_huge_header_gz", huge_header + b"\0" * 64, good_labels, compress=True)
    bomb_header = bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 8, 8)
    w["idx_gzip_bomb"] = idx_folder("idx_gzip_bomb", bomb_header + b"\0" * (64 * 2**20), good_labels, compress=True)
    w["idx_corrupt_gzip"] = idx_folder("idx_corrupt_gzip", good_images, good_labels, compress=True)
    gz = (w["idx_corrupt_gzip"] / "train-images-idx3-ubyte.gz")
    gz.write_bytes(gz.read_bytes()[:40])
    w["idx_negative_labels"] = idx_folder("idx_negative_labels", good_images,
                                          bytes([0, 0, 9, 1]) + struct.pack(">I", 40) + bytes([255] * 40))
    w["idx_float_images"] = idx_folder("idx_float_images", bytes([0, 0, 0x0D, 3]) + struct.pack(">III", 40, 8, 8)
                                       + np.full((40, 8, 8), np.nan, ">f4").tobytes(), good_labels)
    w["idx_test_only"] = root / "idx_test_only"
    write_idx_folder(w["idx_test_only"], images, labels, split="test")
    w["idx_sizes_differ"] = write_idx_folder(root / "idx_sizes_differ", images, labels)
    write_idx_folder(w["idx_sizes_differ"], rng.integers(0, 256, (5, 9, 9)), np.arange(5) % 4, split="test")

    # CIFAR
    cifar = lambda name, batch, meta=None: _cifar_folder(root / name, batch, meta)  # noqa: E731
    good_batch = {b"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8), b"labels": list(range(4)) * 2}
    w["cifar"] = write_cifar_folder(root / "cifar", [rng.integers(0, 256, (8, 32, 32, 3))] * 6,
                                    [list(range(4)) * 2] * 6, ["cat", "dog", "frog", "ship"])
    w["cifar_not_dict"] = cifar("cifar_not_dict", [1, 2, 3])
    w["cifar_no_data"] = cifar("cifar_no_data", {b"labels": [0, 1]})
    w["cifar_wrong_shape"] = cifar("cifar_wrong_shape", {b"data": np.zeros((8, 100), np.uint8), b"labels": [0] * 8})
    w["cifar_count_mismatch"] = cifar("cifar_count_mismatch", {**good_batch, b"labels": [0, 1, 2]})
    w["cifar_label_strings"] = cifar("cifar_label_strings", {**good_batch, b"labels": ["a"] * 8})
    w["cifar_label_huge"] = cifar("cifar_label_huge", {**good_batch, b"labels": [2**31 - 1] * 8})
    w["cifar_meta_no_names"] = cifar("cifar_meta_no_names", good_batch, {b"other": 1})
    w["cifar_meta_names_ints"] = cifar("cifar_meta_names_ints", good_batch, {b"label_names": [1, 2, 3, 4]})
    w["cifar_code_exec"] = _cifar_folder(root / "cifar_code_exec", good_batch, raw_batch=(
        _pickle_global("os", "system") + b"X\x04\x00\x00\x00true\x85R."))
    w["cifar_dtype_attack"] = _cifar_folder(root / "cifar_dtype_attack", good_batch, raw_batch=(
        _pickle_global("numpy", "dtype") + b"X\x02\x00\x00\x00u1\x85R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\x7f"
        b"J\xff\xff\xff\x7fK\x00tb."))
    huge_array = pickle.dumps({b"data": np.zeros((2, 3), np.uint8), b"labels": [0, 1]}, protocol=2)
    huge_array = huge_array.replace(b"K\x02K\x03\x86", b"J\xff\xff\xff\x7fJ\xff\xff\xff\x7f\x86")
    w["cifar_huge_array"] = _cifar_folder(root / "cifar_huge_array", good_batch, raw_batch=huge_array)
    w["cifar_truncated"] = _cifar_folder(root / "cifar_truncated", good_batch,
                                         raw_batch=pickle.dumps(good_batch, protocol=2)[:500])
    w["cifar_empty_file"] = _cifar_folder(root / "cifar_empty_file", good_batch, raw_batch=b"")

    # image folders
    def image_folder(name, files):
        folder = root / name
        for relative, writer in files.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            writer(folder / relative)
        return folder

    png = lambda shape, dtype=np.uint8: lambda p: Image.fromarray(np.zeros(shape, dtype)).save(p)  # noqa: E731
    raw = lambda data: lambda p: p.write_bytes(data)  # noqa: E731
    ok = png((8, 8))
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    w["img_empty"] = image_folder("img_empty", {"a/readme.txt": raw(b"no images")})
    w["img_corrupt_png"] = image_folder("img_corrupt_png", {"a/0.png": ok, "b/1.png": raw(b"\x89PNG\r\n\x1a\nbad")})
    w["img_truncated_jpeg"] = image_folder("img_truncated_jpeg", {"a/0.jpg": raw(jpeg), "b/1.jpg": raw(jpeg[:60])})
    w["img_text_as_png"] = image_folder("img_text_as_png", {"a/0.png": ok, "b/1.png": raw(b"hello")})
    w["img_sizes_differ"] = image_folder("img_sizes_differ", {"a/0.png": ok, "b/1.png": png((9, 9))})
    w["img_bomb"] = image_folder("img_bomb", {"a/0.png": ok, "b/1.png": lambda p: _png_with_size(p, 60000, 60000)})
    w["img_empty_png"] = image_folder("img_empty_png", {"a/0.png": ok, "b/1.png": raw(b"")})
    w["img_one_class"] = image_folder("img_one_class", {f"a/{i}.png": ok for i in range(4)})
    w["img_gif_bad"] = image_folder("img_gif_bad", {"a/0.png": ok, "b/1.gif": raw(b"GIF89a\x08\x00\x08\x00\xff")})
    w["img_bmp_bad"] = image_folder("img_bmp_bad", {"a/0.png": ok, "b/1.bmp": raw(b"BM" + b"\xff" * 60)})
    w["img_tiff_bad"] = image_folder("img_tiff_bad", {"a/0.png": ok, "b/1.tif": raw(b"II*\x00\x08\x00\x00\x00\xff\xff")})
    w["img_webp_bad"] = image_folder("img_webp_bad", {"a/0.png": ok, "b/1.webp": raw(b"RIFF\x10\x00\x00\x00WEBPVP8 ")})
    split = image_folder("img_split_no_test_class", {"train/a/0.png": ok, "train/b/1.png": ok, "test/a/2.png": ok})
    w["img_split_no_test_class"] = split
    return w


def _cifar_folder(folder, batch, meta=None, raw_batch=None):
    folder.mkdir(parents=True)
    payload = raw_batch if raw_batch is not None else pickle.dumps(batch, protocol=2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(payload)
    meta = {b"label_names": [b"cat", b"dog", b"frog", b"ship"]} if meta is None else meta
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    return root, _build_world(root)


def _snapshot(root, skip):
    """Every path under ``root`` (not following links), with a hash of each file's bytes."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if any(here == s or s in here.parents for s in skip):
            continue
        for name in dirnames + filenames:
            path = here / name
            if any(path == s or s in path.parents for s in skip):
                continue
            if path.is_symlink():
                state[path] = ("link", os.readlink(path))
            elif path.is_file():
                state[path] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                state[path] = ("dir", None)
    return state


def _leftovers(root):
    return [p for p in Path(root).rglob(".*") if ".tmp-" in p.name or ".old-" in p.name]


def _run(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([str(a) for a in argv])
    captured = capsys.readouterr()
    return stopped.value.code, captured.out, captured.err


def _assert_one_line(code, err, match, expected_code=2):
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert code == expected_code, (code, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("wavelens: error: "), lines[0]
    assert match.lower() in lines[0].lower(), lines[0]


# --- the matrix ---------------------------------------------------------------------------------------

A = ["analyze"]
FAST = ["--no-report", "--patterns", "4", "--random-repeats", "2"]

# (case id, command, dataset key or literal argument list, extra options, what the error line says)
DATASET_CASES = [
    ("npz not a zip", "npz_not_zip", [], "not a readable .npz"),
    ("npz empty file", "npz_empty_file", [], "npz"),
    ("npz no images", "npz_no_images", [], "images"),
    ("npz no labels", "npz_no_labels", [], "labels"),
    ("npz labels 2-d", "npz_labels_2d", [], "one-dimensional"),
    ("npz labels 0-d", "npz_labels_0d", [], "labels"),
    ("npz labels not whole", "npz_labels_float", [], "whole numbers"),
    ("npz labels nan", "npz_labels_nan", [], "whole numbers"),
    ("npz labels negative", "npz_labels_negative", [], ">= 0"),
    ("npz labels negative float", "npz_labels_negative_float", [], ">= 0"),
    ("npz label 2^31-1", "npz_labels_huge", [], "WAVELENS_MAX_CLASSES"),
    ("npz label 2^64-1", "npz_labels_uint64", [], "WAVELENS_MAX_CLASSES"),
    ("npz label 1e300", "npz_labels_float_huge", [], "WAVELENS_MAX_CLASSES"),
    ("npz labels complex", "npz_labels_complex", [], "labels"),
    ("npz count mismatch", "npz_count_mismatch", [], "40 images but 39 labels"),
    ("npz images 2-d", "npz_images_2d", [], "shape"),
    ("npz images 5-d", "npz_images_5d", [], "shape"),
    ("npz images complex", "npz_images_complex", [], "images"),
    ("npz images strings", "npz_images_str", [], "images"),
    ("npz images nan", "npz_images_nan", [], "NaN or infinite"),
    ("npz images inf", "npz_images_inf", [], "NaN or infinite"),
    ("npz zero images", "npz_zero_images", [], "empty"),
    ("npz images of zero size", "npz_zero_size", [], "hold no pixels"),
    ("npz images of zero channels", "npz_zero_channels", [], "hold no pixels"),
    ("a newline in the path", "newline_path", [], "two\\nlines.npz"),
    ("npz one class", "npz_one_class", [], "single class"),
    ("npz too few class names", "npz_few_names", [], "has no class name"),
    ("npz class names 2-d", "npz_names_2d", [], "class_names"),
    ("npz class names 0-d", "npz_names_0d", [], "class_names"),
    ("npz object arrays", "npz_object", [], "npz"),
    ("npz single array", "npz_single_array", [], "single array"),
    ("npz huge declared shape", "npz_huge_shape", [], "images"),
    ("npz truncated member", "npz_truncated_member", [], "images"),
    ("npz malformed header", "npz_bad_header", [], "images"),
    ("npz truncated file", "npz_truncated_file", [], "npz"),
    ("npz split train", "good_npz", ["--split", "train"], "--split all"),
    ("idx not idx", "idx_not_idx", [], "not an IDX file"),
    ("idx truncated", "idx_truncated", [], "truncated"),
    ("idx too long", "idx_too_long", [], "longer than its header says"),
    ("idx header only", "idx_header_only", [], "truncated"),
    ("idx count mismatch", "idx_count_mismatch", [], "holds 40 images but"),
    ("idx 2-d images", "idx_2d_images", [], "shape"),
    ("idx huge header", "idx_huge_header", [], "idx3"),
    ("idx huge header gz", "idx_huge_header_gz", [], "idx3"),
    ("idx gzip bomb", "idx_gzip_bomb", [], "longer than its header says"),
    ("idx corrupt gzip", "idx_corrupt_gzip", [], "gzip"),
    ("idx negative labels", "idx_negative_labels", [], ">= 0"),
    ("idx nan images", "idx_float_images", [], "NaN or infinite"),
    ("idx no train split", "idx_test_only", ["--split", "train"], "No train IDX files"),
    ("idx sizes differ across splits", "idx_sizes_differ", ["--split", "all"], "--split train or --split test"),
    ("cifar not a dict", "cifar_not_dict", [], "not a CIFAR batch"),
    ("cifar no data", "cifar_no_data", [], "data"),
    ("cifar wrong shape", "cifar_wrong_shape", [], "3072"),
    ("cifar count mismatch", "cifar_count_mismatch", [], "8 images but 3 labels"),
    ("cifar string labels", "cifar_label_strings", [], "labels"),
    ("cifar label 2^31-1", "cifar_label_huge", [], "WAVELENS_MAX_CLASSES"),
    ("cifar meta without names", "cifar_meta_no_names", [], "label_names"),
    ("cifar meta names not text", "cifar_meta_names_ints", [], "label_names"),
    ("cifar code execution", "cifar_code_exec", [], "os.system"),
    ("cifar dtype setstate attack", "cifar_dtype_attack", [], "numpy.dtype"),
    ("cifar huge array", "cifar_huge_array", [], "data_batch_1"),
    ("cifar truncated", "cifar_truncated", [], "data_batch_1"),
    ("cifar empty file", "cifar_empty_file", [], "data_batch_1"),
    ("images none", "img_empty", [], "empty"),
    ("images corrupt png", "img_corrupt_png", [], "1.png"),
    ("images truncated jpeg", "img_truncated_jpeg", [], "1.jpg"),
    ("images text as png", "img_text_as_png", [], "1.png"),
    ("images sizes differ", "img_sizes_differ", [], "--resize HxW"),
    ("images decompression bomb", "img_bomb", [], "WAVELENS_MAX_IMAGE_PIXELS"),
    ("images empty png", "img_empty_png", [], "1.png"),
    ("images one class", "img_one_class", [], "single class"),
    ("images corrupt gif", "img_gif_bad", [], "1.gif"),
    ("images corrupt bmp", "img_bmp_bad", [], "1.bmp"),
    ("images corrupt tiff", "img_tiff_bad", [], "1.tif"),
    ("images corrupt webp", "img_webp_bad", [], "1.webp"),
    ("images resize 20000x20000", "folder", ["--resize", "20000x20000"], "WAVELENS_MAX_IMAGE_PIXELS"),
    ("images split of unsplit folder", "folder", ["--split", "test"], "--split all"),
    ("missing path", None, ["nowhere/at/all"], "does not exist"),
    ("unknown name", None, ["cifar11"], "neither a built-in dataset name"),
    ("a plain file", "file", [], "unknown kind"),
    ("mnist not installed", None, ["mnist", "--data-dir", "{root}/nowhere"], "Cannot find the mnist files"),
]


@pytest.mark.parametrize("case, key, extra, match", DATASET_CASES, ids=[c[0] for c in DATASET_CASES])
@pytest.mark.parametrize("command", ["analyze", "communities"])
def test_bad_dataset(world, tmp_path, capsys, command, case, key, extra, match):
    root, w = world
    if command == "communities" and not case.startswith(("npz", "idx", "cifar code", "images corrupt")):
        pytest.skip("the loaders are shared; communities repeats a sample of the cases")
    before = _snapshot(root, [])
    args = ([w[key]] if key else []) + [str(a).format(root=root) for a in extra]
    out = tmp_path / "out"
    code, _, err = _run([command, *args, "--out", out, "--no-report"], capsys)
    if command == "communities" and "single class" in match:
        assert code == 0  # communities need no second class
    else:
        _assert_one_line(code, err, match)
        assert not out.exists()
    assert _snapshot(root, []) == before
    assert not _leftovers(tmp_path) and not _leftovers(root)


OPTION_CASES = [
    ("seed -1", ["digits", "--seed", "-1"], "--seed"),
    ("seed 2^40", ["digits", "--seed", str(2**40)], "--seed"),
    ("seed text", ["digits", "--seed", "x"], "--seed"),
    ("level 0", ["digits", "--level", "0"], "level"),
    ("level 99", ["digits", "--level", "99"], "too high"),
    ("level text", ["digits", "--level", "two"], "--level"),
    ("wavelet unknown", ["digits", "--wavelet", "nope"], "wavelens wavelets"),
    ("wavelet continuous", ["digits", "--wavelet", "morl"], "continuous"),
    ("mode unknown", ["digits", "--mode", "mirror"], "--mode"),
    ("energy 0", ["digits", "--energy", "0"], "--energy"),
    ("energy 1.5", ["digits", "--energy", "1.5"], "--energy"),
    ("energy nan", ["digits", "--energy", "nan"], "energy"),
    ("top-k 0", ["digits", "--top-k", "0"], "--top-k"),
    ("patterns 1", ["digits", "--patterns", "1"], "--patterns"),
    ("patterns above images", ["digits", "--limit", "50", "--patterns", "60"], "fewer than the 60 patterns"),
    ("random-repeats 0", ["digits", "--random-repeats", "0"], "--random-repeats"),
    ("label-noise 2", ["digits", "--label-noise", "2"], "--label-noise"),
    ("label-noise -0.1", ["digits", "--label-noise", "-0.1"], "--label-noise"),
    ("limit 0", ["digits", "--limit", "0"], "--limit"),
    ("limit -3", ["digits", "--limit", "-3"], "--limit"),
    ("resize 0x5", ["digits", "--resize", "0x5"], "HEIGHTxWIDTH"),
    ("resize words", ["digits", "--resize", "big"], "HEIGHTxWIDTH"),
    ("split bogus", ["digits", "--split", "validation"], "--split"),
    ("split of digits", ["digits", "--split", "test"], "--split all"),
    ("jobs 0", ["digits", "--jobs", "0"], "--jobs"),
    ("unknown option", ["digits", "--frobnicate"], "No such option"),
    ("missing dataset", [], "Missing argument"),
    ("limit env not a number", ["{npz}"], "WAVELENS_MAX_CLASSES"),
]


@pytest.mark.parametrize("case, args, match", OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_bad_option(world, tmp_path, capsys, monkeypatch, case, args, match):
    root, w = world
    if case == "limit env not a number":
        monkeypatch.setenv("WAVELENS_MAX_CLASSES", "many")
    args = [a.format(npz=w["good_npz"]) for a in args]
    out = tmp_path / "out"
    code, _, err = _run(["analyze", *FAST, *args, "--out", out], capsys)
    _assert_one_line(code, err, match)
    assert not out.exists() and not _leftovers(tmp_path)


OTHER_COMMAND_CASES = [
    ("noise-curve fractions 2", ["noise-curve", "digits", "--fractions", "0,2"], "fractions"),
    ("noise-curve fractions words", ["noise-curve", "digits", "--fractions", "a,b"], "fractions"),
    ("noise-curve fractions empty", ["noise-curve", "digits", "--fractions", ","], "fractions"),
    ("communities neighbors 0", ["communities", "digits", "--neighbors", "0"], "--neighbors"),
    ("communities 1 community", ["communities", "digits", "--communities", "1"], "--communities"),
    ("communities condition 0.5", ["communities", "digits", "--condition", "0.5"], "--condition"),
    ("communities features bogus", ["communities", "digits", "--features", "pca"], "--features"),
    ("communities max-features 0", ["communities", "digits", "--max-features", "0"], "--max-features"),
    ("communities mixed-threshold 0", ["communities", "digits", "--mixed-threshold", "0"], "--mixed-threshold"),
    ("duplicates threshold 0", ["duplicates", "digits", "--threshold", "0"], "--threshold"),
    ("duplicates threshold 2", ["duplicates", "digits", "--threshold", "2"], "--threshold"),
    ("duplicates sizes differ", ["duplicates", "digits", "{npz9}", "--split-b", "all"], "one image size"),
    ("duplicates missing b", ["duplicates", "digits", "{root}/nowhere"], "does not exist"),
    ("duplicates seed -1", ["duplicates", "digits", "--seed", "-1"], "--seed"),
    ("audit checks typo", ["audit", "digits", "--checks", "label_errors,typo"], "--checks"),
    ("audit no checks", ["audit", "digits", "--checks", ","], "--checks"),
    ("audit neighbors 3", ["audit", "digits", "--neighbors", "3"], "--neighbors"),
    ("audit neighbors above images", ["audit", "digits", "--limit", "20"], "--neighbors 40"),
    ("audit components 0", ["audit", "digits", "--components", "0"], "--components"),
    ("audit working-size 0", ["audit", "digits", "--working-size", "0"], "--working-size"),
    ("audit sizes differ", ["audit", "digits", "{npz9}", "--split-b", "all"], "one size"),
    ("audit missing b", ["audit", "digits", "{root}/nowhere"], "does not exist"),
    ("audit split-b test of digits", ["audit", "digits", "digits", "--split-b", "test"], "--split-b"),
    ("learnability alpha inf", ["learnability", "digits", "--alpha", "inf"], "--alpha"),
    ("learnability ranks 0", ["learnability", "digits", "--ranks", "0"], "--ranks"),
    ("learnability label-noise 2", ["learnability", "digits", "--label-noise", "2"], "--label-noise"),
    ("learnability test-size 1", ["learnability", "digits", "--test-size", "1"], "--test-size"),
    ("learnability classifier svm", ["learnability", "digits", "--classifiers", "svm"], "--classifiers"),
    ("unknown command", ["frobnicate"], "No such command"),
]


@pytest.mark.parametrize("case, args, match", OTHER_COMMAND_CASES, ids=[c[0] for c in OTHER_COMMAND_CASES])
def test_bad_option_of_other_commands(world, tmp_path, capsys, case, args, match):
    root, w = world
    args = [a.format(npz9=w["npz_9x9"], root=root) for a in args]
    out = tmp_path / "out"
    extra = ["--out", out, "--no-report"] if case != "unknown command" else []
    code, _, err = _run([*args, *extra], capsys)
    _assert_one_line(code, err, match)
    assert not out.exists() and not _leftovers(tmp_path)


# --- the output folder: data loss ---------------------------------------------------------------------

OUT_CASES = [
    # (case id, command args, --out (a key of the world or a path under it), with --overwrite, error says)
    ("out is the image folder", ["{folder}"], "{folder}", False, "is the input"),
    ("out is the image folder, overwrite", ["{folder}"], "{folder}", True, "is the input"),
    ("out is a class folder, overwrite", ["{folder}"], "{folder}/class0", True, "lies inside the input"),
    ("out inside the image folder", ["{folder}"], "{folder}/results", False, "lies inside the input"),
    ("out is the parent of the input, overwrite", ["{folder}"], "{root}", True, "holds the input"),
    ("out is a symlink to the input, overwrite", ["{folder}"], "{link_to_folder}", True, "is the input"),
    ("input via symlink, out is its target", ["{link_to_folder}"], "{folder}", True, "is the input"),
    ("out is the IDX folder, overwrite", ["{idx}"], "{idx}", True, "is the input"),
    ("out is the npz file", ["{good_npz}"], "{good_npz}", True, "is a file"),
    ("out is a thesis folder, overwrite", ["digits"], "{thesis}", True, "not a wavelens result"),
    ("out is a thesis folder", ["digits"], "{thesis}", False, "exists and is not empty"),
    ("out is an unrelated file", ["digits"], "{file}", True, "is a file"),
    ("out under a file", ["digits"], "{file}/results", False, "is a file"),
    ("out is the root", ["digits"], "/", True, "mount point or the root"),
    ("out is the data dir of a built-in", ["mnist", "--data-dir", "{idx}"], "{idx}", True, "is the input"),
    ("out inside the data dir of a built-in", ["mnist", "--data-dir", "{idx}"], "{idx}/r", False, "lies inside"),
    ("duplicates: out is dataset b", ["{good_npz}", "{folder}"], "{folder}", True, "is the input"),
]


@pytest.mark.parametrize("case, args, out, overwrite, match", OUT_CASES, ids=[c[0] for c in OUT_CASES])
def test_out_never_touches_inputs_or_foreign_folders(world, tmp_path, capsys, case, args, out, overwrite, match):
    root, w = world
    names = {**{k: str(v) for k, v in w.items()}, "root": str(root)}
    command = "duplicates" if case.startswith("duplicates") else "analyze"
    before = _snapshot(root, [])
    argv = [command, *[a.format(**names) for a in args], "--out", out.format(**names), "--no-report"]
    code, _, err = _run(argv + (["--overwrite"] if overwrite else []), capsys)
    _assert_one_line(code, err, match)
    assert _snapshot(root, []) == before
    assert not _leftovers(root)


def test_out_is_the_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for out in (".", str(tmp_path), ".."):
        code, _, err = _run(["analyze", "digits", "--out", out, "--overwrite", *FAST], capsys)
        _assert_one_line(code, err, "current folder" if out != ".." else "")
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_only_what_wavelens_wrote(tmp_path, capsys):
    out = tmp_path / "result"
    assert _run(["analyze", "digits", "--out", out, *FAST], capsys)[0] == 0
    marker = (out / ".wavelens-result").read_text()
    # an extra file the user put there
    (out / "notes.md").write_text("mine")
    code, _, err = _run(["analyze", "digits", "--out", out, "--overwrite", *FAST], capsys)
    _assert_one_line(code, err, "did not write (notes.md)")
    assert (out / "notes.md").read_text() == "mine"
    (out / "notes.md").unlink()
    # a forged or damaged marker
    for damaged in ("not json", '{"written_by": "someone"}', '{"written_by": "wavelens", "files": "all"}'):
        (out / ".wavelens-result").write_text(damaged)
        code, _, err = _run(["analyze", "digits", "--out", out, "--overwrite", *FAST], capsys)
        _assert_one_line(code, err, "not a wavelens result")
    (out / ".wavelens-result").unlink()
    (out / ".wavelens-result").symlink_to(tmp_path / "elsewhere")
    code, _, err = _run(["analyze", "digits", "--out", out, "--overwrite", *FAST], capsys)
    _assert_one_line(code, err, "not a wavelens result")
    (out / ".wavelens-result").unlink()
    (out / ".wavelens-result").write_text(marker)
    code, _, err = _run(["analyze", "digits", "--out", out, "--overwrite", *FAST], capsys)
    assert code == 0, err
    # a marker that lists a folder, or a listed name that is now a folder of the user's
    thesis = tmp_path / "forged"
    (thesis / "thesis").mkdir(parents=True)
    (thesis / "thesis" / "ch1.tex").write_text("precious")
    (thesis / ".wavelens-result").write_text('{"written_by": "wavelens", "files": ["thesis"]}')
    code, _, err = _run(["analyze", "digits", "--out", thesis, "--overwrite", *FAST], capsys)
    _assert_one_line(code, err, "did not write (thesis)")
    (out / "per_image.csv").unlink()
    (out / "per_image.csv").mkdir()
    (out / "per_image.csv" / "notes.txt").write_text("mine")
    code, _, err = _run(["analyze", "digits", "--out", out, "--overwrite", *FAST], capsys)
    _assert_one_line(code, err, "did not write (per_image.csv)")
    assert (thesis / "thesis" / "ch1.tex").read_text() == "precious"
    assert (out / "per_image.csv" / "notes.txt").read_text() == "mine"
    assert not _leftovers(tmp_path)


def test_a_rebuilt_report_can_be_overwritten(tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(["analyze", "digits", "--out", out, *FAST], capsys)[0] == 0
    code, _, err = _run(["report", out], capsys)
    assert code == 0, err
    code, _, err = _run(["analyze", "digits", "--out", out, "--overwrite", *FAST], capsys)
    assert code == 0, err


def test_out_reached_through_a_bind_mount_of_the_input(world, tmp_path, capsys):
    root, w = world
    mount = tmp_path / "mnt"
    mount.mkdir()
    if subprocess.run(["mount", "--bind", str(w["folder"]), str(mount)], capture_output=True).returncode:
        pytest.skip("bind mounts need root (CI runs as root)")
    try:
        before = _snapshot(root, [])
        code, _, err = _run(["analyze", w["folder"], "--out", mount / "results", *FAST], capsys)
        _assert_one_line(code, err, "lies inside the input")
        code, _, err = _run(["analyze", w["folder"], "--out", mount, "--overwrite", *FAST], capsys)
        _assert_one_line(code, err, "")
        assert _snapshot(root, []) == before
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_signal_during_the_final_move_waits_for_it(tmp_path, capsys, monkeypatch):
    from wavelens import _outdir

    out = tmp_path / "out"
    assert _run(["analyze", "digits", "--out", out, *FAST], capsys)[0] == 0
    real = _outdir._exchange

    def interrupted(first, second):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives in the middle of the move
        return real(first, second)

    monkeypatch.setattr(_outdir, "_exchange", interrupted)
    code, _, err = _run(["analyze", "digits", "--out", out, "--overwrite", *FAST, "--seed", "5"], capsys)
    _assert_one_line(code, err, "after writing", expected_code=143)
    import json

    assert (out / ".wavelens-result").is_file()
    assert json.loads((out / "summary.json").read_text())["params"]["random_state"] == 5  # the new result is whole
    assert not _leftovers(tmp_path)


def test_symlinked_out_is_replaced_through_the_link(tmp_path, capsys):
    real = tmp_path / "real"
    assert _run(["analyze", "digits", "--out", real, *FAST], capsys)[0] == 0
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    code, _, err = _run(["analyze", "digits", "--out", link, "--overwrite", *FAST, "--seed", "3"], capsys)
    assert code == 0, err
    assert link.is_symlink() and (real / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


# --- faults during the run ----------------------------------------------------------------------------

def test_disk_full_while_writing_leaves_nothing(tmp_path, capsys, monkeypatch):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    out = tmp_path / "out"
    code, _, err = _run(["analyze", "digits", "--out", out, *FAST], capsys)
    _assert_one_line(code, err, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_on_overwrite_keeps_the_old_result(tmp_path, capsys, monkeypatch):
    import errno

    out = tmp_path / "out"
    assert _run(["analyze", "digits", "--out", out, *FAST], capsys)[0] == 0
    before = _snapshot(tmp_path, [])

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    code, _, err = _run(["analyze", "digits", "--out", out, "--overwrite", *FAST], capsys)
    _assert_one_line(code, err, "No space left on device")
    assert _snapshot(tmp_path, []) == before


@pytest.mark.parametrize("exchange", ["fails", "unsupported"])
def test_final_rename_that_fails_keeps_the_old_result(tmp_path, capsys, monkeypatch, exchange):
    import errno

    from wavelens import _outdir

    out = tmp_path / "out"
    assert _run(["analyze", "digits", "--out", out, *FAST], capsys)[0] == 0
    before = _snapshot(tmp_path, [])
    real = _outdir._rename_noreplace
    calls = []

    def cross_device(*args):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    def failing_once(source, target):
        calls.append(target)
        if len(calls) == 1:
            cross_device()
        return real(source, target)

    if exchange == "fails":  # renameat2's exchange itself fails
        monkeypatch.setattr(_outdir, "_exchange", cross_device)
    else:  # no exchange here: two renames, of which the second fails and the first is undone
        monkeypatch.setattr(_outdir, "_exchange", lambda first, second: False)
        monkeypatch.setattr(_outdir, "_rename_noreplace", failing_once)
    code, _, err = _run(["analyze", "digits", "--out", out, "--overwrite", *FAST], capsys)
    _assert_one_line(code, err, "nothing was changed")
    assert _snapshot(tmp_path, []) == before


def test_a_second_run_into_the_same_out_is_refused_while_the_first_runs(tmp_path, capsys):
    from wavelens._outdir import OutputFolder

    out = tmp_path / "out"
    with OutputFolder(out) as first:
        (first.staging / "summary.json").write_text("{}")
        code, _, err = _run(["analyze", "digits", "--out", out, *FAST], capsys)
        _assert_one_line(code, err, "Another wavelens run is writing into")
        code, _, err = _run(["analyze", "digits", "--out", out, "--overwrite", *FAST], capsys)
        _assert_one_line(code, err, "Another wavelens run is writing into")
    assert sorted(p.name for p in out.iterdir()) == [".wavelens-result", "summary.json"]
    assert not _leftovers(tmp_path)


def test_runs_started_together_never_both_write(tmp_path):
    out = tmp_path / "out"
    for attempt in range(3):
        target = out / str(attempt)
        runs = [subprocess.Popen([sys.executable, "-m", "wavelens", "analyze", "digits", "--out", str(target),
                                  *FAST, "--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for seed in (1, 2)]
        results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
        for run in runs:
            run.stdout.close()
            run.stderr.close()
        codes = sorted(code for code, _ in results)
        assert codes in ([0, 2], [0, 0]), results
        if codes == [0, 2]:  # one claimed it; the other saw the claim or the finished result
            err = [e for c, e in results if c == 2][0]
            assert "Another wavelens run" in err or "exists and is not empty" in err, err
        else:  # one finished before the other began: the second must then have been refused... unless
            pytest.fail(f"both runs wrote {target}: {results}")
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize("signame, delay", [("SIGTERM", 0.2), ("SIGTERM", 1.5), ("SIGHUP", 1.0),
                                             ("SIGINT", 1.0), ("SIGTERM", 2.5)])
def test_signals_clean_up(tmp_path, signame, delay):
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "wavelens", "analyze", "digits", "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(delay)
    signum = getattr(signal, signame)
    os.killpg(run.pid, signum) if signame == "SIGINT" else run.send_signal(signum)
    stdout, stderr = run.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr
    if run.returncode == 0:  # it finished first: then the result is whole
        assert (out / ".wavelens-result").is_file()
    elif run.returncode == -signum:
        # Killed by the default action: before the command line loaded (nothing made) or after
        # the command restored the handlers at its end (the result is then whole).
        assert len(stderr.strip().splitlines()) <= 1
        assert not out.exists() or (out / ".wavelens-result").is_file()
    else:
        assert run.returncode == (130 if signame == "SIGINT" else 128 + signum), (run.returncode, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("wavelens: error: ") and "nothing was written" in lines[0]
        assert not out.exists()
    assert not _leftovers(tmp_path)
    time.sleep(0.3)
    survivors = subprocess.run(["pgrep", "-s", str(run.pid)], capture_output=True, text=True).stdout.split()
    assert survivors == [], f"processes left behind: {survivors}"


def test_broken_pipe_on_stdout_is_quiet(tmp_path):
    shell = f"{sys.executable} -m wavelens datasets | head -c 10 > /dev/null"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True)
    assert result.stderr == "", result.stderr


def test_json_has_no_infinity(tmp_path, capsys):
    import json

    out = tmp_path / "out"
    code, _, err = _run(["communities", "digits", "--condition", "inf", "--max-features", "8", "--out", out,
                         "--no-report"], capsys)
    assert code == 0, err
    text = (out / "summary.json").read_text()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-JSON constant {name}"))


# --- data that used to be read wrong or crash after the whole analysis -----------------------------

def test_class_names_of_any_bytes_go_through_analysis_csv_json_and_report(tmp_path, capsys):
    import csv
    import json

    rng = np.random.default_rng(3)
    folder = tmp_path / "weird"
    names = [b"caf\xe9", b"$\\foo$", b"<script>x", b"tab\there", b"plain"]
    for name in names:
        os.makedirs(os.path.join(os.fsencode(folder), name))
        for i in range(8):
            path = os.path.join(os.fsencode(folder), name, f"{i}.png".encode())
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(os.fsdecode(path))
    out = tmp_path / "out"
    code, stdout, err = _run(["analyze", folder, "--out", out, "--patterns", "4"], capsys)
    assert code == 0, err
    with open(out / "per_image.csv", encoding="utf-8", newline="") as handle:
        classes = {row["class_name"] for row in csv.DictReader(handle)}
    assert classes == {"caf\ufffd", "$\\foo$", "<script>x", "tab\\there", "plain"}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["dataset"]["class_names"]) == classes
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page  # the name is escaped wherever it appears


def test_integer_arrays_given_in_python_are_scaled_by_their_type():
    from wavelens import Dataset, decompose_images

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (20, 8, 8), dtype=np.uint8)
    labels = np.arange(20) % 2
    as_uint8 = Dataset(pixels, labels, ["a", "b"], name="u8", split="all", source="memory")
    as_float = Dataset(pixels / 255.0, labels, ["a", "b"], name="f", split="all", source="memory")
    as_uint16 = Dataset(pixels.astype(np.uint16) * 257, labels, ["a", "b"], name="u16", split="all", source="m")
    np.testing.assert_allclose(as_uint8.images, as_float.images, atol=1e-7)
    np.testing.assert_allclose(as_uint16.images, as_float.images, atol=1e-7)
    psnr = [decompose_images(d.images, top_k=1)[0].psnr_db for d in (as_uint8, as_float)]
    np.testing.assert_allclose(psnr[0], psnr[1], rtol=1e-5)
    assert np.median(psnr[0]) > 0  # read as [0, 255] it was about -20 dB


def test_results_of_arrays_can_be_saved_again_and_tables_protect_their_images(tmp_path, monkeypatch):
    from wavelens import WavelensError, analyze, from_arrays, load_dataset

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(4)
    arrays = from_arrays(rng.integers(0, 256, (40, 8, 8), dtype=np.uint8), np.arange(40) % 2)
    result = analyze(arrays, n_patterns=4, random_repeats=1)
    result.save("from_arrays", report=False)  # an in-memory dataset has no input to keep clear of
    result.save("from_arrays", overwrite=True, report=False)
    images = tmp_path / "images"
    images.mkdir()
    rows = ["path,label"]
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(images / f"{i}.png")
        rows.append(f"images/{i}.png,{'ab'[i % 2]}")
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    table = analyze(load_dataset("list.csv"), n_patterns=4, random_repeats=1)
    before = _snapshot(images, [])
    with pytest.raises(WavelensError, match="lies inside the input"):
        table.save(images / "results", report=False)
    assert _snapshot(images, []) == before


def test_a_broken_image_among_many_decoded_by_workers_is_one_line(tmp_path, capsys):
    # 520 files: the worker processes decode them; the broken one still gives one line and no result.
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for i in range(260):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "data" / label / f"{i:03d}.png")
    broken = tmp_path / "data" / "b" / "201.png"
    broken.write_bytes(broken.read_bytes()[:60])  # the header reads, the pixels do not
    before = _snapshot(tmp_path, skip=())
    code, _, err = _run(["analyze", tmp_path / "data", "--out", tmp_path / "out", *FAST], capsys)
    _assert_one_line(code, err, "201.png is not a readable image")
    assert _snapshot(tmp_path, skip=()) == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("interruption, status, words", [
    (KeyboardInterrupt(), 130, "interrupted; nothing was written."),
    ("SIGTERM", 128 + signal.SIGTERM, "stopped by SIGTERM; nothing was written."),
])
def test_signal_during_a_lazy_compiled_import_is_one_line(monkeypatch, capsys, interruption, status, words):
    # CI saw this: Ctrl-C while scipy's HiGHS module initialized came back as
    # "ImportError: initialization failed" raised from the KeyboardInterrupt, with a traceback.
    import wavelens.cli as cli_module
    from wavelens._outdir import Stopped

    cause = Stopped(signal.SIGTERM) if interruption == "SIGTERM" else interruption

    def import_fails(**kwargs):
        try:
            raise cause
        except BaseException as exc:
            raise ImportError("initialization failed") from exc

    monkeypatch.setattr(cli_module.cli, "main", import_fails)
    with pytest.raises(SystemExit) as stop:
        cli_module.main(["analyze", "digits"])
    assert stop.value.code == status
    assert capsys.readouterr().err == f"wavelens: error: {words}\n"


def test_an_import_error_of_its_own_is_not_taken_for_an_interruption(monkeypatch):
    import wavelens.cli as cli_module

    def import_fails(**kwargs):
        raise ImportError("no module named foo")

    monkeypatch.setattr(cli_module.cli, "main", import_fails)
    with pytest.raises(ImportError, match="foo"):
        cli_module.main(["analyze", "digits"])


def test_a_signal_raised_inside_an_import_lock_callback_is_delivered_again(capsys):
    """A SIGTERM whose Stopped is raised in a weakref callback (as in importlib's module locks, where
    Python can only print it as 'Exception ignored') is sent again and stops the run in the main thread."""
    import weakref

    from wavelens._outdir import Stopped, stop_on_signals

    class Lock:
        pass

    def callback(ref):
        raise Stopped(signal.SIGTERM)

    with pytest.raises(Stopped):
        with stop_on_signals():
            lock = Lock()
            watcher = weakref.ref(lock, callback)
            del lock  # the callback raises where Python cannot pass the exception on
            assert watcher() is None
            for _ in range(1000):
                time.sleep(0.001)
    assert "Traceback" not in capsys.readouterr().err
