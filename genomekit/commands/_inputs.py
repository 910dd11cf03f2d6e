"""Commands that read one or more VCF/BCF files as one stream (relate, pca)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genomekit.commands._common import allele_index_error, open_input
from genomekit.errors import InputError, UsageError
from genomekit.io.chain import ChainReader, open_chain


def input_paths(inputs: str | Sequence[str]) -> list[str]:
    """One path or several, as a list; at least one."""
    paths = [inputs] if isinstance(inputs, str) else list(inputs)
    if not paths:
        raise UsageError("no input file", hint="give one VCF/BCF, or several in genome order")
    return paths


def open_inputs(paths: Sequence[str], *, quiet: bool = False, **options):
    """The files read in order as one stream (io/chain.py), and the regions.

    ``options`` are those of ``open_input``, applied to every file; -r/-R
    query each file. Warnings about the sample lists are given once, for the
    first file, since the files must list the same samples.
    """
    parsed: dict = {}

    def open_one(path: str, first: bool):
        reader, parsed["regions"] = open_input(path, quiet=quiet or not first, **options)
        return reader

    reader = open_chain(paths, open_one)
    return reader, parsed["regions"]


@dataclass(frozen=True)
class BadRecord:
    """Record ``v`` of ``chunk`` names an allele the record does not have."""

    chunk: object
    v: int

    def error(self, reader: ChainReader) -> InputError:
        err = allele_index_error(self.chunk, self.v)
        err.file = reader.path_of(self.chunk, self.v)
        return err
