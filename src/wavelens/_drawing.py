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
"""

import atexit
import base64
import multiprocessing
import re
import signal
import sys
import threading

from . import figures
from ._chunks import resolve_n_jobs

__all__ = ["Drawings", "start_figure_process", "stop_figure_process"]

_PENDING = []  # the figures being drawn, for the worker processes (they get it by fork)


def _can_fork_workers():
    return (sys.platform.startswith("linux") and threading.active_count() == 1
            and resolve_n_jobs(None) >= 2)


def _draw(index):
    func, args, kwargs = _PENDING[index]
    return figures.to_png(func(*args, **kwargs))


def _draw_all(jobs):
    """PNG bytes of every ``(func, args, kwargs)`` in ``jobs``, in order."""
    global _PENDING
    _PENDING = jobs
    try:
        if len(jobs) > 1 and _can_fork_workers():
            with multiprocessing.get_context("fork").Pool(2) as pool:
                return pool.map(_draw, range(len(jobs)), chunksize=1)
        return [_draw(i) for i in range(len(jobs))]
    finally:
        _PENDING = []


def _serve(connection, parent_end):
    """The figure process: load matplotlib, then draw each list of jobs sent, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    parent_end.close()  # so that the pipe closes, and we stop, if the parent dies
    figures.warm_up()
    while True:
        try:
            jobs = connection.recv()
            if jobs is None:
                return
            try:
                reply = ("ok", _draw_all(jobs))
            except Exception as exc:  # sent back whole: the parent raises it as if it had drawn
                reply = ("error", exc)
            connection.send(reply)
        except (EOFError, OSError):  # the parent is gone
            return


class _FigureProcess:
    def __init__(self):
        context = multiprocessing.get_context("fork")
        self.connection, theirs = context.Pipe()
        # Not a daemon, which could not fork its workers: it stops when told to (at exit at the
        # latest), or when the parent is gone and its end of the pipe closes.
        self.process = context.Process(target=_serve, args=(theirs, self.connection), name="wavelens-figures")
        self.process.start()
        theirs.close()

    def send(self, jobs):
        """Hand ``jobs`` over; False if the process is gone."""
        try:
            self.connection.send(jobs)
            return True
        except OSError:
            return False

    def receive(self):
        """PNG bytes of the jobs sent, or None if the process is gone (the caller then draws them)."""
        try:
            status, result = self.connection.recv()
        except (EOFError, OSError):
            return None
        if status == "error":
            raise result
        return result

    def stop(self):
        try:
            self.connection.send(None)
        except OSError:
            pass
        self.connection.close()
        self.process.join(timeout=0.2)
        if self.process.is_alive():  # still loading matplotlib (the command failed early): no need to wait
            self.process.terminate()
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
        self.sent = False

    def __call__(self, func, *args, **kwargs):
        self.jobs.append((func, args, kwargs))
        return f"\x00figure{len(self.jobs) - 1}\x00"

    def start(self):
        """Hand the figures to the figure process, if there is one, to draw while the caller works on."""
        self.sent = bool(self.jobs) and _figure_process is not None and _figure_process.send(self.jobs)

    def render(self):
        """PNG bytes of every figure, in order."""
        if not self.sent:
            self.start()
        pngs = _figure_process.receive() if self.sent and _figure_process is not None else None
        return pngs if pngs is not None else _draw_all(self.jobs)

    def fill(self, page):
        pngs = [base64.b64encode(png).decode("ascii") for png in self.render()]
        return re.sub("\x00figure([0-9]+)\x00", lambda match: pngs[int(match[1])], page)
