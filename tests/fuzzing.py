"""A seeded mutation fuzzer for wavelens' dataset loaders.

For each format (IDX, npz, image folders, CIFAR batches, CSV of paths) it writes a small
valid dataset, then loads it again and again with one of its files mutated:
bytes flipped, replaced by extreme values, truncated, inserted, duplicated,
spliced from another file, and, for compressed or archived formats, the
payload mutated and compressed again so the mutation reaches the parser
behind the checksum. Every load must end either with a dataset that is
consistent (finite images, labels within the classes, unique printable ids) or with
:class:`wavelens.WavelensError`; anything else is a failure, and a load that
takes over ``--timeout`` seconds is a hang.

Run by the test suite (2,000 inputs per format, in a subprocess so that a
crash fails the test instead of killing it) and by ``make fuzz``::

    python tests/fuzzing.py --per-format 10000 --seed 0

It prints one JSON line per format and exits with 1 if any input failed.
"""

import argparse
import gzip
import io
import json
import os
import pickle
import shutil
import signal
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import idx_bytes  # noqa: E402

FORMATS = ("idx", "npz", "images", "cifar", "csv")
_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0xFE, 0x40, 0x20]
_INTERESTING_WORDS = [b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00", b"\x80\x00\x00\x00",
                      b"\x00\x01\x00\x00", b"\x00\x00\xff\xff"]


class Hang(Exception):
    """A single load ran over the time limit."""


def _on_alarm(signum, frame):
    raise Hang()


# --- seed datasets ----------------------------------------------------------------------------------

def _seed_idx(folder, rng):
    for split, n in (("train", 6), ("t10k", 3)):
        images = rng.integers(0, 256, (n, 5, 4), dtype=np.uint8)
        labels = (np.arange(n) % 3).astype(np.uint8)
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    return ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte.gz"], "all"


def _seed_npz(folder, rng):
    np.savez(folder / "data.npz", images=rng.random((6, 4, 4)).astype(np.float32),
             labels=np.arange(6) % 2, class_names=np.array(["a", "b"]))
    return ["data.npz"], "all"


def _seed_images(folder, rng):
    from PIL import Image

    kinds = [("a", "png", "L"), ("a", "bmp", "RGB"), ("b", "jpg", "RGB"), ("b", "gif", "P"),
             ("c", "tif", "L"), ("c", "webp", "RGB")]
    files = []
    for i, (cls, suffix, mode) in enumerate(kinds):
        (folder / cls).mkdir(exist_ok=True)
        shape = (6, 5, 3) if mode == "RGB" else (6, 5)
        image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
        if mode == "P":
            image = image.convert("P")
        name = f"{cls}/{i}.{suffix}"
        image.save(folder / name)
        files.append(name)
    return files, "all"


def _seed_cifar(folder, rng):
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for protocol, name in zip([2, 5, 2, 4, 3, 2], names):
        data = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
        batch = {b"batch_label": b"batch", b"labels": [0, 1, 2], b"data": data,
                 b"filenames": [b"x.png", b"y.png", b"z.png"]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    meta = {b"label_names": [b"cat", b"dog", b"frog"], b"num_cases_per_batch": 3, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return ["data_batch_1", "data_batch_2", "test_batch", "batches.meta"], "all"


def _seed_csv(folder, rng):
    from PIL import Image

    rows = ["path,label,split"]
    for i, (cls, split) in enumerate([("cat", "train"), ("dog", "train"), ("cat", "test"), ("dog", "test")]):
        (folder / "img" / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (5, 4), dtype=np.uint8)).save(folder / "img" / cls / f"{i}.png")
        rows.append(f"img/{cls}/{i}.png,{cls},{split}" if i < 3 else f'"./img/{cls}/../{cls}/{i}.png",{cls},{split}')
    (folder / "list.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return ["list.csv", "list.csv", "list.csv", "img/cat/0.png"], "all"


_SEEDS = {"idx": _seed_idx, "npz": _seed_npz, "images": _seed_images, "cifar": _seed_cifar, "csv": _seed_csv}


# --- mutations --------------------------------------------------------------------------------------

def _mutate_bytes(data, rng, donor):
    data = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        choice = int(rng.integers(0, 9))
        n = len(data)
        at = int(rng.integers(0, n)) if n else 0
        if choice == 0 and n:  # flip a bit
            data[at] ^= 1 << int(rng.integers(0, 8))
        elif choice == 1 and n:  # an interesting byte
            data[at] = _INTERESTING[int(rng.integers(0, len(_INTERESTING)))]
        elif choice == 2 and n >= 4:  # an interesting 32-bit word (sizes, counts)
            word = _INTERESTING_WORDS[int(rng.integers(0, len(_INTERESTING_WORDS)))]
            at = min(at, n - 4)
            data[at:at + 4] = word
        elif choice == 3:  # truncate
            del data[at:]
        elif choice == 4:  # insert random bytes
            data[at:at] = rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8).tobytes()
        elif choice == 5 and n:  # delete a span
            del data[at:at + int(rng.integers(1, 32))]
        elif choice == 6 and n:  # duplicate a span
            span = data[at:at + int(rng.integers(1, 64))]
            data[at:at] = span
        elif choice == 7 and donor:  # splice in another file's bytes
            start = int(rng.integers(0, len(donor)))
            data[at:at + 32] = donor[start:start + 32]
        elif n:  # random byte
            data[at] = int(rng.integers(0, 256))
    return bytes(data)


def _mutate_gzip_payload(data, rng, donor):
    try:
        payload = gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        return _mutate_bytes(data, rng, donor)
    return gzip.compress(_mutate_bytes(payload, rng, donor), mtime=0)


def _mutate_zip_member(data, rng, donor):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError, RuntimeError):
        return _mutate_bytes(data, rng, donor)
    names = sorted(members)
    target = names[int(rng.integers(0, len(names)))]
    members[target] = _mutate_bytes(members[target], rng, donor)
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if rng.random() < 0.5 else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name in names:
            archive.writestr(name, members[name])
    return buffer.getvalue()


def mutate(data, rng, donor=b""):
    """One mutated version of ``data``: raw bytes, or the payload behind gzip or zip."""
    if data[:2] == b"\x1f\x8b" and rng.random() < 0.6:
        return _mutate_gzip_payload(data, rng, donor)
    if data[:2] == b"PK" and rng.random() < 0.7:
        return _mutate_zip_member(data, rng, donor)
    return _mutate_bytes(data, rng, donor)


# --- the run ----------------------------------------------------------------------------------------

def _check_consistent(dataset):
    """A dataset that loaded must make sense: finite images, labels within the classes."""
    images = dataset.images
    assert images.ndim in (3, 4) and len(images) == dataset.n_images > 0, images.shape
    assert np.isfinite(images).all(), "non-finite pixels"
    assert dataset.labels.min() >= 0 and dataset.labels.max() < dataset.n_classes, "label out of range"
    assert all(isinstance(name, str) and name.isprintable() for name in dataset.class_names)
    ids = dataset.ids.tolist()
    assert len(ids) == dataset.n_images and len(set(ids)) == len(ids), "ids not one per image, or not unique"
    assert all(isinstance(i, str) and i and i.isprintable() for i in ids), "ids not printable text"
    if dataset.paths is not None:
        assert len(dataset.paths) == dataset.n_images and all(os.path.isabs(p) for p in dataset.paths.tolist())


def fuzz_format(kind, n_inputs, *, seed=0, timeout=10.0, root=None):
    """Fuzz one format; return a dict of counts and the first failures."""
    from wavelens import WavelensError, load_dataset

    rng = np.random.default_rng([seed, FORMATS.index(kind)])
    work = Path(tempfile.mkdtemp(prefix=f"wavelens-fuzz-{kind}-", dir=root))
    counts = {"format": kind, "inputs": 0, "loaded": 0, "refused": 0, "failures": 0, "hangs": 0,
              "slowest_s": 0.0}
    failures = []
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        folder = work / "dataset"
        folder.mkdir()
        files, split = _SEEDS[kind](folder, rng)
        originals = {name: (folder / name).read_bytes() for name in files}
        target = {"npz": folder / "data.npz", "csv": folder / "list.csv"}.get(kind, folder)
        for case in range(n_inputs):
            name = files[int(rng.integers(0, len(files)))]
            donor = originals[files[int(rng.integers(0, len(files)))]]
            mutated = mutate(originals[name], rng, donor)
            (folder / name).write_bytes(mutated)
            start = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                dataset = load_dataset(target, split=split)
                _check_consistent(dataset)
                counts["loaded"] += 1
            except WavelensError as exc:
                assert "\n" not in str(exc), "multi-line error"
                counts["refused"] += 1
            except Hang:
                counts["hangs"] += 1
                failures.append({"case": case, "file": name, "error": f"hang over {timeout} s"})
            except BaseException as exc:  # everything else is what the fuzzer looks for
                if isinstance(exc, KeyboardInterrupt):
                    raise
                counts["failures"] += 1
                if len(failures) < 20:
                    failures.append({"case": case, "file": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
                    keep = work / f"failure-{case}-{Path(name).name}"
                    keep.write_bytes(mutated)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            counts["slowest_s"] = max(counts["slowest_s"], round(time.perf_counter() - start, 3))
            counts["inputs"] += 1
            (folder / name).write_bytes(originals[name])
    finally:
        signal.signal(signal.SIGALRM, previous)
        if not failures:
            shutil.rmtree(work, ignore_errors=True)
        else:
            counts["kept_in"] = str(work)
    counts["first_failures"] = failures
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-format", type=int, default=2000, help="mutated inputs per format")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a load counts as a hang")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated: " + ", ".join(FORMATS))
    args = parser.parse_args(argv)
    os.environ.setdefault("WAVELENS_MAX_DATA_BYTES", str(256 * 2**20))  # bounded memory while fuzzing
    bad = 0
    for kind in args.formats.split(","):
        start = time.perf_counter()
        counts = fuzz_format(kind, args.per_format, seed=args.seed, timeout=args.timeout)
        counts["seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps(counts), flush=True)
        bad += counts["failures"] + counts["hangs"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
