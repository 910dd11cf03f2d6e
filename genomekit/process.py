"""Process set-up for a command-line run of genomekit (called by cli.main)."""

from __future__ import annotations

import gc
import os
import threading

_PAGE_IN_BLOCK = 8 << 20  # below the mmap threshold keep_freed_memory sets
# Whether keep_freed_memory set malloc up, and whether the heap was paged in.
_state = {"kept": False, "paged_in": False}


def setup() -> None:
    """Settings for a command-line run, before numpy is imported.

    BLAS runs on one thread in every command (pca pins it), so OpenBLAS need
    not start, and spin, a thread per core. The collector's first generation
    is made larger: loading numba and polars creates about a million objects
    that live to the end, and at the default threshold the collector walks
    them over and over, which costs more than a quarter of a short run. At
    250,000 a run of freq on 10,000 samples (about 180,000 containers
    allocated, net) never collects, where at 100,000 one collection of 25 ms
    fell while numba loaded. Cycles are still collected.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    gc.set_threshold(250_000, 20, 10)
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
    _state["kept"] = True


def page_in_heap(nbytes: int) -> None:
    """Page in ``nbytes`` of malloc's heap on a thread of its own, then free them.

    The first chunks of a large input touch a few hundred megabytes of fresh
    memory, and the kernel zeroes each page at its first touch, on the critical
    path of the run. Touched here, while the interpreter loads numba on one
    core, the pages are zeroed on another; keep_freed_memory keeps them in the
    heap, where the chunks' arrays then find them. The blocks are smaller than
    the mmap threshold, so that freeing them returns them to the heap, and are
    filled by ctypes.memset, which runs without the GIL. Once per process, and
    only after keep_freed_memory set malloc up.
    """
    if not _state["kept"] or _state["paged_in"] or nbytes < _PAGE_IN_BLOCK:
        return
    _state["paged_in"] = True
    threading.Thread(target=_page_in, args=(nbytes // _PAGE_IN_BLOCK,), name="page-in",
                     daemon=True).start()


def _page_in(n_blocks: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None)
    malloc, free = libc.malloc, libc.free
    malloc.restype = ctypes.c_void_p
    malloc.argtypes = [ctypes.c_size_t]
    free.restype = None
    free.argtypes = [ctypes.c_void_p]
    blocks = []
    try:
        for _ in range(n_blocks):
            block = malloc(_PAGE_IN_BLOCK)
            if not block:
                break
            blocks.append(block)
            ctypes.memset(block, 0, _PAGE_IN_BLOCK)
    finally:
        for block in blocks:
            free(block)
