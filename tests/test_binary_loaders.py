"""Hardened binary loaders (issue 10): CIFAR pickles, IDX (raw and gzip), .npz.

Every bad input must give one WavelensError line, never a crash, a traceback of
another kind, or an allocation the file's bytes do not justify; good inputs of
every format variant must load to exactly the arrays written.
"""

import gzip
import io
import pickle
import pickletools
import random
import struct
import tracemalloc
import types
import zlib

import numpy as np
import pytest

from conftest import idx_bytes
from wavelens import WavelensError, load_dataset
from wavelens.datasets import _cifar, _idx, _npz, read_idx
from wavelens.datasets._pickle import PickleRefused, read_pickle

# --- helpers --------------------------------------------------------------------------------------


def _images(rng, n):
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def _rows(images):
    """CIFAR's 'data': one row of 3,072 bytes per image, the red plane, then green, then blue."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1))


def _py2_pickle(obj):
    """``obj`` pickled as Python 2's cPickle (protocol 2) pickled the CIFAR files from Toronto.

    Strings (bytes here) are SHORT_BINSTRING or BINSTRING, arrays are
    numpy.core.multiarray._reconstruct + BUILD, lists are appended 1,000 items at
    a time, and every container and string is memoized (BINPUT / LONG_BINPUT).
    """
    out = bytearray(b"\x80\x02")
    memo = [0]

    def put():
        out.extend(b"q" + bytes([memo[0]]) if memo[0] < 256 else b"r" + struct.pack("<I", memo[0]))
        memo[0] += 1

    def string(b):
        out.extend(b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<i", len(b)) + b)
        put()

    def integer(v):
        if 0 <= v < 256:
            out.extend(b"K" + bytes([v]))
        elif 0 <= v < 65536:
            out.extend(b"M" + struct.pack("<H", v))
        else:
            out.extend(b"J" + struct.pack("<i", v))

    def value(v):
        if isinstance(v, bytes):
            string(v)
        elif isinstance(v, int):
            integer(v)
        elif isinstance(v, list):
            out.extend(b"]")
            put()
            for i in range(0, len(v), 1000):
                out.extend(b"(")
                for item in v[i:i + 1000]:
                    value(item)
                out.extend(b"e")
        elif isinstance(v, dict):
            out.extend(b"}")
            put()
            out.extend(b"(")
            for key, item in v.items():
                value(key)
                value(item)
            out.extend(b"u")
        else:  # a numpy array
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\n")
            put()
            out.extend(b"cnumpy\nndarray\n")
            put()
            out.extend(b"K\x00\x85")
            put()
            string(b"b")
            out.extend(b"\x87")
            put()
            out.extend(b"R")
            put()
            out.extend(b"(K\x01(")
            for size in v.shape:
                integer(size)
            out.extend(b"t")
            put()
            out.extend(b"cnumpy\ndtype\n")
            put()
            string(v.dtype.str[1:].encode())
            out.extend(b"K\x00K\x01\x87")
            put()
            out.extend(b"R")
            put()
            out.extend(b"(K\x03")
            string(v.dtype.str[:1].encode())
            out.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t")
            put()
            out.extend(b"b\x89")
            string(v.tobytes())
            out.extend(b"t")
            put()
            out.extend(b"b")

    value(obj)
    out.extend(b".")
    data = bytes(out)
    if len(data) < 2**20:  # (dis prints every argument: slow on 30 MB)
        pickletools.dis(data, out=io.StringIO())  # a well-formed pickle: marks and stack agree
    return data


def _cifar_folder(folder, batch, meta=None, *, cifar100=False):
    """A CIFAR folder of one test batch (bytes) and its meta (bytes; ten names by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    names_key, meta_name, test_name = ((b"fine_label_names", "meta", "test") if cifar100
                                       else (b"label_names", "batches.meta", "test_batch"))
    if meta is None:
        meta = pickle.dumps({names_key: [f"c{i}".encode() for i in range(100 if cifar100 else 10)]}, protocol=2)
    (folder / meta_name).write_bytes(meta)
    (folder / test_name).write_bytes(batch)
    return folder


def _load_test_batch(tmp_path, batch, meta=None):
    return load_dataset(_cifar_folder(tmp_path / "cifar", batch, meta), split="test")


def _gz_idx(array, dtype=np.uint8, code=0x08):
    array = np.asarray(array, dtype=dtype)
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.astype(np.dtype(dtype).newbyteorder(">")).tobytes()


def _idx_header(shape, code=0x08):
    return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", s) for s in shape)


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def _npy_raw(header_text, data=b"", version=(1, 0)):
    """A .npy member with ``header_text`` as its header dict, written by hand."""
    header = header_text.encode("latin-1")
    header += b" " * ((-len(header) - 11) % 64) + b"\n"
    size = struct.pack("<H", len(header)) if version == (1, 0) else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes(version) + size + header + data


def _zip(members):
    """A zip archive written by hand, so its directory can say anything.

    ``members``: (name, payload) or (name, payload, options) with options among
    method (0 stored, 8 deflated...), flags, crc, compress (payload as stored:
    deflated for method 8 unless given), file_size, compress_size.
    """
    out, central = bytearray(), bytearray()
    for member in members:
        name, payload, options = (member + ({},))[:3]
        method = options.get("method", 0)
        stored = options.get("compress")
        if stored is None:
            if method == 8:
                deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
                stored = deflate.compress(payload) + deflate.flush()
            else:
                stored = payload
        crc = options.get("crc", zlib.crc32(payload))
        file_size = options.get("file_size", len(payload))
        compress_size = options.get("compress_size", len(stored))
        flags = options.get("flags", 0)
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, flags, method, 0, 0x21, crc, compress_size, file_size,
                           len(encoded), 0) + encoded + stored
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, flags, method, 0, 0x21, crc, compress_size,
                               file_size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + end)


def _good_members(n=3):
    return [("images.npy", _npy(np.arange(n * 16, dtype=np.uint8).reshape(n, 4, 4))),
            ("labels.npy", _npy(np.arange(n) % 2))]


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- CIFAR: good inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_cifar_every_protocol_loads_the_same_arrays(tmp_path, rng, protocol):
    images = _images(rng, 7)
    labels = [0, 9, 3, 3, 1, 7, 2]
    batch = pickle.dumps({b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": _rows(images),
                          b"filenames": [f"img_{i}.png".encode() for i in range(7)]}, protocol=protocol)
    meta = pickle.dumps({b"num_cases_per_batch": 7, b"label_names": [f"n{i}".encode() for i in range(10)],
                         b"num_vis": 3072}, protocol=protocol)
    data = _load_test_batch(tmp_path, batch, meta)
    assert data.name == "cifar-10" and data.pixels.dtype == np.uint8
    np.testing.assert_array_equal(data.pixels, images)
    assert data.labels.tolist() == labels and data.class_names == [f"n{i}" for i in range(10)]


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_cifar_numpy_scalar_labels_and_str_keys(tmp_path, rng, protocol):
    # What conftest.write_cifar_folder writes: labels as a list of numpy int64.
    images = _images(rng, 4)
    labels = np.array([5, 0, 255, 256], dtype=np.int64)
    batch = pickle.dumps({"data": _rows(images), "labels": list(labels)}, protocol=protocol)
    meta = pickle.dumps({"label_names": [f"n{i}" for i in range(257)]}, protocol=protocol)
    data = _load_test_batch(tmp_path, batch, meta)
    np.testing.assert_array_equal(data.pixels, images)
    assert data.labels.tolist() == labels.tolist() and data.n_classes == 257


def test_cifar_as_shipped_by_toronto(tmp_path, rng):
    """Python 2 cPickle, protocol 2: BINSTRING data, 10,000 labels in APPENDS of 1,000."""
    images = _images(rng, 10_000)
    labels = rng.integers(0, 10, 10_000).tolist()
    batch = _py2_pickle({b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": _rows(images),
                         b"filenames": [f"f{i}.png".encode() for i in range(10_000)]})
    assert b"T" + struct.pack("<i", 10_000 * 3072) in batch  # the image bytes as one BINSTRING
    meta = _py2_pickle({b"num_cases_per_batch": 10_000, b"label_names": [b"airplane", b"automobile", b"bird",
                        b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"], b"num_vis": 3072})
    data = _load_test_batch(tmp_path, batch, meta)
    np.testing.assert_array_equal(data.pixels, images)
    assert data.labels.tolist() == labels and data.class_names[-1] == "truck"


def test_cifar100_as_shipped(tmp_path, rng):
    images = _images(rng, 5)
    batch = _py2_pickle({b"filenames": [b"a"] * 5, b"batch_label": b"testing batch 1 of 1",
                         b"fine_labels": [99, 0, 50, 1, 2], b"coarse_labels": [19, 0, 9, 1, 2], b"data": _rows(images)})
    meta = _py2_pickle({b"fine_label_names": [f"f{i}".encode() for i in range(100)],
                        b"coarse_label_names": [f"c{i}".encode() for i in range(20)]})
    folder = _cifar_folder(tmp_path / "c100", batch, meta, cifar100=True)
    data = load_dataset(folder, split="test")
    assert data.name == "cifar-100" and data.labels.tolist() == [99, 0, 50, 1, 2]
    np.testing.assert_array_equal(data.pixels, images)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_reader_arrays_of_every_kind(protocol):
    arrays = {
        "u1": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "big_endian": np.arange(5, dtype=">i4"),
        "i8": np.array([-(2**62), 3], dtype=np.int64),
        "f4": np.array([0.5, -1.25], dtype="<f4"),
        "empty": np.zeros((0, 3), np.uint8),
        "zero_d": np.array(3.5, np.float64),
    }
    labels = list(range(-3, 300)) + [65_535, 65_536, 2**31 - 1, -(2**31), 2**40, -(2**63)]
    result = read_pickle(pickle.dumps({**arrays, "labels": labels}, protocol=protocol))
    for key, expected in arrays.items():
        array = result[key].to_array(key, lambda n: None)
        assert array.dtype == expected.dtype and array.shape == expected.shape
        np.testing.assert_array_equal(array, expected)
    assert result["fortran"].to_array("f", lambda n: None).flags.f_contiguous
    assert result["labels"] == labels


def test_pickle_reader_never_calls_numpy_reconstructors(monkeypatch):
    import numpy._core.multiarray as multiarray

    def forbidden(*args):
        raise AssertionError("a numpy reconstructor was called")

    data = pickle.dumps({"a": np.arange(3, dtype=np.uint8), "s": [np.int64(4)]}, protocol=2)
    monkeypatch.setattr(multiarray, "_reconstruct", forbidden)
    monkeypatch.setattr(multiarray, "scalar", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    result = read_pickle(data)
    assert result["s"] == [4]
    np.testing.assert_array_equal(result["a"].to_array("a", lambda n: None), [0, 1, 2])


# --- CIFAR: bad inputs ----------------------------------------------------------------------------

_DTYPE_U1 = b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R"
_STATE_U1 = b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"


def _reconstruct(shape_args, state_shape, data):
    """_reconstruct(ndarray, shape_args, 'b') then BUILD (1, state_shape, uint8, False, data), protocol 2."""
    def ints(shape):
        return b"(" + b"".join(b"J" + struct.pack("<i", s) if s < 2**31 else b"\x8a\x08" + struct.pack("<q", s)
                               for s in shape) + b"t"
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + ints(shape_args) + b"U\x01b\x87R"
            b"(K\x01" + ints(state_shape) + _DTYPE_U1 + _STATE_U1 + b"\x89T" + struct.pack("<i", len(data)) + data
            + b"tb")


def _batch_pickle(data_opcodes, labels_opcodes=b"]K\x00a"):
    return b"\x80\x02}(U\x04data" + data_opcodes + b"U\x06labels" + labels_opcodes + b"u."


def test_the_85_byte_dtype_setstate_attack(tmp_path):
    # numpy.dtype with a crafted __setstate__ (fields, a huge element size) handed to
    # numpy.core.multiarray.scalar: it crashed the interpreter through pickle.Unpickler.
    attack = (b"\x80\x02cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\nU\x02V8K\x00K\x01\x87R"
              b"(K\x03U\x01|N(U\x01at}J\xff\xff\xff\x7fK\x10K\x1btbU\x01x\x86R.")
    assert len(attack) == 85
    with pytest.raises(WavelensError, match=r"batches.meta is not a readable CIFAR batch: it holds a numpy dtype "
                                            r"'V8'; wavelens reads the dtypes"):
        _load_test_batch(tmp_path, _batch_pickle(_reconstruct((0,), (0,), b"")), attack)


@pytest.mark.parametrize("state, message", [
    (b"(K\x03U\x01|N(U\x01at}J\xff\xff\xff\x7fK\x10K\x1bt", "fields or a sub-array"),
    (b"(K\x03U\x01xNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t", "byte order is 'x'"),
    (b"(K\x02U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t", "dtype's state is not"),
    (b"(K\x03U\x01|NNNU\x01xJ\xff\xff\xff\xffK\x00t", "size, alignment or flags are not integers"),
])
def test_crafted_dtype_states(tmp_path, state, message):
    meta = b"\x80\x02}U\x0blabel_names]cnumpy.core.multiarray\nscalar\n" + _DTYPE_U1 + state + b"bU\x01x\x86Ras."
    with pytest.raises(WavelensError, match=message):
        _load_test_batch(tmp_path, _batch_pickle(_reconstruct((0,), (0,), b"")), meta)


def test_a_147_byte_pickle_cannot_allocate_a_gigabyte(tmp_path):
    # _reconstruct's shape argument made numpy allocate 1 GB before BUILD checked anything.
    batch = _batch_pickle(_reconstruct((2**30,), (2**30,), b"tiny!"))
    assert len(batch) < 200
    tracemalloc.start()
    try:
        with pytest.raises(WavelensError, match=r"test_batch is not a readable CIFAR batch: 'data' declares an "
                                                r"array of shape \(1073741824,\) and type uint8 \(1,073,741,824 "
                                                r"bytes\) but holds 5 bytes"):
            _load_test_batch(tmp_path, batch)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def test_reconstruct_shape_argument_is_never_allocated():
    # A consistent BUILD state after a huge _reconstruct shape: read without allocating it.
    tracemalloc.start()
    try:
        result = read_pickle(_batch_pickle(_reconstruct((2**40,), (1, 3072), bytes(3072))))
        array = result[b"data"].to_array("data", lambda n: None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert array.shape == (1, 3072) and peak < 20 * 2**20


def test_protocol5_frombuffer_shape_larger_than_its_buffer(tmp_path):
    data = (b"\x8c\x13numpy._core.numeric\x8c\x0b_frombuffer\x93(\x96" + struct.pack("<Q", 6) + b"abcdef"
            + _DTYPE_U1 + _STATE_U1 + b"J\x40\x42\x0f\x00M\x00\x0c\x86\x8c\x01Ct" + b"R")
    with pytest.raises(WavelensError, match=r"'data' declares an array of shape \(1000000, 3072\) and type uint8 "
                                            r"\(3,072,000,000 bytes\) but holds 6 bytes"):
        _load_test_batch(tmp_path, b"\x80\x05" + _batch_pickle(data)[2:])


@pytest.mark.parametrize("name, batch, message", [
    ("code", pickle.dumps({b"data": print}), r"refusing to load builtins.print"),
    ("os.system", b"\x80\x02cos\nsystem\nU\x02lsR.", r"refusing to load os.system, a pickle global"),
    ("numpy.load", b"\x80\x04\x8c\x05numpy\x8c\x04load\x93.", r"refusing to load numpy.load"),
    ("newline in a global", b"\x80\x04\x8c\x05a\nb\nc\x8c\x01x\x93.", r"refusing to load a\\nb\\nc.x"),
    ("object dtype", _batch_pickle(_reconstruct((0,), (0,), b"").replace(b"U\x02u1", b"U\x02O8")),
     r"numpy dtype 'O8'"),
    ("class instance", pickle.dumps({b"data": types.SimpleNamespace()}, protocol=4), r"refusing to load types"),
    ("NEWOBJ", b"\x80\x02cnumpy\nndarray\n)\x81.", r"pickle opcode NEWOBJ \(at byte 18\), which wavelens does not"),
    ("protocol 0", pickle.dumps({b"data": 1}, protocol=0), r"uses the pickle opcode MARK|pickle opcode"),
    ("unknown opcode", b"\x80\x02\xff.", r"unknown pickle opcode 0xff"),
    ("protocol 6", b"\x80\x06}.", r"protocol 6; wavelens reads protocols 2 to 5"),
    ("out-of-band buffer", b"\x80\x05\x97.", r"pickle opcode NEXT_BUFFER"),
    ("truncated", pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, protocol=2)[:3000],
     r"file is truncated"),
    ("empty file", b"", r"ends before the pickle's STOP opcode"),
    ("not a dict", pickle.dumps([1, 2], protocol=2), r"is not a CIFAR batch: it holds a list, not a dict"),
    ("no data", pickle.dumps({b"labels": [0]}, protocol=2), r"it lacks 'data' or 'labels'"),
    ("data is a list", pickle.dumps({b"data": [1, 2], b"labels": [0]}, protocol=2),
     r"'data' should be a numpy array of images; found a list"),
    ("wrong width", pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=3),
     r"expected 'data' of shape \(n, 3072\) \(32x32 RGB\); found \(2, 100\)"),
    ("more images than labels", pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1]}),
     r"test_batch: 3 images but 2 labels; a CIFAR batch has one label per image"),
    ("string label", pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, b"1"]}),
     r"'labels' should be a list of integer labels; label 1 is bytes"),
    ("float label", pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0.5]}),
     r"label 0 is a float"),
    ("labels not a list", pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": 3}),
     r"'labels' should be a list of integer labels; found an integer"),
    ("huge label", pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [2**70]}),
     r"holds the label 1180591620717411303424 \(label 0\), too large"),
    ("huge LONG4", b"\x80\x02\x8b" + struct.pack("<i", 10**6) + b"\x01" * 10**6 + b".",
     r"an integer of 1,000,000 bytes"),
    ("float labels array", pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": np.zeros(2)}),
     r"'labels' should be a list of integer labels; found an array of shape \(2,\) and type float64"),
    ("stack underflow", b"\x80\x02R.", r"pickle stack underflows at byte 3"),
    ("missing memo", b"\x80\x02h\x07.", r"pickle memo entry 7, which it never stored"),
    ("unopened mark", b"\x80\x02]e.", r"closes a pickle MARK that was never opened"),
    ("state set twice", _batch_pickle(_reconstruct((0,), (0,), b"") + b"(K\x01)" + _DTYPE_U1 + _STATE_U1 +
                                      b"\x89C\x00tb"), r"array's state is set twice"),
    ("dtype state twice", _batch_pickle(_DTYPE_U1 + _STATE_U1 + _STATE_U1), r"dtype's state is set twice"),
    ("bad global names", b"\x80\x04K\x01K\x02\x93.", r"names a pickle global with something else than strings"),
    ("not UTF-8", b"\x80\x03X\x02\x00\x00\x00\xff\xfe.", r"holds a string that is not UTF-8"),
    ("scalar of wrong size", b"\x80\x02cnumpy._core.multiarray\nscalar\n" + _DTYPE_U1 + b"C\x03abc\x86R.",
     r"numpy scalar of type uint8 with 3 bytes instead of 1"),
    ("encode not latin1", b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8\x86R.",
     r"calls _codecs.encode other than as \(text, 'latin1'\)"),
    ("call of a string", b"\x80\x02U\x01a)R.", r"it calls bytes"),
    ("BUILD of a list", b"\x80\x02]}b.", r"it sets the state of a list"),
    ("unhashable key", b"\x80\x02}(K\x01\x85K\x02u.", r"a dict key is a tuple"),
    ("odd SETITEMS", b"\x80\x02}(K\x01u.", r"sets a dict item without its value"),
    ("APPENDS to a dict", b"\x80\x02}(K\x01e.", r"adds items to a dict, not a list"),
    ("negative BINSTRING", b"\x80\x02T\xff\xff\xff\xff.", r"ends in the middle of a pickle opcode's argument"),
    ("non-text dtype name", b"\x80\x02cnumpy\ndtype\nK\x01K\x00K\x01\x87R.", r"dtype's name is an integer"),
    ("reconstruct of a dtype", b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\n)U\x01b\x87R.",
     r"_reconstruct for something else than numpy.ndarray"),
    ("object array data", _batch_pickle(_reconstruct((0,), (0,), b"")[:-7] + b"]tb"),
     r"array's data is a list, not bytes"),
    ("negative shape", _batch_pickle(_reconstruct((0,), (0,), b"").replace(b"(K\x01(J\x00\x00\x00\x00t",
                                                                           b"(K\x01(J\xff\xff\xff\xfft")),
     r"shape is not a tuple of at most 32 sizes >= 0"),
    ("impossible empty shape", _batch_pickle(_reconstruct((0,), (0,), b"").replace(
        b"(K\x01(J\x00\x00\x00\x00t", b"(K\x01(K\x00\x8a\x08" + struct.pack("<q", 2**62) + b"\x8a\x08"
        + struct.pack("<q", 2**62) + b"t")), r"'data' declares an array of shape \(0, 4611686018427387904, "
                                             r"4611686018427387904\), larger than any array can be"),
])
def test_bad_cifar_batches(tmp_path, name, batch, message):
    with pytest.raises(WavelensError, match=message) as error:
        _load_test_batch(tmp_path, batch)
    assert "\n" not in str(error.value)


def test_encode_cannot_multiply_the_file(tmp_path):
    # One 100 kB string, memoized, encoded 1,000 times: 100 MB made from a 110 kB file.
    text = b"X" + struct.pack("<I", 100_000) + b"a" * 100_000 + b"q\x01"
    call = b"c_codecs\nencode\nq\x02" + b"h\x02h\x01X\x06\x00\x00\x00latin1\x86R0" * 1000
    with pytest.raises(WavelensError, match="makes more bytes than the file holds"):
        _load_test_batch(tmp_path, b"\x80\x02" + text + call + b"N.")


def test_object_count_is_bounded_by_the_file(tmp_path):
    with pytest.raises(WavelensError, match=r"makes more than 1,017,\d+ pickle objects, far more than a CIFAR batch"):
        _load_test_batch(tmp_path, b"\x80\x02" + b"N" * 1_100_000 + b".")


def test_deep_nesting_cannot_crash(tmp_path):
    # 200,000 nested lists: nothing recurses over them, and they are freed without a crash.
    nested = b"]" * 200_000 + b"a" * 199_999
    with pytest.raises(WavelensError, match="'data' should be a numpy array of images; found a list"):
        _load_test_batch(tmp_path, b"\x80\x02}(U\x04data" + nested + b"U\x06labels]u.")


def test_bad_meta(tmp_path, rng):
    batch = pickle.dumps({b"data": _rows(_images(rng, 1)), b"labels": [0]})
    cases = [
        (pickle.dumps({b"other": []}), r"batches.meta has no 'label_names' entry"),
        (pickle.dumps({b"label_names": 7}), r"'label_names' should be a list of class names; found an integer"),
        (pickle.dumps({b"label_names": [b"a", 5]}), r"'label_names' should be a list of class names \(strings\); "
                                                    r"name 1 is an integer"),
        (pickle.dumps({b"label_names": [b"a", [b"b"]]}), r"name 1 is a list"),
    ]
    for meta, message in cases:
        with pytest.raises(WavelensError, match=message):
            _load_test_batch(tmp_path, batch, meta)


def test_cifar_class_count_limit(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("WAVELENS_MAX_CLASSES", "5")
    batch = pickle.dumps({b"data": _rows(_images(rng, 1)), b"labels": [0]})
    with pytest.raises(WavelensError, match=r"batches.meta \('label_names'\) would need 10 classes.*"
                                            r"WAVELENS_MAX_CLASSES"):
        _load_test_batch(tmp_path, batch)


def test_cifar_data_bytes_limit(tmp_path, rng, monkeypatch):
    folder = tmp_path / "c"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": _rows(_images(rng, 2)), b"labels": [0, 1]}, protocol=5))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a", b"b"]}))
    # Each batch is within the limit, the train split (5 batches) is not.
    monkeypatch.setenv("WAVELENS_MAX_DATA_BYTES", "20000")
    with pytest.raises(WavelensError, match=r"the CIFAR train split of .* would need 30,720 bytes, above wavelens' "
                                            r"limit of 20,000 \(WAVELENS_MAX_DATA_BYTES\)"):
        load_dataset(folder, split="train")
    assert load_dataset(folder, split="test").n_images == 2
    monkeypatch.setenv("WAVELENS_MAX_DATA_BYTES", "5000")
    with pytest.raises(WavelensError, match=r"reading .*test_batch would need 6,\d+ bytes"):
        load_dataset(folder, split="test")


_SNIPPETS = [
    b"cnumpy\ndtype\n", b"cnumpy.core.multiarray\nscalar\n", b"cnumpy._core.multiarray\n_reconstruct\n",
    b"cnumpy\nndarray\n", b"c_codecs\nencode\n", b"\x8c\x13numpy._core.numeric\x8c\x0b_frombuffer\x93",
    b"\x8c\x02u1", b"\x8c\x02f8", b"U\x02i4", b"\x8c\x02V8", b"\x8c\x01O", b"\x8c\x01|", b"\x8c\x01<", b"\x8c\x01C",
    b"K\x00", b"K\x01", b"K\x03", b"M\x00\x0c", b"J\xff\xff\xff\xff", b"J\xff\xff\xff\x7f",
    b"\x8a\x05\xff\xff\xff\xff\x7f",
    b"N", b"\x88", b"\x89", b"(", b"t", b"\x85", b"\x86", b"\x87", b")", b"R", b"b", b"]", b"}", b"e", b"u", b"a",
    b"s", b"l", b"d", b"q\x00", b"q\x01", b"h\x00", b"h\x01", b"\x94", b"2", b"0", b"1", b"C\x08" + bytes(8),
    b"C\x01x", b"\x96\x04\x00\x00\x00\x00\x00\x00\x00abcd", b"\x8c\x06latin1", b"U\x04data", b"U\x06labels",
    b"X\x03\x00\x00\x00abc", b"G?\xf0\x00\x00\x00\x00\x00\x00",
]


def test_random_pickles_from_the_allowed_globals(tmp_path):
    # As the 300 random pickles of the issue (8 of which crashed the interpreter).
    rng = random.Random(10)
    path = tmp_path / "test_batch"
    outcomes = {"refused": 0, "read": 0}
    for _ in range(1000):
        body = b"".join(rng.choice(_SNIPPETS) for _ in range(rng.randint(1, 40)))
        path.write_bytes(b"\x80" + bytes([rng.choice([2, 4, 5])]) + body + b".")
        try:
            _cifar._read_batch(path, "labels")
            outcomes["read"] += 1
        except WavelensError as exc:
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 900


def _mutations(data, rng, count):
    """``count`` seeded mutations of ``data``: flipped, inserted, deleted, repeated bytes, cuts."""
    for _ in range(count):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(mutated) + 1)
            kind = rng.randrange(6)
            if kind == 0 and at < len(mutated):
                mutated[at] = rng.randrange(256)
            elif kind == 1:
                mutated[at:at] = bytes([rng.randrange(256)])
            elif kind == 2:
                del mutated[at:at + rng.randint(1, 8)]
            elif kind == 3:
                del mutated[at:]
            elif kind == 4 and at < len(mutated):
                mutated[at] ^= 1 << rng.randrange(8)
            else:
                mutated[at:at] = mutated[at:at + rng.randint(1, 16)]
        yield bytes(mutated)


def _fuzz(tmp_path, name, good, read, count, seed=0):
    rng = random.Random(seed)
    path = tmp_path / name
    read_ok = 0
    for mutated in _mutations(good, rng, count):
        path.write_bytes(mutated)
        try:
            read(path)
            read_ok += 1
        except WavelensError as exc:
            assert "\n" not in str(exc), str(exc)
    return read_ok


def _read_cifar_file(path):
    """Read ``path`` as a batch and as a meta file: each must succeed or raise WavelensError."""
    for read in (lambda: _cifar._read_batch(path, "labels"), lambda: _cifar._read_meta(path, "label_names")):
        try:
            read()
        except WavelensError as exc:
            assert "\n" not in str(exc), str(exc)


@pytest.mark.parametrize("variant", ["py2", "proto2", "proto3", "proto4", "proto5"])
def test_fuzz_cifar_batches(tmp_path, variant):
    # Small arrays, so that most mutations land in the pickle's structure rather than in pixels.
    content = {b"batch_label": b"x", b"labels": [3, 300, 70_000], b"data": np.arange(24, dtype=np.uint8).reshape(3, 8),
               b"filenames": [b"a.png", b"b.png", b"c.png"], b"label_names": [b"cat", b"dog"]}
    if variant == "py2":
        good = _py2_pickle(content)
    else:
        content[b"labels"] = list(np.array([3, 300, 70_000]))
        content[b"f"] = np.asfortranarray(np.arange(6.0).reshape(2, 3))
        good = pickle.dumps(content, protocol=int(variant[-1]))
    _fuzz(tmp_path, "test_batch", good, _read_cifar_file, 500)


# --- IDX ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B), (np.int32, 0x0C),
                                         (np.float32, 0x0D), (np.float64, 0x0E)])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_every_type_raw_and_gzip(tmp_path, rng, dtype, code, compress):
    array = (rng.standard_normal((5, 3, 4)) * 50).astype(dtype)
    payload = _gz_idx(array, dtype, code)
    path = _write(tmp_path / "x.idx", gzip.compress(payload) if compress else payload)
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    np.testing.assert_array_equal(result, array)


def test_idx_gzip_members_split_anywhere(tmp_path, rng):
    images = rng.integers(0, 256, (4, 5, 6), dtype=np.uint8)
    payload = idx_bytes(images)
    for cuts in ([1], [3, 7], [15, 16, 17], list(range(1, len(payload), 9))):
        pieces = [payload[a:b] for a, b in zip([0] + cuts, cuts + [len(payload)])]
        path = _write(tmp_path / "x.gz", b"".join(gzip.compress(p) for p in pieces) + gzip.compress(b""))
        np.testing.assert_array_equal(read_idx(path), images)


def test_idx_folder_raw_and_gz(tmp_path, rng):
    images = rng.integers(0, 256, (6, 7, 8), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2], np.uint8)
    _write(tmp_path / "a" / "train-images-idx3-ubyte", idx_bytes(images))
    _write(tmp_path / "a" / "train-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(labels)))
    data = load_dataset(tmp_path / "a")
    np.testing.assert_array_equal(data.pixels, images)
    assert data.labels.tolist() == labels.tolist()


class _CountingZlib:
    """Stands for the zlib module in _idx: counts every decompressed byte."""

    error = zlib.error

    def __init__(self):
        self.produced = 0

    def decompressobj(self, **kwargs):
        inner = zlib.decompressobj(**kwargs)
        counter = self

        class Counting:
            def decompress(self, data, max_length=0):
                out = inner.decompress(data, max_length)
                counter.produced += len(out)
                return out

            def __getattr__(self, name):
                return getattr(inner, name)

        return Counting()


def test_gzip_bomb_stops_at_the_declared_size(tmp_path, monkeypatch):
    # 64 MB of zeros after a header declaring 2 images of 4x4: decompression stops at 33 bytes of data.
    compress = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = compress.compress(_idx_header((2, 4, 4)))
    zeros = bytes(2**20)
    bomb += b"".join(compress.compress(zeros) for _ in range(64)) + compress.flush()
    assert len(bomb) < 100_000
    path = _write(tmp_path / "train-images-idx3-ubyte.gz", bomb)
    counting = _CountingZlib()
    monkeypatch.setattr(_idx, "zlib", counting)
    with pytest.raises(WavelensError, match=r"is longer than its header says: its header announces shape "
                                            r"\(2, 4, 4\) \(32 bytes of data\) but it holds more than 32"):
        read_idx(path)
    assert counting.produced <= 16 + 32 + 1


def test_gzip_bomb_with_a_large_header_stops_too(tmp_path, monkeypatch):
    compress = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = compress.compress(_idx_header((1000, 100, 100))) + compress.compress(bytes(20 * 2**20)) + compress.flush()
    path = _write(tmp_path / "x.gz", bomb)
    counting = _CountingZlib()
    monkeypatch.setattr(_idx, "zlib", counting)
    with pytest.raises(WavelensError, match="longer than its header says"):
        read_idx(path)
    assert counting.produced <= 16 + 10**7 + 1


@pytest.mark.parametrize("compress", [False, True])
def test_idx_header_claiming_a_terabyte(tmp_path, compress):
    payload = _idx_header((10**6, 1000, 1000)) + bytes(100)
    path = _write(tmp_path / "x", gzip.compress(payload) if compress else payload)
    tracemalloc.start()
    try:
        message = (r"cannot hold more than" if compress else
                   r"is truncated: its header announces shape \(1000000, 1000, 1000\) \(1,000,000,000,000 bytes of "
                   r"data\) but it holds 100")
        with pytest.raises(WavelensError, match=message):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20


def test_idx_gzip_header_larger_than_its_data_can_be(tmp_path):
    # 2 GB declared, 1 MB of random (incompressible) data: refused before allocating.
    payload = _idx_header((2000, 1000, 1000)) + np.random.default_rng(0).bytes(2**20)
    path = _write(tmp_path / "x.gz", gzip.compress(payload, 1))
    with pytest.raises(WavelensError, match=r"is truncated: .*\(2,000,000,000 bytes of data\) but its [\d,]+ "
                                            r"compressed bytes cannot hold more than"):
        read_idx(path)


@pytest.mark.parametrize("name, payload, message", [
    ("empty", b"", "is not an IDX file"),
    ("short magic", b"\x00\x00", "is not an IDX file"),
    ("bad magic", b"\x00\x01\x08\x01\x00\x00\x00\x01a", "is not an IDX file"),
    ("bad type", b"\x00\x00\x07\x01\x00\x00\x00\x01a", "is not an IDX file"),
    ("impossible empty shape", _idx_header((0, 2**32 - 1, 2**32 - 1)), r"larger than any array can be"),
    ("200 dimensions", b"\x00\x00\x08\xc8" + b"\x00\x00\x00\x01" * 200 + b"a", "declares 200 dimensions"),
    ("header incomplete", b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00", "header is incomplete"),
    ("truncated data", _idx_header((2, 4, 4)) + bytes(31), r"is truncated: .*\(32 bytes of data\) but it holds 31"),
    ("longer data", _idx_header((2, 4, 4)) + bytes(33),
     r"longer than its header says: .* but it holds (33|more than 32)"),
    ("truncated int32", _idx_header((3,), 0x0C) + bytes(11), r"\(12 bytes of data\) but it holds 11"),
])
@pytest.mark.parametrize("compress", [False, True])
def test_bad_idx_files(tmp_path, name, payload, message, compress):
    path = _write(tmp_path / "x", gzip.compress(payload) if compress else payload)
    with pytest.raises(WavelensError, match=message):
        read_idx(path)


@pytest.mark.parametrize("name, mangle, message", [
    ("cut stream", lambda gz: gz[:-12], "is a corrupt or truncated gzip file"),
    ("cut trailer", lambda gz: gz[:-3], "is a corrupt or truncated gzip file"),
    ("bad CRC", lambda gz: gz[:-8] + bytes([gz[-8] ^ 1]) + gz[-7:], r"corrupt or truncated gzip file \(.*check"),
    ("garbage member", lambda gz: gz + b"\x1f\x8b\x08garbage", "is a corrupt or truncated gzip file"),
    ("trailing junk", lambda gz: gz + b"junk", "is a corrupt or truncated gzip file"),
    ("bad deflate", lambda gz: gz[:10] + b"\xff" * 20 + gz[30:], "is a corrupt or truncated gzip file"),
])
def test_corrupt_gzip_idx(tmp_path, rng, name, mangle, message):
    good = gzip.compress(idx_bytes(rng.integers(0, 256, (3, 8, 8))))
    path = _write(tmp_path / "x.gz", mangle(good))
    with pytest.raises(WavelensError, match=message):
        read_idx(path)


def test_idx_limits(tmp_path, rng, monkeypatch):
    path = _write(tmp_path / "x.gz", gzip.compress(idx_bytes(rng.integers(0, 256, (3, 8, 8)))))
    monkeypatch.setenv("WAVELENS_MAX_DATA_BYTES", "100")
    with pytest.raises(WavelensError, match=r"x.gz \(its header announces shape \(3, 8, 8\)\) would need 192 bytes, "
                                            r"above wavelens' limit of 100 \(WAVELENS_MAX_DATA_BYTES\)"):
        read_idx(path)
    monkeypatch.delenv("WAVELENS_MAX_DATA_BYTES")
    monkeypatch.setenv("WAVELENS_MAX_IMAGE_PIXELS", "10")
    with pytest.raises(WavelensError, match=r"images of 8x8 pixels\) would need 64 pixels per image.*"
                                            r"WAVELENS_MAX_IMAGE_PIXELS"):
        read_idx(path)


@pytest.mark.parametrize("labels", [_idx_header(()) + b"\x01", _idx_header((3, 1)) + bytes(3)])
def test_idx_labels_not_one_dimensional(tmp_path, rng, labels):
    _write(tmp_path / "train-images-idx3-ubyte", idx_bytes(rng.integers(0, 256, (3, 4, 4))))
    _write(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(WavelensError, match=r"train-labels-idx1-ubyte: expected labels of shape \(n,\), one per "
                                            r"image; found shape \((|3, 1)\)"):
        load_dataset(tmp_path)


def test_idx_unreadable_path(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(WavelensError, match="Cannot read"):
        read_idx(tmp_path / "d")


@pytest.mark.parametrize("compress", [False, True])
def test_fuzz_idx(tmp_path, rng, compress):
    good = idx_bytes(rng.integers(0, 256, (3, 5, 5)))
    good = gzip.compress(good) if compress else good
    _fuzz(tmp_path, "x", good, read_idx, 1000)


# --- npz ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_good_inputs(tmp_path, rng, save):
    images = rng.integers(0, 256, (4, 5, 6), dtype=np.uint8)
    save(tmp_path / "d.npz", images=images, labels=np.array([0, 1, 1, 0]), class_names=np.array(["cat", "dog"]),
         other=np.zeros((10**4,)))
    data = load_dataset(tmp_path / "d.npz")
    np.testing.assert_array_equal(data.pixels, images)
    assert data.labels.tolist() == [0, 1, 1, 0] and data.class_names == ["cat", "dog"]


def test_npz_fortran_big_endian_and_bytes_names(tmp_path, rng):
    images = np.asfortranarray(rng.integers(0, 65536, (3, 4, 5)).astype(">u2"))
    np.savez(tmp_path / "d.npz", images=images, labels=np.array([1, 0, 1], ">i4"),
             class_names=np.array([b"a", b"b"]))
    read_images, labels, names = _npz._read_npz(tmp_path / "d.npz")
    assert read_images.dtype == np.dtype(">u2") and read_images.flags.f_contiguous
    np.testing.assert_array_equal(read_images, images)
    assert labels.tolist() == [1, 0, 1] and names == ["a", "b"]


def test_npz_member_names_without_suffix_and_version_2_header(tmp_path, rng):
    images = rng.integers(0, 256, (2, 3, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, images, version=(2, 0))
    _write(tmp_path / "d.npz", _zip([("images", buffer.getvalue()), ("labels.npy", _npy(np.array([0, 1])))]))
    read_images, labels, _ = _npz._read_npz(tmp_path / "d.npz")
    np.testing.assert_array_equal(read_images, images)


def test_npz_python2_header_reads_without_a_warning(tmp_path):
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1L, 2L, 2L), }"
    members = [("images.npy", _npy_raw(header, b"\x01\x02\x03\x04")), ("labels.npy", _npy(np.array([0])))]
    _write(tmp_path / "d.npz", _zip(members))
    images, _, _ = _npz._read_npz(tmp_path / "d.npz")
    assert images.tolist() == [[[1, 2], [3, 4]]]


def _images_member(header, data=b"", version=(1, 0)):
    return [("images.npy", _npy_raw(header, data, version)), ("labels.npy", _npy(np.arange(3) % 2))]


_DEFLATED = {"method": 8}


@pytest.mark.parametrize("name, members, message", [
    ("huge declared shape",
     _images_member("{'descr': '|u1', 'fortran_order': False, 'shape': (100000, 100000, 100), }", bytes(48)),
     r"member 'images.npy'\) is truncated or corrupt: its .npy header declares shape \(100000, 100000, 100\) of "
     r"uint8 \(1,000,000,000,000 bytes\) but the member holds 48 bytes of data"),
    ("one byte short", _images_member("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2, 2), }", bytes(95)),
     r"declares shape \(3, 2, 2\) of float64 \(96 bytes\) but the member holds 95 bytes"),
    ("object dtype", _images_member("{'descr': '|O', 'fortran_order': False, 'shape': (3, 2, 2), }", bytes(96)),
     r"holds Python objects \(dtype object\), which wavelens does not load"),
    ("structured dtype",
     _images_member("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (3,2,2), }", bytes(96)),
     r"has the structured dtype .*; expected unsigned or signed integers, floats or booleans"),
    ("sub-array dtype", _images_member("{'descr': ('<f4', (2,)), 'fortran_order': False, 'shape': (3,2), }", bytes(48)),
     r"has the structured dtype"),
    ("complex images",
     _images_member("{'descr': '<c16', 'fortran_order': False, 'shape': (3, 2, 2), }", bytes(192)),
     r"images has dtype complex128; expected unsigned or signed integers, floats or booleans"),
    ("string images", [("images.npy", _npy(np.array([[["ab"]]] * 3))), ("labels.npy", _npy(np.arange(3)))],
     r"images has dtype <U2; expected"),
    ("datetime images", [("images.npy", _npy(np.zeros((3, 2, 2), "M8[s]"))), ("labels.npy", _npy(np.arange(3)))],
     r"images has dtype datetime64\[s\]"),
    ("empty strings as labels", [("images.npy", _npy(np.zeros((1, 2, 2)))), ("labels.npy", _npy_raw(
        "{'descr': '|S0', 'fortran_order': False, 'shape': (1000000000000,), }"))],
     r"labels has dtype \|S0, of empty items; expected integers or strings"),
    ("void images", _images_member("{'descr': '|V4', 'fortran_order': False, 'shape': (3, 2, 2), }", bytes(48)),
     r"images has dtype \|V4"),
    ("0-d images", [("images.npy", _npy(np.array(3.0))), ("labels.npy", _npy(np.arange(1)))],
     r"images is a 0-d array \(a single value\); expected images of shape"),
    ("0-d labels", [("images.npy", _npy(np.zeros((1, 2, 2)))), ("labels.npy", _npy(np.array(0)))],
     r"labels is a 0-d array \(a single value\); expected one label per image"),
    ("object labels", [("images.npy", _npy(np.zeros((1, 2, 2)))),
                       ("labels.npy", _npy_raw("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", bytes(8)))],
     r"member 'labels.npy'\) holds Python objects"),
    ("2-d class names", _good_members() + [("class_names.npy", _npy(np.array([["a", "b"]])))],
     r"class_names must be a 1-d array of strings, one per class; found shape \(1, 2\)"),
    ("numeric class names", _good_members() + [("class_names.npy", _npy(np.array([1, 2])))],
     r"class_names has dtype int64; expected strings"),
    ("negative shape", _images_member("{'descr': '|u1', 'fortran_order': False, 'shape': (-1, 4, 4), }"),
     r"header declares the shape \(-1, 4, 4\)"),
    ("impossible empty shape", _images_member(
        "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 1099511627776, 1099511627776), }"),
     r"header declares the shape \(0, 1099511627776, 1099511627776\), which no array can have"),
    ("40 dimensions", _images_member("{'descr': '|u1', 'fortran_order': False, 'shape': (1,)*40, }"),
     r"not a readable .npz file: member 'images.npy' is corrupt \(ValueError: "),
    ("40 real dimensions", _images_member("{'descr': '|u1', 'fortran_order': False, 'shape': (" + "1," * 40 + "), }",
                                          b"\x00"), r"header declares the shape \(1, 1, 1"),
    ("format 3.0", _images_member("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1), }", b"x", (3, 0)),
     r"is a .npy array of format version 3.0, which wavelens does not read"),
    ("format 9.0", _images_member("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1), }", b"x", (9, 0)),
     r"is a .npy array of format version 9.0"),
    ("not a .npy", [("images.npy", b"hello world"), ("labels.npy", _npy(np.arange(1)))],
     r"member 'images.npy' is corrupt \(ValueError: the magic string is not correct"),
    ("empty member", [("images.npy", b""), ("labels.npy", _npy(np.arange(1)))],
     r"member 'images.npy' is corrupt \(ValueError: .*magic string"),
    ("header not a dict", _images_member("[1, 2, 3]"), r"member 'images.npy' is corrupt \(ValueError: Header is not"),
    ("header wrong keys", _images_member("{'descr': '|u1', 'shape': (1,), }"),
     r"ValueError: Header does not contain the correct keys"),
    ("header bad descr", _images_member("{'descr': 'nonsense', 'fortran_order': False, 'shape': (1,), }"),
     r"member 'images.npy' is corrupt \((ValueError|TypeError)"),
    ("header SyntaxError", _images_member("{'descr': '|u1' 'fortran_order': ,,}"),
     r"member 'images.npy' is corrupt \((ValueError|SyntaxError): "),
    ("header TokenError", _images_member("{'descr': '|u1', 'fortran_order': False, 'shape': (3,"),
     r"member 'images.npy' is corrupt \((TokenError|SyntaxError|ValueError)"),
    ("header with a null byte", _images_member("{'descr': '|u1',\x00 }"),
     r"member 'images.npy' is corrupt \((ValueError|SyntaxError)"),
    ("header longer than any", [("images.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + b"{"),
                                ("labels.npy", _npy(np.arange(1)))],
     r"is corrupt \(ValueError: the .npy header declares 2,147,483,660 bytes, more than a header can be"),
    ("header bytes missing", [("images.npy", b"\x93NUMPY\x01\x00\x40\x00{'descr'"), ("labels.npy", _npy(np.arange(1)))],
     r"is corrupt \(ValueError: EOF: reading array header"),
    ("zlib.error", [("images.npy", _npy(np.zeros((3, 2, 2))), {"method": 8, "compress": b"\xff" * 50}),
                    ("labels.npy", _npy(np.arange(3)))],
     r"member 'images.npy' is corrupt \(error: Error -3 while decompressing data"),
    ("EOFError", [("images.npy", _npy(np.arange(12.0).reshape(3, 2, 2) ** 0.5), {"method": 8, "compress": zlib.compress(
        _npy(np.arange(12.0).reshape(3, 2, 2) ** 0.5))[2:-20]}), ("labels.npy", _npy(np.arange(3)))],
     r"member 'images.npy' is corrupt \((EOFError|error|ValueError|BadZipFile)"),
    ("bad CRC", [("images.npy", _npy(np.zeros((3, 2, 2))), {"crc": 12345}), ("labels.npy", _npy(np.arange(3)))],
     r"member 'images.npy' is corrupt \(BadZipFile: Bad CRC-32"),
    ("bad CRC deflated", [("images.npy", _npy(np.zeros((3, 2, 2))), {"method": 8, "crc": 1}),
                          ("labels.npy", _npy(np.arange(3)))], r"\(BadZipFile: Bad CRC-32"),
    ("NotImplementedError", [("images.npy", _npy(np.zeros((3, 2, 2))), {"method": 99}),
                             ("labels.npy", _npy(np.arange(3)))],
     r"member 'images.npy'\) uses zip compression method 99; wavelens reads stored or deflated members"),
    ("bzip2", [("images.npy", _npy(np.zeros((3, 2, 2))), {"method": 12}), ("labels.npy", _npy(np.arange(3)))],
     r"uses zip compression method 12"),
    ("RuntimeError (encrypted)", [("images.npy", _npy(np.zeros((3, 2, 2))), {"flags": 1}),
                                  ("labels.npy", _npy(np.arange(3)))],
     r"member 'images.npy'\) is encrypted; wavelens reads only unencrypted .npz files"),
    ("deflate ratio lie", [("images.npy", _npy(np.zeros((3, 2, 2))), {"method": 8, "file_size": 10**9}),
                           ("labels.npy", _npy(np.arange(3)))],
     r"is corrupt: its zip directory entry claims 1,000,000,000 bytes deflated into \d+ bytes \(deflate expands "
     r"at most 1032 times\)"),
    ("stored size lie", [("images.npy", _npy(np.zeros((3, 2, 2))), {"file_size": 10**6}),
                         ("labels.npy", _npy(np.arange(3)))],
     r"claims 1,000,000 bytes stored uncompressed in 224 bytes"),
    ("compressed size beyond the file", [("images.npy", _npy(np.zeros((3, 2, 2))), {"compress_size": 10**6,
                                                                                    "file_size": 10**6}),
                                         ("labels.npy", _npy(np.arange(3)))],
     r"claims 1,000,000 compressed bytes, more than the file holds"),
    ("file size smaller than the data", [("images.npy", _npy(np.zeros((3, 2, 2))), {
        "file_size": 200, "compress_size": 200, "crc": zlib.crc32(_npy(np.zeros((3, 2, 2)))[:200])}),
                                         ("labels.npy", _npy(np.arange(3)))],
     r"declares shape \(3, 2, 2\) of float64 \(96 bytes\) but the member holds 72 bytes"),
    ("bad local header", [("images.npy", _npy(np.zeros((3, 2, 2)))), ("labels.npy", _npy(np.arange(3)))],
     None),  # patched below: a local header's signature broken
    ("missing labels", [("images.npy", _npy(np.zeros((3, 2, 2)))), ("x.npy", _npy(np.arange(3)))],
     r"lacks the array\(s\) labels; it has 'images', 'x'"),
])
def test_bad_npz_members(tmp_path, name, members, message):
    data = _zip(members)
    if message is None:
        data = data.replace(b"PK\x03\x04", b"PK\x03\x05", 1)
        message = r"member 'images.npy' is corrupt \(BadZipFile: Bad magic number for file header"
    path = _write(tmp_path / "d.npz", data)
    with pytest.raises(WavelensError, match=message) as error:
        load_dataset(path)
    assert "\n" not in str(error.value)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("name, data, message", [
    ("a .npy saved as .npz", _npy(np.zeros((2, 3, 3))), r"holds a single array \(it is a .npy file\), not an .npz"),
    ("empty file", b"", r"is not a readable .npz file \(BadZipFile: File is not a zip file\)"),
    ("a pickle", pickle.dumps({"images": [1]}), r"is not a readable .npz file \(BadZipFile"),
    ("truncated zip", None, r"is not a readable .npz file|is corrupt"),
    ("zip of nothing", _zip([]), r"lacks the array\(s\) images, labels; it has none"),
])
def test_bad_npz_files(tmp_path, rng, name, data, message):
    if data is None:
        np.savez(tmp_path / "good.npz", images=np.zeros((2, 3, 3)), labels=np.arange(2))
        data = (tmp_path / "good.npz").read_bytes()[:-30]
    path = _write(tmp_path / "d.npz", data)
    with pytest.raises(WavelensError, match=message):
        load_dataset(path)


def test_npz_limits(tmp_path, monkeypatch):
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 8, 8), np.uint8), labels=np.arange(2),
             class_names=np.array(["a", "b"]))
    monkeypatch.setenv("WAVELENS_MAX_DATA_BYTES", "100")
    with pytest.raises(WavelensError, match=r"member 'images.npy'\) \(shape \(2, 8, 8\) of uint8\) would need 128 "
                                            r"bytes.*WAVELENS_MAX_DATA_BYTES"):
        load_dataset(tmp_path / "d.npz")
    monkeypatch.delenv("WAVELENS_MAX_DATA_BYTES")
    monkeypatch.setenv("WAVELENS_MAX_IMAGE_PIXELS", "50")
    with pytest.raises(WavelensError, match=r"images of 8x8 pixels\) would need 64 pixels per image"):
        load_dataset(tmp_path / "d.npz")
    monkeypatch.delenv("WAVELENS_MAX_IMAGE_PIXELS")
    monkeypatch.setenv("WAVELENS_MAX_CLASSES", "1")
    with pytest.raises(WavelensError, match=r"\(2 class names\) would need 2 classes.*WAVELENS_MAX_CLASSES"):
        load_dataset(tmp_path / "d.npz")


def test_npz_deflated_bomb_is_not_read_past_its_header(tmp_path, monkeypatch):
    # A deflated member whose header declares far more than the member holds: refused from the header alone.
    payload = _npy_raw("{'descr': '|u1', 'fortran_order': False, 'shape': (10, 1000, 1000), }") + bytes(10**6)
    _write(tmp_path / "d.npz", _zip([("images.npy", payload, _DEFLATED), ("labels.npy", _npy(np.arange(10)))]))
    tracemalloc.start()
    try:
        with pytest.raises(WavelensError, match=r"declares shape \(10, 1000, 1000\) of uint8 \(10,000,000 bytes\) "
                                                r"but the member holds 1,000,000 bytes"):
            load_dataset(tmp_path / "d.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20


@pytest.mark.parametrize("compressed", [False, True])
def test_fuzz_npz(tmp_path, compressed):
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(
        buffer, images=np.arange(48, dtype=np.uint8).reshape(3, 4, 4), labels=np.array([0, 1, 0]),
        class_names=np.array(["a", "b"]))
    _fuzz(tmp_path, "d.npz", buffer.getvalue(), _npz._read_npz, 1000)


def test_pickle_refused_is_not_a_wavelens_error():
    # The reader's own exception carries no file name: the loaders add it.
    with pytest.raises(PickleRefused):
        read_pickle(b"\x80\x02R.")
    assert not issubclass(PickleRefused, WavelensError)
