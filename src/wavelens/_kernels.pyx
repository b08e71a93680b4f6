# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled kernel: every singular value and the top few singular vectors of many small matrices.

NumPy's batched ``eigh`` computes every eigenvector of every Gram matrix and
copies each matrix around the LAPACK call. The per-image decomposition needs
every singular value but only the top ``k`` vectors, so per matrix this kernel

1. drops all-zero rows and columns (common in images: they only add zero
   singular values) and forms the Gram matrix of the smaller side in float64
   (BLAS dsyrk);
2. tridiagonalizes it once (LAPACK dsytrd) and takes every eigenvalue of the
   tridiagonal matrix (dsterf);
3. finds the top ``k`` eigenvectors by inverse iteration on the tridiagonal
   matrix (factored once per vector), shifted by those eigenvalues, from a fixed start (so results are
   deterministic), orthogonalizing vectors of close eigenvalues as LAPACK's
   dstein does, and maps them back through dsytrd's reflectors;
4. gets the other side's singular vectors as ``a v / s``.

The loop runs without the GIL, so Python threads over chunks use every core.
(Hand-written tridiagonalization and QL iterations were tried: 30% slower
than LAPACK's here.) Tests check it against NumPy's SVD on real and
adversarial matrices.
"""

from libc.math cimport sqrt, fabs
from libc.float cimport DBL_EPSILON, DBL_MIN
from libc.stdlib cimport malloc, free
from scipy.linalg.cython_blas cimport dsyrk
from scipy.linalg.cython_lapack cimport dsytrd, dsterf

import numpy as np


ctypedef fused real:
    float
    double


cdef void _tridiagonal_factor(int n, const double* d, const double* e, double shift, double tiny,
                              double* diag, double* sup, double* sup2, double* mult, int* swapped) noexcept nogil:
    """LU factors of T - shift I, T symmetric tridiagonal (diagonal d, off-diagonal e): LAPACK
    dgtsv's elimination with partial pivoting, zero pivots replaced by ``tiny`` (inverse
    iteration wants the nearly singular solve). Factored once, solved with several times."""
    cdef int i
    cdef double temp
    for i in range(n):
        diag[i] = d[i] - shift
    for i in range(n - 1):
        sup[i] = e[i]
        sup2[i] = 0.0
    for i in range(n - 1):
        if fabs(diag[i]) >= fabs(e[i]):
            swapped[i] = 0
            if diag[i] == 0.0:
                diag[i] = tiny
            mult[i] = e[i] / diag[i]
            diag[i + 1] -= mult[i] * sup[i]
        else:
            swapped[i] = 1
            mult[i] = diag[i] / e[i]
            diag[i] = e[i]
            temp = diag[i + 1]
            diag[i + 1] = sup[i] - mult[i] * temp
            if i < n - 2:
                sup2[i] = sup[i + 1]
                sup[i + 1] = -mult[i] * sup2[i]
            sup[i] = temp
    if diag[n - 1] == 0.0:
        diag[n - 1] = tiny


cdef void _tridiagonal_solve(int n, const double* diag, const double* sup, const double* sup2,
                             const double* mult, const int* swapped, double* b) noexcept nogil:
    """Solve (T - shift I) x = b in place with the factors of :func:`_tridiagonal_factor`."""
    cdef int i
    cdef double temp
    for i in range(n - 1):
        if swapped[i]:
            temp = b[i]
            b[i] = b[i + 1]
            b[i + 1] = temp - mult[i] * b[i + 1]
        else:
            b[i + 1] -= mult[i] * b[i]
    b[n - 1] /= diag[n - 1]
    if n > 1:
        b[n - 2] = (b[n - 2] - sup[n - 2] * b[n - 1]) / diag[n - 2]
    for i in range(n - 3, -1, -1):
        b[i] = (b[i] - sup[i] * b[i + 1] - sup2[i] * b[i + 2]) / diag[i]


cdef void _normalize(int n, double* x) noexcept nogil:
    cdef int i
    cdef double norm = 0.0
    for i in range(n):
        norm += x[i] * x[i]
    norm = sqrt(norm)
    if norm > 0.0:
        for i in range(n):
            x[i] /= norm


cdef int _top_spectrum(const real* a, int p, int q, int k, double* g, double* d, double* e, double* tau,
                       double* d2, double* e2, double* copy, double* work, int lwork, int* nonzero_rows,
                       int* nonzero_cols, double* values, double* left, double* right) noexcept nogil:
    """One row-major p x q matrix: its min(p, q) singular values (descending) into ``values``,
    the top k left vectors (k x p) into ``left`` and right vectors (k x q) into ``right``."""
    cdef int i, j, r, c, it, info = 0, n_rows = 0, n_cols = 0, n, other, by_rows, flag, row_any
    cdef double acc, s, lam, scale, tiny, cluster
    cdef double* y
    cdef double one = 1.0, zero = 0.0
    cdef char lower = b'L'
    cdef char no_trans = b'N'
    # 1. Nonzero rows and columns; the Gram matrix of the smaller side, from a compact copy
    #    laid out so that Gram = copy copy^T with copy column-major (n x other).
    for r in range(p):
        nonzero_rows[r] = 0
    for c in range(q):
        nonzero_cols[c] = 0
    for r in range(p):  # branch-free, so that the compiler vectorizes it
        row_any = 0
        for c in range(q):
            flag = a[r * q + c] != 0
            row_any |= flag
            nonzero_cols[c] |= flag
        nonzero_rows[r] = row_any
    for r in range(p):
        if nonzero_rows[r]:
            nonzero_rows[n_rows] = r
            n_rows += 1
    for c in range(q):
        if nonzero_cols[c]:
            nonzero_cols[n_cols] = c
            n_cols += 1
    by_rows = n_rows < n_cols
    n = n_rows if by_rows else n_cols
    other = n_cols if by_rows else n_rows
    for i in range(min(p, q)):
        values[i] = 0.0
    for i in range(k * p):
        left[i] = 0.0
    for i in range(k * q):
        right[i] = 0.0
    if n == 0:
        return 0
    if by_rows:
        for r in range(n_rows):
            for c in range(n_cols):
                copy[c * n_rows + r] = <double>a[nonzero_rows[r] * q + nonzero_cols[c]]
    else:
        for r in range(n_rows):
            for c in range(n_cols):
                copy[r * n_cols + c] = <double>a[nonzero_rows[r] * q + nonzero_cols[c]]
    dsyrk(&lower, &no_trans, &n, &other, &one, copy, &n, &zero, g, &n)
    # 2. Tridiagonal form and every eigenvalue.
    dsytrd(&lower, &n, g, &n, d, e, tau, work, &lwork, &info)
    if info != 0:
        return info
    for i in range(n):
        d2[i] = d[i]
    for i in range(n - 1):
        e2[i] = e[i]
    dsterf(&n, d2, e2, &info)  # ascending
    if info != 0:
        return info
    for i in range(n):
        s = d2[n - 1 - i]
        values[i] = sqrt(s) if s > 0 else 0.0
    # 3. The top eigenvectors by inverse iteration.
    scale = fabs(d2[n - 1]) + fabs(d2[0])
    tiny = DBL_EPSILON * scale if scale > 0 else DBL_MIN
    cluster = 1e-3 * scale
    for j in range(min(k, n)):
        if values[j] == 0.0:
            break
        lam = d2[n - 1 - j]
        y = copy + j * n  # the compact copy is no longer needed
        for i in range(n):
            y[i] = 1.0 + 0.5 * ((i * 7 + j * 3) % 11) / 11.0
        _tridiagonal_factor(n, d, e, lam, tiny, work, work + n, work + 2 * n, work + 3 * n, nonzero_cols + q)
        for it in range(2):
            _tridiagonal_solve(n, work, work + n, work + 2 * n, work + 3 * n, nonzero_cols + q, y)
            for r in range(j):
                if d2[n - 1 - r] - lam <= cluster:
                    acc = 0.0
                    for i in range(n):
                        acc += y[i] * copy[r * n + i]
                    for i in range(n):
                        y[i] -= acc * copy[r * n + i]
            _normalize(n, y)
    for j in range(min(k, n)):
        s = values[j]
        if s == 0.0:
            break
        # Back to the Gram matrix's basis: y = H(0) H(1) ... H(n-2) y (dsytrd, lower).
        y = copy + j * n
        for i in range(n - 2, -1, -1):
            acc = y[i + 1]
            for r in range(i + 2, n):
                acc += g[i * n + r] * y[r]
            acc *= tau[i]
            y[i + 1] -= acc
            for r in range(i + 2, n):
                y[r] -= acc * g[i * n + r]
        # 4. Scatter to full length; the other side is a v / s (or a^T u / s).
        if by_rows:
            for r in range(n_rows):
                left[j * p + nonzero_rows[r]] = y[r]
            for c in range(q):
                acc = 0.0
                for r in range(n_rows):
                    acc += <double>a[nonzero_rows[r] * q + c] * y[r]
                right[j * q + c] = acc / s
        else:
            for c in range(n_cols):
                right[j * q + nonzero_cols[c]] = y[c]
            for r in range(p):
                acc = 0.0
                for c in range(n_cols):
                    acc += <double>a[r * q + nonzero_cols[c]] * y[c]
                left[j * p + r] = acc / s
    return 0


def top_spectra(const real[:, :, ::1] matrices, int k):
    """Singular values and top-k singular vectors of many small matrices.

    Parameters
    ----------
    matrices : ndarray of shape (m, p, q), float32 or float64, C-contiguous
    k : int, 0 <= k <= min(p, q)

    Returns
    -------
    values : ndarray of shape (m, min(p, q)), float64, descending
    left : ndarray of shape (m, k, p), float64
        Unit left singular vectors of the top k singular values (zero where
        the singular value is zero).
    right : ndarray of shape (m, k, q), float64
        The matching right singular vectors.
    """
    cdef Py_ssize_t n = matrices.shape[0], index
    cdef int p = matrices.shape[1], q = matrices.shape[2], status = 0
    cdef int side = min(p, q), lwork = 64 * max(p, q)
    if k < 0 or k > side:
        raise ValueError("k must be between 0 and the smaller matrix dimension")
    values = np.zeros((n, side))
    left = np.zeros((n, k, p))
    right = np.zeros((n, k, q))
    cdef double[:, ::1] values_view = values
    cdef double[:, :, ::1] left_view = left
    cdef double[:, :, ::1] right_view = right
    if n == 0 or side == 0:
        return values, left, right
    cdef double* buffer = <double*> malloc(sizeof(double) * (side * side + 5 * side + p * q + lwork))
    cdef int* ints = <int*> malloc(sizeof(int) * (p + q + side))
    if buffer == NULL or ints == NULL:
        free(buffer)
        free(ints)
        raise MemoryError()
    cdef double* g = buffer
    cdef double* d = g + side * side
    cdef double* e = d + side
    cdef double* tau = e + side
    cdef double* d2 = tau + side
    cdef double* e2 = d2 + side
    cdef double* copy = e2 + side
    cdef double* work = copy + p * q
    cdef double dummy = 0.0
    with nogil:
        for index in range(n):
            status = _top_spectrum(&matrices[index, 0, 0], p, q, k, g, d, e, tau, d2, e2, copy, work, lwork,
                                   ints, ints + p, &values_view[index, 0],
                                   &left_view[index, 0, 0] if k else &dummy,
                                   &right_view[index, 0, 0] if k else &dummy)
            if status != 0:
                break
    free(buffer)
    free(ints)
    if status != 0:
        raise RuntimeError(f"LAPACK failed on matrix {index} (info {status})")
    return values, left, right
