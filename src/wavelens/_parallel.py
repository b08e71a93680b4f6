"""Work over a dataset in chunks of images, on several threads or on a Dask cluster.

NumPy's LAPACK calls and PyWavelets' transforms release the GIL, so threads
give real parallelism without copying data to worker processes. Results are
put into place by chunk, so the output is the same for any number of
threads, and on a Dask cluster (:func:`use_dask`), where each chunk is a task.
"""

import functools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

from threadpoolctl import threadpool_limits

from ._mapped import release_pages

if TYPE_CHECKING:
    import distributed
from ._validation import check_n_jobs

__all__ = ["CHUNK_BYTES", "DEFAULT_CHUNK_SIZE", "chunk_bounds", "dask_client", "for_each_chunk", "into_rows", "resolve_n_jobs",
           "rows_per_chunk", "single_threaded_blas", "thread_limits", "use_dask"]

DEFAULT_CHUNK_SIZE = 2048
# A chunk's working arrays are kept to about this many bytes, so large images come in fewer per chunk.
CHUNK_BYTES = 64 * 2 ** 20


def resolve_n_jobs(n_jobs):
    """Threads to use, counted as scikit-learn and joblib count them: ``n_jobs`` if positive,
    -1 one per available core, -2 all but one, and None one.

    This is the one place wavelens turns ``n_jobs`` into threads: functions default to -1
    (every core), estimators to None (one thread), as scikit-learn's do.
    """
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        cores = max(1, os.cpu_count() or 1)
    if check_n_jobs(n_jobs) is None:
        return 1
    n_jobs = int(n_jobs)
    return max(1, cores + 1 + n_jobs) if n_jobs < 0 else n_jobs


def single_threaded_blas(func):
    """Run ``func`` with one BLAS thread: wavelens runs its own threads over chunks, and BLAS's
    threads spin between calls beside them (they took a fifth of the CPU time). The command
    line also sets OPENBLAS_NUM_THREADS=1 before NumPy loads (:mod:`wavelens.cli`)."""
    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        with thread_limits(1, "blas"):
            return func(*args, **kwargs)

    return wrapped


def thread_limits(limit: int, user_api: str | None = None):
    """A context in which the native thread pools (``user_api``: "blas", "openmp", or None for both)
    use at most ``limit`` threads: the one way wavelens bounds the threads of NumPy, SciPy and
    scikit-learn (threadpoolctl)."""
    return threadpool_limits(limits=limit, user_api=user_api)


def rows_per_chunk(chunk_size, row_bytes):
    """``chunk_size`` rows, or fewer (at least 8) so that a chunk of rows of ``row_bytes`` stays
    within CHUNK_BYTES: memory per thread does not grow with the image size."""
    return int(min(chunk_size, max(8, CHUNK_BYTES // max(1, int(row_bytes)))))


def chunk_bounds(n_items, chunk_size):
    """``(start, stop)`` pairs that cover ``range(n_items)`` in order."""
    return [(start, min(start + chunk_size, n_items)) for start in range(0, n_items, chunk_size)]


def for_each_chunk(func, n_items, *, chunk_size=DEFAULT_CHUNK_SIZE, n_jobs=-1, progress=None, store=None,
                   shared=()):
    """Call ``func(start, stop, *shared)`` for every chunk; return the results in order.

    ``shared`` holds large arrays every chunk reads (e.g. the images): on Dask they
    are sent to the workers once per :func:`use_dask` block, not with every call.

    ``store(start, stop, result)``, if given, puts each chunk's result in place
    (e.g. into the rows start:stop of an output) in the calling process: ``func``
    itself must not write into arrays, so that it can run on a Dask worker
    (:func:`wavelens.use_dask`); stored results are not returned.
    ``progress``, if given, is told how many items each finished chunk held.
    """
    bounds = chunk_bounds(n_items, chunk_size)
    client = dask_client()
    if client is not None:
        from ._dask import run_chunks

        return run_chunks(client, func, bounds, progress=progress, store=store, shared=shared)
    n_jobs = min(resolve_n_jobs(n_jobs), max(1, len(bounds)))
    inner = func

    def func(start, stop):
        result = inner(start, stop, *shared)
        if store is not None:
            store(start, stop, result)
            result = None
        release_pages()  # pixels mapped from disk: memory is bounded by the chunks at work
        if progress is not None:
            progress(stop - start)
        return result

    if n_jobs == 1:
        return [func(start, stop) for start, stop in bounds]
    # One BLAS thread per worker: nested BLAS threads fight over the cores and
    # made the batched eigen-decompositions slower on two threads than on one.
    with thread_limits(1, "blas"), ThreadPoolExecutor(max_workers=n_jobs) as pool:
        return list(pool.map(lambda b: func(*b), bounds))


def into_rows(out):
    """A ``store`` for :func:`for_each_chunk` that puts each chunk's result into ``out[start:stop]``."""
    def store(start, stop, part):
        out[start:stop] = part
    return store


# The Dask client of the innermost use_dask block: process-wide, since stages run
# some of their work on threads of their own.
_DASK = [None]


def dask_client():
    """The Dask client chunked work runs on (see :func:`wavelens.use_dask`), or None: local threads."""
    return _DASK[-1]


@contextmanager
def use_dask(client: "distributed.Client | str") -> Iterator["distributed.Client"]:
    """Run wavelens' chunked work on a Dask cluster inside a ``with`` block.

    Every stage that works over chunks of images (the wavelet transform, the
    per-image decomposition, the pattern dictionary's assignments, the dataset
    patterns' products, the communities' neighbour graph) sends its chunks to
    the cluster's workers as tasks and gathers their results in order, so the
    results are those of a local run (see the README, "Beyond one machine").
    Needs the optional extra ``wavelens[dask]``.

    Parameters
    ----------
    client : distributed.Client or str
        A client, or a scheduler's address (``"tcp://host:8786"``) to connect to
        (the connection is closed at the end of the block).

    Examples
    --------
    >>> import wavelens
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> with LocalCluster(n_workers=2) as cluster, Client(cluster) as client:  # doctest: +SKIP
    ...     with wavelens.use_dask(client):
    ...         result = wavelens.analyze(wavelens.load_dataset("digits"))
    """
    from ._dask import connect

    client, owned = connect(client)
    from ._dask import forget

    _DASK.append(client)
    try:
        yield client
    finally:
        _DASK.remove(client)  # this block's own entry, even if another thread's block ended in between
        if client not in _DASK:
            forget(client)
        if owned:
            client.close()
