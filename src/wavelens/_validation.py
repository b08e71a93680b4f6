"""Parameter and input checks shared by the library and the command line.

Every check raises :class:`WavelensError` with one line that names the
parameter or file, says what was expected and what was found, and how to fix
it. The CLI prints that line as ``wavelens: error: ...`` and exits with 2.

A message speaks of the library's parameters, marked with :func:`param`
(``use n_patterns=898 or fewer``); the command line renders the same message
with its flags (``use --patterns 898 or fewer``), from its own table of
parameter -> flag (``wavelens.cli._options.FLAGS``). Each message is written
once, for both.
"""

import numbers
import os
import re

import numpy as np
import pywt

__all__ = [
    "WavelensError",
    "check_energy",
    "check_finite",
    "check_level",
    "check_mode",
    "check_positive_int",
    "check_wavelet",
    "check_fraction",
    "check_n_jobs",
    "check_seed",
    "param",
    "printable",
    "render",
    "see",
    "shown",
]

# A marked parameter in a message: MARK name [SEP value] MARK. Control characters, which
# no text shown in a message carries (printable() escapes them), and which are never printed:
# the message is always rendered (render) first.
_MARK, _SEP = "\x1f", "\x1e"
_MARKED = re.compile(f"{_MARK}([^{_MARK}{_SEP}]+)(?:{_SEP}([^{_MARK}{_SEP}]*))?{_MARK}")
_NO_VALUE = object()


def param(name, value=_NO_VALUE, *, text=None):
    """Parameter ``name`` (or the setting ``name=value``) marked in a :class:`WavelensError` message.

    Python reads ``name`` or ``name=value`` (``repr(value)``, or ``text`` as
    given, for a placeholder such as ``(H, W)``); the command line reads its
    flag instead: ``--flag`` or ``--flag value``.

    Examples
    --------
    >>> str(WavelensError(f"use {param('n_patterns', 898)} or fewer, or pass {param('resize', text='(H, W)')}"))
    'use n_patterns=898 or fewer, or pass resize=(H, W)'
    >>> render(f"use {param('split', 'all')}", lambda name, value: f"--{name} {value}")
    "use --split 'all'"
    """
    if value is not _NO_VALUE:
        text = repr(value)
    return f"{_MARK}{name}{_MARK}" if text is None else f"{_MARK}{name}{_SEP}{text}{_MARK}"


def see(python):
    """A pointer to a Python way to look something up (``see python``), marked in a message:
    the command line names its own command instead (``run 'wavelens wavelets'``).

    >>> str(WavelensError(f"{see('help(wavelens.load_dataset)')} for the built-in names."))
    'see help(wavelens.load_dataset) for the built-in names.'
    """
    return param(f"see {python}")


def _python(name, value):
    return name if value is None else f"{name}={value}"


def render(message, say=_python):
    """``message`` with each marked parameter written by ``say(name, value)``, or as Python
    says it (``name``, ``name=value``) where ``say`` returns None; ``value`` is None for a
    bare name, else the Python text of the value."""
    return _MARKED.sub(lambda m: say(m[1], m[2]) or _python(m[1], m[2]), message)


class WavelensError(ValueError):
    """Bad input: a parameter out of range, or a missing or malformed file.

    ``str(error)`` names the parameters as Python does (``n_patterns=898``);
    ``error.template`` keeps them marked (see :func:`param`), for the command
    line to name its flags.
    """

    def __init__(self, message=""):
        self.template = str(message)
        super().__init__(render(self.template))

    def __reduce__(self):
        return type(self), (self.template,)


def check_positive_int(value, name, *, minimum=1):
    """Return ``value`` as an int, or raise if it is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise WavelensError(
            f"The '{param(name)}' parameter must be an integer >= {minimum}. Got {value!r} instead."
        )
    if value < minimum:
        raise WavelensError(
            f"The '{param(name)}' parameter must be an integer >= {minimum}. Got {value} instead."
        )
    return int(value)


def check_fraction(value, name, *, low=0.0, low_open=False):
    """Return ``value`` as a float in [low, 1] ((low, 1] with ``low_open``), or raise naming ``name``."""
    interval = f"({low:g}, 1]" if low_open else f"[{low:g}, 1]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            low < value <= 1 if low_open else low <= value <= 1):
        raise WavelensError(f"The '{param(name)}' parameter must be a number in {interval}. Got {value!r} instead.")
    return float(value)


def check_n_jobs(n_jobs):
    """Return ``n_jobs`` (None, or a nonzero int), or raise."""
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0):
        raise WavelensError(f"The '{param('n_jobs')}' parameter must be a nonzero integer or None (-1: every core; "
                            f"None: one thread). Got {n_jobs!r} instead.")
    return n_jobs


def check_energy(energy):
    """Return ``energy`` as a float in (0, 1], or raise."""
    if isinstance(energy, bool) or not isinstance(energy, numbers.Real):
        raise WavelensError(
            f"The '{param('energy')}' parameter must be a number in (0, 1], e.g. 0.99. Got {energy!r} instead."
        )
    if not 0.0 < float(energy) <= 1.0:
        raise WavelensError(
            f"The '{param('energy')}' parameter must be a number in (0, 1], e.g. 0.99. Got {energy} instead."
        )
    return float(energy)


_WAVELIST = "pywt.wavelist(kind='discrete')"


def check_wavelet(wavelet):
    """Return a :class:`pywt.Wavelet` for a discrete wavelet name, or raise."""
    if isinstance(wavelet, pywt.Wavelet):
        return wavelet
    if wavelet not in pywt.wavelist(kind="discrete"):
        hint = ""
        if wavelet in pywt.wavelist(kind="continuous"):
            hint = " (it is a continuous wavelet; wavelens needs a discrete one)"
        raise WavelensError(
            f"Unknown wavelet {wavelet!r}{hint}: expected a discrete PyWavelets wavelet "
            f"such as db1, db3, sym4, coif1 or bior2.2; {see(_WAVELIST)} for the full list."
        )
    return pywt.Wavelet(wavelet)


def check_mode(mode):
    """Return ``mode`` if it is a PyWavelets signal-extension mode, or raise."""
    if mode not in pywt.Modes.modes:
        raise WavelensError(
            f"Unknown mode {mode!r}: expected one of {', '.join(pywt.Modes.modes)}."
        )
    return mode


def check_level(level, image_shape, wavelet):
    """Return ``level`` if the images are large enough for it, or raise.

    Parameters
    ----------
    level : int
        Number of decomposition levels asked for.
    image_shape : tuple of int
        ``(height, width)`` of the images.
    wavelet : pywt.Wavelet
        The wavelet, whose filter length limits the level.
    """
    level = check_positive_int(level, "level")
    max_level = pywt.dwt_max_level(min(image_shape), wavelet.dec_len)
    if level > max_level:
        size = "x".join(str(s) for s in image_shape)
        if max_level == 0:
            fix = ("use a wavelet with a shorter filter (e.g. db1) or larger images "
                   f"({param('resize', text='(H, W)')})")
        else:
            fix = f"use {param('level', max_level)} or less"
        raise WavelensError(
            f"Level {level} is too high for {size} images with wavelet {wavelet.name} "
            f"(filter length {wavelet.dec_len}): the most is {max_level}; {fix}."
        )
    return level


def check_finite(array, what):
    """Raise if ``array`` holds NaN or infinite values."""
    if np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.complexfloating):
        bad = ~np.isfinite(array)
        if bad.any():
            count = int(bad.sum())
            raise WavelensError(
                f"{what} holds {count} NaN or infinite value(s); remove or replace them "
                "before running wavelens."
            )


def printable(text):
    """``text`` (a class or file name from the data) as printable, encodable text.

    Bytes that are not UTF-8 (which Python keeps as lone surrogates in file
    names) become U+FFFD; control and other unprintable characters become
    their ``\\x..`` / ``\\u....`` escapes, so a name can go to a terminal,
    a CSV, JSON or HTML unchanged in meaning and harmless.

    Examples
    --------
    >>> printable("caf\\udce9 \\x1b[31m")
    'caf\ufffd \\\\x1b[31m'
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = str(text)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def shown(path, limit=300):
    """A path (or any text) for a one-line message: :func:`printable`, long text cut in the middle."""
    text = printable(os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else path)
    if len(text) > limit:
        text = text[:limit // 2] + "..." + text[-limit // 2:]
    return text


SEED_MAX = 2**32 - 1  # what every random generator wavelens uses accepts


def check_seed(seed, name="random_state"):
    """Return ``seed`` as an int in [0, 2**32 - 1], or raise."""
    seed = check_positive_int(seed, name, minimum=0)
    if seed > SEED_MAX:
        raise WavelensError(f"The '{param(name)}' parameter must be an integer from 0 to {SEED_MAX}. "
                            f"Got {seed} instead.")
    return seed
