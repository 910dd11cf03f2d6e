"""Ordered parallel map over a thread pool, and imports in the background: shared by the
readers and the commands."""

from __future__ import annotations

import collections
import importlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor


def ordered_map(func: Callable, items: Iterable, threads: int) -> Iterator:
    """``func`` over ``items`` on ``threads`` threads, results in input order, at most
    2 × threads in flight.

    An exception from ``func`` comes out in its item's turn. One from ``items`` itself
    (damaged input found while reading ahead) comes out after the results of the items
    before it, as a sequential loop would give them.
    """
    if threads == 1:
        for item in items:
            yield func(item)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: collections.deque = collections.deque()
        items = iter(items)
        try:
            while True:
                try:
                    item = next(items)
                except StopIteration:
                    break
                except Exception:
                    while pending:
                        yield pending.popleft().result()
                    raise
                pending.append(pool.submit(func, item))
                if len(pending) >= 2 * threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def import_in_background(*modules: str) -> None:
    """Import ``modules`` on a thread of their own while the caller goes on.

    For a module needed only after the first chunks are decoded: its import
    overlaps the decoding, and an import of it elsewhere waits for this one. An
    import that fails here fails again, with its traceback, where the module is
    imported for use.
    """
    def load():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:
                continue

    threading.Thread(target=load, name="import", daemon=True).start()
