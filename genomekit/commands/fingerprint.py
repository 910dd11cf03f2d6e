"""`genomekit fingerprint`: is each BAM the sample it is declared to be?

Reads the cohort VCF once for a panel of common biallelic autosomal SNPs and every sample's
genotypes there, counts each BAM's bases at the panel, and scores the BAM against every VCF
sample (genomekit.kernels.fingerprint): the declared sample's LOD, the best-matching
sample, hard-call discordance, a verdict (match, swap, mismatch, inconclusive, not_in_vcf)
and a contamination estimate from allele balance at homozygous sites.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass

import numpy as np

from genomekit.commands._common import (
    allele_index_error,
    autosome_mask,
    check_selection,
    check_threads,
    input_summary,
    open_input,
    ordered_map,
    warn,
    write_summary,
)
from genomekit.errors import InputError, UsageError
from genomekit.io.outputs import OutputSet
from genomekit.progress import Progress

FORMATS = ("parquet", "tsv")
_BASES = frozenset("ACGT")


@dataclass(frozen=True)
class FingerprintOutputs:
    table: str
    summary: str
    pairs: str | None

    @classmethod
    def for_prefix(cls, prefix: str, fmt: str, all_pairs: bool) -> FingerprintOutputs:
        return cls(table=f"{prefix}.fingerprint.{fmt}", summary=f"{prefix}.fingerprint.json",
                   pairs=f"{prefix}.fingerprint_pairs.{fmt}" if all_pairs else None)

    def paths(self) -> list[str]:
        return [p for p in (self.table, self.summary, self.pairs) if p]


@dataclass(frozen=True)
class Settings:
    """The thresholds of a run (the defaults are the command's)."""

    maf: float = 0.05
    min_call_rate: float = 0.9
    max_sites: int = 20_000
    min_mapq: int = 20
    min_baseq: int = 13
    error_rate: float = 0.01
    geno_error: float = 0.01
    min_depth: int = 5
    min_margin: float = 1.0
    lod_threshold: float = 5.0
    max_contamination: float = 0.03
    min_contamination_sites: int = 50

    def check(self) -> None:
        checks = [
            ("--maf", 0.0 <= self.maf < 0.5, "between 0 and 0.5"),
            ("--min-call-rate", 0.0 <= self.min_call_rate <= 1.0, "between 0 and 1"),
            ("--max-sites", self.max_sites >= 1, "at least 1"),
            ("--min-mapq", self.min_mapq >= 0, ">= 0"),
            ("--min-baseq", self.min_baseq >= 0, ">= 0"),
            ("--error-rate", 0.0 < self.error_rate < 0.5, "between 0 and 0.5, exclusive"),
            ("--geno-error", 0.0 < self.geno_error < 1.0, "between 0 and 1, exclusive"),
            ("--min-depth", self.min_depth >= 1, "at least 1"),
            ("--min-margin", math.isfinite(self.min_margin) and self.min_margin >= 0,
             ">= 0"),
            ("--lod-threshold", math.isfinite(self.lod_threshold) and self.lod_threshold > 0,
             "> 0"),
            ("--max-contamination", 0.0 <= self.max_contamination <= 1.0, "between 0 and 1"),
            ("--min-contamination-sites", self.min_contamination_sites >= 1, "at least 1"),
        ]
        for name, ok, what in checks:
            if not ok:
                raise UsageError(f"{name} must be {what}, not {getattr(self, _attr(name))}")


def _attr(option: str) -> str:
    return option.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Panel:
    """The fingerprint sites and every sample's ALT copies there."""

    chrom: list[str]
    pos: np.ndarray  # int64, 1-based
    ref: list[str]
    alt: list[str]
    alt_freq: np.ndarray  # float64
    dosage: np.ndarray  # int8 (n_sites, n_samples), -1 missing
    samples: list[str]
    n_candidates: int
    n_records: int
    n_snvs: int = 0  # biallelic SNVs read
    n_autosomal: int = 0  # ... of them on autosomes
    n_called: int = 0  # ... of those with a complete diploid call
    snv_contigs: tuple[str, ...] = ()  # the contigs of the biallelic SNVs read


@dataclass(frozen=True)
class BamInput:
    path: str
    declared: str | None  # from --manifest; else the SM of the read groups


def read_manifest(path: str) -> list[BamInput]:
    """TSV of ``sample<TAB>bam`` (header line optional; relative paths from the TSV's folder)."""
    try:
        fh = open(path)
    except OSError as e:
        raise UsageError(f"cannot read the manifest: {e.strerror}", file=path) from None
    folder = os.path.dirname(os.path.abspath(path))
    out = []
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\r\n").split("\t")
            if lineno == 1 and cols[0].lower() in ("sample", "sample_id", "sm") and len(cols) > 1 \
                    and cols[1].lower() in ("bam", "cram", "path"):
                continue
            if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
                raise InputError(f"line {lineno}: expected SAMPLE<TAB>BAM", file=path,
                                 hint="separate the columns with a tab")
            bam = cols[1].strip()
            out.append(BamInput(bam if os.path.isabs(bam) else os.path.join(folder, bam),
                                cols[0].strip()))
    if not out:
        raise InputError("no BAMs listed", file=path, hint="give SAMPLE<TAB>BAM lines")
    return out


def run(vcf: str, bams: list[str], out: str, *, manifest: str | None = None,
        fmt: str = "parquet", region: str | None = None, regions_file: str | None = None,
        samples_file: str | None = None, exclude_samples_file: str | None = None,
        engine: str = "auto", reference: str | None = None, all_pairs: bool = False,
        threads: int = 1, force: bool = False, quiet: bool = False, command_line: str = "",
        chunk_variants: int | None = None, **settings) -> dict:
    """Fingerprint ``bams`` (and those of ``manifest``) against the genotypes of ``vcf``.

    ``settings`` are the fields of Settings. Returns the run summary (also written to
    ``OUT.fingerprint.json``).
    """
    started = time.time()
    cfg = Settings(**settings)
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    check_threads(threads)
    check_selection(region, regions_file)
    cfg.check()
    entries = [BamInput(b, None) for b in bams] + (read_manifest(manifest) if manifest else [])
    if not entries:
        raise UsageError("no BAMs given", hint="give BAM files or --manifest")
    outputs = FingerprintOutputs.for_prefix(out, fmt, all_pairs)
    with OutputSet(outputs.paths(), force) as files:
        declared = [_declared(e, reference) for e in entries]
        reader, regions = open_input(vcf, region=region, regions_file=regions_file,
                                     samples_file=samples_file,
                                     exclude_samples_file=exclude_samples_file, engine=engine,
                                     threads=threads, quiet=quiet)
        if not reader.samples:
            reader.close()
            selected = samples_file or exclude_samples_file
            raise InputError(
                "no samples left after -S/--exclude-samples" if selected else
                "no samples (a sites-only VCF): no genotypes to compare the BAMs with", file=vcf,
                hint="check the sample lists" if selected else
                "give the cohort VCF with its samples' genotypes")
        panel = select_panel(reader, cfg, quiet, chunk_variants)
        if not len(panel.pos):
            raise _no_sites_error(vcf, panel, cfg, bool(regions))
        rows, results = _score_all(entries, declared, panel, cfg, reference, files, outputs,
                                   fmt, all_pairs, threads, quiet)
        summary = {
            "command": "fingerprint",
            "command_line": command_line,
            "inputs": input_summary([vcf]) + [
                {**s, "declared_sample": d} for s, d in
                zip(input_summary([e.path for e in entries]), (d[0] for d in declared))],
            "n_samples": len(panel.samples),
            "regions": [str(r) for r in regions] if regions else None,
            "sites": {"records_read": panel.n_records, "candidates": panel.n_candidates,
                      "used": len(panel.pos), "max_sites": cfg.max_sites, "maf": cfg.maf,
                      "min_call_rate": cfg.min_call_rate},
            "settings": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
            "n_bams": len(entries),
            "results": {r: results.count(r) for r in dict.fromkeys(results)},
            "swaps": [{"bam": r["bam"], "declared_sample": r["declared_sample"],
                       "reads_of": r["best_sample"]} for r in rows if r["swap"]],
            "contaminated": [r["bam"] for r in rows if r["contaminated"]],
            "outputs": [os.path.abspath(p) for p in outputs.paths()],
            "elapsed_seconds": round(time.time() - started, 3),
        }
        write_summary(files.tmp(outputs.summary), summary)
        files.commit()
    return summary


def _no_sites_error(vcf: str, panel: Panel, cfg: Settings, regions: bool) -> InputError:
    """Why the VCF gave no fingerprint site: the first filter that left none."""
    where = " in the regions read" if regions else ""
    if panel.n_records == 0:
        what, hint = f"no records{where}", "widen -r/-R" if regions else \
            "give the cohort VCF with its SNP calls"
    elif panel.n_snvs == 0:
        what, hint = (f"no biallelic SNV among the {_n(panel.n_records, 'record')}{where}",
                      "give the cohort VCF with its SNP calls")
    elif panel.n_autosomal == 0:
        contigs = ", ".join(panel.snv_contigs[:5]) + (", ..." if len(panel.snv_contigs) > 5
                                                      else "")
        what, hint = (f"no biallelic SNV on an autosome: the {_n(panel.n_snvs, 'SNV')}{where} "
                      f"{'is' if panel.n_snvs == 1 else 'are'} on {contigs}",
                      "fingerprinting uses the autosomes 1-22 (or chr1-chr22)")
    elif panel.n_called == 0:
        what, hint = ("no complete diploid GT call at the "
                      f"{_n(panel.n_autosomal, 'biallelic autosomal SNV')}{where}",
                      "give a VCF with the samples' genotypes (FORMAT/GT)")
    else:
        what, hint = (f"no site with MAF >= {cfg.maf} and call rate >= {cfg.min_call_rate} "
                      f"among the {_n(panel.n_called, 'called biallelic autosomal SNV')}{where}",
                      "lower --maf or --min-call-rate, or widen -r/-R")
    return InputError(f"no fingerprint site: {what}", file=vcf, hint=hint)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _declared(entry: BamInput, reference) -> tuple[str, list[str], list[str]]:
    """(declared sample, SM values of the read groups, contigs) of a BAM."""
    from genomekit.io.pileup import read_groups

    if not os.path.isfile(entry.path):
        raise InputError("no such file", file=entry.path, hint="check the path")
    sm, contigs = read_groups(entry.path, reference)
    if entry.declared is not None:
        return entry.declared, sm, contigs
    if len(sm) != 1:
        what = "no read group with SM" if not sm else f"read groups of {len(sm)} samples"
        raise InputError(f"{what}: cannot tell which sample it is declared to be",
                         file=entry.path, hint="give it in --manifest (SAMPLE<TAB>BAM)")
    return sm[0], sm, contigs


# The panel ---------------------------------------------------------------------------

def _site_hash(chrom: str, pos: int, ref: str, alt: str) -> int:
    digest = hashlib.blake2b(f"{chrom}:{pos}:{ref}:{alt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1  # fits int64


@dataclass(frozen=True)
class _PanelJob:
    maf: float
    min_call_rate: float

    def __call__(self, chunk):
        """(chunk, panel rows of it, their dosages, ALT frequencies and hashes, and the
        counts of _Counts), or the InputError of the first call naming an allele its record
        lacks."""
        n_samples = chunk.gt.shape[1]
        if chunk.gt.size:
            bad = np.flatnonzero(chunk.gt.max(axis=(1, 2)) >= chunk.n_alleles)
            if len(bad):
                return allele_index_error(chunk, int(bad[0]))
        snv = np.array([len(r) == 1 and r.upper() in _BASES and len(a) == 1
                        and a[0].upper() in _BASES for r, a in zip(chunk.ref, chunk.alts)],
                       dtype=bool) if chunk.n_variants else np.zeros(0, bool)
        snv &= chunk.n_alleles == 2
        keep = snv & autosome_mask(chunk)
        idx = np.flatnonzero(keep)
        gt = chunk.gt[idx]
        if gt.shape[2] < 2:  # a chunk of haploid calls only
            gt = np.full(gt.shape[:2] + (2,), -1, dtype=np.int8)
        diploid = (gt[:, :, 0] >= 0) & (gt[:, :, 1] >= 0)
        if gt.shape[2] > 2:
            diploid &= np.all(gt[:, :, 2:] == -2, axis=2)
        dosage = np.where(diploid, gt[:, :, 0] + gt[:, :, 1], -1).astype(np.int8)
        n_called = diploid.sum(axis=1)
        counts = _Counts(int(snv.sum()), len(idx), int((n_called > 0).sum()),
                         tuple(dict.fromkeys(chunk.chrom[i] for i in np.flatnonzero(snv))))
        alt_copies = np.where(diploid, dosage, 0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = alt_copies / (2.0 * n_called)
        ok = (n_called >= self.min_call_rate * n_samples) & (n_called > 0)
        ok &= (np.minimum(p, 1 - p) >= self.maf) & (p > 0) & (p < 1)
        idx, dosage, p = idx[ok], dosage[ok], p[ok]
        hashes = np.array([_site_hash(chunk.chrom[i], int(chunk.pos[i]), chunk.ref[i],
                                      chunk.alts[i][0]) for i in idx], dtype=np.int64)
        return chunk, idx, dosage, p, hashes, counts


@dataclass(frozen=True)
class _Counts:
    """Records of a chunk at each step of the panel filters (for the no-site message)."""

    snvs: int
    autosomal: int
    called: int
    snv_contigs: tuple[str, ...]


def select_panel(reader, cfg: Settings, quiet: bool,
                 chunk_variants: int | None = None) -> Panel:
    """Biallelic autosomal SNVs with MAF >= cfg.maf over complete diploid calls and a call
    rate >= cfg.min_call_rate; when more than cfg.max_sites qualify, the max_sites with the
    smallest hash of CHROM:POS:REF:ALT (a fixed pseudo-random subset: the same whatever the
    chunking, threads or regions read), in file order."""
    parts: list[tuple] = []
    kept = 0
    n_candidates = n_records = n_snvs = n_autosomal = n_called = 0
    snv_contigs: dict[str, None] = {}
    order = 0
    progress = Progress("fingerprint sites", quiet=quiet)
    try:
        for result in reader.map_chunks(_PanelJob(cfg.maf, cfg.min_call_rate),
                                        chunk_variants):
            if isinstance(result, InputError):
                result.file = reader.path
                raise result
            chunk, idx, dosage, p, hashes, counts = result
            n_records += chunk.n_variants
            n_snvs += counts.snvs
            n_autosomal += counts.autosomal
            n_called += counts.called
            snv_contigs.update(dict.fromkeys(counts.snv_contigs))
            n_candidates += len(idx)
            if len(idx):
                parts.append(([chunk.chrom[i] for i in idx], chunk.pos[idx],
                              [chunk.ref[i] for i in idx], [chunk.alts[i][0] for i in idx],
                              p, dosage, hashes, order + np.arange(len(idx))))
                order += len(idx)
                kept += len(idx)
            if kept > 2 * cfg.max_sites:
                parts = [_smallest(parts, cfg.max_sites)]
                kept = len(parts[0][1])
            progress.update(chunk.n_variants, f"{chunk.chrom[-1]}:{chunk.pos[-1]}")
    finally:
        progress.close()
        samples = list(reader.samples)
        reader.close()
    chrom, pos, ref, alt, p, dosage, _, _ = _smallest(parts, cfg.max_sites) if parts else \
        ([], np.zeros(0, np.int64), [], [], np.zeros(0), np.zeros((0, len(samples)), np.int8),
         None, None)
    return Panel(list(chrom), np.asarray(pos, dtype=np.int64), list(ref), list(alt),
                 np.asarray(p, dtype=np.float64), np.ascontiguousarray(dosage), samples,
                 n_candidates, n_records, n_snvs, n_autosomal, n_called, tuple(snv_contigs))


def _smallest(parts, k):
    """The k sites of smallest hash among the parts, in input order, as one part."""
    chrom = [c for part in parts for c in part[0]]
    ref = [r for part in parts for r in part[2]]
    alt = [a for part in parts for a in part[3]]
    pos, p, dosage, hashes, order = (np.concatenate([part[i] for part in parts])
                                     for i in (1, 4, 5, 6, 7))
    if len(hashes) > k:
        chosen = np.argpartition(hashes, k - 1)[:k]
        chosen = chosen[np.argsort(order[chosen], kind="stable")]
    else:
        chosen = np.arange(len(hashes))
    return ([chrom[i] for i in chosen], pos[chosen], [ref[i] for i in chosen],
            [alt[i] for i in chosen], p[chosen], dosage[chosen], hashes[chosen], order[chosen])


# Scoring -----------------------------------------------------------------------------

def _no_reads_message(bam: str, panel: Panel, bam_contigs: list[str]) -> str:
    """The warning for a BAM without reads at any panel site, saying why if the contig names
    tell."""
    on = list(dict.fromkeys(panel.chrom))
    if set(on) & set(bam_contigs):
        return (f"{bam}: no reads at any of the {len(panel.pos)} fingerprint sites "
                "(another region, or reads filtered by --min-mapq/--min-baseq?)")

    def some(names):
        return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")

    return (f"{bam}: none of the {len(panel.pos)} fingerprint sites is on a contig of the "
            f"BAM (sites on {some(on)}; BAM contigs {some(bam_contigs) or 'none'}): another "
            "reference, or other contig names?")


@dataclass(frozen=True)
class _BamJob:
    panel: Panel
    cfg: Settings
    reference: str | None

    def __call__(self, item):
        from genomekit.io.pileup import count_bases
        from genomekit.kernels import fingerprint as kf
        from genomekit.tables.fingerprint import (
            Comparison,
            contamination_reference,
            fingerprint_row,
            rank,
        )

        entry, (declared, sm, _) = item
        panel, cfg = self.panel, self.cfg
        counts = count_bases(entry.path, panel.chrom, panel.pos, panel.ref, panel.alt,
                             min_mapq=cfg.min_mapq, min_baseq=cfg.min_baseq,
                             reference=self.reference)
        depth = counts.ref + counts.alt
        gl = kf.genotype_loglik(counts.ref, counts.alt, cfg.error_rate)
        calls = kf.call_genotypes(gl, depth, cfg.min_depth, cfg.min_margin)
        cmp = Comparison(*kf.compare_samples(gl, depth, calls, panel.dosage, panel.alt_freq,
                                             cfg.geno_error))
        ranking = rank(panel.samples, cmp, declared, cfg.lod_threshold)
        used = contamination_reference(ranking)
        if used is None:
            contamination = (float("nan"), 0, None)
        else:
            estimate, n_sites = kf.contamination(counts.ref, counts.alt, counts.other,
                                                 np.ascontiguousarray(panel.dosage[:, used]),
                                                 panel.alt_freq)
            contamination = (estimate, int(n_sites), used)
        row = fingerprint_row(entry.path, declared, sm, panel.samples, cmp, ranking, depth,
                              int((calls >= 0).sum()), contamination, cfg.max_contamination,
                              cfg.min_contamination_sites)
        return row, cmp, int((depth > 0).sum())


def _score_all(entries, declared, panel, cfg, reference, files, outputs, fmt, all_pairs,
               threads, quiet):
    from genomekit.io.tables import TableWriter
    from genomekit.tables.fingerprint import PAIRS_SCHEMA, fingerprint_table, pairs_table

    pairs = TableWriter(files.tmp(outputs.pairs), fmt, PAIRS_SCHEMA) if all_pairs else None
    rows = []
    progress = Progress("fingerprint", total=len(entries), unit="BAMs", quiet=quiet)
    try:
        for entry, d, (row, cmp, with_reads) in zip(
                entries, declared,
                ordered_map(_BamJob(panel, cfg, reference), list(zip(entries, declared)),
                            threads)):
            if with_reads == 0:
                warn(_no_reads_message(entry.path, panel, d[2]), quiet)
            rows.append(row)
            if pairs is not None:
                pairs.write(pairs_table(entry.path, d[0], panel.samples, cmp))
            progress.update(1, os.path.basename(entry.path))
    finally:
        progress.close()
        if pairs is not None:
            pairs.close()
    table = fingerprint_table(rows)
    writer = TableWriter(files.tmp(outputs.table), fmt, dict(table.schema))
    writer.write(table)
    writer.close()
    return rows, [r["result"] for r in rows]
