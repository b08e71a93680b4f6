"""Image folders: pixel depth, alpha, limits, corrupt files and odd folders (issue 10)."""

import os
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from wavelens._validation import WavelensError
from wavelens.datasets import load_dataset


def _save(path, image, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image.save(path, **options)
    return path


def _mode(path):
    with Image.open(path) as image:
        return image.mode


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bytes(array, color_type, depth, extra=b""):
    """A PNG written by hand, for what Pillow cannot write (16-bit colour, gray + tRNS...)."""
    array = np.asarray(array)
    height, width = array.shape[:2]
    rows = array.astype(">u2" if depth == 16 else np.uint8).reshape(height, -1)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + extra + _chunk(b"IDAT", zlib.compress(raw))
            + _chunk(b"IEND", b""))


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _one_line_error(excinfo, *parts):
    message = str(excinfo.value)
    assert "\n" not in message and message.isprintable(), message
    for part in parts:
        assert part in message, message
    message.encode("utf-8")
    return message


# --- pixel depth --------------------------------------------------------------------------


def test_16bit_gray_png_round_trips_exactly(tmp_path, rng):
    arrays = rng.integers(0, 65536, (4, 5, 6), dtype=np.uint16)
    arrays[0, 0, :2] = 0, 65535
    for i, array in enumerate(arrays):
        _save(tmp_path / "ab"[i % 2] / f"{i}.png", array)
    assert _mode(tmp_path / "a" / "0.png") == "I;16"
    data = load_dataset(str(tmp_path), split="all")
    order = [0, 2, 1, 3]  # class a, then class b
    assert data.pixels.dtype == np.uint16 and data.pixel_max == 65535
    np.testing.assert_array_equal(data.pixels, arrays[order])
    np.testing.assert_allclose(data.images, arrays[order] / np.float32(65535), rtol=1e-7, atol=0)
    assert data.images.max() == 1.0


def _tiff_i16(path, array, mode):
    raw = array.astype(">u2" if mode == "I;16B" else "<u2").tobytes()
    _save(path, Image.frombytes(mode, array.shape[::-1], raw))


@pytest.mark.parametrize("kind", ["I;16", "I;16B", "I holding 16-bit values"])
def test_16bit_tiff_modes_keep_their_values(tmp_path, rng, kind):
    arrays = rng.integers(0, 65536, (2, 4, 3), dtype=np.uint16)
    for i, array in enumerate(arrays):
        path = tmp_path / "ab"[i] / "0.tif"
        if kind.startswith("I;"):
            _tiff_i16(path, array, kind)
        else:
            _save(path, array.astype(np.int32))
    assert _mode(tmp_path / "a" / "0.tif") == kind.split()[0]
    data = load_dataset(str(tmp_path), split="all")
    assert data.pixels.dtype == np.uint16
    np.testing.assert_array_equal(data.pixels, arrays)


def test_8bit_images_among_16bit_ones_are_scaled_by_257(tmp_path):
    _save(tmp_path / "a" / "0.png", np.array([[0, 1000], [40000, 65535]], np.uint16))
    _save(tmp_path / "b" / "0.png", np.array([[0, 1], [128, 255]], np.uint8))
    data = load_dataset(str(tmp_path), split="all")
    assert data.pixels.dtype == np.uint16
    np.testing.assert_array_equal(data.pixels[1], [[0, 257], [128 * 257, 65535]])
    np.testing.assert_array_equal(data.pixels[0], [[0, 1000], [40000, 65535]])


def test_float_tiffs_keep_their_values_scaled_over_the_dataset(tmp_path):
    values = np.linspace(0.0, 8.0, 2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    for i, array in enumerate(values):
        _save(tmp_path / "ab"[i] / "0.tif", array)
    assert _mode(tmp_path / "a" / "0.tif") == "F"
    data = load_dataset(str(tmp_path), split="all")
    assert data.images.dtype == np.float32 and data.images.max() == 1.0
    # Values from 0 to 8: divided by 8, the dataset's largest magnitude (Dataset's rule for floats;
    # scaling by the minimum and maximum would give the same here, the minimum being 0).
    np.testing.assert_allclose(data.images, values / 8, rtol=1e-6, atol=1e-7)


def test_float_tiffs_within_0_1_are_kept_and_8bit_ones_divided_by_255(tmp_path):
    values = np.array([[0.0, 0.25], [0.5, 0.75]], np.float32)
    _save(tmp_path / "a" / "0.tif", values)
    _save(tmp_path / "b" / "0.png", np.array([[0, 51], [102, 255]], np.uint8))
    _save(tmp_path / "b" / "1.png", np.array([[0, 1000], [2000, 65535]], np.uint16))
    data = load_dataset(str(tmp_path), split="all")
    assert data.images.dtype == np.float32
    np.testing.assert_array_equal(data.images[0], values)
    np.testing.assert_allclose(data.images[1], [[0, 0.2], [0.4, 1]], rtol=1e-6)
    np.testing.assert_allclose(data.images[2], np.array([[0, 1000], [2000, 65535]]) / 65535, rtol=1e-6)


def test_32bit_integer_tiffs_are_read_as_stored(tmp_path):
    values = np.array([[0, 25_000], [50_000, 100_000]], np.int32)
    _save(tmp_path / "a" / "0.tif", values)
    _save(tmp_path / "b" / "0.tif", values // 2)
    data = load_dataset(str(tmp_path), split="all")
    assert data.images.dtype == np.float32
    np.testing.assert_allclose(data.images[0], values / 100_000, rtol=1e-6)
    np.testing.assert_allclose(data.images[1], values // 2 / 100_000, rtol=1e-6)


def test_16bit_colour_png_is_read_as_8bit_by_pillow(tmp_path):
    """Pillow (13) has no 16-bit colour mode: it keeps the high byte of each sample."""
    rgb = np.array([[[65535, 257, 0], [1000, 30000, 65535]]], np.uint16)
    _write(tmp_path / "a" / "0.png", _png_bytes(rgb, 2, 16))
    _save(tmp_path / "b" / "0.png", np.zeros((1, 2, 3), np.uint8))
    assert _mode(tmp_path / "a" / "0.png") == "RGB"
    data = load_dataset(str(tmp_path), split="all")
    assert data.pixels.dtype == np.uint8
    np.testing.assert_array_equal(data.pixels[0], rgb >> 8)


def test_16bit_gray_alpha_png_stays_gray(tmp_path):
    gray_alpha = np.array([[[40000, 65535], [30000, 0]]], np.uint16)
    _write(tmp_path / "a" / "0.png", _png_bytes(gray_alpha, 4, 16))
    _save(tmp_path / "b" / "0.png", np.array([[7, 9]], np.uint8))
    assert _mode(tmp_path / "a" / "0.png") == "RGBA"  # what Pillow makes of it
    data = load_dataset(str(tmp_path), split="all")
    assert data.image_shape == (1, 2) and data.pixels.dtype == np.uint8
    np.testing.assert_array_equal(data.pixels[0], [[40000 >> 8, 0]])


# --- alpha --------------------------------------------------------------------------------


def test_rgba_is_composited_onto_black(tmp_path):
    rgba = np.array([[[200, 100, 50, 255], [200, 100, 50, 128], [200, 100, 50, 0]]], np.uint8)
    _save(tmp_path / "a" / "0.png", rgba)
    _save(tmp_path / "b" / "0.png", np.array([[10, 20, 30]], np.uint8))  # gray
    data = load_dataset(str(tmp_path), split="all")
    assert data.image_shape == (1, 3, 3) and data.pixels.dtype == np.uint8
    np.testing.assert_array_equal(data.pixels[0], [[[200, 100, 50], [100, 50, 25], [0, 0, 0]]])
    np.testing.assert_array_equal(data.pixels[1], [[[10] * 3, [20] * 3, [30] * 3]])


def test_gray_alpha_is_composited_and_stays_gray(tmp_path):
    la = np.array([[[200, 255], [200, 128], [200, 0]]], np.uint8)
    _save(tmp_path / "a" / "0.png", la)
    _save(tmp_path / "b" / "0.png", np.array([[1, 2, 3]], np.uint8))
    assert _mode(tmp_path / "a" / "0.png") == "LA"
    data = load_dataset(str(tmp_path), split="all")
    assert data.image_shape == (1, 3)
    np.testing.assert_array_equal(data.pixels[0], [[200, 100, 0]])


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_palette_transparency_is_composited_onto_black(tmp_path, suffix):
    image = Image.fromarray(np.array([[0, 1, 2]], np.uint8)).convert("P")
    image.putpalette([9, 9, 9, 10, 20, 30, 200, 100, 50])
    image.info["transparency"] = 0
    _save(tmp_path / "a" / f"0{suffix}", image, transparency=0)
    _save(tmp_path / "b" / f"0{suffix}", np.array([[5, 6, 7]], np.uint8))
    data = load_dataset(str(tmp_path), split="all")
    assert data.image_shape == (1, 3, 3)
    np.testing.assert_array_equal(data.pixels[0], [[[0, 0, 0], [10, 20, 30], [200, 100, 50]]])


def test_palette_with_partial_alpha(tmp_path):
    image = Image.fromarray(np.array([[0, 1]], np.uint8)).convert("P")
    image.putpalette([200, 100, 50, 200, 100, 50])
    _save(tmp_path / "a" / "0.png", image, transparency=bytes([255, 128]))
    _save(tmp_path / "b" / "0.png", np.zeros((1, 2), np.uint8))
    with Image.open(tmp_path / "a" / "0.png") as image:
        assert image.info["transparency"] == bytes([255, 128])
    data = load_dataset(str(tmp_path), split="all")
    np.testing.assert_array_equal(data.pixels[0], [[[200, 100, 50], [100, 50, 25]]])


def test_palette_images_are_in_colour_unless_their_palette_is_gray(tmp_path):
    colour = Image.fromarray(np.array([[0, 1]], np.uint8)).convert("P")
    colour.putpalette([255, 0, 0, 0, 0, 255])
    gray = Image.fromarray(np.array([[0, 1]], np.uint8)).convert("P")
    gray.putpalette([30, 30, 30, 60, 60, 60])
    _save(tmp_path / "gray" / "a" / "0.png", gray, transparency=0)
    _save(tmp_path / "gray" / "b" / "0.png", np.array([[1, 2]], np.uint8))
    data = load_dataset(str(tmp_path / "gray"), split="all")
    assert data.image_shape == (1, 2)
    np.testing.assert_array_equal(data.pixels[0], [[0, 60]])
    _save(tmp_path / "colour" / "a" / "0.png", colour)
    _save(tmp_path / "colour" / "b" / "0.png", np.array([[1, 2]], np.uint8))
    data = load_dataset(str(tmp_path / "colour"), split="all")
    assert data.image_shape == (1, 2, 3)
    np.testing.assert_array_equal(data.pixels[0], [[[255, 0, 0], [0, 0, 255]]])


def test_transparent_gray_value_is_black(tmp_path):
    def transparent(value):
        return _chunk(b"tRNS", struct.pack(">H", value))

    _write(tmp_path / "a" / "0.png", _png_bytes([[40, 100]], 0, 8, transparent(100)))
    _write(tmp_path / "b" / "0.png", _png_bytes([[40000, 1000]], 0, 16, transparent(1000)))
    data = load_dataset(str(tmp_path), split="all")
    assert data.image_shape == (1, 2) and data.pixels.dtype == np.uint16
    np.testing.assert_array_equal(data.pixels, [[[40 * 257, 0]], [[40000, 0]]])


def test_resize_of_16bit_images_keeps_16_bits(tmp_path):
    ramp = (np.arange(8, dtype=np.uint16) * 8000 + 7)[None, :].repeat(4, axis=0)
    _save(tmp_path / "a" / "0.png", ramp)
    _save(tmp_path / "b" / "0.png", ramp[:2, :4])
    data = load_dataset(str(tmp_path), split="all", resize=(4, 8))
    assert data.pixels.dtype == np.uint16
    np.testing.assert_array_equal(data.pixels[0], ramp)  # already that size: untouched
    assert len(np.unique(data.pixels[1])) > 4 and data.pixels[1].max() > 255


# --- limits -------------------------------------------------------------------------------


def test_resize_above_the_limit_fails_before_any_image_is_opened(tmp_path, rng, monkeypatch):
    for i in range(3):
        _save(tmp_path / "ab"[i % 2] / f"{i}.png", rng.integers(0, 256, (8, 8), dtype=np.uint8))

    def no_open(*args, **kwargs):
        raise AssertionError("an image was opened")

    monkeypatch.setattr(Image, "open", no_open)
    start = time.perf_counter()
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path), split="all", resize=(20000, 20000))
    assert time.perf_counter() - start < 0.5
    _one_line_error(excinfo, "resize to 20000x20000", "400,000,000", "WAVELENS_MAX_IMAGE_PIXELS")
    monkeypatch.setenv("WAVELENS_MAX_IMAGE_PIXELS", "63")
    with pytest.raises(WavelensError, match="resize to 8x8 .*WAVELENS_MAX_IMAGE_PIXELS=64"):
        load_dataset(str(tmp_path), split="all", resize=(8, 8))


def test_cli_huge_resize_is_one_line_error(tmp_path):
    _save(tmp_path / "data" / "a" / "0.png", np.zeros((8, 8), np.uint8))
    _save(tmp_path / "data" / "b" / "0.png", np.zeros((8, 8), np.uint8))
    result = run_cli("analyze", tmp_path / "data", "--out", tmp_path / "out", "--resize", "20000x20000")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wavelens: error:"), result.stderr
    assert "resize to 20000x20000" in lines[0] and "WAVELENS_MAX_IMAGE_PIXELS" in lines[0]


def test_image_above_the_pixel_limit_is_refused_from_its_header(tmp_path, monkeypatch):
    # The pixel data is garbage: decoding it would fail with another message.
    data = _png_bytes(np.zeros((10, 10), np.uint8), 0, 8)
    data = data[:data.index(b"IDAT") + 4] + b"\xff" * 20
    _write(tmp_path / "a" / "big.png", data)
    _save(tmp_path / "b" / "0.png", np.zeros((2, 2), np.uint8))
    monkeypatch.setenv("WAVELENS_MAX_IMAGE_PIXELS", "50")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path), split="all", resize=(2, 2))
    _one_line_error(excinfo, "big.png (10x10)", "100 pixels", "WAVELENS_MAX_IMAGE_PIXELS=100")


def _bomb_png(width, height):
    """A 1x1 PNG whose header declares width x height pixels."""
    data = bytearray(_png_bytes(np.zeros((1, 1), np.uint8), 0, 8))
    start = data.index(b"IHDR")
    data[start + 4:start + 12] = struct.pack(">II", width, height)
    data[start + 17:start + 21] = struct.pack(">I", zlib.crc32(bytes(data[start:start + 17])))
    return bytes(data)


@pytest.mark.parametrize("side", [100_000, 9_000])
def test_decompression_bomb_gives_our_limit(tmp_path, side):
    """Pillow refuses the first itself (above twice its limit) and only warns about the second:
    either way the error names wavelens' limit and Pillow's settings are left as they were."""
    _write(tmp_path / "a" / "bomb.png", _bomb_png(side, side))
    _save(tmp_path / "b" / "0.png", np.zeros((1, 1), np.uint8))
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path), split="all")
    _one_line_error(excinfo, "bomb.png", "WAVELENS_MAX_IMAGE_PIXELS", f"{side * side:,}")
    assert Image.MAX_IMAGE_PIXELS == before


def test_pillow_decompression_bomb_warning_is_not_raised(tmp_path, monkeypatch):
    """Within wavelens' limit Pillow must not warn (warnings are errors here)."""
    monkeypatch.setenv("WAVELENS_MAX_IMAGE_PIXELS", "100")
    _save(tmp_path / "a" / "0.png", np.full((8, 10), 3, np.uint8))
    _save(tmp_path / "b" / "0.png", np.full((8, 10), 4, np.uint8))
    before = Image.MAX_IMAGE_PIXELS
    data = load_dataset(str(tmp_path), split="all")
    assert data.n_images == 2 and Image.MAX_IMAGE_PIXELS == before
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # a caller's own setting is restored too
    load_dataset(str(tmp_path), split="all")
    assert Image.MAX_IMAGE_PIXELS == 10


def test_stack_above_the_data_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    for i in range(4):
        _save(tmp_path / "ab"[i % 2] / f"{i}.png", np.zeros((10, 10), np.uint16))
    monkeypatch.setenv("WAVELENS_MAX_DATA_BYTES", "799")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path), split="all")
    _one_line_error(excinfo, "4 images", "800 bytes", "WAVELENS_MAX_DATA_BYTES")


# --- corrupt files ------------------------------------------------------------------------

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".bmp": "BMP", ".gif": "GIF", ".tiff": "TIFF", ".webp": "WEBP"}


def _valid_bytes(tmp_path, suffix, rng):
    path = _save(tmp_path / "valid" / f"x{suffix}", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    return path.read_bytes()


@pytest.mark.parametrize("suffix", list(FORMATS))
@pytest.mark.parametrize("damage", ["truncated", "header only", "garbage", "empty"])
def test_corrupt_file_is_one_line_error(tmp_path, rng, suffix, damage):
    data = _valid_bytes(tmp_path, suffix, rng)
    data = {"truncated": data[:len(data) // 2], "header only": data[:24], "empty": b"",
            "garbage": rng.integers(0, 256, 300, dtype=np.uint8).tobytes()}[damage]
    _save(tmp_path / "data" / "a" / f"0{suffix}", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    _write(tmp_path / "data" / "b" / f"bad{suffix}", data)
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path / "data"), split="all")
    _one_line_error(excinfo, f"bad{suffix} is not a readable image (", "); remove or replace it.")


def test_mutated_files_load_or_give_one_line_error(tmp_path, rng):
    """A seeded mutator: every mutated file either loads or gives WavelensError, nothing else."""
    outcomes = {"loaded": 0, "refused": 0}
    for suffix in FORMATS:
        valid = _valid_bytes(tmp_path, suffix, rng)
        for trial in range(25):
            data = bytearray(valid)
            for _ in range(int(rng.integers(1, 6))):
                position = int(rng.integers(0, len(data)))
                if rng.random() < 0.7:
                    data[position] = int(rng.integers(0, 256))
                else:
                    del data[position:position + int(rng.integers(1, 32))]
            folder = tmp_path / f"m{suffix[1:]}{trial}"
            _write(folder / "a" / f"0{suffix}", bytes(data))
            _save(folder / "b" / "0.png", np.zeros((16, 16, 3), np.uint8))
            try:
                load_dataset(str(folder), split="all", resize=(16, 16))
                outcomes["loaded"] += 1
            except WavelensError as exc:
                assert "\n" not in str(exc)
                outcomes["refused"] += 1
    assert outcomes["refused"] > 0


def test_other_pillow_formats_are_not_opened(tmp_path):
    """Only the formats of the image suffixes: an EPS named .png would go to Ghostscript."""
    _write(tmp_path / "a" / "0.png", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 4 4\nshowpage\n")
    _save(tmp_path / "b" / "0.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(WavelensError, match=r"0.png is not a readable image \(cannot identify"):
        load_dataset(str(tmp_path), split="all")


def test_png_content_under_another_image_suffix_still_loads(tmp_path):
    _save(tmp_path / "a" / "0.jpg", np.full((2, 2), 9, np.uint8), format="PNG")
    _save(tmp_path / "b" / "0.png", np.zeros((2, 2), np.uint8))
    np.testing.assert_array_equal(load_dataset(str(tmp_path), split="all").pixels[0], 9)


# --- folders ------------------------------------------------------------------------------


def test_class_in_one_split_only(tmp_path):
    for split, classes in (("train", "ab"), ("test", "ac")):
        for c in classes:
            _save(tmp_path / split / c / "0.png", np.full((2, 2), ord(c), np.uint8))
    everything = load_dataset(str(tmp_path), split="all")
    assert everything.class_names == ["a", "b", "c"]
    assert [everything.class_names[k] for k in everything.labels] == ["a", "b", "a", "c"]
    np.testing.assert_array_equal(everything.pixels[:, 0, 0], [ord(c) for c in "abac"])
    # One class list for every split (issue 11): each split numbers the classes of both.
    assert load_dataset(str(tmp_path), split="train").class_names == ["a", "b", "c"]
    test = load_dataset(str(tmp_path), split="test")
    assert test.class_names == ["a", "b", "c"] and test.labels.tolist() == [0, 2]


_ANT, _BEE, _CAT = 10, 20, 30  # each class's pixel value, so that every label can be checked against its image


def _three_class_folder(root, n_train=4, n_test=3):
    """The issue-11 reproducer: train/{ant,bee,cat}, test/{bee,cat} (test has no ant)."""
    for split, classes, n in (("train", ("ant", "bee", "cat"), n_train), ("test", ("bee", "cat"), n_test)):
        for name in classes:
            for i in range(n):
                _save(root / split / name / f"{i}.png", np.full((4, 4), {"ant": _ANT, "bee": _BEE, "cat": _CAT}[name],
                                                                np.uint8))
    return root


def test_train_and_test_of_one_folder_share_one_class_list(tmp_path):
    root = _three_class_folder(tmp_path)
    train, test = load_dataset(root, split="train"), load_dataset(root, split="test")
    assert train.class_names == test.class_names == ["ant", "bee", "cat"]
    assert train.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert test.labels.tolist() == [1] * 3 + [2] * 3  # bee is 1 in both splits, though test has no ant
    for data in (train, test):
        np.testing.assert_array_equal(data.pixels[:, 0, 0], np.array([_ANT, _BEE, _CAT])[data.labels])
    assert load_dataset(root, split="all").class_names == ["ant", "bee", "cat"]


def test_a_limited_split_keeps_the_class_list_and_the_images(tmp_path):
    root = _three_class_folder(tmp_path, n_test=5)
    small = load_dataset(root, split="test", limit=4, random_state=1)
    assert small.class_names == ["ant", "bee", "cat"] and small.n_images == 4
    assert sorted(small.labels.tolist()) == [1, 1, 2, 2]  # stratified: 2 bees, 2 cats
    np.testing.assert_array_equal(small.pixels[:, 0, 0], np.array([_ANT, _BEE, _CAT])[small.labels])
    small_train = load_dataset(root, split="train", limit=3, random_state=1)  # one image of each class
    assert small_train.class_names == ["ant", "bee", "cat"] and small_train.labels.tolist() == [0, 1, 2]


def test_class_names_fix_the_numbering_of_a_folder(tmp_path):
    root = _three_class_folder(tmp_path, n_test=5)
    ordered = load_dataset(root, split="test", class_names=["cat", "bee", "ant", "dog"])
    assert ordered.class_names == ["cat", "bee", "ant", "dog"]
    assert ordered.labels.tolist() == [1] * 5 + [0] * 5  # the files' order stays; only the numbers change
    np.testing.assert_array_equal(ordered.pixels[:, 0, 0], np.array([_CAT, _BEE, _ANT, 0])[ordered.labels])
    # A subsample keeps the same images whatever the order of class_names.
    plain = load_dataset(root, split="test", limit=4, random_state=2)
    renamed = load_dataset(root, split="test", limit=4, random_state=2, class_names=["cat", "bee", "ant"])
    assert plain.ids.tolist() == renamed.ids.tolist()
    assert [plain.class_names[k] for k in plain.labels] == [renamed.class_names[k] for k in renamed.labels]
    # The train split has ant, which class_names leave out: one line naming the label and the parameter,
    # before any image is decoded (a broken image of ant is never opened).
    _write(root / "train" / "ant" / "broken.png", b"not an image")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(root, split="train", class_names=["bee", "cat"])
    _one_line_error(excinfo, "the label 'ant' is not one of class_names", "(2 names)")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(root, split="test", class_names=["bee", "cat", "bee"])
    _one_line_error(excinfo, "class_names names 'bee' twice")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(root, split="test", class_names="bee")
    _one_line_error(excinfo, "'class_names' parameter must be a list of class names")
    loose = tmp_path / "loose"
    _save(loose / "0.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(loose, class_names=["a"])
    _one_line_error(excinfo, "class_names were given but the images have no labels")


def test_empty_class_folders(tmp_path):
    _save(tmp_path / "one" / "a" / "0.png", np.zeros((2, 2), np.uint8))
    _save(tmp_path / "one" / "a" / "1.png", np.zeros((2, 2), np.uint8))
    (tmp_path / "one" / "b").mkdir()
    data = load_dataset(str(tmp_path / "one"), split="all")  # b: a class without images
    assert data.class_names == ["a", "b"] and list(data.labels) == [0, 0]
    (tmp_path / "none" / "a").mkdir(parents=True)
    (tmp_path / "none" / "b").mkdir()
    _write(tmp_path / "none" / "b" / "notes.txt", b"not an image")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path / "none"), split="all")  # not recognised as an image folder at all
    _one_line_error(excinfo, "holds no dataset")
    from wavelens.datasets._folder import load_image_folder

    with pytest.raises(WavelensError) as excinfo:
        load_image_folder(tmp_path / "none", "all")
    _one_line_error(excinfo, "the dataset is empty", "(a, b)", ".png")
    _save(tmp_path / "split" / "train" / "a" / "0.png", np.zeros((2, 2), np.uint8))
    (tmp_path / "split" / "test" / "a").mkdir(parents=True)
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path / "split"), split="test")
    _one_line_error(excinfo, "test: the dataset is empty")


def test_class_folder_name_not_utf8(tmp_path):
    folder = os.path.join(os.fsencode(tmp_path), b"caf\xe9")
    os.mkdir(folder)
    Image.fromarray(np.full((2, 2), 5, np.uint8)).save(os.fsdecode(os.path.join(folder, b"\xff.png")))
    _save(tmp_path / "tea" / "0.png", np.full((2, 2), 6, np.uint8))
    data = load_dataset(str(tmp_path), split="all")
    assert data.n_images == 2 and data.n_classes == 2
    assert all(name.encode("utf-8") for name in data.class_names)  # cleaned by make_dataset
    assert data.class_names[1] == "tea" and data.class_names[0].startswith("caf")
    np.testing.assert_array_equal(data.pixels[:, 0, 0], [5, 6])
    with open(os.path.join(folder, b"bad.png"), "wb") as handle:
        handle.write(b"broken")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path), split="all")
    _one_line_error(excinfo, "caf\ufffd", "bad.png is not a readable image")


def test_symlink_loops_are_one_line_errors(tmp_path):
    _save(tmp_path / "data" / "a" / "0.png", np.zeros((2, 2), np.uint8))
    _save(tmp_path / "data" / "b" / "0.png", np.zeros((2, 2), np.uint8))
    os.symlink("loop.png", tmp_path / "data" / "b" / "loop.png")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path / "data"), split="all")
    _one_line_error(excinfo, "loop.png is a symbolic link loop")
    os.remove(tmp_path / "data" / "b" / "loop.png")
    os.symlink("c", tmp_path / "data" / "c")
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path / "data"), split="all")
    _one_line_error(excinfo, "c is a symbolic link loop")
    os.remove(tmp_path / "data" / "c")
    os.symlink("..", tmp_path / "data" / "a" / "up")  # a link to a folder inside a class: ignored
    assert load_dataset(str(tmp_path / "data"), split="all").n_images == 2


def _dataset_with_class_b(tmp_path):
    _save(tmp_path / "a" / "0.png", np.zeros((2, 2), np.uint8))
    return _save(tmp_path / "b" / "0.png", np.zeros((2, 2), np.uint8))


def test_unreadable_class_folder(tmp_path, monkeypatch):
    _dataset_with_class_b(tmp_path)
    real_scandir = os.scandir

    def scandir(path):
        if os.fsdecode(path).endswith(os.sep + "b"):
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path), split="all")
    _one_line_error(excinfo, "b cannot be read as a folder (", "Permission denied")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any folder")
def test_unreadable_class_folder_by_permissions(tmp_path):
    _dataset_with_class_b(tmp_path)
    os.chmod(tmp_path / "b", 0)
    try:
        with pytest.raises(WavelensError) as excinfo:
            load_dataset(str(tmp_path), split="all")
        _one_line_error(excinfo, "b cannot be read as a folder (")
    finally:
        os.chmod(tmp_path / "b", 0o755)


def test_unreadable_image_file(tmp_path, monkeypatch):
    from wavelens.datasets import _folder

    path = _dataset_with_class_b(tmp_path)

    def refuse(file, mode="r", *args, **kwargs):
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return open(file, mode, *args, **kwargs)

    monkeypatch.setattr(_folder, "open", refuse, raising=False)
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path), split="all")
    _one_line_error(excinfo, "0.png cannot be read (", "Permission denied")


def test_float_tiff_with_nan_is_one_line_error(tmp_path):
    _save(tmp_path / "a" / "0.tif", np.array([[0.0, np.nan]], np.float32))
    _save(tmp_path / "b" / "0.tif", np.array([[0.0, 1.0]], np.float32))
    with pytest.raises(WavelensError) as excinfo:
        load_dataset(str(tmp_path), split="all")
    _one_line_error(excinfo, "0.tif holds NaN or infinite pixel values")


def test_hidden_files_are_ignored(tmp_path):
    """Such as macOS's AppleDouble files ``._name.png``, which are not images."""
    _dataset_with_class_b(tmp_path)
    _write(tmp_path / "a" / "._0.png", b"\x00\x05\x16\x07 AppleDouble")
    assert load_dataset(str(tmp_path), split="all").n_images == 2


def test_numbered_class_folders_sort_as_a_table_sorts_them(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["path,label"]
    for label in ("2", "10"):
        (tmp_path / label).mkdir()
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (4, 4), dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
            lines.append(f"{tmp_path.name}/{label}/{i}.png,{label}")
    (tmp_path / "list.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "list.csv").rename(tmp_path.parent / f"{tmp_path.name}.csv")  # beside the folder, not in it
    folder = load_dataset(tmp_path)
    table = load_dataset(tmp_path.parent / f"{tmp_path.name}.csv")
    assert folder.class_names == table.class_names == ["2", "10"]
