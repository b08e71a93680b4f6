"""Chunked work as tasks on a Dask cluster: what :func:`wavelens.use_dask` switches on.

Each call of :func:`wavelens._parallel.for_each_chunk` becomes one task per
chunk. The chunk function is sent to every worker once per call, the large
arrays it shares (the images) once per ``use_dask`` block; the chunks' results come back to the calling process, which puts them in
place in chunk order: the arithmetic is the local run's, chunk for chunk, so
the results are the same.
"""

import threading

from ._validation import WavelensError

__all__ = ["connect", "forget", "run_chunks"]

_INSTALL = "install the optional extra: pip install 'wavelens[dask]'"


def connect(client):
    """``(client, owned)``: ``client`` itself, or a new client of the scheduler at the address ``client``
    (``owned``: to be closed by the caller)."""
    try:
        import distributed
    except ImportError:
        raise WavelensError(f"Running on a Dask cluster needs dask.distributed, which is not installed; "
                            f"{_INSTALL}.") from None
    if isinstance(client, distributed.Client):
        return client, False
    if isinstance(client, str) and not client.strip():
        raise WavelensError("The Dask scheduler address is empty; give one such as 'tcp://host:8786'.")
    if not isinstance(client, str):
        raise WavelensError(f"The 'client' parameter must be a dask.distributed.Client or a scheduler address such "
                            f"as 'tcp://host:8786', not {type(client).__name__}.")
    try:
        return distributed.Client(client, timeout="10s", set_as_default=False), True
    except (OSError, TimeoutError, ValueError) as exc:
        raise WavelensError(f"Cannot reach the Dask scheduler at {client!r} ({type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:200]}); start one with 'dask scheduler' and its workers "
                            "with 'dask worker ADDRESS', or check the address.") from None


def _call(func, start, stop, *shared):
    return func(start, stop, *shared)


# Arrays sent to the workers, by client and array: (the array, kept so that its id is not
# reused, and its future), until the client's use_dask block ends.
_SCATTERED = {}
_LOCK = threading.Lock()  # stages run beside each other: an array is still sent once


def _scattered(client, array):
    key = (id(client), id(array))
    with _LOCK:
        if key not in _SCATTERED:
            [future] = client.scatter([array], broadcast=True, hash=False)
            _SCATTERED[key] = (array, future)
        return _SCATTERED[key][1]


def forget(client):
    """Release the arrays sent to ``client``'s workers."""
    with _LOCK:
        for key in [key for key in _SCATTERED if key[0] == id(client)]:
            _SCATTERED.pop(key)[1].release()


def run_chunks(client, func, bounds, *, progress=None, store=None, shared=()):
    """``func(start, stop)`` for every ``(start, stop)`` of ``bounds`` as tasks; the results in order,
    or each handed to ``store(start, stop, result)``, in chunk order as one local thread would (sums
    then come out the same)."""
    if not bounds:
        return []
    [remote] = client.scatter([func], broadcast=True, hash=False)
    shared = [_scattered(client, array) for array in shared]
    futures = [client.submit(_call, remote, start, stop, *shared, pure=False) for start, stop in bounds]
    results = []
    try:
        for (start, stop), future in zip(bounds, futures):
            result = future.result()  # the tasks run meanwhile; the results are taken in order
            future.release()
            if store is not None:
                store(start, stop, result)
                result = None
            results.append(result)
            if progress is not None:
                progress(stop - start)
    finally:
        client.cancel(futures + [remote])
    return results
