"""What the fast genotype readers (VCF text and BCF) share.

``FastReaderBase`` holds the constructor and public surface both take from
``genomekit.io.vcf.VcfReader``: the header read through cyvcf2, sample
selection, FORMAT fields, regions and their index, ``chunks`` (groups of
records decoded on a thread pool, in file order), the progress count, the
contigs, and the way records outside the decoded subset go to htslib and how
its errors are located in the input file. ``FastVcfReader``
(``genomekit.io.fastvcf``) and ``FastBcfReader`` (``genomekit.io.fastbcf``)
supply the format: how to cut the file into records, and the Numba decoding.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence

import numpy as np

from genomekit.errors import InputError, UsageError
from genomekit.io.bgzf import sniff
from genomekit.io.index import Index, parse_region
from genomekit.io.vcf import (
    Region,
    VariantChunk,
    VcfReader,
    _index_path,
    default_chunk_variants,
    header_contigs,
    quiet_htslib,
    select_samples,
)
from genomekit.parallel import ordered_map

# Positions far outside any contig, for regions without a start or an end.
NO_LIMIT = 1 << 62


def file_kind(path: str) -> str:
    """``genomekit.io.bgzf.sniff`` of ``path``; InputError, as VcfReader's, when the
    file is missing or cannot be read."""
    if not os.path.exists(path):
        raise InputError("no such file", file=path, hint="check the path")
    try:
        return sniff(path)
    except OSError as e:
        raise InputError(f"cannot read the file ({e.strerror})", file=path) from None


class FastReaderBase:
    """A VCF or BCF file opened for chunked reading of genotypes by a fast decoder.

    Same arguments, attributes and chunks as ``VcfReader`` (columns in the
    order of ``samples`` as given). ``threads`` > 1 inflates and decodes on
    that many worker threads; chunks are the same whatever the number.

    A subclass names its format (``_format``, the temporary file's ``_suffix``,
    the ``_hint`` of its errors and its bytes' ``_source_type``) and supplies
    ``_unsupported``, ``_header_records``, ``_setup``, ``_load_index``,
    ``_contig_number``, ``_groups``, ``_decode``, ``_record_location``,
    ``_record_error`` and ``_kernels``.
    """

    _format: str
    _suffix: str
    _hint: str
    _source_type: type

    def __init__(self, path: str, *, samples: Sequence[str] | None = None,
                 exclude: Sequence[str] = (), regions: Sequence[Region] | None = None,
                 threads: int = 1, format_fields: Sequence[str] = (), verbose: bool = False):
        import cyvcf2

        reason = self._unsupported(path, regions)
        if reason is not None:
            raise UsageError(f"the fast {self._format} decoder cannot read {path}: {reason}",
                             hint="use the cyvcf2 engine")
        quiet_htslib(not verbose)
        # The checks and messages of VcfReader, so that every engine rejects the
        # same headers and sample lists in the same words.
        try:
            vcf = cyvcf2.VCF(path, lazy=True, strict_gt=False)
        except Exception as e:
            raise InputError(f"cannot read as VCF/BCF ({_short(e)})", file=path,
                             hint="give a valid VCF, VCF.gz or BCF file") from None
        try:
            all_samples = list(vcf.samples)
            raw_header = vcf.raw_header
            header_records = self._header_records(vcf)
        finally:
            vcf.close()
        chosen, self.excluded_not_found = select_samples(path, all_samples, samples, exclude)
        self.path = path
        self.samples = chosen
        declared = _format_ids(raw_header)
        self.format_fields = [f for f in format_fields if f in declared]
        self.missing_format_fields = [f for f in format_fields if f not in declared]
        self.regions = list(regions) if regions else None
        self._index: Index | None = None
        if self.regions:
            if _index_path(path) is None:
                how = ("compress it with 'bgzip' and run 'bcftools index' on the .vcf.gz"
                       if path.endswith(".vcf") else f"run 'bcftools index {path}'")
                raise InputError("region queries need an index, and none was found", file=path,
                                 hint=f"{how}, or drop -r/-R")
            self._index = self._load_index()
        self.threads = max(1, threads)
        self._verbose = verbose
        self.last_chrom: str | None = None
        self.last_pos: int | None = None
        self.records_read = 0
        self._raw_header = raw_header
        self._all_samples = all_samples
        self._header_contigs = header_contigs(raw_header)
        self._has_gt = "GT" in declared
        self._extra_contigs: dict[str, None] = {}
        column = {s: i for i, s in enumerate(all_samples)}
        # Output column of each header column, -1 for those not read.
        self._col_map = np.full(len(all_samples), -1, np.int32)
        for out, name in enumerate(self.samples):
            self._col_map[column[name]] = out
        self._source = None
        self._setup(header_records)

    # The format ------------------------------------------------------------

    @staticmethod
    def _unsupported(path: str, regions: Sequence[Region] | None) -> str | None:
        """Why this reader cannot read ``path`` (None when it can)."""
        raise NotImplementedError

    def _header_records(self, vcf):
        """What ``_setup`` needs of cyvcf2's parsed header ``vcf``."""
        raise NotImplementedError

    def _setup(self, header_records) -> None:
        """The format's own state, once the common attributes are set."""
        raise NotImplementedError

    def _load_index(self) -> Index:
        """The index of ``self.path`` for region queries (InputError when unusable)."""
        raise NotImplementedError

    def _contig_number(self, name: str) -> int:
        """The index's number of contig ``name`` (-1 when it has none)."""
        raise NotImplementedError

    def _groups(self, chunk_variants: int):
        """Lists of (buffer, record starts) pieces holding ``chunk_variants`` records
        each (the last one fewer), in file order (of each region with regions)."""
        raise NotImplementedError

    def _decode(self, pieces: list, index: int) -> tuple[VariantChunk, list[str]]:
        """Decode one group of records; returns (chunk, contigs added to the header)."""
        raise NotImplementedError

    def _record_location(self, record: bytes) -> tuple[str | None, int | None]:
        """CHROM and POS of one record's bytes."""
        raise NotImplementedError

    def _record_error(self, record: bytes, code: int, detail: int) -> InputError:
        """The error for a record the kernels flagged with error ``code``."""
        raise NotImplementedError

    @staticmethod
    def _kernels():
        """The Numba module decoding the format (imported when first needed)."""
        raise NotImplementedError

    # Surface ---------------------------------------------------------------

    def expected_records(self) -> int | None:
        """Number of records from the index, for progress; None without an index or with regions."""
        return None if self.regions else records_in_index(self.path)

    @property
    def header(self) -> str:
        return self._raw_header

    def contigs(self) -> list[tuple[str, int | None]]:
        """Contigs of the header, then those htslib would add from records read so far."""
        return list(self._header_contigs) + [(c, None) for c in self._extra_contigs]

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    # Reading ---------------------------------------------------------------

    def chunks(self, chunk_variants: int | None = None) -> Iterator[VariantChunk]:
        """Yield VariantChunks in file order."""
        return self._read(chunk_variants, None)

    def map_chunks(self, func, chunk_variants: int | None = None) -> Iterator:
        """``func(chunk)`` of each chunk, in file order, on the reader's threads.

        Each worker decodes a chunk and calls ``func`` on it at once, while the
        chunk's arrays are still in its cache; the reader's state (contigs seen,
        last record, records read) moves on in file order as results come out.
        """
        return self._read(chunk_variants, func)

    def _read(self, chunk_variants: int | None, func) -> Iterator:
        n_smp = len(self.samples)
        if chunk_variants is None:
            chunk_variants = default_chunk_variants(n_smp)
        self.close()
        groups = self._groups(chunk_variants)
        try:
            yield from self._chunks(groups, func)
        finally:
            groups.close()  # stops the inflating threads when the caller stops early
            self.close()

    def _chunks(self, groups, func) -> Iterator:
        # Damage found while reading ahead comes out after the chunks before it.
        for decoded, value in ordered_map(self._decode_item(func), enumerate(groups),
                                          self.threads):
            chunk = self._emit(decoded)
            yield chunk if func is None else value

    def _decode_item(self, func):
        """The work on one (index, pieces) item: (decoded chunk and new contigs,
        ``func`` of the chunk or None)."""
        def work(item):
            index, pieces = item
            decoded = self._decode(pieces, index)
            return decoded, None if func is None else func(decoded[0])
        return work

    def _emit(self, result) -> VariantChunk:
        chunk, new_contigs = result
        for c in new_contigs:
            self._extra_contigs.setdefault(c, None)
        if chunk.n_variants:
            self.last_chrom = chunk.chrom[-1]
            self.last_pos = int(chunk.pos[-1])
            self.records_read += chunk.n_variants
        return chunk

    def _region_queries(self):
        """(contig number, 0-based begin and end, first and last POS kept, index span)
        of each region with records in the index, in the order given."""
        for region in self.regions:
            query = parse_region(region, self._contig_number)
            if query is None:
                continue
            tid, beg, end = query
            span = self._index.query(tid, beg, end)
            if span is None:
                continue
            first = region.start if region.start is not None else -NO_LIMIT
            last = region.end if region.end is not None else NO_LIMIT
            yield tid, beg, end, first, last, span

    def _open_source(self):
        """The source of all of the file's bytes, kept for ``close``."""
        self._source = self._source_type(self.path, threads=self.threads)
        return self._source

    @contextlib.contextmanager
    def _span_source(self, span):
        """The source of an index span's blocks, closed when the region is done."""
        self._source = self._source_type(self.path, threads=self.threads, start=span[0],
                                         stop_block=span[1] >> 16)
        try:
            yield self._source
        finally:
            self._source.close()
            self._source = None

    def _damage_error(self, what: str, hint: str | None, chrom: str | None,
                      pos: int | None) -> InputError:
        """Damage in the data, after the record at ``chrom``:``pos`` (None: before any)."""
        if chrom is None:
            return InputError(what, file=self.path, chrom="first record", hint=hint)
        return InputError(what + " after this record", file=self.path, chrom=chrom, pos=pos,
                          hint=hint)

    # Records outside the fast subset ---------------------------------------

    def _settle(self, records: list[bytes], status: np.ndarray, detail: np.ndarray,
                fallback) -> VariantChunk:
        """A chunk with records the kernels did not decode: raise for the first record
        htslib rejects, else decode the records with ``fallback`` (through htslib)."""
        k = self._kernels()
        errors = np.flatnonzero(status >= k.FIRST_ERROR)
        if errors.size:
            first = int(errors[0])
            if np.any(status[:first] != k.OK):
                # htslib might stop at an earlier record: let it decide first.
                fallback(records[:first])
            raise self._record_error(records[first], int(status[first]), int(detail[first]))
        return fallback(records)

    def _read_with_htslib(self, header: bytes, records: list[bytes]):
        """VcfReader's (chunks, records read) of ``records`` under ``header``; its
        error located in the input file."""
        try:
            return read_with_htslib(header, records, self._suffix, self.samples,
                                    self.format_fields, self._verbose)
        except HtslibFailure as f:
            raise self._fallback_error(f.error, records, f.n_read) from None

    def _fallback_error(self, e: InputError, records: list[bytes], n_read: int | None):
        """VcfReader's error on the temporary file, located in the input file."""
        what = e.what.removesuffix(" after this record")
        if n_read is None:
            row = 0
        elif e.what.startswith("cannot decode record"):
            row = max(0, n_read - 1)  # VcfReader counts a record before decoding it
        else:
            row = min(n_read, len(records) - 1)
        chrom, pos = self._record_location(records[row]) if records else (None, None)
        return InputError(what, file=self.path, chrom=chrom, pos=pos, hint=e.hint or self._hint)


class HtslibFailure(Exception):
    """VcfReader's InputError on a temporary file, and how many records it had read."""

    def __init__(self, error: InputError, n_read: int | None):
        super().__init__(error.what)
        self.error = error
        self.n_read = n_read


def read_with_htslib(header: bytes, records: list[bytes], suffix: str, samples, format_fields,
                     verbose: bool) -> tuple[list[VariantChunk], int]:
    """Decode ``records`` with VcfReader from a temporary file holding ``header`` and them
    (``suffix`` .vcf or .bcf): (its chunks, records it read). Raises HtslibFailure."""
    fd, tmp = tempfile.mkstemp(prefix="genomekit-", suffix=suffix)
    reader = None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            fh.writelines(records)
        try:
            reader = VcfReader(tmp, samples=samples, format_fields=format_fields,
                               verbose=verbose)
            got = list(reader.chunks(chunk_variants=max(1, len(records))))
        except InputError as e:
            raise HtslibFailure(e, None if reader is None else reader.records_read) from None
        finally:
            if reader is not None:
                reader.close()
    finally:
        os.unlink(tmp)
    return got, reader.records_read


def records_in_index(path: str) -> int | None:
    """Number of records the index of ``path`` counts (for progress), or None."""
    import cyvcf2

    if _index_path(path) is None:
        return None
    try:
        vcf = cyvcf2.VCF(path)
        try:
            return int(vcf.num_records)
        finally:
            vcf.close()
    except Exception:
        return None


def group_runs(runs, chunk_variants: int):
    """Lists of (buffer, starts) pieces holding ``chunk_variants`` records each
    (the last one fewer), from runs of consecutive records."""
    pieces: list = []
    have = 0
    for buf, st in runs:
        i = 0
        n = st.size - 1
        while i < n:
            take = min(chunk_variants - have, n - i)
            pieces.append((buf, st[i:i + take + 1]))
            have += take
            i += take
            if have == chunk_variants:
                yield pieces
                pieces, have = [], 0
    if pieces:
        yield pieces


def kept_runs(buf, starts, keep):
    """(buf, starts) of each run of consecutive records with ``keep`` set."""
    idx = np.flatnonzero(keep)
    if not idx.size:
        return
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    for run in np.split(idx, breaks):
        yield buf, starts[run[0]:run[-1] + 2]


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _format_ids(raw_header: str) -> set[str]:
    # As VcfReader reads them, so that the engines agree on what is declared.
    ids = set()
    for line in raw_header.splitlines():
        if line.startswith("##FORMAT=<"):
            for part in line[len("##FORMAT=<"):].split(","):
                if part.startswith("ID="):
                    ids.add(part[3:].rstrip(">"))
                    break
    return ids

