"""Several VCF/BCF files read one after the other as one stream of chunks.

A cohort often comes as one file per chromosome. ``open_chain`` opens each file
with the reader a command asks for and checks that every file lists the same
samples in the same order (the header's #CHROM line); ``ChainReader`` then
yields their records in file order. The chunks are cut across file boundaries
as one reader cuts a single file, so the stream is the one of the files
concatenated (``bcftools concat``): the same records in chunks of the same
sizes, whatever the sums of a command depend on. Only the width of the ploidy
axis of a chunk that spans two files may differ, with -2 padding.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from genomekit.errors import InputError
from genomekit.io.vcf import VariantChunk, default_chunk_variants
from genomekit.parallel import ordered_map


def header_samples(header: str) -> list[str]:
    """The sample names of a raw VCF header (after FORMAT on the #CHROM line)."""
    for line in reversed(header.splitlines()):
        if line.startswith("#CHROM"):
            return line.rstrip("\r\n").split("\t")[9:]
    return []


def sample_difference(first: list[str], other: list[str], first_path: str) -> str | None:
    """How the samples ``other`` differ from ``first`` (of ``first_path``), or None."""
    if other == first:
        return None
    i = next((i for i, (a, b) in enumerate(zip(first, other)) if a != b),
             min(len(first), len(other)))
    if len(other) != len(first):
        what = f"{len(other)} samples, and {first_path} has {len(first)}"
    elif set(other) == set(first):
        what = f"the samples of {first_path} in another order"
    else:
        what = f"other samples than {first_path}"
    if i < len(first) and i < len(other):
        where = f"sample {i + 1} is '{other[i]}' here and '{first[i]}' there"
    elif i < len(first):
        where = f"its sample {i + 1} '{first[i]}' is missing here"
    else:
        where = f"sample {i + 1} '{other[i]}' is not there"
    return f"{what}: {where}"


def open_chain(paths: Sequence[str], open_one: Callable[[str, bool], object]) -> ChainReader:
    """Open ``paths`` as one stream: ``open_one(path, is_first)`` opens each file.

    Raises InputError naming the first file whose samples differ from those of
    the first file (names or order), after closing the readers opened.
    """
    paths = list(paths)
    readers: list = []
    try:
        for i, path in enumerate(paths):
            readers.append(open_one(path, i == 0))
        first = header_samples(readers[0].header) if len(readers) > 1 else []
        for path, reader in zip(paths[1:], readers[1:]):
            what = sample_difference(first, header_samples(reader.header), paths[0])
            if what:
                raise InputError(
                    f"has {what}", file=path,
                    hint="every input file must list the same samples in the same order "
                         "(reorder them with 'bcftools view -S LIST')")
    except BaseException:
        for reader in readers:
            reader.close()
        raise
    return ChainReader(readers, paths)


class ChainReader:
    """Chunk readers of several files, read in order as one stream.

    ``samples`` are those of the first reader (all have the same); ``path``
    names the input in messages about all of it, and ``path_of`` the file of a
    record. Chunk ``index`` counts the chunks of the whole stream.
    """

    def __init__(self, readers: Sequence, paths: Sequence[str]):
        self.readers = list(readers)
        self.paths = list(paths)
        self.samples = self.readers[0].samples
        more = len(self.paths) - 1
        self.path = self.paths[0] if not more else f"{self.paths[0]} and {more} more file(s)"
        # Index in the stream of the first record of each file begun, and the chunk length.
        self._starts: list[int] = []
        self._chunk_variants = 0

    def chunks(self, chunk_variants: int | None = None) -> Iterator[VariantChunk]:
        """Yield VariantChunks of ``chunk_variants`` records (the last one fewer)."""
        if chunk_variants is None:
            # The length a reader picks for one file of these samples.
            chunk_variants = default_chunk_variants(len(self.samples))
        self._chunk_variants = chunk_variants
        self._starts = []
        pieces: list[VariantChunk] = []
        held = index = total = 0
        for reader in self.readers:
            self._starts.append(total)
            for chunk in reader.chunks(chunk_variants):
                total += chunk.n_variants
                if not held and chunk.n_variants == chunk_variants:
                    yield _renumbered(chunk, index)
                    index += 1
                    continue
                start = 0
                while start < chunk.n_variants:
                    take = min(chunk_variants - held, chunk.n_variants - start)
                    pieces.append(_slice(chunk, start, start + take))
                    held += take
                    start += take
                    if held == chunk_variants:
                        yield _join(pieces, index)
                        index += 1
                        pieces, held = [], 0
        if pieces:
            yield _join(pieces, index)

    def map_chunks(self, func, chunk_variants: int | None = None) -> Iterator:
        """``func(chunk)`` of each chunk, in stream order, on the first reader's threads
        (one file: as its reader maps them)."""
        if len(self.readers) == 1:
            self._starts = [0]
            return self.readers[0].map_chunks(func, chunk_variants)
        return ordered_map(func, self.chunks(chunk_variants), self.readers[0].threads)

    def path_of(self, chunk: VariantChunk, v: int) -> str:
        """The file of record ``v`` of a chunk this reader yielded."""
        record = chunk.index * self._chunk_variants + v
        return self.paths[max(0, bisect.bisect_right(self._starts, record) - 1)]

    def close(self) -> None:
        for reader in self.readers:
            reader.close()


def _renumbered(chunk: VariantChunk, index: int) -> VariantChunk:
    return chunk if chunk.index == index else dataclasses.replace(chunk, index=index)


def _slice(chunk: VariantChunk, start: int, end: int) -> VariantChunk:
    """Records [start, end) of a chunk (views of its arrays)."""
    if start == 0 and end == chunk.n_variants:
        return chunk

    def part(a):
        return None if a is None else a[start:end]

    return VariantChunk(
        chrom=chunk.chrom[start:end], pos=chunk.pos[start:end], ids=chunk.ids[start:end],
        ref=chunk.ref[start:end], alts=chunk.alts[start:end],
        n_alleles=chunk.n_alleles[start:end], gt=chunk.gt[start:end], gq=part(chunk.gq),
        dp=part(chunk.dp), ad=part(chunk.ad), index=chunk.index)


def _stack(arrays: list, fill: int, dtype=None) -> np.ndarray:
    """Arrays concatenated along axis 0, the last axis padded with ``fill`` to the widest."""
    if all(a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays).astype(dtype or arrays[0].dtype, copy=False)
    shape = (sum(len(a) for a in arrays), *arrays[0].shape[1:-1],
             max(a.shape[-1] for a in arrays))
    out = np.full(shape, fill, dtype=dtype or arrays[0].dtype)
    row = 0
    for a in arrays:
        out[row:row + len(a), ..., :a.shape[-1]] = a
        row += len(a)
    return out


def _join(pieces: list[VariantChunk], index: int) -> VariantChunk:
    """One chunk of consecutive pieces (copies their arrays)."""
    if len(pieces) == 1:
        return _renumbered(pieces[0], index)
    n_smp = pieces[0].gt.shape[1]

    def field(name, *width):
        """A FORMAT field's arrays joined; -1 (missing) for a piece without it."""
        arrays = [getattr(p, name) for p in pieces]
        if all(a is None for a in arrays):
            return None
        return _stack([np.full((p.n_variants, n_smp, *width), -1, np.int32) if a is None
                       else a for a, p in zip(arrays, pieces)], -1)

    ad_width = max((p.ad.shape[2] for p in pieces if p.ad is not None), default=1)
    return VariantChunk(
        chrom=[c for p in pieces for c in p.chrom],
        pos=np.concatenate([p.pos for p in pieces]),
        ids=[i for p in pieces for i in p.ids],
        ref=[r for p in pieces for r in p.ref],
        alts=[a for p in pieces for a in p.alts],
        n_alleles=np.concatenate([p.n_alleles for p in pieces]),
        # int16 when a piece needed it; padding -2 where one file's calls are of lower ploidy.
        gt=_stack([p.gt for p in pieces], -2, np.result_type(*(p.gt.dtype for p in pieces))),
        gq=field("gq"), dp=field("dp"), ad=field("ad", ad_width),
        index=index)
