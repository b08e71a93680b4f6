"""The ``wavelens`` command line: a thin layer over the library.

Each subcommand lives in its own module; this one builds the group and turns
every input error into one line on stderr and exit status 2.
"""

import os
import signal
import sys
import threading


def _configure_blas(argv):
    """Single-threaded OpenBLAS for the commands that run their own threads over chunks.

    OpenBLAS starts its threads when NumPy loads, and they spin beside the
    analysis's own (0.4 s of CPU time on Fashion-MNIST), so this must run
    before NumPy is imported. An explicit OPENBLAS_NUM_THREADS wins.
    """
    if len(argv) > 1 and argv[1] in ("analyze", "noise-curve") and "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


_configure_blas(sys.argv)


def _stopped_while_starting(signum, frame):
    """Ctrl-C, SIGTERM or SIGHUP while the modules load: nothing was written; one line, no traceback."""
    what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    os.write(2, f"wavelens: error: {what}; nothing was written.\n".encode())
    os._exit(130 if signum == signal.SIGINT else 128 + signum)


def _while_starting():
    """Install :func:`_stopped_while_starting`; return the handlers to put back once loaded."""
    previous = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if (signum is not None and threading.current_thread() is threading.main_thread()
                and signal.getsignal(signum) is not signal.SIG_IGN):  # an ignored signal stays ignored
            previous[signum] = signal.signal(signum, _stopped_while_starting)
    return previous


_STARTING = _while_starting()

import click  # noqa: E402

from .._outdir import COMMITTED, Stopped, stop_on_signals  # noqa: E402
from .._validation import WavelensError, printable  # noqa: E402
from .._version import __version__  # noqa: E402
from ._options import error_message  # noqa: E402
from .analyze import analyze_command  # noqa: E402
from .datasets import datasets_command, wavelets_command  # noqa: E402
from .noise_curve import noise_curve_command  # noqa: E402
from .communities import communities_command  # noqa: E402
from .duplicates import duplicates_command  # noqa: E402
from .audit import audit_command  # noqa: E402
from .learnability import learnability_command  # noqa: E402
from .report import report_command  # noqa: E402

for _signum, _handler in _STARTING.items():
    signal.signal(_signum, _handler)

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="wavelens")
def cli():
    """See what an image-classification dataset is made of, with wavelets.

    wavelens takes every image into the wavelet space, writes each one as a
    sum of rank-1 patterns, finds the patterns the dataset is made of, and
    measures how they go with the classes, against randomly labeled controls.
    Run 'wavelens COMMAND --help' for each command's options.
    """


cli.add_command(analyze_command)
cli.add_command(noise_curve_command)
cli.add_command(communities_command)
cli.add_command(duplicates_command)
cli.add_command(audit_command)
cli.add_command(learnability_command)
cli.add_command(report_command)
cli.add_command(datasets_command)
cli.add_command(wavelets_command)


def _fail(message):
    # printable: a message quoting the data (a path, a class name) stays one harmless line.
    click.echo(f"wavelens: error: {printable(message)}", err=True)
    return 2


def _interruption_behind(exc):
    """The Ctrl-C or signal that an exception stands for, if any.

    A signal that arrives while a compiled module initializes (scipy's HiGHS,
    imported lazily by scikit-learn) comes back as ``ImportError:
    initialization failed`` raised from the KeyboardInterrupt or Stopped.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, (KeyboardInterrupt, Stopped)):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _report_interruption(exc):
    """One line for Ctrl-C or a stopping signal; the exit status."""
    if isinstance(exc, Stopped):
        done = f"after writing {COMMITTED[-1]}" if COMMITTED else "nothing was written"
        _fail(f"stopped by {signal.Signals(exc.signum).name}; {done}.")
        return 128 + exc.signum
    _fail("interrupted; nothing was written.")
    return 130


def main(argv=None):
    """Entry point of the ``wavelens`` console script."""
    COMMITTED.clear()
    try:
        with stop_on_signals():
            code = cli.main(args=argv, prog_name="wavelens", standalone_mode=False)
    except WavelensError as exc:
        code = _fail(error_message(exc))
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        code = 2
    except click.ClickException as exc:
        hint = ""
        if getattr(exc, "ctx", None) is not None:
            hint = f" Run '{exc.ctx.command_path} --help' for the options."
        code = _fail(exc.format_message().replace("\n", " ") + hint)
    except (click.exceptions.Abort, KeyboardInterrupt, Stopped) as exc:
        code = _report_interruption(exc)
    except ImportError as exc:
        interruption = _interruption_behind(exc)
        if interruption is None:
            raise
        code = _report_interruption(interruption)
    except BrokenPipeError:
        # The reader of our output went away (e.g. 'wavelens datasets | head -1'): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 1
    except MemoryError:
        code = _fail("out of memory; try --limit N for a subsample, or a smaller --resize.")
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        code = _fail(f"cannot read or write{where}: {exc.strerror or exc}.")
    sys.exit(code or 0)
