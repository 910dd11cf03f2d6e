"""The one place that sets Numba options for every kernel."""

import functools

import numba

# nopython for speed, nogil so chunks run on threads in parallel, cache so a
# second run pays no compile time.
jit = functools.partial(numba.njit, nogil=True, cache=True)
