"""A reader of the pickles CIFAR batches are made of, which runs nothing it reads.

``pickle.Unpickler`` calls whatever the pickle names: even restricted to numpy's
own reconstructors, crafted arguments crash the interpreter (``numpy.dtype``'s
``__setstate__``) or make it allocate gigabytes (an array shape declared far
larger than its data). This module interprets the pickle opcodes itself, in
pure Python, and understands only what CIFAR batches hold: dicts, lists and
tuples of strings, bytes, numbers, and numpy arrays. Globals and their calls
are kept as symbols; no global is ever imported or called. Arrays are made only
at the end, by :meth:`ArrayRecipe.to_array`, with ``np.frombuffer`` over the
pickle's own bytes once their dtype (from a short allow-list), shape and size
agree exactly, so nothing is allocated beyond the file's own bytes.

Everything is bounded by the file: each opcode reads at least one byte and makes
at most one object (the count of objects is capped too), there is no recursion,
and bytes made by calls (``_codecs.encode``) may not add up to more than the file.

Pickle protocols 2 to 5 are read (protocol 0's text opcodes are refused), and
arrays the way numpy pickles them:

* protocols 2 to 4 (and Python 2's cPickle, as the CIFAR files from Toronto):
  ``numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')`` then BUILD with
  ``(1, shape, dtype, is_fortran, data)``;
* protocol 5: ``numpy.core.numeric._frombuffer(buffer, dtype, shape, order)``
  with the buffer in-band (BYTEARRAY8 or bytes);
* dtypes as ``numpy.dtype(name, align, copy)`` then BUILD with its state
  ``(3, byteorder, None, None, None, elsize, alignment, flags)``;
* numpy scalars as ``numpy.core.multiarray.scalar(dtype, data)``;
* Python 3's protocol-2 bytes as ``_codecs.encode(text, 'latin1')``.

(and each of numpy's modules also under its numpy 2 name, ``numpy._core``).
"""

import math
import struct

import numpy as np

__all__ = ["ArrayRecipe", "PickleRefused", "describe", "read_pickle"]


class PickleRefused(Exception):
    """The pickle is not one wavelens reads; the message says why, without the file's name."""


# The dtypes an array or scalar may have (either byte order).
_DTYPES = {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"}
_MAX_NDIM = 32
# Integers longer than this (LONG1/LONG4) are no label, shape or count.
_MAX_LONG_BYTES = 16
# Objects the reader may make: a floor, plus one per 64 bytes of file. A CIFAR batch
# makes fewer than one per 300 bytes (its images are 3,072 bytes each).
_OBJECTS_FLOOR = 1_000_000
_BYTES_PER_OBJECT = 64

_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("numpy.core.multiarray", "scalar"): "scalar",
    ("numpy._core.multiarray", "scalar"): "scalar",
    ("numpy.core.numeric", "_frombuffer"): "frombuffer",
    ("numpy._core.numeric", "_frombuffer"): "frombuffer",
    ("_codecs", "encode"): "encode",
    ("__builtin__", "bytes"): "bytes",
    ("builtins", "bytes"): "bytes",
}

_OPCODE_NAMES = {
    b"(": "MARK", b".": "STOP", b"0": "POP", b"1": "POP_MARK", b"2": "DUP", b"F": "FLOAT", b"I": "INT",
    b"J": "BININT", b"K": "BININT1", b"L": "LONG", b"M": "BININT2", b"N": "NONE", b"P": "PERSID",
    b"Q": "BINPERSID", b"R": "REDUCE", b"S": "STRING", b"T": "BINSTRING", b"U": "SHORT_BINSTRING",
    b"V": "UNICODE", b"X": "BINUNICODE", b"a": "APPEND", b"b": "BUILD", b"c": "GLOBAL", b"d": "DICT",
    b"}": "EMPTY_DICT", b"e": "APPENDS", b"g": "GET", b"h": "BINGET", b"i": "INST", b"j": "LONG_BINGET",
    b"l": "LIST", b"]": "EMPTY_LIST", b"o": "OBJ", b"p": "PUT", b"q": "BINPUT", b"r": "LONG_BINPUT",
    b"s": "SETITEM", b"t": "TUPLE", b")": "EMPTY_TUPLE", b"u": "SETITEMS", b"G": "BINFLOAT",
    b"\x80": "PROTO", b"\x81": "NEWOBJ", b"\x82": "EXT1", b"\x83": "EXT2", b"\x84": "EXT4",
    b"\x85": "TUPLE1", b"\x86": "TUPLE2", b"\x87": "TUPLE3", b"\x88": "NEWTRUE", b"\x89": "NEWFALSE",
    b"\x8a": "LONG1", b"\x8b": "LONG4", b"B": "BINBYTES", b"C": "SHORT_BINBYTES",
    b"\x8c": "SHORT_BINUNICODE", b"\x8d": "BINUNICODE8", b"\x8e": "BINBYTES8", b"\x8f": "EMPTY_SET",
    b"\x90": "ADDITEMS", b"\x91": "FROZENSET", b"\x92": "NEWOBJ_EX", b"\x93": "STACK_GLOBAL",
    b"\x94": "MEMOIZE", b"\x95": "FRAME", b"\x96": "BYTEARRAY8", b"\x97": "NEXT_BUFFER",
    b"\x98": "READONLY_BUFFER",
}


def describe(value):
    """What ``value`` is, for messages (never its repr: it may be huge or deeply nested)."""
    if isinstance(value, _Global):
        return f"the global {value.module}.{value.name}"
    if isinstance(value, DTypeRecipe):
        return "a numpy dtype"
    if isinstance(value, ArrayRecipe):
        return "a numpy array"
    if isinstance(value, bool):
        return "a boolean"
    return {int: "an integer", float: "a float", str: "a string", bytes: "bytes", tuple: "a tuple",
            list: "a list", dict: "a dict", type(None): "None"}.get(type(value), type(value).__name__)


def _escaped(text, limit=100):
    """``text`` from the file, cut and with anything unprintable escaped, for a one-line message."""
    return text[:limit].encode("unicode_escape").decode("ascii") + ("..." if len(text) > limit else "")


def _text(value, what):
    """``value`` (str, or bytes as Python 2 pickles its strings) as ASCII text."""
    if isinstance(value, bytes):
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            pass
    elif isinstance(value, str):
        return value
    raise PickleRefused(f"{what} is {describe(value)}, not a short text")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class _Global:
    __slots__ = ("module", "name", "role")

    def __init__(self, module, name, role):
        self.module, self.name, self.role = module, name, role


class DTypeRecipe:
    """``numpy.dtype(name)`` and the byte order its BUILD state gives, checked, never called."""

    __slots__ = ("name", "byteorder", "built")

    def __init__(self, name):
        self.name = name
        self.byteorder = "="
        self.built = False

    def build(self, state):
        if self.built:
            raise PickleRefused("a numpy dtype's state is set twice")
        if not isinstance(state, tuple) or not (len(state) == 8 and state[0] == 3
                                                or len(state) == 9 and state[0] == 4 and state[8] is None):
            raise PickleRefused("a numpy dtype's state is not the (3, byteorder, None, None, None, elsize, "
                                "alignment, flags) of a plain numeric dtype")
        byteorder = _text(state[1], "a numpy dtype's byte order")
        if byteorder not in ("<", ">", "=", "|"):
            raise PickleRefused(f"a numpy dtype's byte order is {byteorder[:10]!r}, not <, >, = or |")
        if state[2] is not None or state[3] is not None or state[4] is not None:
            raise PickleRefused("a numpy dtype has fields or a sub-array (a structured dtype)")
        if not all(_is_int(v) for v in state[5:8]):
            raise PickleRefused("a numpy dtype's size, alignment or flags are not integers")
        self.byteorder = "=" if byteorder == "|" else byteorder
        self.built = True

    def resolve(self):
        return np.dtype(self.name).newbyteorder(self.byteorder)


class ArrayRecipe:
    """A numpy array as pickled: its dtype, shape, order and bytes, turned into an array
    only by :meth:`to_array`, after checking they agree."""

    __slots__ = ("dtype", "shape", "data", "order", "built")

    def __init__(self):
        self.dtype = self.shape = self.data = None
        self.order = "C"
        self.built = False

    def set(self, shape, dtype, fortran, data):
        if not isinstance(dtype, DTypeRecipe):
            raise PickleRefused(f"a numpy array's dtype is {describe(dtype)}")
        if not isinstance(shape, tuple) or len(shape) > _MAX_NDIM or not all(_is_int(s) and s >= 0 for s in shape):
            raise PickleRefused(f"a numpy array's shape is not a tuple of at most {_MAX_NDIM} sizes >= 0")
        if not isinstance(data, (bytes, bytearray)):
            raise PickleRefused(f"a numpy array's data is {describe(data)}, not bytes (an array of objects?)")
        self.shape, self.dtype, self.data = shape, dtype, data
        self.order = "F" if fortran else "C"
        self.built = True

    def build(self, state):
        if self.built:
            raise PickleRefused("a numpy array's state is set twice")
        if isinstance(state, tuple) and len(state) == 5 and state[0] == 1:
            state = state[1:]
        if not isinstance(state, tuple) or len(state) != 4 or not isinstance(state[2], (bool, int)):
            raise PickleRefused("a numpy array's state is not (1, shape, dtype, is_fortran, data)")
        self.set(state[0], state[1], state[2], state[3])

    def to_array(self, what, check_limit):
        """The array, once its bytes are exactly what its shape and dtype need.

        ``check_limit(nbytes)`` is called with its size before it is made.
        """
        if not self.built:
            raise PickleRefused(f"{what} is a numpy array without its shape, dtype and data")
        dtype = self.dtype.resolve()
        if math.prod(max(s, 1) for s in self.shape) * dtype.itemsize >= 2**63:  # numpy's bound, even for 0 items
            raise PickleRefused(f"{what} declares an array of shape {self.shape}, larger than any array can be")
        nbytes = math.prod(self.shape) * dtype.itemsize
        if nbytes != len(self.data):
            raise PickleRefused(
                f"{what} declares an array of shape {self.shape} and type {dtype} ({nbytes:,} bytes) "
                f"but holds {len(self.data):,} bytes"
            )
        check_limit(nbytes)
        return np.frombuffer(self.data, dtype=dtype).reshape(self.shape, order=self.order)


_U8, _U16, _I32, _U32, _U64, _F64 = (struct.Struct(f) for f in ("<B", "<H", "<i", "<I", "<Q", ">d"))


class _Reader:
    """The opcode interpreter: a stack, marks and a memo, as pickle's own, over ``data``."""

    def __init__(self, data):
        self.data = data
        self.size = len(data)
        self.pos = 0
        self.stack = []
        self.marks = []
        self.memo = {}
        self.objects = 0
        self.max_objects = _OBJECTS_FLOOR + len(data) // _BYTES_PER_OBJECT
        self.made_bytes = 0
        self.dispatch = [self.unknown] * 256
        for op, method in _HANDLERS.items():
            self.dispatch[op] = getattr(self, method)

    # --- reading the opcode stream -------------------------------------------------------------

    def truncated(self):
        return PickleRefused(f"it ends in the middle of a pickle opcode's argument (at byte {self.pos:,}), "
                             "so the file is truncated")

    def take(self, n):
        if n < 0 or self.pos + n > self.size:
            raise self.truncated()
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def number(self, fmt):
        if self.pos + fmt.size > self.size:
            raise self.truncated()
        value = fmt.unpack_from(self.data, self.pos)[0]
        self.pos += fmt.size
        return value

    def line(self):
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            raise PickleRefused("it ends in the middle of a pickle GLOBAL, so the file is truncated")
        text = self.data[self.pos:end]
        self.pos = end + 1
        return text.decode("utf-8", "backslashreplace")

    def utf8(self, n):
        try:
            return self.take(n).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise PickleRefused(f"it holds a string that is not UTF-8 (before byte {self.pos:,})") from None

    # --- the stack ------------------------------------------------------------------------------

    def count(self):
        self.objects += 1
        if self.objects > self.max_objects:
            raise PickleRefused(f"it makes more than {self.max_objects:,} pickle objects, far more than a CIFAR "
                                "batch of its size")

    def push(self, value):
        self.count()
        self.stack.append(value)

    def pop(self):
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise PickleRefused(f"its pickle stack underflows at byte {self.pos:,}")
        return self.stack.pop()

    def top(self):
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise PickleRefused(f"its pickle stack underflows at byte {self.pos:,}")
        return self.stack[-1]

    def pop_mark(self):
        if not self.marks:
            raise PickleRefused(f"it closes a pickle MARK that was never opened (at byte {self.pos:,})")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def memo_put(self, key):
        self.count()
        self.memo[key] = self.top()

    def memo_get(self, key):
        if key not in self.memo:
            raise PickleRefused(f"it refers to pickle memo entry {key}, which it never stored")
        self.push(self.memo[key])

    def container(self, kind):
        value = self.top()
        if type(value) is not kind:
            raise PickleRefused(f"it adds items to {describe(value)}, not {describe(kind())}")
        return value

    def set_items(self, items):
        if len(items) % 2:
            raise PickleRefused("it sets a dict item without its value")
        target = self.container(dict)
        for i in range(0, len(items), 2):
            key = items[i]
            # Only flat keys: hashing a deeply nested tuple would recurse in C.
            if not isinstance(key, (str, bytes, int, float, type(None))):
                raise PickleRefused(f"a dict key is {describe(key)}; CIFAR batches have text keys")
            target[key] = items[i + 1]

    # --- globals and calls ----------------------------------------------------------------------

    def global_(self, module, name):
        role = _GLOBALS.get((module, name))
        if role is None:
            raise PickleRefused(
                f"refusing to load {_escaped(module)}.{_escaped(name)}, a pickle global that is not part of a CIFAR "
                "batch (wavelens reads only its numpy arrays, lists, strings and numbers)"
            )
        self.push(_Global(module, name, role))

    def reduce(self, func, args):
        if not isinstance(func, _Global):
            raise PickleRefused(f"it calls {describe(func)}")
        if not isinstance(args, tuple):
            raise PickleRefused(f"it calls {func.module}.{func.name} with {describe(args)} as arguments")
        role = func.role
        if role == "dtype":
            if len(args) != 3:
                raise PickleRefused("it calls numpy.dtype with other arguments than (name, align, copy)")
            name = _text(args[0], "a numpy dtype's name")
            if name not in _DTYPES:
                raise PickleRefused(f"it holds a numpy dtype {name[:20]!r}; wavelens reads the dtypes "
                                    f"{', '.join(sorted(_DTYPES))}")
            return DTypeRecipe(name)
        if role == "reconstruct":
            if len(args) != 3 or not isinstance(args[0], _Global) or args[0].role != "ndarray":
                raise PickleRefused("it calls numpy's _reconstruct for something else than numpy.ndarray")
            return ArrayRecipe()  # its shape argument is never allocated: BUILD gives the real one
        if role == "frombuffer":
            if len(args) != 4:
                raise PickleRefused("it calls numpy's _frombuffer with other arguments than "
                                    "(buffer, dtype, shape, order)")
            order = _text(args[3], "a numpy array's order")
            if order not in ("C", "F"):
                raise PickleRefused(f"a numpy array's order is {order[:10]!r}, not C or F")
            recipe = ArrayRecipe()
            recipe.set(args[2], args[1], order == "F", args[0])
            return recipe
        if role == "scalar":
            if len(args) != 2 or not isinstance(args[0], DTypeRecipe) or not isinstance(args[1], bytes):
                raise PickleRefused("it holds a numpy scalar that is not (dtype, bytes)")
            dtype = args[0].resolve()
            if len(args[1]) != dtype.itemsize:
                raise PickleRefused(f"it holds a numpy scalar of type {dtype} with {len(args[1])} bytes "
                                    f"instead of {dtype.itemsize}")
            return np.frombuffer(args[1], dtype=dtype)[0].item()
        if role == "encode":
            if len(args) != 2 or not isinstance(args[0], str) or args[1] not in ("latin1", "latin-1"):
                raise PickleRefused("it calls _codecs.encode other than as (text, 'latin1'), how Python "
                                    "pickles bytes")
            self.made_bytes += len(args[0])
            if self.made_bytes > self.size:
                raise PickleRefused("it makes more bytes than the file holds")
            try:
                return args[0].encode("latin-1")
            except UnicodeEncodeError:
                raise PickleRefused("it encodes text beyond Latin-1 as bytes") from None
        if role == "bytes":
            if args:
                raise PickleRefused("it calls bytes with arguments")
            return b""
        raise PickleRefused(f"it calls {func.module}.{func.name}")

    # --- one method per opcode (see pickletools for their meaning) ------------------------------

    def unknown(self):
        at = self.pos - 1
        op = self.data[at]
        name = _OPCODE_NAMES.get(bytes([op]), f"0x{op:02x}")
        known = "an unknown pickle opcode" if name.startswith("0x") else "the pickle opcode"
        raise PickleRefused(f"it uses {known} {name} (at byte {at:,}), which wavelens does not read in a CIFAR batch")

    def op_proto(self):
        version = self.number(_U8)
        if version > 5:
            raise PickleRefused(f"it is a pickle of protocol {version}; wavelens reads protocols 2 to 5")

    def op_frame(self):  # protocol 4 framing: its length needs no action
        self.number(_U64)

    def op_mark(self):
        self.marks.append(len(self.stack))

    def op_pop(self):
        if len(self.stack) > (self.marks[-1] if self.marks else 0):
            self.stack.pop()
        else:
            self.pop_mark()

    def op_pop_mark(self):
        self.pop_mark()

    def op_dup(self):
        self.push(self.top())

    def op_none(self):
        self.push(None)

    def op_newtrue(self):
        self.push(True)

    def op_newfalse(self):
        self.push(False)

    def op_int(self):  # text; protocol 1 writes booleans so (I00, I01)
        text = self.line()
        if text in ("00", "01"):
            self.push(text == "01")
        elif len(text) <= 20 and text.isascii() and text.lstrip("-").isdigit():
            self.push(int(text))
        else:
            raise PickleRefused(f"it holds a malformed pickle INT (before byte {self.pos:,})")

    def op_binint(self):
        self.push(self.number(_I32))

    def op_binint1(self):
        self.push(self.number(_U8))

    def op_binint2(self):
        self.push(self.number(_U16))

    def long(self, n):
        if n > _MAX_LONG_BYTES:
            raise PickleRefused(f"it holds an integer of {n:,} bytes, too large for a CIFAR batch")
        self.push(int.from_bytes(self.take(n), "little", signed=True))

    def op_long1(self):
        self.long(self.number(_U8))

    def op_long4(self):
        self.long(self.number(_I32))

    def op_binfloat(self):
        self.push(self.number(_F64))

    def op_short_binbytes(self):  # also SHORT_BINSTRING: Python 2 strings are kept as bytes
        self.push(self.take(self.number(_U8)))

    def op_binbytes(self):
        self.push(self.take(self.number(_U32)))

    def op_binstring(self):
        self.push(self.take(self.number(_I32)))

    def op_binbytes8(self):  # also BYTEARRAY8
        self.push(self.take(self.number(_U64)))

    def op_short_binunicode(self):
        self.push(self.utf8(self.number(_U8)))

    def op_binunicode(self):
        self.push(self.utf8(self.number(_U32)))

    def op_binunicode8(self):
        self.push(self.utf8(self.number(_U64)))

    def op_empty_tuple(self):
        self.push(())

    def op_tuple1(self):
        self.push((self.pop(),))

    def op_tuple2(self):
        second = self.pop()
        self.push((self.pop(), second))

    def op_tuple3(self):
        third = self.pop()
        second = self.pop()
        self.push((self.pop(), second, third))

    def op_tuple(self):
        self.push(tuple(self.pop_mark()))

    def op_empty_list(self):
        self.push([])

    def op_list(self):
        self.push(self.pop_mark())

    def op_append(self):
        value = self.pop()
        self.container(list).append(value)

    def op_appends(self):
        items = self.pop_mark()
        self.container(list).extend(items)

    def op_empty_dict(self):
        self.push({})

    def op_dict(self):
        items = self.pop_mark()
        self.push({})
        self.set_items(items)

    def op_setitem(self):
        value = self.pop()
        key = self.pop()
        self.set_items([key, value])

    def op_setitems(self):
        self.set_items(self.pop_mark())

    def op_binput(self):
        self.memo_put(self.number(_U8))

    def op_long_binput(self):
        self.memo_put(self.number(_U32))

    def op_memoize(self):
        self.memo_put(len(self.memo))

    def op_binget(self):
        self.memo_get(self.number(_U8))

    def op_long_binget(self):
        self.memo_get(self.number(_U32))

    def op_global(self):
        module = self.line()
        self.global_(module, self.line())

    def op_stack_global(self):
        name = self.pop()
        module = self.pop()
        if not isinstance(module, str) or not isinstance(name, str):
            raise PickleRefused("it names a pickle global with something else than strings")
        self.global_(module, name)

    def op_reduce(self):
        args = self.pop()
        func = self.pop()
        self.push(self.reduce(func, args))

    def op_build(self):
        state = self.pop()
        target = self.top()
        if not isinstance(target, (DTypeRecipe, ArrayRecipe)):
            raise PickleRefused(f"it sets the state of {describe(target)}")
        target.build(state)

    def op_readonly_buffer(self):
        self.top()

    def run(self):
        data, size, dispatch = self.data, self.size, self.dispatch
        while self.pos < size:
            op = data[self.pos]
            self.pos += 1
            if op == 0x2E:  # STOP
                return self.pop()
            dispatch[op]()
        raise PickleRefused("it ends before the pickle's STOP opcode, so the file is truncated")


# The opcodes read, by the method that reads each. Any other opcode is refused.
_HANDLERS = {
    0x80: "op_proto", 0x95: "op_frame", 0x28: "op_mark", 0x30: "op_pop", 0x31: "op_pop_mark", 0x32: "op_dup",
    0x4E: "op_none", 0x88: "op_newtrue", 0x89: "op_newfalse", 0x49: "op_int", 0x4A: "op_binint",
    0x4B: "op_binint1", 0x4D: "op_binint2", 0x8A: "op_long1", 0x8B: "op_long4", 0x47: "op_binfloat",
    0x55: "op_short_binbytes", 0x43: "op_short_binbytes", 0x54: "op_binstring", 0x42: "op_binbytes",
    0x8E: "op_binbytes8", 0x96: "op_binbytes8", 0x8C: "op_short_binunicode", 0x58: "op_binunicode",
    0x8D: "op_binunicode8", 0x29: "op_empty_tuple", 0x85: "op_tuple1", 0x86: "op_tuple2", 0x87: "op_tuple3",
    0x74: "op_tuple", 0x5D: "op_empty_list", 0x6C: "op_list", 0x61: "op_append", 0x65: "op_appends",
    0x7D: "op_empty_dict", 0x64: "op_dict", 0x73: "op_setitem", 0x75: "op_setitems", 0x71: "op_binput",
    0x72: "op_long_binput", 0x94: "op_memoize", 0x68: "op_binget", 0x6A: "op_long_binget", 0x63: "op_global",
    0x93: "op_stack_global", 0x52: "op_reduce", 0x62: "op_build", 0x98: "op_readonly_buffer",
}


def read_pickle(data):
    """The object pickled in ``data``, with numpy arrays and dtypes as recipes.

    Parameters
    ----------
    data : bytes
        A whole pickle.

    Returns
    -------
    object
        dicts, lists, tuples, str, bytes, int, float, bool, None and
        :class:`ArrayRecipe` (numpy scalars become Python numbers).

    Raises
    ------
    PickleRefused
        For anything else, or a malformed pickle.
    """
    return _Reader(bytes(data)).run()
