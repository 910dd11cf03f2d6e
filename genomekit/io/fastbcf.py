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
import struct
from collections.abc import Sequence

import numpy as np

from genomekit.errors import InputError
from genomekit.io.bgzf import ByteSource, container
from genomekit.io.fastreader import FastReaderBase, file_kind, group_runs, kept_runs
from genomekit.io.index import Index, find_index, load_index
from genomekit.io.vcf import Region, VariantChunk

BCF_MAGIC = b"BCF\x02\x02"
_HINT = "check the file with 'bcftools view', or re-create it from a good copy"
_TYPE_NAMES = {0: "null", 1: "int8", 2: "int16", 3: "int32", 5: "float", 7: "char"}


def header_block(path: str) -> bytes | None:
    """The BCF magic, header length and header text of ``path``; None if not BCF 2.2."""
    # Small batches: only the header is wanted, not megabytes inflated ahead of it.
    source = ByteSource(path, batch_bytes=1 << 16)
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


class FastBcfReader(FastReaderBase):
    """A BCF file opened for chunked reading of genotypes.

    Same arguments, attributes and chunks as ``VcfReader`` (columns in the
    order of ``samples`` as given). ``threads`` > 1 inflates and decodes on
    that many worker threads; chunks are the same whatever the number.
    """

    _format = "BCF"
    _suffix = ".bcf"
    _hint = _HINT
    _source_type = ByteSource

    @staticmethod
    def _unsupported(path, regions):
        if file_kind(path) != "bcf":
            return "not a BCF file"
        return unsupported_reason(path, regions=regions)

    def _header_records(self, vcf) -> list:
        return [(rec.type, rec.info(extra=True)) for rec in vcf.header_iter()]

    def _setup(self, records) -> None:
        self._header_block = header_block(self.path)
        self._data_start = len(self._header_block)
        self._dictionaries(records)
        self._prepare_layout()

    def _load_index(self) -> Index:
        if find_index(self.path, text=False) is None:
            raise InputError("region queries on BCF need a .csi index", file=self.path,
                             hint=f"run 'bcftools index {self.path}'")
        return load_index(self.path, text=False)

    def _contig_number(self, name: str) -> int:
        return self._ctg_id.get(name, -1)

    @staticmethod
    def _kernels():
        from genomekit.kernels import bcfparse

        return bcfparse

    def _record_location(self, record: bytes) -> tuple[str, int]:
        return self._location(np.frombuffer(record, np.uint8), 0)

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

    # Reading --------------------------------------------------------------

    def _groups(self, chunk_variants: int):
        return group_runs(self._region_runs() if self.regions else self._file_runs(),
                          chunk_variants)

    def _file_runs(self):
        """(buffer, record starts) of every record of the file, in order."""
        yield from self._records(self._open_source(), self._data_start, bounded=False)

    def _region_runs(self):
        """(buffer, record starts) of the records of each region, as VcfReader reads them."""
        from genomekit.kernels.bcfparse import region_codes

        for tid, beg, end, first, last, span in self._region_queries():
            with self._span_source(span) as source:
                for buf, starts in self._records(source, 0, bounded=True):
                    n = starts.size - 1
                    codes = np.empty(n, np.int8)
                    before_stop = region_codes(buf, starts, tid, beg, end, first, last, codes)
                    yield from kept_runs(buf, starts, codes[:before_stop] == 1)
                    if before_stop < n:
                        break

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
        chrom, pos = self._location(*last) if last is not None else (None, None)
        return self._damage_error(what, hint, chrom, pos)

    def _location(self, buf, s: int) -> tuple[str, int]:
        rid, p0 = struct.unpack_from("<iI", buf[s + 8:s + 16].tobytes())
        if 0 <= rid < self._ctg_ok.size and self._ctg_ok[rid]:
            chrom = self._ctg_names[rid]
        else:
            chrom = f"contig#{rid}"
        return chrom, (0 if p0 == 0xFFFFFFFF else p0 + 1)

    # Decoding -------------------------------------------------------------

    def _decode(self, pieces: list, index: int) -> tuple[VariantChunk, list[str]]:
        """Decode one chunk; returns (chunk, contigs added to the header: none, as
        records name their contig by its number in the header)."""
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
            return self._odd_chunk(pieces, index, rid, pos, status, detail), []

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
            return self._odd_chunk(pieces, index, rid, pos, status, detail), []
        if not read_gt:
            gt = np.full((n, n_kept, 1), -1, np.int8)

        texts = []
        row = 0
        for buf, st in pieces:
            texts.append(k.gather_text(buf, id_off, n_alleles, row, st.size - 1).tobytes())
            row += st.size - 1
        fields = b"".join(texts).decode("latin-1").split("\t")
        alt_text = fields[2:3 * n:3]
        chunk = VariantChunk(
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
        return chunk, []

    # Records outside the fast subset ----------------------------------------

    def _odd_chunk(self, pieces, index, rid, pos, status, detail) -> VariantChunk:
        """A chunk with records the kernels did not decode: raise for the first
        record htslib rejects, else decode the chunk with htslib."""
        records = [buf[st[i]:st[i + 1]].tobytes() for buf, st in pieces
                   for i in range(st.size - 1)]
        return self._settle(records, status, detail,
                            lambda some: self._fallback(some, index, rid, pos))

    def _fallback(self, records: list[bytes], index, rid, pos) -> VariantChunk:
        """Decode ``records`` with VcfReader, from a BCF file holding the header and them."""
        got, n_read = self._read_with_htslib(self._header_block, records)
        if len(got) != 1 or got[0].n_variants != len(records):
            chrom, p = self._record_location(records[0])
            raise InputError(f"htslib read {n_read} of {len(records)} records",
                             file=self.path, chrom=chrom, pos=p, hint=_HINT)
        return dataclasses.replace(got[0], index=index)

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
