"""Pixels mapped from disk (wavelens._mapped): the same results as in memory, the same checks."""

import errno
import json
import os
import zipfile

import numpy as np
import pytest

import wavelens
import wavelens._mapped as mapped
import wavelens._npy as npy
import wavelens.datasets._folder as folder
from wavelens import WavelensError, load_dataset


@pytest.fixture
def digits_npz(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    path = tmp_path / "digits.npz"
    np.savez(path, images=(digits.images * 16).clip(0, 255).astype(np.uint8), labels=digits.target)
    return path


def _figures(result):
    summary = result.to_dict()
    summary.pop("timings_s", None)
    return json.dumps(summary, sort_keys=True, default=str)


def test_a_large_npz_is_mapped_and_gives_the_same_analysis(digits_npz, monkeypatch):
    in_memory = load_dataset(digits_npz)
    assert not mapped.is_mapped(in_memory.pixels)
    monkeypatch.setattr(npy, "MAPPED_MIN_BYTES", 1)
    on_disk = load_dataset(digits_npz)
    assert mapped.is_mapped(on_disk.pixels)
    np.testing.assert_array_equal(on_disk.pixels, in_memory.pixels)
    a = wavelens.analyze(in_memory, random_repeats=2)
    b = wavelens.analyze(on_disk, random_repeats=2)
    assert _figures(a) == _figures(b)
    np.testing.assert_array_equal(a.dictionary.assignments, b.dictionary.assignments)


def test_a_mapped_member_still_has_its_crc_checked(digits_npz, monkeypatch):
    monkeypatch.setattr(npy, "MAPPED_MIN_BYTES", 1)
    data = bytearray(digits_npz.read_bytes())
    with zipfile.ZipFile(digits_npz) as archive:
        info = archive.getinfo("images.npy")
    data[info.header_offset + 200 + 30 + len("images.npy")] ^= 0xFF  # a pixel byte flipped
    digits_npz.write_bytes(bytes(data))
    with pytest.raises(WavelensError, match=r"member 'images.npy' is corrupt \(BadZipFile: Bad CRC-32") as error:
        load_dataset(digits_npz)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_the_images_on_disk_are_a_copy_the_file_cannot_change(tmp_path, monkeypatch, save):
    monkeypatch.setattr(npy, "MAPPED_MIN_BYTES", 1)
    images = np.arange(5 * 6 * 6, dtype=np.uint8).reshape(5, 6, 6)
    save(tmp_path / "c.npz", images=images, labels=np.arange(5) % 2)
    dataset = load_dataset(tmp_path / "c.npz")
    assert mapped.is_mapped(dataset.pixels)
    np.savez(tmp_path / "c.npz", images=images[:1] + 100, labels=[0])  # rewritten (truncated) meanwhile
    np.testing.assert_array_equal(dataset.pixels, images)


def test_released_pages_read_back_unchanged(digits_npz, monkeypatch):
    monkeypatch.setattr(npy, "MAPPED_MIN_BYTES", 1)
    dataset = load_dataset(digits_npz)
    before = dataset.pixels.copy()
    mapped.release_pages()
    np.testing.assert_array_equal(dataset.pixels, before)


@pytest.mark.parametrize("min_files", [10 ** 6, 8])  # one process, then worker processes
def test_image_folders_decode_into_a_scratch_file_as_into_memory(rng, tmp_path, monkeypatch, min_files):
    import tempfile

    from PIL import Image

    images = tmp_path / "images"
    for c in ("a", "b"):
        (images / c).mkdir(parents=True)
        for i in range(30):
            Image.fromarray(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)).save(images / c / f"{i:02d}.png")
    monkeypatch.setattr(folder, "_PROCESS_MIN_FILES", min_files)
    in_memory = load_dataset(images)
    monkeypatch.setattr(folder, "MAPPED_MIN_BYTES", 1)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    on_disk = load_dataset(images)
    assert mapped.is_mapped(on_disk.pixels)
    np.testing.assert_array_equal(on_disk.pixels, in_memory.pixels)
    assert os.listdir(scratch) == []  # the scratch file never has a name


def test_no_room_for_the_scratch_file_is_one_line(monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(WavelensError, match=r"Cannot set aside 0\.0 GB in .* for the images: No space left on "
                                            r"device; free some space there, or set TMPDIR") as error:
        mapped.scratch_array((4, 8, 8), np.uint8, "the images")
    assert "\n" not in str(error.value)


def test_a_process_forked_while_the_lock_is_held_does_not_hang():
    # Image-decoding workers are forked while the releaser thread may hold the lock.
    import multiprocessing

    with mapped._LOCK:
        child = multiprocessing.get_context("fork").Process(target=mapped.release_pages)
        child.start()
    child.join(20)
    if child.exitcode is None:
        child.kill()
    assert child.exitcode == 0


def test_share_tables_by_blocks_equal_one_block(rng, monkeypatch):
    import wavelens._parallel as parallel
    from wavelens.association import share_table

    shares = rng.random((1000, 7)).astype(np.float32)
    labels = rng.integers(0, 4, 1000)
    whole = share_table(shares, labels, 4)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 7 * 4 * 64)  # blocks of 64 rows
    blocks = share_table(shares, labels, 4)
    np.testing.assert_allclose(blocks, whole, rtol=1e-5)
    np.testing.assert_allclose(whole.sum(axis=0), np.bincount(labels, weights=shares.sum(axis=1)), rtol=1e-5)


@pytest.mark.parametrize("labeled", [True, False])
def test_a_limit_on_an_image_folder_decodes_only_the_images_kept(rng, tmp_path, monkeypatch, labeled):
    from PIL import Image

    from wavelens.datasets._base import stratified_subsample

    for i in range(45):
        where = tmp_path / (f"c{i % 3}" if labeled else "")
        where.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (6, 5), dtype=np.uint8)).save(where / f"{i:02d}.png")
    whole = load_dataset(tmp_path)
    decoded = []
    original = folder._decode

    def counting(path, **kwargs):
        decoded.append(path)
        return original(path, **kwargs)

    monkeypatch.setattr(folder, "_decode", counting)
    part = load_dataset(tmp_path, limit=10, random_state=3)
    expected = stratified_subsample(whole, 10, 3)
    assert len(decoded) == 10
    assert part.ids.tolist() == expected.ids.tolist()
    assert part.index.tolist() == expected.index.tolist()
    assert part.labels.tolist() == expected.labels.tolist()
    np.testing.assert_array_equal(part.pixels, expected.pixels)
