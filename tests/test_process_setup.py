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
    assert _run_setup() == "1 (100000, 20, 10)"


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

