"""Chunked genotype reading that parses VCF text directly, without htslib's record parser.

``FastVcfReader`` has the constructor and public surface of
``genomekit.io.vcf.VcfReader`` and yields the same ``VariantChunk``s; see
``genomekit.io.readers.open_reader`` for choosing between the two.

The text comes from ``genomekit.io.bgzf.TextSource`` (BGZF blocks inflated with
libdeflate, on worker threads when ``threads`` > 1) and is decoded by the Numba
kernels of ``genomekit.kernels.vcfparse``. Those decode a strict subset of VCF
on which they agree with htslib; a chunk holding a record outside the subset is
decoded again by ``VcfReader`` from a temporary file that holds the header and
that chunk's lines, so every chunk is the one cyvcf2 would give. Records htslib
rejects raise InputError naming the record.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence

import numpy as np

from genomekit.errors import InputError
from genomekit.io.bgzf import TextSource, container, sniff
from genomekit.io.fastreader import FastReaderBase, file_kind, group_runs, kept_runs
from genomekit.io.index import TABIX_VCF, Index, find_index, load_index
from genomekit.io.vcf import Region, VariantChunk

# Contig names htslib can define on the fly when the header lacks them.
_SAFE_CONTIG = re.compile(r"[0-9A-Za-z!#$%&+./:;?@^_|~*-]+")
# Python-side error codes, next to the kernel's.
_ERR_CONTIG = 199
_ERR_NUL = 198
_HINT = "fix the record, or check the file with 'bcftools view'"


def unsupported_reason(path: str, *, regions: Sequence[Region] | None = None) -> str | None:
    """Why neither fast reader (VCF text or BCF) can read ``path`` (None when one can).

    Raises InputError when the file does not exist, as ``VcfReader`` does.
    """
    if file_kind(path) == "bcf":
        from genomekit.io.fastbcf import unsupported_reason as bcf_reason

        return bcf_reason(path, regions=regions)
    if regions:
        if container(path) != "bgzf":
            return "region queries need a BGZF-compressed (bgzip) VCF"
        if path.endswith((".bcf", ".bcf.gz")):
            # cyvcf2 picks its region reader by the file name.
            return "region queries on VCF text need a file name not ending in .bcf"
        found = find_index(path, text=True)
        if found is not None:
            try:
                index = Index(found)
            except InputError:
                return None  # the reader says what is wrong with it
            if index.tabix is None or tuple(index.tabix) != TABIX_VCF or index.names is None:
                return "the index was not made with the VCF preset"
    return None


class FastVcfReader(FastReaderBase):
    """A VCF or VCF.gz file opened for chunked reading of genotypes.

    Same arguments, attributes and chunks as ``VcfReader`` (columns in the
    order of ``samples`` as given). BCF input is not supported (UsageError):
    ``open_reader`` picks ``FastBcfReader`` for it. ``threads`` > 1 inflates
    and decodes on that many worker threads; chunks are the same whatever
    the number.
    """

    _format = "VCF"
    _suffix = ".vcf"
    _hint = _HINT
    _source_type = TextSource

    @staticmethod
    def _unsupported(path, regions):
        reason = unsupported_reason(path, regions=regions)
        if reason is None and sniff(path) == "bcf":
            reason = "BCF input is not VCF text"
        return reason

    def _header_records(self, vcf) -> dict[str, str | None]:
        """Type of each FORMAT key, by the first declaration."""
        fmt_types: dict[str, str | None] = {}
        for rec in vcf.header_iter():
            if rec.type == "FORMAT":
                info = rec.info()
                fmt_types.setdefault(info.get("ID"), info.get("Type"))
        return fmt_types

    def _load_index(self) -> Index:
        index = load_index(self.path, text=True)
        self._index_tid = {name: i for i, name in enumerate(index.names or [])}
        return index

    def _contig_number(self, name: str) -> int:
        return self._index_tid.get(name, -1)

    @staticmethod
    def _kernels():
        from genomekit.kernels import vcfparse

        return vcfparse

    def _record_location(self, record: bytes) -> tuple[str | None, int | None]:
        return _line_location(record)

    def _setup(self, fmt_types: dict) -> None:
        from genomekit.kernels import vcfparse as k

        self._known_contigs = {name for name, _ in self._header_contigs}
        self._ploidy_hint = 2
        kept_cols = np.flatnonzero(self._col_map >= 0).tolist()
        self._kept_cols = kept_cols
        self._last_col = kept_cols[-1] if kept_cols else -1

        types = {"Integer": k.T_INTEGER, "Float": k.T_FLOAT, "String": k.T_STRING,
                 "Character": k.T_STRING}
        roles = {"GQ": k.ROLE_GQ, "DP": k.ROLE_DP, "AD": k.ROLE_AD}
        names = [n for n in fmt_types if n]
        encoded = [n.encode() for n in names]
        self._keys = np.frombuffer(b"".join(encoded), np.uint8).copy()
        self._key_off = np.zeros(len(names) + 1, np.int64)
        self._key_off[1:] = np.cumsum([len(e) for e in encoded])
        self._key_type = np.array([types.get(fmt_types[n], k.T_UNSUPPORTED) for n in names],
                                  dtype=np.int8)
        self._key_role = np.array(
            [roles.get(n, k.ROLE_NONE) if n in self.format_fields
             and fmt_types[n] == "Integer" else k.ROLE_NONE for n in names], dtype=np.int8)
        self._header_bytes: bytes | None = None

    # Reading --------------------------------------------------------------

    def _groups(self, chunk_variants: int):
        if self.regions:
            return self._region_groups(chunk_variants)
        return self._line_groups(self._open_source(), chunk_variants)

    def _chunks(self, groups, func) -> Iterator:
        try:
            yield from super()._chunks(groups, func)
        except _SourceError as err:
            # Damage in the compressed data: the chunks before it came out first.
            raise self._source_error(err) from None

    def _source_error(self, err: _SourceError) -> InputError:
        """Damage in the compressed data, located after the last complete record."""
        chrom, pos = self.last_chrom, self.last_pos
        if err.last_line is not None:
            chrom, pos = _line_location(err.last_line)
        return self._damage_error(err.error.what, err.error.hint, chrom, pos)

    def _line_groups(self, source: TextSource, chunk_variants: int):
        """Lists of (buffer, line starts) holding ``chunk_variants`` records each."""
        from genomekit.kernels.vcfparse import line_starts

        header = _HeaderReader()
        pieces: list = []
        have = 0
        last_line = None
        try:
            for buf in source:
                pos = 0
                if not header.done:
                    pos = header.feed(buf)
                    if not header.done:
                        continue
                    self._header_bytes = header.text()
                while pos < buf.size:
                    need = chunk_variants - have
                    starts = np.empty(need + 1, np.int64)
                    n = line_starts(buf, pos, buf.size, need, starts)
                    pieces.append((buf, starts[:n + 1]))
                    last_line = (buf, int(starts[n - 1]), int(starts[n]))
                    have += n
                    pos = int(starts[n])
                    if have == chunk_variants:
                        yield pieces
                        pieces, have = [], 0
        except InputError as e:
            line = None
            if pieces and last_line is not None:
                buf, s, t = last_line
                line = buf[s:t].tobytes()
            raise _SourceError(e, line) from None
        if not header.done:
            raise InputError("no #CHROM header line", file=self.path,
                             hint="give a VCF file with a complete header")
        if pieces:
            yield pieces

    def _region_groups(self, chunk_variants: int):
        """Lists of (buffer, line starts) holding ``chunk_variants`` records each,
        of the records of each region, as VcfReader reads them."""
        self._header_bytes = self._read_header()
        yield from group_runs(self._region_runs(), chunk_variants)

    def _read_header(self) -> bytes:
        source = TextSource(self.path, batch_bytes=1 << 16)
        header = _HeaderReader()
        try:
            for buf in source:
                header.feed(buf)
                if header.done:
                    return header.text()
        except InputError as e:
            raise _SourceError(e, None) from None
        finally:
            source.close()
        raise InputError("no #CHROM header line", file=self.path,
                         hint="give a VCF file with a complete header")

    def _region_runs(self):
        """(buffer, line starts) of runs of consecutive lines to keep, region by region."""
        from genomekit.kernels.tabix import region_codes
        from genomekit.kernels.vcfparse import line_starts

        end_word = np.frombuffer(b"END=", np.uint8)
        semi_end_word = np.frombuffer(b";END=", np.uint8)
        batch = 65536
        for tid, beg, end, first, last, span in self._region_queries():
            name = np.frombuffer(self._index.names[tid].encode("latin-1"), np.uint8)
            with self._span_source(span) as source:
                try:
                    done = False
                    for buf in source:
                        pos = 0
                        while pos < buf.size and not done:
                            starts = np.empty(batch + 1, np.int64)
                            n = line_starts(buf, pos, buf.size, batch, starts)
                            st = starts[:n + 1]
                            codes = np.empty(n, np.int8)
                            kept = region_codes(buf, st, name, beg, end, first, last, end_word,
                                                semi_end_word, codes)
                            yield from kept_runs(buf, st, codes[:kept] == 1)
                            done = kept < n
                            pos = int(starts[n])
                        if done:
                            break
                except InputError as e:
                    raise _SourceError(e, None) from None

    def _decode(self, pieces: list, index: int):
        """Decode one chunk; returns (chunk, contigs added to the header)."""
        from genomekit.kernels import vcfparse as k

        n = sum(st.size - 1 for _, st in pieces)
        pos = np.empty(n, np.int64)
        n_alleles = np.empty(n, np.int32)
        offs = np.empty((n, k.N_OFFS), np.int64)
        status = np.empty(n, np.int32)
        detail = np.empty(n, np.int64)
        row = 0
        texts = []
        for buf, st in pieces:
            k.scan_sites(buf, st, row, pos, n_alleles, offs, status, detail)
            texts.append(k.gather_text(buf, offs, row, st.size - 1).tobytes())
            row += st.size - 1
        # Bytes outside ASCII only occur in records already sent to the fallback.
        fields = b"".join(texts).decode("latin-1").split("\t")
        chrom = fields[0:4 * n:4]
        ids = fields[1:4 * n:4]
        ref = fields[2:4 * n:4]
        alt_text = fields[3:4 * n:4]

        new_contigs = [c for c in dict.fromkeys(chrom) if c not in self._known_contigs]
        if new_contigs:
            unsafe = {c for c in new_contigs if not _SAFE_CONTIG.fullmatch(c)}
            if unsafe:
                for i, c in enumerate(chrom):
                    if c in unsafe and status[i] < k.FIRST_ERROR:
                        status[i] = _ERR_CONTIG
                new_contigs = [c for c in new_contigs if c not in unsafe]

        n_kept = len(self.samples)
        gt, gq, dp, ad = self._decode_samples(pieces, offs, n_alleles, status, detail, n)

        if np.any(status != k.OK):
            chunk = self._odd_chunk(pieces, index, status, detail, chrom, pos, new_contigs)
            return chunk, new_contigs
        chunk = VariantChunk(
            chrom=chrom,
            pos=pos,
            ids=ids,
            ref=ref,
            alts=[[] if a == "." else a.split(",") for a in alt_text],
            n_alleles=n_alleles,
            gt=gt if gt is not None else np.full((n, n_kept, 1), -1, np.int8),
            gq=gq,
            dp=dp,
            ad=ad,
            index=index,
        )
        return chunk, new_contigs

    def _decode_samples(self, pieces, offs, n_alleles, status, detail, n):
        from genomekit.kernels import vcfparse as k

        n_kept = len(self.samples)
        width = int(n_alleles.max()) if n else 1
        gq = np.full((n, n_kept), -1, np.int32) if "GQ" in self.format_fields else None
        dp = np.full((n, n_kept), -1, np.int32) if "DP" in self.format_fields else None
        ad = np.full((n, n_kept, width), -1, np.int32) if "AD" in self.format_fields else None
        if n_kept == 0 or not len(self._all_samples):
            return None, gq, dp, ad  # htslib does not read sample columns then
        write_gt = self._has_gt
        none3 = np.zeros((0, 0, 0), np.int32)
        gq3 = gq.reshape(n, n_kept, 1) if gq is not None else none3
        dp3 = dp.reshape(n, n_kept, 1) if dp is not None else none3
        ad3 = ad if ad is not None else none3
        width_p = max(1, self._ploidy_hint) if write_gt else 1
        first_status = status.copy()
        while True:
            gt = np.empty((n, n_kept, width_p) if write_gt else (0, 0, 1), np.int8)
            ploidy = np.zeros(n, np.int32)
            row = 0
            for buf, st in pieces:
                k.parse_samples(buf, offs, row, st.size - 1, self._col_map, self._last_col,
                                write_gt, self._keys, self._key_off, self._key_type,
                                self._key_role, gt, gq3, dp3, ad3, ploidy, status, detail)
                row += st.size - 1
            widest = int(ploidy.max()) if n else 1
            if widest <= width_p or np.any(status != k.OK):
                break
            # A call wider than the guess: decode again with room for it.
            width_p = widest
            status[:] = first_status
            if gq is not None:
                gq.fill(-1)
            if dp is not None:
                dp.fill(-1)
            if ad is not None:
                ad.fill(-1)
        if not write_gt:
            return None, gq, dp, ad
        widest = max(1, int(ploidy.max()) if n else 1)
        self._ploidy_hint = max(2, widest)
        if widest < width_p:
            gt = np.ascontiguousarray(gt[:, :, :widest])
        return gt, gq, dp, ad

    # Records outside the fast subset ----------------------------------------

    def _odd_chunk(self, pieces, index, status, detail, chrom, pos, new_contigs):
        """A chunk with records the kernels did not decode: raise for the first
        record htslib rejects, else decode the chunk with htslib."""
        from genomekit.kernels import vcfparse as k

        lines = _lines(pieces)
        for i in np.flatnonzero((status != k.OK) & (status < k.FIRST_ERROR)):
            # Records htslib must never see: with a NUL byte it splits the
            # line at odd places, and with GT in FORMAT but in no sample column
            # it makes cyvcf2's genotype read call exit().
            if b"\0" in lines[i]:
                status[i] = _ERR_NUL
            elif self._gt_in_no_column(lines[i]):
                status[i] = k.ERR_NO_GT
        return self._settle(lines, status, detail,
                            lambda some: self._fallback(some, index, chrom, pos, new_contigs))

    def _gt_in_no_column(self, line: bytes) -> bool:
        """Whether FORMAT names GT while none of the kept sample columns has it."""
        if not (self._has_gt and self._kept_cols):
            return False  # VcfReader does not read genotypes then
        cols = line.rstrip(b"\r\n").split(b"\t")
        if len(cols) <= 9 + self._kept_cols[-1]:
            return False  # missing columns: htslib rejects the record first
        keys = cols[8].split(b":")
        if b"GT" not in keys:
            return False
        gi = keys.index(b"GT")
        return not any(cols[9 + c].count(b":") >= gi for c in self._kept_cols)

    def _fallback(self, lines: list[bytes], index, chrom, pos, new_contigs) -> VariantChunk:
        """Decode ``lines`` with VcfReader, from a file holding the header and them."""
        header = self._header_bytes or b""
        if new_contigs:
            # Declared up front, so htslib never meets an undefined contig in a
            # record: cyvcf2 hands out half-parsed records (and crashes on them)
            # when such a record is also malformed.
            head = header.splitlines(keepends=True)
            declared = [b"##contig=<ID=" + c.encode() + b">\n" for c in new_contigs]
            header = b"".join(head[:-1] + declared + head[-1:])
        got, n_read = self._read_with_htslib(header, lines)
        if len(got) != 1 or got[0].n_variants != len(lines):
            raise InputError(f"htslib read {n_read} records from {len(lines)} "
                             "lines", file=self.path, chrom=chrom[0], pos=int(pos[0]),
                             hint=_HINT)
        return dataclasses.replace(got[0], index=index)

    def _record_error(self, line: bytes, code: int, col: int) -> InputError:
        from genomekit.kernels import vcfparse as k

        chrom, pos = _line_location(line)
        text = line.rstrip(b"\r\n").decode("latin-1")
        cols = text.split("\t")
        n_hdr = len(self._all_samples)
        sample = ""
        value = ""
        if 0 <= col < n_hdr:
            sample = self._all_samples[col]
            value = cols[9 + col] if 9 + col < len(cols) else ""
        if b"\0" in line or code == _ERR_NUL:
            what = "NUL byte in the record"
        elif code == k.ERR_NO_GT:
            what = f"FORMAT '{cols[8]}' names GT but no sample column has a GT value"
        elif code == k.ERR_COLUMNS:
            what = ("empty line" if not text else
                    f"{len(cols)} tab-separated column(s) where a record has at least 8")
        elif code == k.ERR_POS:
            what = f"POS '{cols[1] if len(cols) > 1 else ''}' is not a number"
        elif code == k.ERR_SAMPLES:
            # An empty last column does not count, for htslib.
            found = max(0, len(cols) - 9 - (cols[-1] == ""))
            what = f"{found} sample column(s) where the header names {n_hdr}"
        elif code == k.ERR_GT:
            parts = value.split(":")
            gi = _gt_index(cols)
            gt = parts[gi] if gi < len(parts) else value
            what = f"sample {sample}: GT '{gt}' is not allele numbers or '.' joined by / or |"
        elif code == k.ERR_SUBFIELDS:
            what = f"sample {sample}: '{value}' has more fields than FORMAT '{cols[8]}'"
        elif code == k.ERR_INTEGER:
            what = (f"sample {sample}: '{value}' has a non-integer value for an Integer "
                    f"field of FORMAT '{cols[8]}'")
        elif code == _ERR_CONTIG:
            what = f"contig '{cols[0]}' is not in the header and is not a valid contig name"
        else:
            what = "malformed record"
        return InputError(what, file=self.path, chrom=chrom, pos=pos, hint=_HINT)


class _SourceError(Exception):
    """Damage in the compressed text, with the last whole line read before it."""

    def __init__(self, error: InputError, last_line: bytes | None):
        super().__init__(error.what)
        self.error = error
        self.last_line = last_line


class _HeaderReader:
    """Collects the header lines, up to and including '#CHROM', across buffers."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.done = False

    def feed(self, buf: np.ndarray) -> int:
        """Consume header lines from ``buf``; returns where the records start."""
        from genomekit.kernels.vcfparse import first_newline

        pos = 0
        while pos < buf.size:
            end = first_newline(buf, pos, buf.size) + 1
            line = buf[pos:end].tobytes()
            self.parts.append(line)
            pos = end
            # As htslib reads a header: blank lines are skipped, and the first
            # line with a single '#' (the #CHROM line) ends it.
            text = line.rstrip(b"\n").removesuffix(b"\r")
            if not text:
                continue
            if not text.startswith(b"#"):
                raise InputError("a record before the #CHROM header line",
                                 hint="give a VCF file with a complete header")
            if not text.startswith(b"##"):
                self.done = True
                break
        return pos

    def text(self) -> bytes:
        return b"".join(self.parts)


def _lines(pieces) -> list[bytes]:
    out = []
    for buf, st in pieces:
        for i in range(st.size - 1):
            out.append(buf[st[i]:st[i + 1]].tobytes())
    return out


def _line_location(line: bytes) -> tuple[str | None, int | None]:
    cols = line.rstrip(b"\r\n").split(b"\t", 2)
    chrom = cols[0].decode("latin-1") if cols and cols[0] else None
    pos = int(cols[1]) if len(cols) > 1 and cols[1].isdigit() else None
    return chrom, pos


def _gt_index(cols: list[str]) -> int:
    keys = cols[8].split(":") if len(cols) > 8 else []
    return keys.index("GT") if "GT" in keys else 0
