"""Pieces every command shares: warnings, thread pools, run summaries."""

from __future__ import annotations

import collections
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from genomekit import __version__
from genomekit.errors import UsageError


def warn(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"genomekit: warning: {message}", file=sys.stderr)


def check_threads(threads: int) -> None:
    if threads < 1:
        raise UsageError(f"--threads must be at least 1, not {threads}")


def ordered_map(func: Callable, items: Iterable, threads: int) -> Iterator:
    """func over items on a thread pool, results in input order, at most 2×threads in flight."""
    if threads == 1:
        for item in items:
            yield func(item)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: collections.deque = collections.deque()
        try:
            for item in items:
                pending.append(pool.submit(func, item))
                if len(pending) >= 2 * threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def input_summary(paths: Iterable[str]) -> list[dict]:
    return [{"path": os.path.abspath(p), "bytes": os.path.getsize(p)} for p in paths]


def write_summary(path: str, summary: dict) -> None:
    summary = {"tool": "genomekit", "version": __version__, **summary}
    with open(path, "w") as fh:
        json.dump(summary, fh, indent=2, default=str)
        fh.write("\n")
