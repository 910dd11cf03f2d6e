"""Process set-up for a command-line run of genomekit (called by cli.main)."""

from __future__ import annotations

import gc
import os


def setup() -> None:
    """Settings for a command-line run, before numpy is imported.

    BLAS runs on one thread in every command (pca pins it), so OpenBLAS need
    not start, and spin, a thread per core. The collector's first generation
    is made larger: loading numba and polars creates about a million objects
    that live to the end, and at the default threshold the collector walks
    them over and over, which costs more than a quarter of a short run.
    Cycles are still collected.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    gc.set_threshold(100_000, 20, 10)
    keep_freed_memory()


def finish() -> None:
    """Objects still alive at exit are freed with the process: skip the
    interpreter's last full collection over them (about 0.3 s after numba,
    polars and cyvcf2 are loaded)."""
    gc.freeze()


def keep_freed_memory() -> None:
    """Let glibc's malloc keep freed memory for the next chunk's arrays.

    Chunk arrays are megabytes each and die after every chunk; by default
    glibc hands such blocks back to the kernel and takes fresh zeroed pages
    (huge pages, as numpy asks for them) for the next chunk, so a run spends
    much of its system time in page faults. One arena for every thread: the
    arenas of worker threads give whole heaps back whatever the trim
    threshold. Skipped where the C library has no mallopt, or when the user
    sets these MALLOC_* variables. Must run before any thread starts.
    """
    if any(name in os.environ for name in
           ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX")):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8
    mallopt(m_mmap_threshold, 32 << 20)  # glibc's largest on 64-bit
    mallopt(m_trim_threshold, 1 << 30)
    mallopt(m_arena_max, 1)
