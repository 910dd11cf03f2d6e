"""All-or-nothing output files: written under temporary names, renamed on success."""

from __future__ import annotations

import os

from genomekit.errors import UsageError


class OutputSet:
    """The output files of one command run.

    Refuses existing files unless ``force``; ``tmp(path)`` gives the name to
    write to; ``commit()`` renames every temporary file into place, and leaving
    the ``with`` block on an exception removes them all.
    """

    def __init__(self, paths: list[str], force: bool):
        self.paths = list(paths)
        existing = [p for p in self.paths if os.path.exists(p)]
        if existing and not force:
            raise UsageError(f"output {existing[0]} exists",
                             hint="use --force to overwrite or choose another --out")
        for p in self.paths:
            d = os.path.dirname(p) or "."
            if not os.path.isdir(d):
                raise UsageError(f"output folder {d} does not exist",
                                 hint="create it or choose another --out")
        self._tmp = {
            p: os.path.join(os.path.dirname(p) or ".",
                            f".{os.path.basename(p)}.tmp{os.getpid()}")
            for p in self.paths
        }

    def tmp(self, path: str) -> str:
        return self._tmp[path]

    def commit(self) -> None:
        for p in self.paths:
            t = self._tmp[p]
            if os.path.exists(t):
                os.replace(t, p)

    def abort(self) -> None:
        for t in self._tmp.values():
            try:
                os.remove(t)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        return False
