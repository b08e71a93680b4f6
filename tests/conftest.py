import gzip
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array):
    """Encode an array as an IDX file (uint8 only, as MNIST uses)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.tobytes()


def write_idx_folder(folder, images, labels, *, split="train", compress=True):
    """Write an MNIST-layout images/labels pair for ``split`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "train" if split == "train" else "t10k"
    suffix = ".gz" if compress else ""
    for kind, rank, data in (("images", 3, images), ("labels", 1, labels)):
        payload = idx_bytes(data)
        path = folder / f"{prefix}-{kind}-idx{rank}-ubyte{suffix}"
        path.write_bytes(gzip.compress(payload) if compress else payload)
    return folder


def write_cifar_folder(folder, images_per_batch, labels_per_batch, class_names, *, cifar100=False):
    """Write CIFAR python batches: images (n, 32, 32, 3) uint8 per batch."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = ["train", "test"] if cifar100 else [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    label_key = b"fine_labels" if cifar100 else b"labels"
    for name, images, labels in zip(names, images_per_batch, labels_per_batch):
        data = np.asarray(images, np.uint8).transpose(0, 3, 1, 2).reshape(len(images), -1)
        with open(folder / name, "wb") as handle:
            pickle.dump({b"data": data, label_key: list(labels)}, handle)
    meta_name, names_key = ("meta", b"fine_label_names") if cifar100 else ("batches.meta", b"label_names")
    with open(folder / meta_name, "wb") as handle:
        pickle.dump({names_key: [n.encode() for n in class_names]}, handle)
    return folder


def run_cli(*args, cwd=None):
    """Run the real console entry point in a subprocess."""
    return subprocess.run([sys.executable, "-m", "wavelens", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def fashion_mnist_dir():
    if not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST is not installed here: apt-get install dataset-fashion-mnist "
                    "(.ci/run does it) to run the real-data tests")
    return FASHION_MNIST_DIR


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def planted_patterns(n_per_class=60, n_classes=4, size=16, noise=0.01, seed=0):
    """Images whose wavelet matrix (db1, level 1) is one class-specific rank-1 pattern plus noise.

    Returns the dataset and the planted patterns (n_classes, size, size), unit norm.
    """
    from wavelens import Dataset, inverse_wavelet_transform, wavelet_layout

    rng = np.random.default_rng(seed)
    left, _ = np.linalg.qr(rng.standard_normal((size, size)))
    right, _ = np.linalg.qr(rng.standard_normal((size, size)))
    planted = np.stack([np.outer(left[:, c], right[:, c]) for c in range(n_classes)])
    labels = np.repeat(np.arange(n_classes), n_per_class)
    # Distinct scales per class keep the dataset's singular values apart, so its SVD
    # finds the planted patterns themselves rather than a rotation of them.
    amplitude = (1.0 + labels) * rng.uniform(0.8, 1.2, size=len(labels)) * rng.choice([-1, 1], size=len(labels))
    matrices = amplitude[:, None, None] * planted[labels] + noise * rng.standard_normal((len(labels), size, size))
    layout = wavelet_layout((size, size), wavelet="db1", level=1, mode="periodization")
    images = inverse_wavelet_transform(matrices, layout).astype(np.float32)
    dataset = Dataset(images, labels, [f"class{c}" for c in range(n_classes)], name="planted", split="all",
                      source="synthetic")
    return dataset, planted
