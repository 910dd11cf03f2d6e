"""Streamed VCF/BCF reading with cyvcf2, in chunks of decoded genotypes."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from genomekit.errors import InputError, UsageError
from genomekit.parallel import ordered_map

# Genotype bytes per chunk: bounds memory whatever the number of sites.
CHUNK_BYTES = 16 * 1024 * 1024
MAX_CHUNK_VARIANTS = 4096
INT32_MISSING = np.iinfo(np.int32).min


def default_chunk_variants(n_samples: int) -> int:
    """Records per chunk when the caller names no number: CHUNK_BYTES of diploid int8
    genotypes, 16 to MAX_CHUNK_VARIANTS records."""
    return max(16, min(MAX_CHUNK_VARIANTS, CHUNK_BYTES // max(1, 2 * n_samples)))


@dataclass(frozen=True)
class VariantChunk:
    """Consecutive records of one input file.

    ``gt`` is int8 (int16 when a record has more than 127 alleles), shape
    (n_var, n_samples, ploidy): allele index, -1 missing, -2 padding for calls
    of lower ploidy. ``gq``/``dp`` are int32 (n_var, n_samples) and ``ad`` int32
    (n_var, n_samples, max_alleles), present only when requested; -1 missing.
    """

    chrom: list[str]
    pos: np.ndarray  # int64, 1-based
    ids: list[str]
    ref: list[str]
    alts: list[list[str]]
    n_alleles: np.ndarray  # int32
    gt: np.ndarray
    gq: np.ndarray | None = None
    dp: np.ndarray | None = None
    ad: np.ndarray | None = None
    index: int = 0  # position of the chunk in the stream

    @property
    def n_variants(self) -> int:
        return len(self.pos)


@dataclass
class Region:
    chrom: str
    start: int | None = None  # 1-based inclusive
    end: int | None = None

    def __str__(self) -> str:
        if self.start is None:
            return self.chrom
        return f"{self.chrom}:{self.start}-{self.end if self.end is not None else ''}"


def parse_region(text: str) -> Region:
    """'chr1', 'chr1:100-200', 'chr1:100' or 'chr1:100-' (1-based, inclusive)."""
    chrom, sep, span = text.rpartition(":")
    if not sep:
        return Region(text)
    span = span.replace(",", "")
    try:
        if "-" in span:
            a, b = span.split("-", 1)
            start, end = int(a), (int(b) if b else None)
        else:
            start = end = int(span)
    except ValueError:
        raise UsageError(f"bad region '{text}'",
                         hint="write it as CHROM, CHROM:START-END or CHROM:POS") from None
    if start < 1 or (end is not None and end < start):
        raise UsageError(f"bad region '{text}'", hint="START must be >= 1 and END >= START")
    return Region(chrom, start, end)


def read_bed(path: str) -> list[Region]:
    """Regions of a BED file (0-based half-open) as 1-based inclusive, sorted and merged."""
    spans: dict[str, list[tuple[int, int]]] = {}
    order: list[str] = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            cols = line.rstrip("\n").split("\t")
            try:
                chrom, start, end = cols[0], int(cols[1]), int(cols[2])
            except (IndexError, ValueError):
                raise InputError(f"line {lineno}: expected CHROM<TAB>START<TAB>END",
                                 file=path, hint="give a BED file") from None
            if end <= start or start < 0:
                raise InputError(f"line {lineno}: END must be greater than START",
                                 file=path, hint="fix the BED interval")
            if chrom not in spans:
                spans[chrom] = []
                order.append(chrom)
            spans[chrom].append((start + 1, end))
    regions = []
    for chrom in order:
        merged: list[list[int]] = []
        for s, e in sorted(spans[chrom]):
            if merged and s <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        regions.extend(Region(chrom, s, e) for s, e in merged)
    return regions


def read_sample_list(path: str) -> list[str]:
    """One sample name per line (first column); '#' lines and blank lines ignored."""
    try:
        with open(path) as fh:
            names = [ln.split()[0] for ln in fh if ln.strip() and not ln.startswith("#")]
    except OSError as e:
        raise UsageError(f"cannot read sample list: {e.strerror}", file=path) from None
    return names


def select_samples(path: str, all_samples: list[str], samples: Sequence[str] | None,
                   exclude: Sequence[str]) -> tuple[list[str], list[str]]:
    """The samples to read, in -S order, and the names to exclude that the file lacks.

    Raises InputError for duplicate header names or -S names not in the file, and
    UsageError for a name listed twice in -S.
    """
    known = set(all_samples)
    if len(known) != len(all_samples):
        seen: set[str] = set()
        dup = next(s for s in all_samples if s in seen or seen.add(s))
        raise InputError(f"sample '{dup}' appears twice in the header", file=path,
                         hint="make sample names unique (bcftools reheader)")
    chosen = list(all_samples) if samples is None else list(samples)
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise InputError(f"{len(unknown)} requested sample(s) not in the file, e.g. "
                         f"'{unknown[0]}'", file=path,
                         hint="check -S/--samples against the VCF header")
    excluded = set(exclude)
    chosen = [s for s in chosen if s not in excluded]
    if len(set(chosen)) != len(chosen):
        raise UsageError("a sample is listed twice in -S/--samples", hint="list each sample once")
    # Names to exclude that the file does not have: a typo there would keep a sample in.
    return chosen, sorted(excluded - known)


def header_contigs(raw_header: str) -> list[tuple[str, int | None]]:
    """(ID, length or None) of the ##contig lines of a VCF header, in order."""
    out = []
    for line in raw_header.splitlines():
        if line.startswith("##contig=<"):
            fields = dict(
                kv.split("=", 1) for kv in line[len("##contig=<"):-1].split(",") if "=" in kv
            )
            if "ID" in fields:
                length = fields.get("length")
                out.append((fields["ID"], int(length) if length and length.isdigit() else None))
    return out


def _index_path(path: str) -> str | None:
    for ext in (".tbi", ".csi"):
        if os.path.exists(path + ext):
            return path + ext
    return None


def quiet_htslib(quiet: bool = True) -> None:
    """Silence htslib's own stderr messages (they would break the one-line error contract).

    cyvcf2 carries a private copy of htslib: its log level is set through the
    extension module's exported hts_set_log_level.
    """
    import ctypes

    import cyvcf2.cyvcf2 as ext

    level = 0 if quiet else 3  # HTS_LOG_OFF / HTS_LOG_WARNING
    try:
        ctypes.CDLL(ext.__file__).hts_set_log_level(level)
    except (OSError, AttributeError):
        pass


class VcfReader:
    """A VCF/VCF.gz/BCF file opened for chunked reading of genotypes.

    Samples are selected with ``samples`` (chunk columns in that order) minus ``exclude``;
    excluded samples are never decoded. ``regions`` restricts the records to
    those whose POS falls in a region (each record is read once even when
    regions touch), and needs an index.
    """

    def __init__(self, path: str, *, samples: Sequence[str] | None = None,
                 exclude: Sequence[str] = (), regions: Sequence[Region] | None = None,
                 threads: int = 1, format_fields: Sequence[str] = (), verbose: bool = False):
        import cyvcf2

        quiet_htslib(not verbose)
        self.path = path
        self.threads = max(1, threads)
        if not os.path.exists(path):
            raise InputError("no such file", file=path, hint="check the path")
        try:
            self._vcf = cyvcf2.VCF(path, threads=max(1, threads), strict_gt=False)
        except Exception as e:
            raise InputError(f"cannot read as VCF/BCF ({_short(e)})", file=path,
                             hint="give a valid VCF, VCF.gz or BCF file") from None
        all_samples = list(self._vcf.samples)
        chosen, self.excluded_not_found = select_samples(path, all_samples, samples, exclude)
        self._order = None
        if chosen != all_samples:
            try:
                self._vcf.set_samples(chosen if chosen else [])
            except Exception as e:
                raise InputError(f"cannot select samples ({_short(e)})", file=path) from None
            # htslib keeps the selected columns in file order; chunks follow -S order.
            wanted = set(chosen)
            in_file = {s: i for i, s in enumerate(s for s in all_samples if s in wanted)}
            order = np.array([in_file[s] for s in chosen], dtype=np.int64)
            if not np.array_equal(order, np.arange(len(order))):
                self._order = order
        self.samples = chosen
        self._has_gt = "GT" in self._format_ids()
        self.regions = list(regions) if regions else None
        if self.regions and _index_path(path) is None:
            how = ("compress it with 'bgzip' and run 'bcftools index' on the .vcf.gz"
                   if path.endswith(".vcf") else f"run 'bcftools index {path}'")
            raise InputError("region queries need an index, and none was found", file=path,
                             hint=f"{how}, or drop -r/-R")
        missing = [f for f in format_fields if f not in self._format_ids()]
        self.format_fields = [f for f in format_fields if f not in missing]
        self.missing_format_fields = missing
        self.last_chrom: str | None = None
        self.last_pos: int | None = None
        self.records_read = 0

    def _format_ids(self) -> set[str]:
        ids = set()
        for line in self._vcf.raw_header.splitlines():
            if line.startswith("##FORMAT=<"):
                body = line[len("##FORMAT=<"):]
                for part in body.split(","):
                    if part.startswith("ID="):
                        ids.add(part[3:].rstrip(">"))
                        break
        return ids

    def expected_records(self) -> int | None:
        """Number of records from the index, for progress; None without an index or with regions."""
        if self.regions or _index_path(self.path) is None:
            return None
        try:
            return int(self._vcf.num_records)
        except Exception:
            return None

    @property
    def header(self) -> str:
        return self._vcf.raw_header

    def contigs(self) -> list[tuple[str, int | None]]:
        return header_contigs(self._vcf.raw_header)

    def _records(self):
        if not self.regions:
            yield from self._vcf
            return
        for region in self.regions:
            try:
                it = self._vcf(str(region))
            except Exception as e:
                raise InputError(f"cannot query region {region} ({_short(e)})",
                                 file=self.path, hint="check the region and the index") from None
            for rec in it:
                if region.start is not None and rec.POS < region.start:
                    continue  # starts before the region: belongs to the previous shard
                if region.end is not None and rec.POS > region.end:
                    continue
                yield rec

    def map_chunks(self, func, chunk_variants: int | None = None) -> Iterator:
        """``func(chunk)`` of each chunk, in file order, on the reader's threads."""
        return ordered_map(func, self.chunks(chunk_variants), self.threads)

    def chunks(self, chunk_variants: int | None = None) -> Iterator[VariantChunk]:
        """Yield VariantChunks in file order."""
        n_smp = len(self.samples)
        if chunk_variants is None:
            chunk_variants = default_chunk_variants(n_smp)
        buf: list = []
        index = 0
        it = iter(self._records())
        while True:
            try:
                rec = next(it)
            except StopIteration:
                break
            except InputError:
                raise
            except Exception as e:
                raise self._error(f"unreadable record ({_short(e)})",
                                  "check the file with 'bcftools view'") from None
            self.last_chrom, self.last_pos = rec.CHROM, rec.POS
            self.records_read += 1
            buf.append(self._decode(rec))
            if len(buf) >= chunk_variants:
                yield self._make_chunk(buf, index)
                index += 1
                buf = []
        if buf:
            yield self._make_chunk(buf, index)

    def _error(self, what: str, hint: str) -> InputError:
        if self.last_chrom is None:
            return InputError(what, file=self.path, chrom="first record", hint=hint)
        return InputError(what + " after this record", file=self.path, chrom=self.last_chrom,
                          pos=self.last_pos, hint=hint)

    def _decode(self, rec):
        try:
            alts = list(rec.ALT)
            if len(alts) + 1 > 32767:
                raise ValueError("more than 32767 alleles")
            gt = None
            if self._has_gt and self.samples and "GT" in rec.FORMAT:
                gt = rec.genotype.array()[:, :-1]
                if self._order is not None:
                    gt = gt[self._order]
            fmt = {}
            for name in self.format_fields:
                try:
                    fmt[name] = rec.format(name)
                except KeyError:
                    fmt[name] = None
                if fmt[name] is not None and self._order is not None:
                    fmt[name] = fmt[name][self._order]
            return (rec.CHROM, rec.POS, rec.ID or ".", rec.REF, alts, gt, fmt)
        except Exception as e:
            raise InputError(f"cannot decode record ({_short(e)})", file=self.path,
                             chrom=rec.CHROM, pos=rec.POS,
                             hint="check the record with 'bcftools view'") from None

    def _make_chunk(self, buf: list, index: int) -> VariantChunk:
        n_var = len(buf)
        n_smp = len(self.samples)
        n_alleles = np.array([len(r[4]) + 1 for r in buf], dtype=np.int32)
        ploidy = max([r[5].shape[1] for r in buf if r[5] is not None] or [1])
        # int16 when a record has more than 127 alleles or a call names an allele past 127
        # (which the kernels then report): int8 would wrap it silently.
        top = max([int(r[5].max()) for r in buf if r[5] is not None and r[5].size] or [0])
        dtype = np.int8 if max(int(n_alleles.max()), top) <= 127 else np.int16
        gt = np.full((n_var, n_smp, ploidy), -1, dtype=dtype)
        for i, r in enumerate(buf):
            g = r[5]
            if g is None:
                continue
            p = g.shape[1]
            gt[i, :, :p] = g
            if p < ploidy:
                gt[i, :, p:] = -2
        fields = {}
        width = int(n_alleles.max())
        for name in self.format_fields:
            if name == "AD":
                arr = np.full((n_var, n_smp, width), -1, dtype=np.int32)
            else:
                arr = np.full((n_var, n_smp), -1, dtype=np.int32)
            for i, r in enumerate(buf):
                vals = r[6].get(name)
                if vals is None or vals.size == 0 or vals.dtype.kind not in "iu":
                    continue
                vals = np.where(vals <= INT32_MISSING + 1, -1, vals)
                if name == "AD":
                    w = min(width, vals.shape[1])
                    arr[i, :, :w] = vals[:, :w]
                else:
                    arr[i] = vals[:, 0]
            fields[name.lower()] = arr
        return VariantChunk(
            chrom=[r[0] for r in buf],
            pos=np.array([r[1] for r in buf], dtype=np.int64),
            ids=[r[2] for r in buf],
            ref=[r[3] for r in buf],
            alts=[r[4] for r in buf],
            n_alleles=n_alleles,
            gt=gt,
            gq=fields.get("gq"),
            dp=fields.get("dp"),
            ad=fields.get("ad"),
            index=index,
        )

    def close(self) -> None:
        self._vcf.close()


def contigs_with_records(path: str) -> list[tuple[str, int | None]]:
    """(contig, length or None) of the contigs that hold records, in header order; needs an index."""
    import cyvcf2

    quiet_htslib()
    if _index_path(path) is None:
        raise InputError("planning shards needs an index, and none was found", file=path,
                         hint=f"run 'bcftools index {path}'")
    vcf = cyvcf2.VCF(path)
    lengths = dict(zip(vcf.seqnames, vcf.seqlens)) if vcf.seqlens else {}
    out = []
    try:
        for name in vcf.seqnames:
            try:
                first = next(iter(vcf(name)), None)
            except Exception:
                continue  # contig absent from the index
            if first is not None:
                length = lengths.get(name)
                out.append((name, int(length) if length and length > 0 else None))
    finally:
        vcf.close()
    return out


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
