"""Drawing a report's figures: in turn, in forked workers, or by a figure process started early.

matplotlib holds the GIL and takes about half a second to load, and a report
has about ten figures of a tenth of a second each. So, on Linux with two
cores or more:

- a report's figures are drawn by two forked worker processes;
- a command that computes before it draws (``analyze``, ``communities``...)
  can call :func:`start_figure_process` first: a process forked at once loads
  matplotlib while the parent loads data and computes (on its own core time,
  without the parent's GIL), then forks the two workers itself when the
  figures are asked for. matplotlib is then loaded once, not once per worker,
  and not on the command's critical path.

Elsewhere, or when other threads are running (forking a threaded process is
unsafe), the figures are drawn one after another in the calling process. The
PNG bytes are the same whichever way they are drawn.

The processes forked here never outlive the command, and never speak: each
ignores Ctrl-C (the command handles it, and stops them), stops at once and
silently on SIGTERM or SIGHUP whatever handlers the command installed (the
figure process first kills and reaps its workers), and gets a signal from
the kernel when its parent dies (``PR_SET_PDEATHSIG``). A figure's error
travels back to the command, which raises it; a process whose peer is gone
just leaves. The workers are two plain forked processes fed one figure at a
time through their own pipes (no ``multiprocessing.Pool``, whose threads
would start new workers while the old ones are being stopped). Signals are
blocked while forking, so none reaches a child before it has set this up.
"""

import atexit
import base64
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import sys
import threading
from contextlib import contextmanager

from . import figures
from .._parallel import resolve_n_jobs

__all__ = ["Drawings", "start_figure_process", "stop_figure_process"]

_PENDING = []  # the figures being drawn, for the worker processes (they get it by fork)
_INHERITED = []  # pipe ends a forked child has by fork and must close (they are other processes')


def _can_fork_workers():
    return (sys.platform.startswith("linux") and threading.active_count() == 1
            and resolve_n_jobs(-1) >= 2)


# --- quiet children ---------------------------------------------------------------------------

_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
_PR_SET_PDEATHSIG = 1


@contextmanager
def _signals_blocked():
    """Block SIGINT, SIGTERM and SIGHUP while forking: a child inherits the block and lifts it
    once its own handlers are set (:func:`_quiet_child`); the parent gets any signal that came
    meanwhile when the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _quiet_child(parent_pid, on_stop=signal.SIG_DFL, death_signal=signal.SIGKILL):
    """In a forked child: leave Ctrl-C to the parent, stop silently on SIGTERM and SIGHUP (by
    ``on_stop``), get ``death_signal`` when the parent dies; then let signals in."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's to handle; it stops us
    signal.signal(signal.SIGTERM, on_stop)  # not the handlers the command may have set
    signal.signal(signal.SIGHUP, on_stop)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, death_signal)
    except (OSError, AttributeError):  # not Linux: the pipe's end still stops the figure process
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def _stop_now(signum, frame):
    """SIGTERM or SIGHUP in the figure process: kill its workers and reap them (they would
    otherwise linger as zombies until init reaps them), then leave at once, saying nothing."""
    children = multiprocessing.active_children()
    for child in children:
        child.kill()
    for child in children:
        child.join(timeout=1)
    os._exit(0)


def _answer(connection, handle):
    """Answer each ``(key, payload)`` received with ``(key, "ok", handle(payload))`` or
    ``(key, "error", exception)``, until None comes or the other end is gone."""
    while True:
        try:
            message = connection.recv()
        except Exception:  # noqa: BLE001 - the parent is gone, or was stopped halfway through a message
            return
        if message is None:
            return
        key, payload = message
        try:
            reply = (key, "ok", handle(payload))
        except Exception as exc:  # sent back whole: the parent raises it as if it had drawn
            reply = (key, "error", exc)
        try:
            connection.send(reply)
        except (EOFError, OSError):  # the parent is gone
            return
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled: send what it says
            exc = reply[2]
            try:
                connection.send((key, "error", RuntimeError(f"{type(exc).__name__}: {exc}")))
            except Exception:  # noqa: BLE001
                return


# --- drawing ------------------------------------------------------------------------------------

def _draw(index):
    func, args, kwargs = _PENDING[index]
    return figures.to_png(func(*args, **kwargs))


def _work(connection, parent_pid):
    """A worker: draw each figure (an index into _PENDING, which it has by fork) it is sent."""
    _quiet_child(parent_pid)
    for end in _INHERITED:  # other processes' pipe ends, so that each process sees its peer go
        if end is not connection:
            end.close()
    _answer(connection, _draw)


def _draw_forked(jobs, n_workers=2):
    """PNG bytes of every job, drawn by ``n_workers`` forked workers, each sent the next job as it
    finishes one. However the drawing stops (an error, Ctrl-C, SIGTERM's exception), the workers
    are stopped and reaped before this returns or raises. A worker that dies is done without."""
    context = multiprocessing.get_context("fork")
    pipes = [context.Pipe() for _ in range(min(n_workers, len(jobs)))]
    ours = [mine for mine, _ in pipes]
    _INHERITED.extend(end for pipe in pipes for end in pipe)
    workers, pngs, waiting, busy = [], [None] * len(jobs), list(range(len(jobs))), {}

    def hand_next(connection):
        if waiting and connection in ours:
            try:
                connection.send((waiting[0], waiting[0]))
                busy[connection] = waiting.pop(0)
            except OSError:  # the worker is gone
                ours.remove(connection)

    try:
        with _signals_blocked():
            for _, theirs in pipes:
                worker = context.Process(target=_work, args=(theirs, os.getpid()), daemon=True,
                                         name="wavelens-figure-worker")
                worker.start()
                workers.append(worker)
        for _, theirs in pipes:
            theirs.close()
        for connection in list(ours):
            hand_next(connection)
        while busy:
            for connection in multiprocessing.connection.wait(list(busy)):
                index = busy.pop(connection)
                try:
                    _, status, value = connection.recv()
                except (EOFError, OSError):  # the worker died (killed from outside): draw its figure here
                    ours.remove(connection)
                    status, value = "ok", _draw(index)
                if status == "error":
                    raise value
                pngs[index] = value
                hand_next(connection)
        for index in waiting:  # every worker died
            pngs[index] = _draw(index)
        return pngs
    finally:
        done = all(png is not None for png in pngs)
        for mine, theirs in pipes:
            if done:
                try:
                    mine.send(None)
                except (OSError, ValueError):
                    pass
            mine.close()
            theirs.close()
            _INHERITED.remove(mine)
            _INHERITED.remove(theirs)
        for worker in workers:
            worker.join(timeout=1 if done else 0)
            if worker.is_alive():
                worker.kill()
                worker.join()


def _draw_all(jobs):
    """PNG bytes of every ``(func, args, kwargs)`` in ``jobs``, in order."""
    global _PENDING
    _PENDING = jobs
    try:
        if len(jobs) > 1 and _can_fork_workers():
            return _draw_forked(jobs)
        return [_draw(i) for i in range(len(jobs))]
    finally:
        _PENDING = []


def _serve(connection, parent_end, parent_pid):
    """The figure process: load matplotlib, then draw each list of jobs sent, until told to stop."""
    # SIGTERM (from the parent's stop, or its death) makes it kill and reap its workers first.
    _quiet_child(parent_pid, on_stop=_stop_now, death_signal=signal.SIGTERM)
    parent_end.close()  # so that the pipe closes, and we stop, if the parent dies
    _INHERITED[:] = [connection]  # the workers close it: the parent sees us go when we go
    try:
        figures.warm_up()
    except Exception:  # noqa: BLE001 - a figure would fail the same way, and its error goes back then
        pass
    _answer(connection, _draw_all)


class _FigureProcess:
    def __init__(self):
        context = multiprocessing.get_context("fork")
        self.connection, theirs = context.Pipe()
        self.serial = 0  # each list of jobs is numbered, so that a reply never answers another list
        # Not a daemon, which could not fork its workers: it stops when told to (at exit at the
        # latest), when the parent is gone and its end of the pipe closes, or with the parent.
        self.process = context.Process(target=_serve, args=(theirs, self.connection, os.getpid()),
                                       name="wavelens-figures")
        with _signals_blocked():
            self.process.start()
        theirs.close()
        _INHERITED.append(self.connection)  # workers forked here (if it dies) must not hold it

    def send(self, jobs):
        """Hand ``jobs`` over; their serial number, or None if the process is gone."""
        self.serial += 1
        try:
            self.connection.send((self.serial, jobs))
            return self.serial
        except (OSError, ValueError):  # ValueError: the connection was closed
            return None
        except BaseException:  # stopped halfway (Ctrl-C): the pipe can no longer be trusted
            self.connection.close()
            raise

    def receive(self, serial):
        """PNG bytes of the jobs sent as ``serial``, or None if the process is gone (the caller
        then draws them). Replies to earlier lists (of a report abandoned on an error) are skipped."""
        while True:
            try:
                number, status, result = self.connection.recv()
            except (EOFError, OSError, ValueError):
                return None
            except BaseException:  # stopped halfway (Ctrl-C): the pipe can no longer be trusted
                self.connection.close()
                raise
            if number == serial:
                break
        if status == "error":
            raise result
        return result

    def stop(self):
        try:
            self.connection.send(None)
        except (OSError, ValueError):
            pass
        self.connection.close()
        if self.connection in _INHERITED:
            _INHERITED.remove(self.connection)
        self.process.join(timeout=0.2)
        if self.process.is_alive():  # still loading matplotlib or drawing (the command failed): no need to wait
            self.process.terminate()  # SIGTERM: it stops its workers and leaves, silently
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()


_figure_process = None


def start_figure_process():
    """Fork the figure process now, if it can be (Linux, two cores or more, no other thread).

    Call it before the work that precedes a report; :class:`Drawings` then hands
    the figures to it. It stops with :func:`stop_figure_process` or at exit.
    Returns whether it was started.
    """
    global _figure_process
    if _figure_process is None and _can_fork_workers():
        _figure_process = _FigureProcess()
        atexit.register(stop_figure_process)
    return _figure_process is not None


def stop_figure_process():
    global _figure_process
    if _figure_process is not None:
        _figure_process.stop()
        _figure_process = None


class Drawings:
    """The figures of one report, drawn together once the page is laid out.

    Calling the object with a figure function and its arguments gives a
    placeholder for the page; :meth:`start` hands the figures to the figure
    process, if there is one, and :meth:`fill` waits for them (or draws them)
    and puts the base64 PNGs in.
    """

    def __init__(self):
        self.jobs = []
        self.sent = None  # the serial number the figure process has the jobs under

    def __call__(self, func, *args, **kwargs):
        self.jobs.append((func, args, kwargs))
        return f"\x00figure{len(self.jobs) - 1}\x00"

    def start(self):
        """Hand the figures to the figure process, if there is one, to draw while the caller works on."""
        if self.jobs and _figure_process is not None:
            self.sent = _figure_process.send(self.jobs)

    def render(self):
        """PNG bytes of every figure, in order."""
        if self.sent is None:
            self.start()
        pngs = _figure_process.receive(self.sent) if self.sent is not None and _figure_process is not None else None
        return pngs if pngs is not None else _draw_all(self.jobs)

    def fill(self, page):
        pngs = [base64.b64encode(png).decode("ascii") for png in self.render()]
        return re.sub("\x00figure([0-9]+)\x00", lambda match: pngs[int(match[1])], page)
