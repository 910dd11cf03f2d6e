"""`genomekit bam-qc`: flag counts, depth of coverage and karyotype by depth per BAM."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from genomekit.commands._common import (
    check_threads,
    input_summary,
    ordered_map,
    warn,
    write_summary,
)
from genomekit.errors import InputError, UsageError
from genomekit.genome import BUILDS, PARS, contig_kind, is_autosome
from genomekit.io.outputs import OutputSet
from genomekit.progress import Progress

FORMATS = ("parquet", "tsv")
# mosdepth's default --flag: unmapped, secondary, QC-failed, duplicate.
DEFAULT_EXCLUDE_FLAG = 1796
# The starting sizes of the depth ring and the mate table (they grow when a record
# needs more).
RING_SIZE = 1 << 12
MATE_SLOTS = 1 << 12


@dataclass(frozen=True)
class BamQcOutputs:
    table: str
    dist: str
    regions: str | None
    summary: str

    @classmethod
    def for_prefix(cls, prefix: str, fmt: str, by: bool) -> BamQcOutputs:
        return cls(table=f"{prefix}.bam_qc.{fmt}", dist=f"{prefix}.coverage_dist.{fmt}",
                   regions=f"{prefix}.regions.{fmt}" if by else None,
                   summary=f"{prefix}.bam_qc.json")

    def paths(self) -> list[str]:
        return [p for p in (self.table, self.dist, self.regions, self.summary) if p]


@dataclass(frozen=True)
class Options:
    min_mapq: int = 0
    exclude_flag: int = DEFAULT_EXCLUDE_FLAG
    include_flag: int = 0
    fast_mode: bool = False
    build: str = "GRCh38"


@dataclass
class BamCoverage:
    """What one pass over a BAM gives: flag counts, and per contig (header order) whether
    it has records, its summed depth and its depth histogram (bases per depth), and per
    BED region (output order) its contig and summed depth."""

    path: str
    sample: str
    names: tuple
    lengths: tuple
    counts: np.ndarray
    found: np.ndarray
    sums: np.ndarray
    hists: dict = field(default_factory=dict)
    region_hists: dict = field(default_factory=dict)
    regions: list = field(default_factory=list)  # (tid, BedRegion) in output order
    region_sums: np.ndarray | None = None
    nonpar: dict = field(default_factory=dict)  # 'X'/'Y' -> (summed depth, bases)
    skipped_events: int = 0
    span_bad: bool = False  # a shard's look-back missed a read (see LOOKBACK)
    ranges: dict = field(default_factory=dict)  # tid -> the [start, end) counted here


def _parse_list(text, name: str) -> tuple:
    try:
        values = tuple(float(x) for x in str(text).split(","))
    except ValueError:
        raise UsageError(f"{name} must be numbers separated by commas, not '{text}'") from None
    return values


def _check_args(bams, fmt, build, threads, min_mapq, exclude_flag, include_flag, thresholds,
                x_ratio, y_ratio):
    if not bams:
        raise UsageError("give at least one BAM file")
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    if build not in BUILDS:
        raise UsageError(f"--build must be one of {', '.join(BUILDS)}, not '{build}'")
    check_threads(threads)
    if min_mapq < 0:
        raise UsageError(f"--min-mapq must be >= 0, not {min_mapq}")
    for name, value in (("--exclude-flag", exclude_flag), ("--include-flag", include_flag)):
        if not 0 <= value <= 0xFFFF:
            raise UsageError(f"{name} must be between 0 and 65535, not {value}")
    ts = _parse_list(thresholds, "--thresholds")
    if not ts or any(t != int(t) or t < 0 for t in ts):
        raise UsageError(f"--thresholds must be depths >= 0 separated by commas, not "
                         f"'{thresholds}'")
    ts = tuple(sorted({int(t) for t in ts}))
    bounds = []
    for name, text in (("--x-ratio", x_ratio), ("--y-ratio", y_ratio)):
        lo_hi = _parse_list(text, name)
        if len(lo_hi) != 2 or not 0 <= lo_hi[0] <= lo_hi[1]:
            raise UsageError(f"{name} must be LOW,HIGH with 0 <= LOW <= HIGH, not '{text}'")
        bounds.append(lo_hi)
    if len(set(bams)) != len(bams):
        raise UsageError("a BAM file is given twice")
    return ts, bounds[0], bounds[1]


def run(bams: list[str], out: str, *, fmt: str = "parquet", by: str | None = None,
        reference: str | None = None, min_mapq: int = 0,
        exclude_flag: int = DEFAULT_EXCLUDE_FLAG, include_flag: int = 0,
        fast_mode: bool = False, thresholds: str = "1,10,20,30", x_ratio: str = "0.65,0.8",
        y_ratio: str = "0.05,0.1", build: str = "GRCh38", threads: int = 1,
        force: bool = False, quiet: bool = False, command_line: str = "") -> dict:
    """QC every BAM of ``bams`` and write the outputs named by ``out``.

    Returns the run summary (also written to ``OUT.bam_qc.json``).
    """
    from genomekit.io.bam import read_bed_regions
    from genomekit.kernels.coverage import FLAGSTAT_NAMES
    from genomekit.tables.bam_qc import (
        COVERAGE_DIST_SCHEMA,
        REGIONS_SCHEMA,
        is_chromosome,
        qc_table,
    )

    started = time.time()
    bams = list(bams)
    ts, xb, yb = _check_args(bams, fmt, build, threads, min_mapq, exclude_flag, include_flag,
                             thresholds, x_ratio, y_ratio)
    for p in bams:
        if not os.path.isfile(p):
            raise UsageError("no such file", file=p, hint="check the BAM path")
    if reference is not None and not os.path.isfile(reference):
        raise UsageError("no such file", file=reference, hint="check the --reference path")
    outputs = BamQcOutputs.for_prefix(out, fmt, by is not None)
    options = Options(min_mapq, exclude_flag, include_flag, fast_mode, build)
    with OutputSet(outputs.paths(), force) as files:
        bed = read_bed_regions(by) if by else None
        total = sum(os.path.getsize(p) for p in bams)
        progress = Progress("bam-qc", total=total, unit="bytes", quiet=quiet)
        lock = threading.Lock()

        def advance(n, where):
            with lock:
                progress.update(n, where)

        # BAMs run side by side on the threads; each BAM inflates on its share of them.
        workers = min(threads, len(bams))
        per_bam = max(1, threads // workers)
        job = _ScanJob(options, bed, by, reference, per_bam, advance, quiet)
        rows, dists, regions = [], [], []
        chromosomes: dict[str, None] = {}
        try:
            for cov in ordered_map(job, bams, workers):
                row, dist, reg = _summarize(cov, ts, xb, yb, bed is not None)
                rows.append(row)
                dists.append(dist)
                if reg is not None:
                    regions.append(reg)
                for name in cov.names:
                    if is_chromosome(name):
                        chromosomes[name] = None
                if cov.skipped_events:
                    warn(f"{cov.path}: {cov.skipped_events} mate-overlap corrections fell "
                         "before reads already counted (mate fields that contradict the "
                         "records); they were left out", quiet)
        finally:
            progress.close()
        _write(files.tmp(outputs.table), fmt, qc_table(rows, ts, list(chromosomes)))
        _write_frames(files.tmp(outputs.dist), fmt, dists, COVERAGE_DIST_SCHEMA)
        if outputs.regions:
            _write_frames(files.tmp(outputs.regions), fmt, regions, REGIONS_SCHEMA)
        karyotypes: dict[str, int] = {}
        for r in rows:
            k = r["karyotype"] or "unknown"
            karyotypes[k] = karyotypes.get(k, 0) + 1
        summary = {
            "command": "bam-qc",
            "command_line": command_line,
            "inputs": input_summary(bams + ([by] if by else [])),
            "n_bams": len(bams),
            "samples": [r["sample"] for r in rows],
            "depth_rules": {"min_mapq": min_mapq, "exclude_flag": exclude_flag,
                            "include_flag": include_flag, "fast_mode": fast_mode,
                            "genome": "BED regions (--by)" if by else
                            "contigs with at least one record"},
            "thresholds": list(ts),
            "karyotype_thresholds": {"x_ratio_one_x": xb[0], "x_ratio_two_x": xb[1],
                                     "y_ratio_absent": yb[0], "y_ratio_present": yb[1]},
            "karyotypes": karyotypes,
            "build": build,
            "flagstat_columns": [f"n_{n}" for n in FLAGSTAT_NAMES],
            "outputs": [os.path.abspath(p) for p in outputs.paths()],
            "elapsed_seconds": round(time.time() - started, 3),
        }
        write_summary(files.tmp(outputs.summary), summary)
        files.commit()
    return summary


def _write(path, fmt, df):
    _write_frames(path, fmt, [df], dict(df.schema))


def _write_frames(path, fmt, frames, schema):
    """One table from data frames of one schema: TSV through TableWriter; Parquet written
    by polars in one piece (the tables are small; this spares importing pyarrow)."""
    import polars as pl

    from genomekit.io.tables import TableWriter

    frames = [df for df in frames if df.height]
    if fmt == "parquet":
        table = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
        table.write_parquet(path, compression="zstd")
        return
    writer = TableWriter(path, fmt, schema)
    try:
        for df in frames:
            writer.write(df)
    finally:
        writer.close()


class _StopScan(Exception):
    """A shard reached its stop: no more records are wanted."""


class _ShardsFailed(Exception):
    """The shards cannot give the file's results; it is read in one pass instead."""


class _ScanJob:
    """One pass over one BAM (callable on a worker thread).

    With ``threads`` > 1 and a BAM index (.bai), the BAM is read in that many shards side
    by side, each from its own virtual offset, each on one thread; the shards' counts add
    up to those of one pass (see LOOKBACK). Otherwise, one pass reads the file and
    inflates its blocks on ``threads`` threads.
    """

    def __init__(self, options, bed, bed_path, reference, threads, advance, quiet):
        self.options = options
        self.bed = bed
        self.bed_path = bed_path
        self.reference = reference
        self.threads = threads
        self.advance = advance
        self.quiet = quiet

    def __call__(self, path: str) -> BamCoverage:
        from genomekit.io.bam import BamReader, sniff

        if self.threads > 1 and sniff(path) == "bam":
            with BamReader(path) as reader:
                header = reader.header
            sample = _sample_of(path, header)
            plan = _shard_plan(path, header, self.threads)
            if plan is not None:
                done = [0]

                def advance(n, where):
                    done[0] += n
                    self.advance(n, where)

                try:
                    return self._sharded(path, sample, header, plan, advance)
                except (_ShardsFailed, InputError):
                    # One pass reads the file again, and reports its damage, if any.
                    self.advance(-done[0], "")
        return self._one_pass(path)

    def _one_pass(self, path) -> BamCoverage:
        from genomekit.io.bam import BamReader

        with BamReader(path, threads=self.threads, reference=self.reference) as reader:
            header = reader.header
            scan = _Scan(path, _sample_of(path, header), header, self.options)
            scan.set_regions(self.bed, self.bed_path, self.quiet)
            self._read(reader, scan, self.advance)
            self.advance(max(0, reader.size - reader.compressed_done())
                         if reader.kind == "bam" else 0, scan.where())
            return scan.finish()

    @staticmethod
    def _read(reader, scan, advance) -> None:
        last = [0]

        def consume(buf, start):
            used = scan.feed(buf, start)
            done = reader.compressed_done()
            advance(done - last[0], scan.where())
            last[0] = done
            return used

        try:
            reader.scan(consume)
        except _StopScan:
            pass

    def _sharded(self, path, sample, header, plan, advance) -> BamCoverage:
        from concurrent.futures import ThreadPoolExecutor

        from genomekit.io.bam import BamReader

        def run(shard):
            lim, voffset = shard
            with BamReader(path, threads=1, start=voffset) as reader:
                scan = _Scan(path, sample, header, self.options, lim)
                scan.set_regions(self.bed, self.bed_path, True)
                self._read(reader, scan, advance)
                return scan.finish()

        with ThreadPoolExecutor(max_workers=len(plan)) as pool:
            parts = list(pool.map(run, plan))
        return _merge(parts)


def _sample_of(path, header) -> str:
    samples = header.samples()
    if not samples:
        raise InputError("no sample name: no @RG header line has an SM tag",
                         file=path, hint="add one, e.g. samtools addreplacerg -r "
                                         "'ID:rg1\\tSM:NAME'")
    if len(samples) > 1:
        raise InputError(f"read groups of several samples ({', '.join(samples[:3])})",
                         file=path, hint="give one BAM per sample")
    if header.sort_order not in (None, "coordinate"):
        raise InputError(f"the header says the file is sorted by "
                         f"{header.sort_order}, not by coordinate", file=path,
                         hint="sort it with samtools sort")
    return samples[0]


# A shard that starts at position P of a contig also reads the records of the LOOKBACK
# bp before P, for the depth they add from P on (reads that start before P and end
# after it); the shard before it stops at P and checks that none of its records that
# start before P - LOOKBACK reaches past P (else the file is read in one pass). Shards
# start at 16 kb windows of the index's linear index, splitting the compressed bytes
# evenly.
LOOKBACK = 1 << 17
_WINDOW = 1 << 14


def _shard_plan(path, header, n):
    """The shards of a BAM: (kernel limits, virtual offset to read from or None) each, or
    None when the file has no usable .bai or too few windows to split."""
    from genomekit.io.bam import find_bai, read_bai_linear
    from genomekit.kernels import coverage as kc

    index = find_bai(path)
    linear = read_bai_linear(index, len(header.names)) if index else None
    if not linear:
        return None
    size = os.path.getsize(path)
    cands = []  # (compressed offset, tid, window)
    for tid, lin in enumerate(linear):
        nonzero = np.flatnonzero(lin)
        if nonzero.size < 2:
            continue
        # A split at window w needs a record of the contig before it in the shard
        # before: the contig's first record starts before its first window's end.
        for w in nonzero[1:]:
            cands.append((int(lin[w]) >> 16, tid, int(w)))
    if not cands:
        return None
    cands.sort()
    offsets = np.array([c[0] for c in cands], np.int64)
    splits = []
    for k in range(1, n):
        j = int(np.clip(np.searchsorted(offsets, k * size // n), 0, len(cands) - 1))
        _, tid, w = cands[j]
        if not splits or (tid, w) > splits[-1]:
            splits.append((tid, w))
    if not splits:
        return None
    plan = []
    bounds = [None, *splits, None]
    for k in range(len(bounds) - 1):
        lim = np.array([-1, -1, -1, -1, kc.NO_STOP, 0, -1], np.int64)
        voffset = None
        if bounds[k] is not None:
            tid, w = bounds[k]
            start = w * _WINDOW
            look = max(0, start - LOOKBACK)
            lin = linear[tid]
            first = look // _WINDOW
            before = np.flatnonzero(lin[:first + 1])
            voffset = int(lin[before[-1]] if before.size else lin[np.flatnonzero(lin)[0]])
            lim[kc.L_LOOK_KEY], lim[kc.L_LOOK_POS] = tid, look
            lim[kc.L_START_KEY], lim[kc.L_START_POS] = tid, start
        if bounds[k + 1] is not None:
            tid, w = bounds[k + 1]
            stop = w * _WINDOW
            lim[kc.L_STOP_KEY], lim[kc.L_STOP_POS] = tid, stop
            lim[kc.L_CHECK_POS] = stop - LOOKBACK
        plan.append((lim, voffset))
    return plan


def _merge(parts: list) -> BamCoverage:
    """The results of the shards of one BAM, added up; _ShardsFailed when a shard's
    look-back missed a read, or the shards do not cover a contig they found exactly."""
    first = parts[0]
    if any(p.span_bad for p in parts):
        raise _ShardsFailed("a read reaches past a shard's look-back")
    n_ref = len(first.names)
    found = np.zeros(n_ref, bool)
    for p in parts:
        found |= p.found
    for tid in np.flatnonzero(found):
        spans = sorted(p.ranges[tid] for p in parts if tid in p.ranges)
        edge = 0
        for a, b in spans:
            if a != edge:
                raise _ShardsFailed("the shards do not tile a contig")
            edge = b
        if edge != first.lengths[tid]:
            raise _ShardsFailed("the shards do not tile a contig")
    hists: dict = {}
    region_hists: dict = {}
    for p in parts:
        for store, own in ((hists, p.hists), (region_hists, p.region_hists)):
            for tid, h in own.items():
                if tid in store:
                    a = store[tid]
                    big = a if a.size >= h.size else h
                    small = h if big is a else a
                    big = big.copy()
                    big[:small.size] += small
                    store[tid] = big
                else:
                    store[tid] = h.copy()
    nonpar: dict = {}
    for p in parts:
        for kind, (s, n) in p.nonpar.items():
            acc = nonpar.setdefault(kind, [0, n])
            acc[0] += s
    return BamCoverage(
        path=first.path, sample=first.sample, names=first.names, lengths=first.lengths,
        counts=sum(p.counts for p in parts), found=found, sums=sum(p.sums for p in parts),
        hists=hists, region_hists=region_hists, regions=first.regions,
        region_sums=sum(p.region_sums for p in parts),
        nonpar={k: tuple(v) for k, v in nonpar.items()},
        skipped_events=sum(p.skipped_events for p in parts))


class _Scan:
    """The kernels' state for one BAM, and the loop that reacts to their statuses."""

    def __init__(self, path, sample, header, options: Options, lim=None):
        from genomekit.kernels import coverage as kc

        self.kc = kc
        self.path = path
        self.sample = sample
        self.header = header
        self.options = options
        n_ref = len(header.names)
        self.lengths = np.array(header.lengths, dtype=np.int64)
        self.st = kc.new_state()
        self.opt = np.array([options.min_mapq, options.exclude_flag, options.include_flag,
                             int(options.fast_mode)], dtype=np.int64)
        # The whole file, or a shard of it (_shard_plan).
        self.lim = (np.array([-1, -1, -1, -1, kc.NO_STOP, 0, -1], np.int64) if lim is None
                    else lim)
        self.ranges: dict[int, tuple[int, int]] = {}
        self.counts = np.zeros((2, kc.N_COUNTS), np.int64)
        self.ring = np.zeros(RING_SIZE, np.int32)
        self.dep = np.zeros(RING_SIZE, np.int32)
        self.hist = np.zeros(kc.HIST_SIZE, np.int64)
        self.rhist = np.zeros(kc.HIST_SIZE, np.int64)
        self._new_mates(MATE_SLOTS, MATE_SLOTS // 2, 32 * MATE_SLOTS, 4 * MATE_SLOTS)
        self.bloom = np.zeros(1 << 12, np.int32)
        self.found = np.zeros(n_ref, bool)
        self.sums = np.zeros(n_ref, np.int64)
        self.hists: dict[int, np.ndarray] = {}
        self.region_hists: dict[int, np.ndarray] = {}
        self.skipped = 0
        self.n_ref = n_ref
        self._none = np.zeros(0, np.int64)
        self._regs = (self._none,) * 6

    def _new_mates(self, slots, entries, names, cigars):
        from genomekit.kernels.coverage import N_ENTRY

        self.hkey = np.zeros(slots, np.int64)
        self.hslot = np.full(slots, -1, np.int64)
        self.ents = np.zeros((entries, N_ENTRY), np.int64)
        self.npool = np.zeros(names, np.uint8)
        self.cpool = np.zeros(cigars, np.int64)

    def set_regions(self, bed, bed_path, quiet):
        """Per contig: the BED regions (counted in the region histogram) and the pieces
        of chrX and chrY outside the PARs (for the karyotype), as kernel arrays."""
        index = {n: i for i, n in enumerate(self.header.names)}
        per: dict[int, list] = {}
        self.bed_regions: list = []
        if bed is not None:
            missing: dict[str, int] = {}
            for r in bed:
                tid = index.get(r.chrom)
                if tid is None:
                    missing[r.chrom] = missing.get(r.chrom, 0) + 1
                    continue
                if r.end > self.lengths[tid]:
                    raise InputError(f"line {r.line}: region {r.chrom}:{r.start}-{r.end} ends "
                                     f"after the end of {r.chrom} ({self.lengths[tid]} bp in "
                                     f"{self.path})", file=bed_path,
                                     hint="use a BED file made for this reference")
                self.bed_regions.append((tid, r))
            if missing:
                chrom, n = next(iter(missing.items()))
                warn(f"{bed_path}: {sum(missing.values())} region(s) on contigs that "
                     f"{self.path} does not have (e.g. {n} on {chrom}) are left out", quiet)
            # mosdepth's order: contigs as in the header, regions by start (stable).
            order = sorted(range(len(self.bed_regions)),
                           key=lambda k: (self.bed_regions[k][0], self.bed_regions[k][1].start))
            self.bed_regions = [self.bed_regions[k] for k in order]
            for k, (tid, r) in enumerate(self.bed_regions):
                per.setdefault(tid, []).append((r.start, r.end, 1, k))
        # chrX/chrY outside the PARs: the whole contig, or its BED regions, clipped.
        self.nonpar_keys: list = []
        for tid, name in enumerate(self.header.names):
            kind = contig_kind(name)
            if kind is None:
                continue
            pars = [(a - 1, b) for a, b in PARS[self.options.build][kind]]
            spans = ([(r.start, r.end) for t, r in self.bed_regions if t == tid]
                     if bed is not None else [(0, int(self.lengths[tid]))])
            for s, e in spans:
                for a, b in _minus(s, e, pars):
                    per.setdefault(tid, []).append((a, b, 0, len(self.bed_regions)
                                                    + len(self.nonpar_keys)))
                    self.nonpar_keys.append((kind, b - a))
        self.region_sums = np.zeros(len(self.bed_regions) + len(self.nonpar_keys), np.int64)
        self.contig_regions: dict[int, tuple] = {}
        for tid, items in per.items():
            items.sort(key=lambda x: x[0])
            rs = np.array([x[0] for x in items], np.int64)
            re = np.array([x[1] for x in items], np.int64)
            rkind = np.array([x[2] for x in items], np.int64)
            rsum = np.zeros(len(items), np.int64)
            out = np.array([x[3] for x in items], np.int64)
            self.contig_regions[tid] = (rs, re, rkind, np.maximum.accumulate(re), rsum, out)

    def where(self) -> str:
        tid = int(self.st[self.kc.S_TID])
        if tid < 0:
            return ""
        return f"{self.header.names[tid]}:{int(self.st[self.kc.S_WS]) + 1}"

    def feed(self, buf: np.ndarray, start: int = 0) -> int:
        """Count the complete records of ``buf[start:]``; returns the offset of the first
        incomplete one."""
        kc = self.kc
        o = start
        while True:
            status, o = kc.accumulate(
                buf, o, buf.size, self.n_ref, self.st, self.opt, self.lim, self.counts,
                self.ring,
                self.dep, self.hist, self.rhist, *self._regs[:5], self.hkey, self.hslot,
                self.ents, self.npool, self.cpool, self.bloom)
            if status == kc.DONE:
                return o
            if status == kc.NEW_CONTIG:
                self._close_contig()
                self._open_contig(_i32(buf, o + 4))
            elif status == kc.GROW_RING:
                self._grow_ring()
            elif status == kc.GROW_MATES:
                self._grow_mates()
            elif status == kc.ERR_UNSORTED:
                self._unsorted(_i32(buf, o + 4), _i32(buf, o + 8))
            elif status == kc.STOP:
                raise _StopScan
            else:
                self._bad_record(int(self.st[kc.S_ERROR]))

    def _bad_record(self, err):
        from genomekit.kernels import bamparse as kb

        what = {kb.ERR_BLOCK_SIZE: "a record's size does not match its fields",
                kb.ERR_TID: "a record names a reference the header does not have",
                kb.ERR_NAME: "a record's read name is empty or not NUL-terminated",
                kb.ERR_CIGAR_OP: "a record has an unknown CIGAR operation",
                kb.ERR_LONG_CIGAR: "a record keeps its CIGAR in the CG tag (over 65535 "
                                   "operations), which is not supported",
                kb.ERR_POS: "a record has a negative position"}[err]
        where = self.where()
        raise InputError(f"{what} (after {where})" if where else what, file=self.path,
                         hint="the file is damaged or not valid BAM; check it with "
                              "samtools quickcheck / samtools view")

    def _unsorted(self, tid, pos):
        chrom = self.header.names[tid] if tid >= 0 else "*"
        raise InputError("the records are not sorted by coordinate", file=self.path,
                         chrom=chrom, pos=pos + 1, hint="sort it with samtools sort")

    def _open_contig(self, tid):
        kc = self.kc
        st = self.st
        st[kc.S_TID] = tid
        for k in (kc.S_WS, kc.S_DEPTH, kc.S_SUM, kc.S_MAXD, kc.S_RMAXD, kc.S_REG_I,
                  kc.S_FOUND, kc.S_MAXEV, kc.M_ENTRIES, kc.M_LIVE, kc.M_USED, kc.M_NAMES,
                  kc.M_CIGARS):
            st[k] = 0
        self.hslot.fill(-1)
        self.bloom.fill(0)
        key = tid if tid >= 0 else kc.UNPLACED
        lim = self.lim
        start = int(lim[kc.L_START_POS]) if key == lim[kc.L_START_KEY] else 0
        end = (int(lim[kc.L_STOP_POS]) if key == lim[kc.L_STOP_KEY]
               else int(self.lengths[tid]) if tid >= 0 else 0)
        st[kc.S_WS] = start
        st[kc.S_LENGTH] = end
        if tid >= 0:
            self.ranges[tid] = (start, end)
        self._regs = self.contig_regions.get(tid, (self._none,) * 6)

    def _close_contig(self):
        kc = self.kc
        st = self.st
        tid = int(st[kc.S_TID])
        if tid < 0:
            return
        kc.finish_contig(st, self.ring, self.dep, self.hist, self.rhist, *self._regs[:5])
        self.found[tid] = bool(st[kc.S_FOUND])
        self.sums[tid] = st[kc.S_SUM]
        top = int(st[kc.S_MAXD]) + 1
        self.hists[tid] = self.hist[:top].copy()
        self.hist[:top] = 0
        top = int(st[kc.S_RMAXD]) + 1
        if self._regs[2].any():
            self.region_hists[tid] = self.rhist[:top].copy()
        self.rhist[:top] = 0
        self.region_sums[self._regs[5]] = self._regs[4]
        self.skipped += int(st[kc.S_SKIPPED])
        st[kc.S_SKIPPED] = 0

    def _grow_ring(self):
        kc = self.kc
        old = self.ring
        ws = int(self.st[kc.S_WS])
        size = old.size * 2
        ring = np.zeros(size, np.int32)
        pos = np.arange(ws, ws + old.size, dtype=np.int64)
        ring[pos & (size - 1)] = old[pos & (old.size - 1)]
        self.ring = ring
        self.dep = np.zeros(size, np.int32)

    def _grow_mates(self):
        kc = self.kc
        live, names, cigars = kc.mates_live(self.hslot, self.ents)
        need = live + 1
        slots = max(self.hkey.size, 1 << int(np.ceil(np.log2(4 * need))))
        old = (self.hkey, self.hslot, self.ents, self.npool, self.cpool)
        self._new_mates(slots, max(self.ents.shape[0], 2 * need),
                        max(self.npool.size, 2 * (names + int(self.st[kc.S_NEED_NAME]))),
                        max(self.cpool.size, 2 * (cigars + int(self.st[kc.S_NEED_CIGAR]))))
        kc.mates_rebuild(self.st, *old, self.hkey, self.hslot, self.ents, self.npool,
                         self.cpool)

    def finish(self) -> BamCoverage:
        self._close_contig()
        self.st[self.kc.S_TID] = -1
        nonpar: dict[str, list[int]] = {}
        base = len(self.bed_regions)
        for k, (kind, length) in enumerate(self.nonpar_keys):
            acc = nonpar.setdefault(kind, [0, 0])
            acc[0] += int(self.region_sums[base + k])
            acc[1] += length
        return BamCoverage(
            path=self.path, sample=self.sample, names=self.header.names,
            lengths=self.header.lengths, counts=self.counts, found=self.found,
            sums=self.sums, hists=self.hists, region_hists=self.region_hists,
            regions=self.bed_regions, region_sums=self.region_sums[:base],
            nonpar={k: tuple(v) for k, v in nonpar.items()}, skipped_events=self.skipped,
            span_bad=bool(self.st[self.kc.S_SPAN_BAD]), ranges=self.ranges)


def _i32(buf: np.ndarray, o: int) -> int:
    return int(buf[o:o + 4].view("<i4")[0])


def _minus(s: int, e: int, cuts) -> list[tuple[int, int]]:
    """The parts of [s, e) outside the intervals ``cuts``."""
    pieces = [(s, e)]
    for a, b in cuts:
        nxt = []
        for x, y in pieces:
            if b <= x or a >= y:
                nxt.append((x, y))
                continue
            if x < a:
                nxt.append((x, a))
            if b < y:
                nxt.append((b, y))
        pieces = nxt
    return [(x, y) for x, y in pieces if y > x]


def _summarize(cov: BamCoverage, thresholds, xb, yb, by: bool):
    """The table row, the distribution rows and the region rows of one BAM."""
    import polars as pl

    from genomekit.kernels.coverage import FLAGSTAT_NAMES
    from genomekit.tables.bam_qc import (
        dist_rows,
        flag_columns,
        frac_at_least,
        infer_karyotype,
        is_chromosome,
        regions_rows,
        threshold_column,
    )

    row = {"sample": cov.sample, "bam": cov.path}
    row.update(flag_columns(cov.counts, FLAGSTAT_NAMES))
    pm = row["n_primary_mapped"]
    row["mean_mapq"] = float(cov.counts[0, len(FLAGSTAT_NAMES)]) / pm if pm else None
    lengths = np.array(cov.lengths, dtype=np.int64)
    n_ref = len(cov.names)
    # Per contig: bases and summed depth of the genome definition.
    if by:
        c_len = np.zeros(n_ref, np.int64)
        c_sum = np.zeros(n_ref, np.int64)
        has = np.zeros(n_ref, bool)
        for k, (tid, r) in enumerate(cov.regions):
            c_len[tid] += r.end - r.start
            c_sum[tid] += cov.region_sums[k]
            has[tid] = True
        hists = cov.region_hists
    else:
        c_len, c_sum, has = lengths, cov.sums, np.ones(n_ref, bool)
        hists = cov.hists
    counted = cov.found & has
    genome = int(c_len[counted].sum())
    depth_sum = int(c_sum[counted].sum())
    total = _sum_hists([hists[t] for t in np.flatnonzero(counted) if t in hists])
    row["genome_bases"] = genome
    row["sum_depth"] = depth_sum
    row["mean_depth"] = depth_sum / genome if genome else None
    auto = np.array([is_autosome(n) for n in cov.names], bool) & has
    a_len = int(c_len[auto].sum())
    row["mean_depth_autosomes"] = int(c_sum[auto].sum()) / a_len if a_len else None
    ratios = {}
    for kind in ("X", "Y"):
        s, n = cov.nonpar.get(kind, (0, 0))
        ratios[kind] = (s / n / row["mean_depth_autosomes"]
                        if n and row["mean_depth_autosomes"] else None)
    row["x_depth_ratio"], row["y_depth_ratio"] = ratios["X"], ratios["Y"]
    row["karyotype"], row["karyotype_reason"] = infer_karyotype(
        ratios["X"], ratios["Y"], xb[0], xb[1], yb[0], yb[1])
    for t in thresholds:
        row[threshold_column(t)] = frac_at_least(total, genome, t)
    for tid, name in enumerate(cov.names):
        if is_chromosome(name):
            row[f"mean_depth_{name}"] = (float(c_sum[tid]) / c_len[tid]
                                         if has[tid] and c_len[tid] else None)
    suffix = "_region" if by else ""
    frames = [dist_rows(cov.sample, cov.names[t] + suffix, hists[t])
              for t in np.flatnonzero(counted) if is_chromosome(cov.names[t]) and t in hists]
    frames.append(dist_rows(cov.sample, "total" + suffix, total))
    dist = pl.concat(frames)
    reg = None
    if by:
        reg = regions_rows(cov.sample, [cov.names[t] for t, _ in cov.regions],
                           np.array([r.start for _, r in cov.regions], np.int64),
                           np.array([r.end for _, r in cov.regions], np.int64),
                           [r.name for _, r in cov.regions], cov.region_sums)
    return row, dist, reg


def _sum_hists(hists) -> np.ndarray:
    size = max((h.size for h in hists), default=1)
    total = np.zeros(size, np.int64)
    for h in hists:
        total[:h.size] += h
    return total
