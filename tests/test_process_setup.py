"""The process set-up of the genomekit command (genomekit.process)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from genomekit import process

_SHOW = ("import gc, os; from genomekit import process; process.setup(); "
         "print(os.environ['OPENBLAS_NUM_THREADS'], gc.get_threshold())")


def _run_setup(**env) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    clean.update(env)
    return subprocess.run([sys.executable, "-c", _SHOW], env=clean, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_blas_on_one_thread_and_a_larger_first_generation():
    assert _run_setup() == "1 (250000, 20, 10)"


def test_the_users_blas_threads_win():
    assert _run_setup(OPENBLAS_NUM_THREADS="3").startswith("3 ")


class _FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, option, value):
        self.calls.append((option, value))
        return 1


@pytest.fixture
def fake_libc(monkeypatch):
    import ctypes

    monkeypatch.setitem(process._state, "kept", False)
    libc = _FakeLibc()
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libc)
    for name in ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    return libc


def test_malloc_keeps_freed_memory_in_one_arena(fake_libc):
    process.keep_freed_memory()
    # glibc's M_MMAP_THRESHOLD, M_TRIM_THRESHOLD and M_ARENA_MAX.
    assert fake_libc.calls == [(-3, 32 << 20), (-1, 1 << 30), (-8, 1)]


@pytest.mark.parametrize("name", ["MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_",
                                  "MALLOC_TRIM_THRESHOLD_"])
def test_the_users_malloc_settings_win(fake_libc, monkeypatch, name):
    monkeypatch.setenv(name, "4")
    process.keep_freed_memory()
    assert fake_libc.calls == []



_PAGE_IN = """
import os, sys, threading
from genomekit import process
if sys.argv[1] == "setup":
    process.setup()
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
before = rss()
for _ in range(2):
    process.page_in_heap(64 << 20)
started = [t for t in threading.enumerate() if t.name == "page-in"]
for t in started:
    t.join()
import ctypes
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
print(len(started), (rss() - before) >> 20, mallinfo2().fordblks >> 20)
"""


def _page_in(how: str) -> tuple[int, int, int]:
    """(page-in threads started, MiB the process grew by, MiB free in malloc's heap)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _PAGE_IN, how], env=clean, capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[0]), int(out[1]), int(out[2])


_GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None


@pytest.mark.skipif(not _GLIBC, reason="glibc's malloc and /proc/self/statm")
def test_the_heap_is_paged_in_once_and_kept_after_setup():
    threads, grown_mib, free_mib = _page_in("setup")
    assert threads == 1
    # Touched, then freed into the heap, not handed back to the kernel: the
    # chunks' arrays get pages that are already there.
    assert grown_mib >= 60
    assert free_mib >= 60


@pytest.mark.skipif(not _GLIBC, reason="glibc's malloc and /proc/self/statm")
def test_no_page_in_without_the_malloc_setup():
    # Without keep_freed_memory, freed blocks might go back to the kernel.
    threads, _, _ = _page_in("bare")
    assert threads == 0


def test_no_page_in_of_less_than_a_block(monkeypatch):
    monkeypatch.setitem(process._state, "kept", True)
    monkeypatch.setitem(process._state, "paged_in", False)
    process.page_in_heap(1 << 20)
    assert not process._state["paged_in"]
