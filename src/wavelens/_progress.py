"""Progress bars on stderr for the long stages, off unless the command line turns them on.

The library stays silent; the CLI calls :func:`enable` when stderr is a
terminal and ``--quiet`` is not given. Stages report through :func:`stage`,
whose bar shows the stage, the count, the rate and the time left (tqdm).
"""

import shutil
import sys
from contextlib import contextmanager

__all__ = ["enable", "stage"]

_state = {"enabled": False, "stream": None}


def enable(flag=True, *, stream=None):
    """Turn progress bars on or off (``stream`` defaults to stderr)."""
    _state["enabled"] = bool(flag)
    _state["stream"] = stream


class _Silent:
    def update(self, n=1):
        pass


@contextmanager
def stage(description, total=None, unit="images"):
    """A progress bar for one stage; yields an object with ``update(n)``."""
    if not _state["enabled"]:
        yield _Silent()
        return
    from tqdm import tqdm

    # A terminal that reports no size (0 x 0) would get an empty or hidden bar.
    size = shutil.get_terminal_size(fallback=(100, 24))
    with tqdm(total=total, desc=description, unit=unit, file=_state["stream"] or sys.stderr,
              ncols=min(size.columns or 100, 120), nrows=size.lines or 24, leave=False,
              mininterval=0.2) as bar:
        yield bar
