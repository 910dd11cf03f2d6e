"""Run a genomekit command in-process on many files; print one JSON line per file.

Usage: corpus_runner.py COMMAND OUT_DIR [ARG...] < paths; each run is
``genomekit COMMAND PATH --out OUT_DIR/NAME --format tsv --quiet ARG...``.

Used by tests/test_corpus.py in a subprocess, so that a crash of the interpreter
is seen as a failure naming the file instead of killing the test run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys

from genomekit.cli import cli


def run_one(command: str, path: str, out_dir: str, extra: list[str]) -> dict:
    prefix = os.path.join(out_dir, os.path.basename(path).replace(".", "_"))
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err):
        try:
            cli.main([command, path, "--out", prefix, "--format", "tsv", "--quiet", *extra])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    left = sorted(n for n in os.listdir(out_dir) if n.startswith(
        (os.path.basename(prefix), "." + os.path.basename(prefix))))
    return {"path": path, "code": code, "stderr": err.getvalue(), "files": left,
            "prefix": prefix}


def main() -> None:
    command, out_dir, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    for path in sys.stdin.read().split("\n"):
        if path:
            print(json.dumps({"start": path}), flush=True)
            print(json.dumps(run_one(command, path, out_dir, extra)), flush=True)


if __name__ == "__main__":
    main()
