import numpy as np
import pytest
from PIL import Image

from conftest import idx_bytes, write_cifar_folder, write_idx_folder
from wavelens import WavelensError, load_dataset
from wavelens.datasets import read_idx


def _uint8_images(rng, n, shape):
    return rng.integers(0, 256, size=(n,) + shape, dtype=np.uint8)


@pytest.mark.parametrize("compress", [True, False])
def test_idx_folder(tmp_path, rng, compress):
    images, labels = _uint8_images(rng, 12, (6, 5)), rng.integers(0, 3, 12).astype(np.uint8)
    write_idx_folder(tmp_path, images, labels, compress=compress)
    data = load_dataset(tmp_path)
    assert data.split == "train"
    assert data.images.dtype == np.float32 and data.images.shape == (12, 6, 5)
    np.testing.assert_array_equal(data.images, images.astype(np.float32) / 255)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.class_names == ["0", "1", "2"]


def test_idx_splits_and_all(tmp_path, rng):
    train, test = _uint8_images(rng, 8, (4, 4)), _uint8_images(rng, 3, (4, 4))
    write_idx_folder(tmp_path, train, np.arange(8) % 2, split="train")
    write_idx_folder(tmp_path, test, np.arange(3) % 2, split="test")
    assert load_dataset(tmp_path, split="test").n_images == 3
    everything = load_dataset(tmp_path, split="all")
    assert everything.n_images == 11
    np.testing.assert_array_equal(everything.images[8:], test / np.float32(255))


def test_read_idx_round_trip(tmp_path, rng):
    array = _uint8_images(rng, 3, (2, 7))
    (tmp_path / "x.idx").write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(read_idx(tmp_path / "x.idx"), array)


def test_builtin_name_with_data_dir(tmp_path, rng, monkeypatch):
    monkeypatch.delenv("WAVELENS_DATA", raising=False)
    write_idx_folder(tmp_path / "mnist", _uint8_images(rng, 5, (28, 28)), np.arange(5), split="test")
    data = load_dataset("mnist", split="test", data_dir=tmp_path)
    assert data.name == "mnist" and data.n_images == 5


def test_builtin_name_from_environment(tmp_path, rng, monkeypatch):
    write_idx_folder(tmp_path / "mnist", _uint8_images(rng, 5, (28, 28)), np.arange(5))
    monkeypatch.setenv("WAVELENS_DATA", str(tmp_path))
    assert load_dataset("mnist").n_images == 5


def test_missing_builtin_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("WAVELENS_DATA", str(tmp_path))
    with pytest.raises(WavelensError, match=rf"Cannot find the mnist files: looked in .*{tmp_path}/mnist.*data_dir='DIR'"):
        load_dataset("mnist")


def test_cifar10_folder(tmp_path, rng):
    batches = [_uint8_images(rng, 4, (32, 32, 3)) for _ in range(6)]
    labels = [rng.integers(0, 10, 4) for _ in range(6)]
    names = [f"class{i}" for i in range(10)]
    write_cifar_folder(tmp_path, batches, labels, names)
    train = load_dataset(tmp_path)
    assert train.name == "cifar-10" and train.images.shape == (20, 32, 32, 3)
    np.testing.assert_array_equal(train.images[:4], batches[0] / np.float32(255))
    np.testing.assert_array_equal(train.labels, np.concatenate(labels[:5]))
    assert train.class_names == names
    test = load_dataset(tmp_path, split="test")
    np.testing.assert_array_equal(test.labels, labels[5])


def test_cifar100_folder(tmp_path, rng):
    batches = [_uint8_images(rng, 5, (32, 32, 3)), _uint8_images(rng, 2, (32, 32, 3))]
    labels = [[0, 99, 5, 5, 1], [3, 4]]
    write_cifar_folder(tmp_path, batches, labels, [f"c{i}" for i in range(100)], cifar100=True)
    data = load_dataset(tmp_path, split="all")
    assert data.name == "cifar-100" and data.n_images == 7 and data.n_classes == 100
    assert data.labels.tolist() == [0, 99, 5, 5, 1, 3, 4]


def test_cifar_pickle_cannot_run_code(tmp_path, rng):
    write_cifar_folder(tmp_path, [_uint8_images(rng, 2, (32, 32, 3))] * 6, [[0, 1]] * 6, ["a", "b"])
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(WavelensError, match="data_batch_1 is not a readable CIFAR batch.*refusing to load builtins.print"):
        load_dataset(tmp_path)


def _save_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_image_folder_gray(tmp_path, rng):
    images = _uint8_images(rng, 4, (9, 7))
    for i, image in enumerate(images):
        _save_png(tmp_path / ("cat" if i < 2 else "dog") / f"{i}.png", image)
    data = load_dataset(tmp_path)
    assert data.split == "all" and data.class_names == ["cat", "dog"]
    assert data.labels.tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(data.images, images / np.float32(255))


def test_image_folder_rgb_with_splits_and_jpeg(tmp_path, rng):
    for split, n in (("train", 3), ("test", 2)):
        for i in range(n):
            image = Image.fromarray(_uint8_images(rng, 1, (8, 8, 3))[0])
            image.save(tmp_path / split / "a" / f"{i}.jpg" if (tmp_path / split / "a").mkdir(parents=True, exist_ok=True) is None else None)
        _save_png(tmp_path / split / "b" / "x.png", _uint8_images(rng, 1, (8, 8, 3))[0])
    train = load_dataset(tmp_path)
    assert train.split == "train" and train.images.shape == (4, 8, 8, 3)
    assert load_dataset(tmp_path, split="all").n_images == 7


def test_image_folder_resize(tmp_path, rng):
    _save_png(tmp_path / "a" / "0.png", _uint8_images(rng, 1, (10, 12))[0])
    _save_png(tmp_path / "b" / "0.png", _uint8_images(rng, 1, (6, 6))[0])
    with pytest.raises(WavelensError, match=r"2 different sizes .*10x12.*6x6.*resize=\(H, W\)"):
        load_dataset(tmp_path)
    assert load_dataset(tmp_path, resize=(8, 8)).images.shape == (2, 8, 8)


def test_image_folder_corrupt_image(tmp_path, rng):
    _save_png(tmp_path / "a" / "0.png", _uint8_images(rng, 1, (8, 8))[0])
    (tmp_path / "a" / "1.png").write_bytes(b"not a png at all")
    with pytest.raises(WavelensError, match=r"1.png is not a readable image"):
        load_dataset(tmp_path)


@pytest.mark.parametrize("dtype, scale", [(np.uint8, 255), (np.uint16, 65535), (np.float32, 1), (np.float64, 1)])
def test_npz(tmp_path, rng, dtype, scale):
    raw = rng.random((6, 5, 5))
    images = (raw * scale).astype(dtype)
    np.savez(tmp_path / "d.npz", images=images, labels=np.array([0, 1, 2, 0, 1, 2]),
             class_names=np.array(["x", "y", "z"]))
    data = load_dataset(tmp_path / "d.npz")
    assert data.name == "d" and data.class_names == ["x", "y", "z"]
    np.testing.assert_allclose(data.images, images.astype(np.float64) / scale, atol=1e-7)


def test_npz_string_labels_and_out_of_range_floats(tmp_path):
    images = np.linspace(-2.0, 6.0, 2 * 4 * 4).reshape(2, 4, 4)
    np.savez(tmp_path / "d.npz", images=images, labels=np.array(["dog", "cat"]))
    data = load_dataset(tmp_path / "d.npz")
    assert data.class_names == ["cat", "dog"] and data.labels.tolist() == [1, 0]
    # Floats beyond [-1, 1] are divided by their largest absolute value (6 here).
    np.testing.assert_allclose(data.images, (images / 6.0).astype(np.float32))


def test_limit_is_stratified_and_seeded(tmp_path, rng):
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    np.savez(tmp_path / "d.npz", images=rng.random((100, 4, 4)), labels=labels)
    a = load_dataset(tmp_path / "d.npz", limit=10, random_state=3)
    b = load_dataset(tmp_path / "d.npz", limit=10, random_state=3)
    c = load_dataset(tmp_path / "d.npz", limit=10, random_state=4)
    assert np.bincount(a.labels).tolist() == [5, 3, 2]
    np.testing.assert_array_equal(a.index, b.index)
    assert not np.array_equal(a.index, c.index)
    np.testing.assert_array_equal(a.images, load_dataset(tmp_path / "d.npz").images[a.index])


def test_digits():
    data = load_dataset("digits")
    assert data.images.shape == (1797, 8, 8) and data.n_classes == 10
    assert data.images.min() == 0.0 and data.images.max() == 1.0


# --- bad input -------------------------------------------------------------------------------

def test_missing_path(tmp_path):
    with pytest.raises(WavelensError, match="does not exist"):
        load_dataset(tmp_path / "nope")


def test_unknown_name():
    with pytest.raises(WavelensError, match=r"'cifar' is neither a built-in dataset name.*see help\(wavelens.load_dataset\)"):
        load_dataset("cifar")


def test_corrupt_gzip(tmp_path, rng):
    write_idx_folder(tmp_path, _uint8_images(rng, 4, (4, 4)), np.arange(4))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(WavelensError, match="train-images-idx3-ubyte.gz is a corrupt or truncated gzip file"):
        load_dataset(tmp_path)


def test_gzip_of_several_members_and_a_corrupt_member(tmp_path, rng):
    import gzip

    images = _uint8_images(rng, 6, (4, 4))
    write_idx_folder(tmp_path, images, np.arange(6), compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    raw = path.read_bytes()
    path.unlink()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:50]) + gzip.compress(raw[50:]))
    np.testing.assert_array_equal(load_dataset(tmp_path).pixels, images)  # as `cat a.gz b.gz` makes
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:50]) + b"\x1f\x8bnot gzip")
    with pytest.raises(WavelensError, match="is a corrupt or truncated gzip file"):
        load_dataset(tmp_path)


def test_truncated_raw_idx(tmp_path, rng):
    write_idx_folder(tmp_path, _uint8_images(rng, 4, (4, 4)), np.arange(4), compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(WavelensError, match=r"is truncated: its header announces shape \(4, 4, 4\)"):
        load_dataset(tmp_path)


def test_not_an_idx_file(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"hello world, not idx")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(3)))
    with pytest.raises(WavelensError, match="is not an IDX file"):
        load_dataset(tmp_path)


def test_idx_count_mismatch(tmp_path, rng):
    write_idx_folder(tmp_path, _uint8_images(rng, 4, (4, 4)), np.arange(3))
    with pytest.raises(WavelensError, match="holds 4 images but .* holds 3 labels"):
        load_dataset(tmp_path)


def test_npz_count_mismatch(tmp_path, rng):
    np.savez(tmp_path / "d.npz", images=rng.random((4, 4, 4)), labels=np.arange(5))
    with pytest.raises(WavelensError, match="4 images but 5 labels"):
        load_dataset(tmp_path / "d.npz")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_npz_nan_or_inf(tmp_path, rng, bad):
    images = rng.random((3, 4, 4))
    images[1, 2, 3] = bad
    np.savez(tmp_path / "d.npz", images=images, labels=np.arange(3))
    with pytest.raises(WavelensError, match="holds 1 NaN or infinite value"):
        load_dataset(tmp_path / "d.npz")


def test_npz_missing_arrays(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros(3))
    with pytest.raises(WavelensError, match="lacks the array\\(s\\) images, labels"):
        load_dataset(tmp_path / "d.npz")


def test_npz_corrupt(tmp_path):
    (tmp_path / "d.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(WavelensError, match="is not a readable .npz file"):
        load_dataset(tmp_path / "d.npz")


def test_empty_npz(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.zeros((0, 4, 4)), labels=np.zeros(0, int))
    with pytest.raises(WavelensError, match="the dataset is empty"):
        load_dataset(tmp_path / "d.npz")


def test_empty_image_folder(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(WavelensError, match="holds no dataset wavelens can read \\(or it is empty\\)"):
        load_dataset(tmp_path)


def test_split_of_unsplit_dataset():
    with pytest.raises(WavelensError, match="digits has no train/test split.*split='all'"):
        load_dataset("digits", split="train")


def test_limit_must_be_positive():
    with pytest.raises(WavelensError, match="'limit' parameter must be an integer >= 1"):
        load_dataset("digits", limit=0)


def test_idx_train_and_test_of_different_sizes(tmp_path, rng):
    write_idx_folder(tmp_path, _uint8_images(rng, 3, (4, 4)), np.arange(3), split="train")
    write_idx_folder(tmp_path, _uint8_images(rng, 2, (5, 5)), np.arange(2), split="test")
    with pytest.raises(WavelensError, match="holds 5x5 images but the train split holds 4x4"):
        load_dataset(tmp_path, split="all")
