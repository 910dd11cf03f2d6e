"""Chunked genotype reading that decodes BCF records directly, without htslib's record parser.

``FastBcfReader`` has the constructor and public surface of
``genomekit.io.vcf.VcfReader`` and yields the same ``VariantChunk``s; see
``genomekit.io.readers.open_reader`` for choosing between the readers.

The bytes come from ``genomekit.io.bgzf.ByteSource`` (BGZF blocks inflated with
libdeflate, on worker threads when ``threads`` > 1), are cut into records
on the main thread, and chunks of records are decoded by the Numba kernels of
``genomekit.kernels.bcfparse`` on a thread pool. The header's dictionaries
(contig numbers, and the numbers of FILTER, INFO and FORMAT keys, by IDX= or
by order) are those htslib builds, read from cyvcf2's parsed header. A chunk
holding a record outside the decoded subset is decoded again by ``VcfReader``
from a temporary BCF file holding the header and that chunk's records; records
htslib rejects or would crash on raise InputError naming the record.

Regions (-r/-R) are read through the file's .csi index (``genomekit.io.index``):
from the offset where htslib's iterator starts, applying its overlap test and
then VcfReader's rule (POS inside the region), so the records are VcfReader's.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Iterator, Sequence

import numpy as np

from genomekit.errors import InputError, UsageError
from genomekit.io.bgzf import ByteSource, container
from genomekit.io.index import find_index, load_index, parse_region
from genomekit.io.vcf import (
    CHUNK_BYTES,
    MAX_CHUNK_VARIANTS,
    Region,
    VariantChunk,
    quiet_htslib,
    select_samples,
)
from genomekit.parallel import ordered_map

BCF_MAGIC = b"BCF\x02\x02"
_HINT = "check the file with 'bcftools view', or re-create it from a good copy"
_TYPE_NAMES = {0: "null", 1: "int8", 2: "int16", 3: "int32", 5: "float", 7: "char"}
# Positions far outside any contig, for regions without a start or an end.
_NO_LIMIT = 1 << 62


def header_block(path: str) -> bytes | None:
    """The BCF magic, header length and header text of ``path``; None if not BCF 2.2."""
    source = ByteSource(path)
    got = bytearray()
    need = 9
    try:
        for raw in source:
            got += raw.tobytes()
            if len(got) >= 9 and need == 9:
                if bytes(got[:5]) != BCF_MAGIC:
                    return None
                need = 9 + struct.unpack_from("<I", got, 5)[0]
            if len(got) >= need:
                return bytes(got[:need])
    except InputError:
        return None
    finally:
        source.close()
    return None


def unsupported_reason(path: str, *, regions: Sequence[Region] | None = None) -> str | None:
    """Why ``FastBcfReader`` cannot read the BCF file ``path`` (None when it can)."""
    if header_block(path) is None:
        return "only BCF version 2.2 is decoded directly"
    if regions and not path.endswith((".bcf", ".bcf.gz")):
        # cyvcf2 picks its region reader by the file name.
        return "region queries on a BCF file need a name ending in .bcf"
    if regions and container(path) != "bgzf":
        return "region queries need a BGZF-compressed BCF file"
    return None


class FastBcfReader:
    """A BCF file opened for chunked reading of genotypes.

    Same arguments, attributes and chunks as ``VcfReader`` (columns in the
    order of ``samples`` as given). ``threads`` > 1 inflates and decodes on
    that many worker threads; chunks are the same whatever the number.
    """

    def __init__(self, path: str, *, samples: Sequence[str] | None = None,
                 exclude: Sequence[str] = (), regions: Sequence[Region] | None = None,
                 threads: int = 1, format_fields: Sequence[str] = (), verbose: bool = False):
        import cyvcf2

        from genomekit.io.bgzf import sniff
        from genomekit.io.fastvcf import _contigs, _format_ids, _index_path, _short

        if not os.path.exists(path):
            raise InputError("no such file", file=path, hint="check the path")
        try:
            kind = sniff(path)
        except OSError as e:
            raise InputError(f"cannot read the file ({e.strerror})", file=path) from None
        reason = "not a BCF file" if kind != "bcf" else unsupported_reason(path, regions=regions)
        if reason is not None:
            raise UsageError(f"the fast BCF decoder cannot read {path}: {reason}",
                             hint="use the cyvcf2 engine")
        quiet_htslib(not verbose)
        try:
            vcf = cyvcf2.VCF(path, lazy=True, strict_gt=False)
        except Exception as e:
            raise InputError(f"cannot read as VCF/BCF ({_short(e)})", file=path,
                             hint="give a valid VCF, VCF.gz or BCF file") from None
        try:
            all_samples = list(vcf.samples)
            raw_header = vcf.raw_header
            records = [(rec.type, rec.info(extra=True)) for rec in vcf.header_iter()]
        finally:
            vcf.close()
        chosen, self.excluded_not_found = select_samples(path, all_samples, samples, exclude)
        self.path = path
        self.samples = chosen
        declared = _format_ids(raw_header)
        self.format_fields = [f for f in format_fields if f in declared]
        self.missing_format_fields = [f for f in format_fields if f not in declared]
        self.threads = max(1, threads)
        self.last_chrom: str | None = None
        self.last_pos: int | None = None
        self.records_read = 0
        self._verbose = verbose
        self._raw_header = raw_header
        self._all_samples = all_samples
        self._header_contigs = _contigs(raw_header)
        self._has_gt = "GT" in declared
        self._header_block = header_block(path)
        self._data_start = len(self._header_block)
        self._dictionaries(records)
        self._prepare_layout()
        self._source: ByteSource | None = None
        self.regions = list(regions) if regions else None
        self._index = None
        if self.regions:
            if _index_path(path) is None:
                raise InputError("region queries need an index, and none was found",
                                 file=path, hint=f"run 'bcftools index {path}', or drop -r/-R")
            if find_index(path, text=False) is None:
                raise InputError("region queries on BCF need a .csi index", file=path,
                                 hint=f"run 'bcftools index {path}'")
            self._index = load_index(path, text=False)

    # Header ---------------------------------------------------------------

    def _dictionaries(self, records) -> None:
        """Contig and key numbers as htslib assigned them (IDX= in its parsed header)."""
        contigs: dict[int, str] = {}
        keys: dict[int, str] = {}
        fmt_type: dict[str, str | None] = {}
        for kind, info in records:
            idx = info.get(b"IDX")
            key = info.get(b"ID")
            if idx is None or key is None:
                continue
            number = int(idx)
            name = key.decode("utf-8", "replace")
            if kind == "CONTIG":
                contigs[number] = name
            elif kind in ("FILTER", "INFO", "FORMAT"):
                keys[number] = name
                if kind == "FORMAT":
                    fmt_type.setdefault(name, info.get("Type"))
        n_ctg = max(contigs) + 1 if contigs else 0
        self._ctg_ok = np.zeros(n_ctg, np.uint8)
        self._ctg_names = np.empty(n_ctg, dtype=object)
        for number, name in contigs.items():
            self._ctg_ok[number] = 1
            self._ctg_names[number] = name
        self._ctg_id = {name: number for number, name in contigs.items()}
        n_id = max(keys) + 1 if keys else 0
        self._id_ok = np.zeros(n_id, np.uint8)
        for number in keys:
            self._id_ok[number] = 1
        self._key_id = {name: number for number, name in keys.items()}
        self._fmt_type = fmt_type

    def _prepare_layout(self) -> None:
        from genomekit.kernels import bcfparse as k

        index = {s: i for i, s in enumerate(self._all_samples)}
        self._col_map = np.full(len(self._all_samples), -1, np.int32)
        for out, name in enumerate(self.samples):
            self._col_map[index[name]] = out
        self._role_id = np.full(k.N_ROLES, -1, np.int64)
        self._modes = np.full(k.N_ROLES, k.MODE_SKIP, np.int64)
        for role, name in ((k.ROLE_GT, "GT"), (k.ROLE_GQ, "GQ"), (k.ROLE_DP, "DP"),
                           (k.ROLE_AD, "AD")):
            if name not in self._fmt_type:
                continue
            self._role_id[role] = self._key_id[name]
            declared = self._fmt_type[name]
            if role == k.ROLE_GT:
                if self._has_gt and self.samples:
                    # htslib reads GT only when the header types it as a string.
                    self._modes[role] = (k.MODE_FALLBACK if declared in ("Integer", "Float", "Flag")
                                         else k.MODE_READ)
            elif name in self.format_fields and self.samples:
                # cyvcf2's format(): by the header's Type.
                self._modes[role] = {"Integer": k.MODE_READ, "Float": k.MODE_GUARD,
                                     "String": k.MODE_SKIP, "Character": k.MODE_SKIP,
                                     None: k.MODE_SKIP}.get(declared, k.MODE_FALLBACK)

    # Surface --------------------------------------------------------------

    def expected_records(self) -> int | None:
        """Number of records from the index, for progress; None without an index or with regions."""
        from genomekit.io.fastvcf import records_in_index

        return None if self.regions else records_in_index(self.path)

    @property
    def header(self) -> str:
        return self._raw_header

    def contigs(self) -> list[tuple[str, int | None]]:
        return list(self._header_contigs)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    # Reading --------------------------------------------------------------

    def chunks(self, chunk_variants: int | None = None) -> Iterator[VariantChunk]:
        """Yield VariantChunks in file order."""
        n_smp = len(self.samples)
        if chunk_variants is None:
            chunk_variants = max(16, min(MAX_CHUNK_VARIANTS, CHUNK_BYTES // max(1, 2 * n_smp)))
        self.close()
        runs = self._region_runs() if self.regions else self._file_runs()
        groups = group_runs(runs, chunk_variants)
        try:
            yield from self._chunks(groups)
        finally:
            groups.close()  # stops the inflating threads when the caller stops early
            self.close()

    def _chunks(self, groups) -> Iterator[VariantChunk]:
        # Damage found while reading ahead comes out after the chunks before it.
        for chunk in ordered_map(self._decode_item, enumerate(groups), self.threads):
            yield self._emit(chunk)

    def _decode_item(self, item):
        index, pieces = item
        return self._decode(pieces, index)

    def _emit(self, chunk: VariantChunk) -> VariantChunk:
        if chunk.n_variants:
            self.last_chrom = chunk.chrom[-1]
            self.last_pos = int(chunk.pos[-1])
            self.records_read += chunk.n_variants
        return chunk

    def _file_runs(self):
        """(buffer, record starts) of every record of the file, in order."""
        self._source = ByteSource(self.path, threads=self.threads)
        yield from self._records(self._source, self._data_start, bounded=False)

    def _region_runs(self):
        """(buffer, record starts) of the records of each region, as VcfReader reads them."""
        from genomekit.kernels.bcfparse import region_codes

        for region in self.regions:
            query = parse_region(region, lambda name: self._ctg_id.get(name, -1))
            if query is None:
                continue
            tid, beg, end = query
            span = self._index.query(tid, beg, end)
            if span is None:
                continue
            first = region.start if region.start is not None else -_NO_LIMIT
            last = region.end if region.end is not None else _NO_LIMIT
            self._source = ByteSource(self.path, threads=self.threads, start=span[0],
                                      stop_block=span[1] >> 16)
            try:
                for buf, starts in self._records(self._source, 0, bounded=True):
                    n = starts.size - 1
                    codes = np.empty(n, np.int8)
                    before_stop = region_codes(buf, starts, tid, beg, end, first, last, codes)
                    yield from _runs(buf, starts, codes[:before_stop] == 1)
                    if before_stop < n:
                        break
            finally:
                self._source.close()
                self._source = None

    def _records(self, source: ByteSource, skip: int, *, bounded: bool):
        """Cut the bytes of ``source`` into whole records: (buffer, record starts).

        ``skip`` bytes (the header) are dropped first. A record cut by the end of
        the bytes is an error, unless the bytes end at the index's last block
        (``bounded``), where it lies outside the region.
        """
        from genomekit.kernels.bcfparse import record_starts

        parts: list[np.ndarray] = []  # bytes of a record cut by a buffer boundary
        have = 0
        length = 0  # of that record, once its first 8 bytes are known
        self._last = None  # the last whole record, for error locations
        for raw in self._located(source):
            last = self._last
            if skip:
                if raw.size <= skip:
                    skip -= raw.size
                    continue
                raw = raw[skip:]
                skip = 0
            pos = 0
            if parts:
                if have < 8:
                    take = min(8 - have, raw.size)
                    parts.append(raw[:take])
                    have += take
                    pos = take
                    if have < 8:
                        continue
                    length = _record_length(np.concatenate(parts)[:8])
                    if length < 0:
                        raise self._damage("a record with l_shared below 24 (not a BCF record)",
                                           last)
                need = length - have
                if raw.size - pos < need:
                    parts.append(raw[pos:])
                    have += raw.size - pos
                    continue
                parts.append(raw[pos:pos + need])
                record = np.concatenate(parts)
                pos += need
                parts, have = [], 0
                self._last = last = (record, 0)
                yield record, np.array([0, record.size], np.int64)
            starts = np.empty((raw.size - pos) // 32 + 2, np.int64)
            n, rest, need = record_starts(raw, pos, raw.size, starts)
            if n:
                self._last = last = (raw, int(starts[n - 1]))
                yield raw, starts[:n + 1]
            if need < 0:
                raise self._damage("a record with l_shared below 24 (not a BCF record)", last)
            if rest < raw.size:
                parts = [raw[rest:].copy()]
                have = raw.size - rest
                length = need
        if parts and not (bounded and source.hit_stop):
            raise self._damage(f"truncated BCF record: the data ends {have} bytes into it",
                               self._last)

    def _located(self, source: ByteSource):
        """The buffers of ``source``; its damage located after the last whole record."""
        try:
            yield from source
        except InputError as e:
            raise self._damage(e.what, self._last, e.hint) from None

    def _damage(self, what: str, last, hint: str = _HINT) -> InputError:
        if last is None:
            return InputError(what, file=self.path, chrom="first record", hint=hint)
        buf, s = last
        chrom, pos = self._location(buf, s)
        return InputError(what + " after this record", file=self.path, chrom=chrom, pos=pos,
                          hint=hint)

    def _location(self, buf, s: int) -> tuple[str, int]:
        rid, p0 = struct.unpack_from("<iI", buf[s + 8:s + 16].tobytes())
        if 0 <= rid < self._ctg_ok.size and self._ctg_ok[rid]:
            chrom = self._ctg_names[rid]
        else:
            chrom = f"contig#{rid}"
        return chrom, (0 if p0 == 0xFFFFFFFF else p0 + 1)

    # Decoding -------------------------------------------------------------

    def _decode(self, pieces: list, index: int) -> VariantChunk:
        from genomekit.kernels import bcfparse as k

        n = sum(st.size - 1 for _, st in pieces)
        rid = np.empty(n, np.int32)
        pos = np.empty(n, np.int64)
        beg = np.empty(n, np.int64)
        rlen = np.empty(n, np.int64)
        n_alleles = np.empty(n, np.int32)
        id_off = np.empty(n, np.int64)
        fmt = np.empty((n, k.N_ROLES, 3), np.int64)
        status = np.empty(n, np.int32)
        detail = np.empty(n, np.int64)
        row = 0
        for buf, st in pieces:
            k.scan_records(buf, st, row, self._ctg_ok, self._id_ok, self._role_id, self._modes,
                           len(self._all_samples), rid, pos, beg, rlen, n_alleles, id_off, fmt,
                           status, detail)
            row += st.size - 1
        if np.any(status != k.OK):
            return self._odd_chunk(pieces, index, rid, pos, status, detail)

        n_kept = len(self.samples)
        read_gt = self._modes[k.ROLE_GT] == k.MODE_READ
        has_gt = fmt[:, k.ROLE_GT, 0] >= 0
        width = int(fmt[has_gt, k.ROLE_GT, 1].max()) if read_gt and has_gt.any() else 1
        gt = np.empty((n, n_kept, width) if read_gt else (0, 0, 1), np.int8)
        gq = np.full((n, n_kept), -1, np.int32) if "GQ" in self.format_fields else None
        dp = np.full((n, n_kept), -1, np.int32) if "DP" in self.format_fields else None
        ad = (np.full((n, n_kept, int(n_alleles.max()) if n else 1), -1, np.int32)
              if "AD" in self.format_fields else None)
        none3 = np.zeros((0, 0, 0), np.int32)
        row = 0
        for buf, st in pieces:
            k.decode_samples(buf, row, st.size - 1, fmt, self._modes, self._col_map, gt,
                             gq.reshape(n, n_kept, 1) if gq is not None else none3,
                             dp.reshape(n, n_kept, 1) if dp is not None else none3,
                             ad if ad is not None else none3, status, detail)
            row += st.size - 1
        if np.any(status != k.OK):
            return self._odd_chunk(pieces, index, rid, pos, status, detail)
        if not read_gt:
            gt = np.full((n, n_kept, 1), -1, np.int8)

        texts = []
        row = 0
        for buf, st in pieces:
            texts.append(k.gather_text(buf, id_off, n_alleles, row, st.size - 1).tobytes())
            row += st.size - 1
        fields = b"".join(texts).decode("latin-1").split("\t")
        alt_text = fields[2:3 * n:3]
        return VariantChunk(
            chrom=self._ctg_names[rid].tolist(),
            pos=pos,
            ids=fields[0:3 * n:3],
            ref=fields[1:3 * n:3],
            alts=[a.split(",") if na > 1 else [] for a, na in zip(alt_text, n_alleles.tolist())],
            n_alleles=n_alleles,
            gt=gt,
            gq=gq,
            dp=dp,
            ad=ad,
            index=index,
        )

    # Records outside the fast subset ----------------------------------------

    def _odd_chunk(self, pieces, index, rid, pos, status, detail) -> VariantChunk:
        """A chunk with records the kernels did not decode: raise for the first
        record htslib rejects, else decode the chunk with htslib."""
        from genomekit.kernels import bcfparse as k

        records = [buf[st[i]:st[i + 1]].tobytes() for buf, st in pieces
                   for i in range(st.size - 1)]
        errors = np.flatnonzero(status >= k.FIRST_ERROR)
        if errors.size:
            first = int(errors[0])
            if np.any(status[:first] != k.OK):
                # htslib might stop at an earlier record: let it decide first.
                self._fallback(records[:first], index, rid, pos)
            raise self._record_error(records[first], int(status[first]), int(detail[first]))
        return self._fallback(records, index, rid, pos)

    def _fallback(self, records: list[bytes], index, rid, pos) -> VariantChunk:
        """Decode ``records`` with VcfReader, from a BCF file holding the header and them."""
        from genomekit.io.fastvcf import HtslibFailure, read_with_htslib

        try:
            got, n_read = read_with_htslib(self._header_block, records, ".bcf", self.samples,
                                           self.format_fields, self._verbose)
        except HtslibFailure as f:
            raise self._fallback_error(f.error, records, f.n_read) from None
        if len(got) != 1 or got[0].n_variants != len(records):
            chrom, p = self._location(np.frombuffer(records[0], np.uint8), 0)
            raise InputError(f"htslib read {n_read} of {len(records)} records",
                             file=self.path, chrom=chrom, pos=p, hint=_HINT)
        return dataclasses.replace(got[0], index=index)

    def _fallback_error(self, e: InputError, records: list[bytes], n_read: int | None):
        """VcfReader's error on the temporary file, located in the input file."""
        what = e.what.removesuffix(" after this record")
        if n_read is None:
            row = 0
        elif e.what.startswith("cannot decode record"):
            row = max(0, n_read - 1)  # VcfReader counts a record before decoding it
        else:
            row = min(n_read, len(records) - 1)
        chrom, pos = self._location(np.frombuffer(records[row], np.uint8), 0)
        return InputError(what, file=self.path, chrom=chrom, pos=pos, hint=e.hint or _HINT)

    def _record_error(self, record: bytes, code: int, detail: int) -> InputError:
        from genomekit.kernels import bcfparse as k

        buf = np.frombuffer(record, np.uint8)
        chrom, pos = self._location(buf, 0)
        n_sample = int.from_bytes(record[28:31], "little")
        roles = {k.ROLE_GT: "GT", k.ROLE_GQ: "GQ", k.ROLE_DP: "DP", k.ROLE_AD: "AD"}
        what = {
            k.ERR_SHARED: "the record's site fields (ID, alleles, FILTER, INFO) are malformed "
                          "or run past its length",
            k.ERR_INDIV: "the record's FORMAT data are malformed or run past its length",
            k.ERR_CONTIG: "the record's contig number is not in the header",
            k.ERR_TYPE: "a typed value has a type its field cannot have",
            k.ERR_NO_REF: "the record has no REF allele",
            k.ERR_UNDEFINED: "a FILTER, INFO or FORMAT key number is not in the header",
            k.ERR_N_SAMPLE: f"the record holds {n_sample} sample(s) where the header names "
                            f"{len(self._all_samples)}",
            k.ERR_GT_EMPTY: "FORMAT/GT holds vectors of length 0",
        }.get(code, "malformed record")
        if code == k.ERR_VALUE_TYPE:
            what = f"FORMAT/{roles.get(detail, '?')} is stored as text where numbers are expected"
        return InputError(what, file=self.path, chrom=chrom, pos=pos, hint=_HINT)


def _record_length(head: np.ndarray) -> int:
    l_shared, l_indiv = struct.unpack("<II", head.tobytes())
    return -1 if l_shared < 24 else 8 + l_shared + l_indiv


def _runs(buf, starts, keep):
    """(buf, starts) of each run of consecutive records with ``keep`` set."""
    idx = np.flatnonzero(keep)
    if not idx.size:
        return
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    for run in np.split(idx, breaks):
        yield buf, starts[run[0]:run[-1] + 2]


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
