"""The output folder of a run: claimed at the start, written whole, never anything else touched.

A run claims ``--out`` before any work: it creates the folder if it is
missing and holds an exclusive lock on it (``flock``), so a second run into
the same folder stops at once with an error instead of racing. Results are
written into a hidden staging folder beside it, which then takes the place of
``--out`` by ``rename``, and the staging folder is removed if anything fails,
including SIGINT, SIGTERM and SIGHUP (see :func:`stop_on_signals`).

``--overwrite`` replaces only a folder that wavelens wrote: every result holds
the marker file :data:`MARKER`, which lists the files written, and a folder
holding anything else, or no marker, is refused. A folder that is, contains or
lies inside an input (after resolving symbolic links) is refused whatever the
options.
"""

import ctypes
import errno
import json
import os
import shutil
import signal
import sys
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ._validation import WavelensError, param, shown as _shown
from ._version import __version__

try:
    import fcntl
except ImportError:  # not POSIX: no lock, the rest still holds
    fcntl = None

__all__ = ["COMMITTED", "MARKER", "OutputFolder", "Stopped", "stop_on_signals"]

MARKER = ".wavelens-result"
_OVERWRITE = param("overwrite", True)


def _out(path):
    """The result folder ``path``, as the caller named it (``folder='...'``; the CLI's ``--out ...``)."""
    return param("folder", _shown(path))


# Every name a wavelens command writes into a result folder: only these may be replaced.
RESULT_FILES = frozenset({
    "summary.json", "per_image.csv", "arrays.npz", "patterns.npz", "report.npz", "report.html",
    "contingency_image_patterns.csv", "contingency_image_patterns_energy.csv",
    "contingency_dataset_patterns.csv", "contingency_dataset_patterns_energy.csv",
    "noise_curve.json", "noise_curve.csv", "communities.csv", "duplicates.csv",
    "issues.csv", "confusable_classes.csv", "class_overlap.csv",
    "learnability.csv", "learnability_noise.csv", "learnability_per_class.csv",
})
_PROTECTED = ("SIGINT", "SIGTERM", "SIGHUP")
COMMITTED = []  # the result folders this process has written, for messages after a late signal


class Stopped(BaseException):
    """Raised in the main thread by SIGTERM or SIGHUP, so that staging folders are cleaned up."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


_HANDLER_PID = []  # the process that installed the handlers


def _raise_stopped(signum, frame):
    if _HANDLER_PID and os.getpid() != _HANDLER_PID[-1]:
        # A forked child (a figure worker) inherited the handler: it stops as by default, quietly.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise Stopped(signum)


def _deliver_again(unraisable):
    """``sys.unraisablehook`` for a signal's exception raised where Python cannot pass it on (a
    callback of the import machinery's locks, while a module loads): it would be printed as
    "Exception ignored" with a traceback and the signal lost, so it is sent again, to be raised
    in the main thread at the next step."""
    import threading

    error = unraisable.exc_value
    if isinstance(error, (Stopped, KeyboardInterrupt)) and os.getpid() == (_HANDLER_PID or [None])[-1]:
        # A moment later, from another thread: sent now, the handler would raise inside this hook again.
        signum = error.signum if isinstance(error, Stopped) else signal.SIGINT
        resend = threading.Timer(0.02, os.kill, args=(os.getpid(), signum))
        resend.daemon = True
        resend.start()
        return
    sys.__unraisablehook__(unraisable)


@contextmanager
def stop_on_signals():
    """Within the block, SIGTERM and SIGHUP raise :class:`Stopped` (as Ctrl-C raises KeyboardInterrupt)."""
    previous = {}
    _HANDLER_PID.append(os.getpid())
    previous_hook, sys.unraisablehook = sys.unraisablehook, _deliver_again
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            try:
                previous[signum] = signal.signal(signum, _raise_stopped)
            except ValueError:  # not the main thread: leave the handlers alone
                pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = previous_hook
        _HANDLER_PID.pop()


@contextmanager
def _signals_held():
    """Hold SIGINT, SIGTERM and SIGHUP back within the block, so that a claim, a commit or a
    clean-up is never cut in half: one that arrives meanwhile is raised again, to the usual
    handler, at the block's end. (Masking the signals would not do: another thread may take
    them, and Python then runs the handler in the main thread all the same.)"""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived = []
    previous = {}
    for name in _PROTECTED:
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, lambda number, frame: arrived.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if arrived:
            signal.raise_signal(arrived[0])


def _is_within(path, folder):
    return path == folder or folder in path.parents


def _identities(path):
    """(device, inode) of ``path`` and of each of its existing ancestors: what a folder *is*,
    whatever name (bind mount, hard link, case) reaches it."""
    found = []
    for place in [path, *path.parents]:
        try:
            info = os.stat(place)
        except OSError:
            continue
        found.append((info.st_dev, info.st_ino))
    return found


def _resolved(path):
    return Path(os.path.realpath(os.path.abspath(os.fsdecode(path))))


def check_not_an_input(out, inputs):
    """Raise if ``out`` is, contains, or lies inside one of ``inputs`` (symlinks resolved)."""
    out_identities = _identities(out)
    for source in inputs:
        if source is None:
            continue
        source = _resolved(source)
        try:
            info = os.stat(source)
        except OSError:  # a missing input (the loader says so) or not a path (an in-memory source)
            continue
        source_identity = (info.st_dev, info.st_ino)
        inside = _is_within(out, source) or source_identity in out_identities
        if inside:
            where = "is" if out == source or (out.exists() and out_identities[0] == source_identity) else "lies inside"
            raise WavelensError(
                f"{_out(out)} {where} the input {_shown(source)}; wavelens never writes into its "
                "inputs: choose a folder outside them."
            )
        if _is_within(source, out) or (out.exists() and out_identities[0] in _identities(source)):
            raise WavelensError(
                f"{_out(out)} holds the input {_shown(source)}; wavelens never replaces a folder "
                "that holds its inputs: choose another folder."
            )


def _check_replaceable(out, overwrite, shown):
    """Raise unless the existing folder ``out`` is empty, or ``overwrite`` and wavelens wrote all of it."""
    entries = sorted(os.listdir(out))
    if not entries:
        return
    if not overwrite:
        raise WavelensError(
            f"{param('folder', shown)} exists and is not empty; choose another folder, or pass {_OVERWRITE} to "
            "replace an earlier wavelens result."
        )
    written = _marker_files(out / MARKER)
    if written is None:
        raise WavelensError(
            f"{param('folder', shown)} is not a wavelens result (it has no {MARKER} file), so {_OVERWRITE} does "
            "not replace it; choose another folder."
        )
    foreign = [name for name in entries if name != MARKER and not _is_result_file(out / name, written)]
    if foreign:
        listed = ", ".join(_shown(name) for name in foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise WavelensError(
            f"{param('folder', shown)} holds files wavelens did not write ({listed}); {_OVERWRITE} replaces only "
            "wavelens' own results: move them away or choose another folder."
        )


def _is_result_file(path, written):
    """Whether ``path`` is a file wavelens writes, listed in the marker (``report.html`` may be
    rewritten by ``wavelens report``), and a plain file, never a folder or a link."""
    if path.name not in RESULT_FILES or (path.name not in written and path.name != "report.html"):
        return False
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _marker_files(marker):
    """The file names a marker lists, or None if it is not a wavelens marker."""
    try:
        if marker.is_symlink() or not marker.is_file() or marker.stat().st_size > 1 << 20:
            return None
        content = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(content, dict) or content.get("written_by") != "wavelens":
        return None
    files = content.get("files")
    if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
        return None
    return set(files)


def _renameat2(source, target, flags):
    """Linux's renameat2(2); returns False where it is missing or not supported for these paths."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(source), at_fdcwd, os.fsencode(target), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), os.fsdecode(target))


def _exchange(first, second):
    """Swap two folders in one step (renameat2's RENAME_EXCHANGE); False where not supported."""
    return _renameat2(first, second, 2)


def _rename_noreplace(source, target):
    """``rename(source, target)`` that fails with FileExistsError if ``target`` exists (Linux renameat2)."""
    if _renameat2(source, target, 1):  # RENAME_NOREPLACE
        return
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fsdecode(target))
    os.rename(source, target)


class OutputFolder:
    """``--out`` of one run: claimed on entering, replaced by the finished result on a clean exit.

    Parameters
    ----------
    out : str or Path
        The folder to write. Missing parent folders are created.
    overwrite : bool, default=False
        Replace ``out`` if it holds an earlier wavelens result (and nothing else).
    inputs : iterable of paths, default=()
        The run's inputs: ``out`` must not be, contain or lie inside any of them.

    Attributes
    ----------
    path : Path
        ``out`` with symbolic links resolved.
    staging : Path
        The folder to write the results into, while the block runs.
    """

    def __init__(self, out, *, overwrite=False, inputs=()):
        if not isinstance(out, (str, bytes, os.PathLike)):
            raise WavelensError(f"The '{param('folder')}' parameter must be a path to a folder, not "
                                f"{type(out).__name__}.")
        self.requested = out
        self.path = _resolved(out)
        self.overwrite = bool(overwrite)
        self.inputs = [path for path in inputs if path is not None]
        self.staging = None
        self._lock = None
        self._created = False
        self._committed = False
        self.check()

    def check(self):
        """Every check that needs no claim: the path's kind, its place, the inputs."""
        out = self.path
        if out.exists() and not out.is_dir():
            raise WavelensError(f"{_out(self.requested)} is a file, not a folder; choose another path.")
        ancestor = out.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise WavelensError(f"{_out(self.requested)}: {_shown(ancestor)} is a file, so no folder can be "
                                "made under it; choose another path.")
        if out == out.parent or os.path.ismount(out):
            raise WavelensError(f"{_out(self.requested)} is a mount point or the root; wavelens writes a "
                                f"folder of its own: name a new folder inside it, e.g. {_out(out / 'results')}.")
        if _is_within(_resolved(os.getcwd()), out):
            raise WavelensError(f"{_out(self.requested)} is or holds the current folder; wavelens replaces "
                                f"{param('folder')} as a whole: name a new folder, e.g. {param('folder', 'results')}.")
        check_not_an_input(out, self.inputs)
        if out.is_dir():
            _check_replaceable(out, self.overwrite, _shown(self.requested))

    def __enter__(self):
        with _signals_held():
            self._claim()
            try:
                prefix = f".{self.path.name[:64]}.tmp-"  # within any file system's name limit
                self.staging = Path(tempfile.mkdtemp(prefix=prefix, dir=self.path.parent))
                umask = os.umask(0)
                os.umask(umask)
                self.staging.chmod(0o777 & ~umask)  # mkdtemp's folder is private; results are ordinary files
            except BaseException:
                self._release()
                raise
        return self

    def __exit__(self, kind, value, traceback):
        with _signals_held():
            try:
                if kind is None:
                    self._commit()
            finally:
                if self.staging is not None and self.staging.exists():
                    shutil.rmtree(self.staging, ignore_errors=True)
                self._release()
        return False

    def _claim(self):
        out = self.path
        out.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            try:
                out.mkdir()
                created = True
            except FileExistsError:
                created = False
            try:
                fd = os.open(out, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except FileNotFoundError:  # another run's result moved in and out meanwhile
                continue
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    raise WavelensError(
                        f"Another wavelens run is writing into {_out(self.requested)} right now; wait "
                        "for it to finish or choose another folder."
                    ) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(out))
            except FileNotFoundError:
                same = False
            if not same:  # locked a folder that another run replaced meanwhile: try again
                os.close(fd)
                continue
            self._lock, self._created = fd, created
            try:
                self.check()
            except BaseException:
                self._release()
                raise
            return
        raise WavelensError(f"{_out(self.requested)} keeps changing under wavelens; choose another folder.")

    def _commit(self):
        """Move the finished staging folder into place of ``out``."""
        (self.staging / MARKER).write_text(json.dumps(
            {"written_by": "wavelens", "wavelens_version": __version__,
             "files": sorted(os.listdir(self.staging))}, indent=2) + "\n", encoding="utf-8")
        out = self.path
        try:
            if not os.path.samestat(os.fstat(self._lock), os.stat(out)):
                raise FileExistsError
            _check_replaceable(out, self.overwrite, _shown(self.requested))
        except (FileExistsError, FileNotFoundError):
            raise WavelensError(f"{_out(self.requested)} was changed by something else during the run; "
                                "nothing was written.") from None
        try:
            exchanged = _exchange(self.staging, out)  # one step: the staging path then holds what --out held
        except OSError as exc:
            raise WavelensError(f"Could not move the results into {_shown(out)} ({exc.strerror}); nothing was "
                                "changed.") from None
        if exchanged:
            self._committed = True
            COMMITTED.append(self.path)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{out.name[:64]}.old-", dir=out.parent))
        old.rmdir()
        os.rename(out, old)
        try:
            _rename_noreplace(self.staging, out)
        except OSError as exc:
            try:
                _rename_noreplace(old, out)
            except OSError:
                raise WavelensError(f"Could not move the results into {_shown(out)} ({exc.strerror}); the earlier "
                                    f"content of {param('folder')} is kept in {_shown(old)}.") from None
            raise WavelensError(f"Could not move the results into {_shown(out)} ({exc.strerror}); nothing was "
                                "changed.") from None
        self.staging, self._committed = None, True
        COMMITTED.append(self.path)
        shutil.rmtree(old, ignore_errors=True)

    def _release(self):
        if self._lock is None:
            return
        try:
            if self._created and not self._committed:  # a failed run leaves no empty folder behind
                try:
                    os.rmdir(self.path)
                except OSError:
                    pass
        finally:
            os.close(self._lock)
            self._lock = None
