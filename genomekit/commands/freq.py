"""`genomekit freq`: per-allele cohort counts and frequencies from a VCF/BCF."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from genomekit.commands._common import (
    allele_index_error,
    check_selection,
    check_sheet_samples,
    check_threads,
    input_summary,
    open_input,
    warn,
    write_summary,
)
from genomekit.commands._shards import SAMPLE_COUNTS, sample_counts
from genomekit.errors import InputError, UsageError
from genomekit.genome import BUILDS, SEX_UNKNOWN, site_classes
from genomekit.io.outputs import OutputSet
from genomekit.io.samples import read_pops
from genomekit.progress import Progress

FORMATS = ("parquet", "tsv")


@dataclass(frozen=True)
class FreqOutputs:
    table: str
    summary: str
    sites: str | None
    sites_index: str | None

    @classmethod
    def for_prefix(cls, prefix: str, fmt: str, sites_vcf: bool) -> FreqOutputs:
        return cls(
            table=f"{prefix}.freq.{fmt}",
            summary=f"{prefix}.freq.json",
            sites=f"{prefix}.sites.bcf" if sites_vcf else None,
            sites_index=f"{prefix}.sites.bcf.csi" if sites_vcf else None,
        )

    def paths(self) -> list[str]:
        return [p for p in (self.table, self.summary, self.sites, self.sites_index) if p]


def _check_args(fmt, build, threads, region, regions_file, min_gq, min_dp, min_ab):
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    if build not in BUILDS:
        raise UsageError(f"--build must be one of {', '.join(BUILDS)}, not '{build}'")
    check_threads(threads)
    check_selection(region, regions_file)
    for name, value in (("--min-gq", min_gq), ("--min-dp", min_dp)):
        if value is not None and value < 0:
            raise UsageError(f"{name} must be >= 0")
    if min_ab is not None and not 0.0 <= min_ab <= 1.0:
        raise UsageError("--min-ab must be between 0 and 1")


def run(input: str, out: str, *, fmt: str = "parquet", region: str | None = None,
        regions_file: str | None = None, samples_file: str | None = None,
        exclude_samples_file: str | None = None, pops_file: str | None = None,
        build: str = "GRCh38", sites_vcf: bool = False, threads: int = 1, force: bool = False,
        min_gq: int | None = None, min_dp: int | None = None, min_ab: float | None = None,
        hwe_midp: bool = False, engine: str = "auto", quiet: bool = False,
        command_line: str = "", chunk_variants: int | None = None) -> dict:
    """Compute the freq table for ``input`` and write the outputs named by ``out``.

    Returns the run summary (also written to ``OUT.freq.json``).
    """
    started = time.time()
    _check_args(fmt, build, threads, region, regions_file, min_gq, min_dp, min_ab)
    outputs = FreqOutputs.for_prefix(out, fmt, sites_vcf)
    with OutputSet(outputs.paths(), force) as files:
        sheet = read_pops(pops_file) if pops_file else None
        fields = [f for f, v in (("GQ", min_gq), ("DP", min_dp), ("AD", min_ab)) if v is not None]
        reader, regions = open_input(
            input, region=region, regions_file=regions_file, samples_file=samples_file,
            exclude_samples_file=exclude_samples_file, engine=engine, threads=threads,
            quiet=quiet, format_fields=fields)
        if reader.missing_format_fields:
            warn(f"{input}: FORMAT/{', FORMAT/'.join(reader.missing_format_fields)} not in the "
                 "header; the quality filter ignores "
                 f"{'it' if len(reader.missing_format_fields) == 1 else 'them'}", quiet)
        adj = bool(reader.format_fields)
        populations = sheet.populations if sheet else ()
        sex, group = _sample_codes(reader.samples, sheet, input, quiet)
        job = _FreqJob(populations, sex, group, build, adj, min_gq, min_dp, min_ab, hwe_midp)
        summary = _stream(reader, job, outputs, files, fmt, quiet, command_line,
                          chunk_variants)
        summary.update({
            "command": "freq",
            "command_line": command_line,
            "inputs": input_summary([input]),
            "n_samples": len(reader.samples),
            "populations": list(populations),
            SAMPLE_COUNTS: sample_counts(sex, group, populations),
            "build": build,
            "regions": [str(r) for r in regions] if regions else None,
            "adj_filter": {"min_gq": min_gq, "min_dp": min_dp, "min_ab": min_ab,
                           "fields_used": reader.format_fields} if adj else None,
            "outputs": [os.path.abspath(p) for p in outputs.paths()],
            "elapsed_seconds": round(time.time() - started, 3),
        })
        write_summary(files.tmp(outputs.summary), summary)
        files.commit()
    return summary


def _sample_codes(samples, sheet, input, quiet):
    n = len(samples)
    sex = np.full(n, SEX_UNKNOWN, dtype=np.int8)
    group = np.full(n, -1, dtype=np.int32)
    if sheet is None:
        return sex, group
    check_sheet_samples(samples, sheet, input, quiet,
                        "counted in the totals only, with unknown sex")
    index = {p: i for i, p in enumerate(sheet.populations)}
    for i, s in enumerate(samples):
        if s in sheet.population:
            group[i] = index[sheet.population[s]]
            sex[i] = sheet.sex[s]
    return sex, group


@dataclass(frozen=True)
class _FreqJob:
    populations: tuple[str, ...]
    sex: np.ndarray
    group: np.ndarray
    build: str
    adj: bool
    min_gq: int | None
    min_dp: int | None
    min_ab: float | None
    hwe_midp: bool

    def __call__(self, chunk):
        from genomekit.kernels import freq as kf
        from genomekit.tables.freq import allele_rows, build_freq_table

        classes = np.zeros(chunk.n_variants, dtype=np.int8)
        chrom = np.asarray(chunk.chrom, dtype=object)
        for name in dict.fromkeys(chunk.chrom):
            sel = chrom == name
            classes[sel] = site_classes(name, chunk.pos[sel], self.build)
        mask = None
        if self.adj:
            empty2 = np.zeros((0, 0), np.int32)
            mask = kf.adj_pass(
                chunk.gt,
                chunk.gq if self.min_gq is not None and chunk.gq is not None else empty2,
                chunk.dp if self.min_dp is not None and chunk.dp is not None else empty2,
                chunk.ad if self.min_ab is not None and chunk.ad is not None
                else np.zeros((0, 0, 0), np.int32),
                self.min_gq or 0, self.min_dp or 0, float(self.min_ab or 0.0),
            )
        counts, bad = kf.count_alleles(chunk.gt, chunk.n_alleles, classes, self.sex,
                                       self.group, len(self.populations), mask)
        if bad[0] >= 0:
            return allele_index_error(chunk, bad[0])
        var, al = allele_rows(chunk.n_alleles)
        het = counts.hwe_het[var, al].astype(np.int64)
        hom = counts.hwe_hom[var, al].astype(np.int64)
        n_dip = counts.n_diploid[var].astype(np.int64)
        p_hwe, p_exc = kf.hwe_exact(het, hom, n_dip, self.hwe_midp)
        f = kf.inbreeding_coeff(het, hom, n_dip)
        df = build_freq_table(chunk, counts, (p_hwe, p_exc, f), self.populations, self.adj)
        return chunk, df, var


def _stream(reader, job, outputs, files, fmt, quiet, command_line, chunk_variants):
    # The table opens with the first rows: polars loads in the worker that builds them,
    # after numba has loaded the kernels (both hold the GIL while they load), while the
    # other workers decode.
    def open_table():
        from genomekit.io.tables import TableWriter
        from genomekit.tables.freq import freq_schema

        return TableWriter(files.tmp(outputs.table), fmt, freq_schema(job.populations, job.adj))

    table = None
    sites = None
    if outputs.sites:
        from genomekit.io.sites import SitesWriter

        sites = SitesWriter(files.tmp(outputs.sites), files.tmp(outputs.sites_index),
                            reader.contigs(), job.populations, command_line,
                            os.path.dirname(outputs.sites) or ".")
    expected = getattr(reader, "expected_records", lambda: None)()
    progress = Progress("freq", total=expected, quiet=quiet)
    n_sites = n_rows = 0
    site_offset = 0
    ok = False
    try:
        for result in reader.map_chunks(job, chunk_variants):
            if isinstance(result, InputError):
                result.file = reader.path
                raise result
            chunk, df, var = result
            if table is None:
                table = open_table()
            table.write(df)
            if sites is not None:
                sites.write(df, var + site_offset)
            site_offset += chunk.n_variants
            n_sites += chunk.n_variants
            n_rows += df.height
            progress.update(chunk.n_variants, f"{chunk.chrom[-1]}:{chunk.pos[-1]}")
        ok = True
    finally:
        progress.close()
        if table is None:
            table = open_table()
        table.close()
        if sites is not None:
            if ok:
                try:
                    sites.close()
                except Exception as e:
                    raise InputError(f"cannot write the sites BCF ({e})", file=reader.path,
                                     hint="records must be sorted by position for an indexed "
                                          "BCF; drop --sites-vcf or sort the input") from None
            else:
                sites.abort()
        reader.close()
    return {"n_sites": n_sites, "n_alleles": n_rows}
