"""`genomekit sample-qc`: per-sample genotype counts, sex check and outlier flags."""

from __future__ import annotations

import functools
import math
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
from genomekit.errors import InputError, UsageError
from genomekit.genome import (
    BUILDS,
    CHR_Y,
    SEX_FEMALE,
    SEX_MALE,
    SEX_UNKNOWN,
    X_NONPAR,
    site_classes,
)
from genomekit.io.outputs import OutputSet
from genomekit.io.samples import read_pops
from genomekit.parallel import import_in_background
from genomekit.progress import Progress

FORMATS = ("parquet", "tsv")
# Key of the samples without a population in the summary's outlier bounds; parentheses
# cannot occur in a population name (io.samples).
NO_POPULATION = "(none)"

# Allele classes, as kernels.sampleqc numbers them (kernels are imported lazily).
_REF_LIKE, _TRANSITION, _TRANSVERSION, _SNV_OTHER = 0, 1, 2, 3
_INSERTION, _DELETION, _MNP, _OVERLAP, _OTHER = 4, 5, 6, 7, 8
_TRANSITIONS = {frozenset("AG"), frozenset("CT")}


@dataclass(frozen=True)
class SampleQcOutputs:
    table: str
    summary: str

    @classmethod
    def for_prefix(cls, prefix: str, fmt: str) -> SampleQcOutputs:
        return cls(table=f"{prefix}.sample_qc.{fmt}", summary=f"{prefix}.sample_qc.json")

    def paths(self) -> list[str]:
        return [self.table, self.summary]


def _check_args(fmt, build, threads, region, regions_file, mad_k):
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    if build not in BUILDS:
        raise UsageError(f"--build must be one of {', '.join(BUILDS)}, not '{build}'")
    check_threads(threads)
    check_selection(region, regions_file)
    if not (math.isfinite(mad_k) and mad_k > 0):
        raise UsageError(f"--mad-k must be a positive number, not {mad_k}")


def run(input: str, out: str, *, fmt: str = "parquet", region: str | None = None,
        regions_file: str | None = None, samples_file: str | None = None,
        exclude_samples_file: str | None = None, pops_file: str | None = None,
        build: str = "GRCh38", mad_k: float = 4.0, threads: int = 1, force: bool = False,
        engine: str = "auto", quiet: bool = False, command_line: str = "",
        chunk_variants: int | None = None) -> dict:
    """Compute the sample QC table for ``input`` and write the outputs named by ``out``.

    Returns the run summary (also written to ``OUT.sample_qc.json``).
    """
    started = time.time()
    _check_args(fmt, build, threads, region, regions_file, mad_k)
    outputs = SampleQcOutputs.for_prefix(out, fmt)
    with OutputSet(outputs.paths(), force) as files:
        sheet = read_pops(pops_file) if pops_file else None
        reader, regions = open_input(
            input, region=region, regions_file=regions_file, samples_file=samples_file,
            exclude_samples_file=exclude_samples_file, engine=engine, threads=threads,
            quiet=quiet, format_fields=("DP", "GQ"))
        has_dp = "DP" in reader.format_fields
        has_gq = "GQ" in reader.format_fields
        sex, population, declared = _sample_sheet(reader.samples, sheet, input, quiet)
        job = _SampleQcJob(sex, build, has_dp, has_gq)
        totals = _stream(reader, job, quiet, chunk_variants)
        from genomekit.io.tables import TableWriter
        from genomekit.tables.sample_qc import (
            FEMALE_MAX_F,
            FEMALE_MAX_Y_RATE,
            MAD_SCALE,
            MALE_MIN_F,
            MALE_MIN_Y_RATE,
            MIN_GROUP_SIZE,
            count_table,
            finish,
            sample_qc_schema,
        )

        sums = count_table(reader.samples, population, declared, totals["counts"],
                           totals["x_exp"], totals["count_names"], has_dp, has_gq)
        table, bounds = finish(sums, mad_k)
        writer = TableWriter(files.tmp(outputs.table), fmt, sample_qc_schema(has_dp, has_gq))
        try:
            writer.write(table)
        finally:
            writer.close()
        if sheet and reader.samples and totals["n_x_sites"] == totals["n_y_sites"] == 0:
            warn(f"{input}: no polymorphic chrX site outside the PARs and no chrY site: "
                 "the declared sexes are not checked", quiet)
        fail_cols = [c for c in table.columns if c.startswith("fail_")]
        karyotypes = table["karyotype"].fill_null("unknown").value_counts()
        summary = {
            "command": "sample-qc",
            "command_line": command_line,
            "inputs": input_summary([input]),
            "n_samples": len(reader.samples),
            "n_sites": totals["n_sites"],
            "n_x_sites": totals["n_x_sites"],
            "n_y_sites": totals["n_y_sites"],
            "populations": list(sheet.populations) if sheet else [],
            "build": build,
            "regions": [str(r) for r in regions] if regions else None,
            "format_fields": reader.format_fields,
            "n_qc_pass": int(table["qc_pass"].sum()),
            "n_fail": {c[len("fail_"):]: int(table[c].fill_null(False).sum())
                       for c in fail_cols},
            "n_sex_mismatch": int(table["sex_mismatch"].fill_null(False).sum()),
            "karyotypes": dict(zip(karyotypes["karyotype"].to_list(),
                                   karyotypes["count"].to_list())),
            "karyotype_thresholds": {
                "female_max_f": FEMALE_MAX_F, "male_min_f": MALE_MIN_F,
                "female_max_y_call_rate": FEMALE_MAX_Y_RATE,
                "male_min_y_call_rate": MALE_MIN_Y_RATE,
            },
            "outliers": {
                "mad_k": mad_k, "mad_scale": MAD_SCALE, "min_group_size": MIN_GROUP_SIZE,
                "bounds": {NO_POPULATION if g is None else g: b for g, b in bounds.items()},
            },
            "outputs": [os.path.abspath(p) for p in outputs.paths()],
            "elapsed_seconds": round(time.time() - started, 3),
        }
        write_summary(files.tmp(outputs.summary), summary)
        files.commit()
    return summary


def _sample_sheet(samples, sheet, input, quiet):
    """Declared sex codes, population names and sex labels ('M', 'F', None) per sample."""
    n = len(samples)
    sex = np.full(n, SEX_UNKNOWN, dtype=np.int8)
    population: list[str | None] = [None] * n
    declared: list[str | None] = [None] * n
    if sheet is None:
        return sex, population, declared
    check_sheet_samples(samples, sheet, input, quiet,
                        "unknown sex, and compared with each other for the outlier flags")
    labels = {SEX_MALE: "M", SEX_FEMALE: "F"}
    for i, s in enumerate(samples):
        if s in sheet.population:
            population[i] = sheet.population[s]
            sex[i] = sheet.sex[s]
            declared[i] = labels.get(sheet.sex[s])
    return sex, population, declared


@functools.lru_cache(maxsize=1 << 16)
def allele_class(ref: str, alt: str) -> int:
    """Class of an ALT allele against REF, as htslib's bcf_set_variant_type types it.

    SNVs are split into transitions and transversions by the differing base (so
    REF=AT ALT=AC is a transition; bcftools compares the first bases).
    """
    if alt == "*":
        return _OVERLAP
    if len(ref) == 1 and len(alt) == 1:
        if alt in (".", "X") or ref.upper() == alt.upper():
            return _REF_LIKE
        return _snv_class(ref, alt)
    if alt.startswith("<"):
        return _REF_LIKE if alt in ("<X>", "<*>", "<NON_REF>") else _OTHER
    if alt[0] in "[]":
        return _OTHER
    r, a = ref.upper(), alt.upper()
    i = 0
    while i < len(r) and i < len(a) and r[i] == a[i]:
        i += 1
    if i == len(r) and i < len(a):
        return _OTHER if a[i] in "[]" else _INSERTION
    if i == len(a) and i < len(r):
        return _DELETION
    if i == len(r) and i == len(a):
        return _REF_LIKE
    re, ae = len(r) - 1, len(a) - 1
    while re > i and ae > i and r[re] == a[ae]:
        re -= 1
        ae -= 1
    if ae == i:
        if re == i:
            return _snv_class(r[i], a[i])
        return _DELETION if r[re] == a[ae] else _OTHER
    if re == i:
        return _INSERTION if r[re] == a[ae] else _OTHER
    return _MNP if re - i == ae - i else _OTHER


def _snv_class(ref_base: str, alt_base: str) -> int:
    pair = frozenset((ref_base.upper(), alt_base.upper()))
    if not pair <= set("ACGT"):
        return _SNV_OTHER
    return _TRANSITION if pair in _TRANSITIONS else _TRANSVERSION


@dataclass(frozen=True)
class _SampleQcJob:
    sex: np.ndarray
    build: str
    use_dp: bool
    use_gq: bool

    def __call__(self, chunk):
        from genomekit.kernels import freq as kf
        from genomekit.kernels import sampleqc as ks

        n_var = chunk.n_variants
        classes = np.zeros(n_var, dtype=np.int8)
        chrom = np.asarray(chunk.chrom, dtype=object)
        for name in dict.fromkeys(chunk.chrom):
            sel = chrom == name
            classes[sel] = site_classes(name, chunk.pos[sel], self.build)
        width = max(2, int(chunk.n_alleles.max()))
        alleles = np.zeros((n_var, width), dtype=np.int8)
        for v, (ref, alts) in enumerate(zip(chunk.ref, chunk.alts)):
            for j, alt in enumerate(alts, 1):
                alleles[v, j] = allele_class(ref, alt)
        x_exp_het = np.zeros(n_var, dtype=np.float64)
        x_rows = np.flatnonzero(classes == X_NONPAR)
        n_x, n_smp = x_rows.size, chunk.gt.shape[1]
        if n_x and x_rows[-1] - x_rows[0] + 1 == n_x:
            x_rows = slice(x_rows[0], x_rows[-1] + 1)  # a view, not a copy of the calls
        if n_x and n_smp:
            # The cohort allele frequencies are freq's AF: males count one allele outside
            # the PARs, and their heterozygous calls none.
            counts, bad = kf.count_alleles(chunk.gt[x_rows], chunk.n_alleles[x_rows],
                                           classes[x_rows], self.sex,
                                           np.full(n_smp, -1, np.int32), 0)
            # A bad allele index is reported below by sample_counts, which scans the
            # whole chunk in order and so finds the first one.
            if bad[0] < 0:
                an = counts.an.astype(np.float64)
                p = np.divide(counts.ac, an[:, None], out=np.zeros(counts.ac.shape),
                              where=an[:, None] > 0)
                x_exp_het[x_rows] = np.where(an > 0, 1.0 - (p * p).sum(axis=1), 0.0)
        counts, x_exp, bad = ks.sample_counts(
            chunk.gt, chunk.n_alleles, alleles, classes, self.sex, x_exp_het,
            chunk.dp if self.use_dp else None, chunk.gq if self.use_gq else None)
        if bad[0] >= 0:
            return allele_index_error(chunk, bad[0])
        where = f"{chunk.chrom[-1]}:{chunk.pos[-1]}"
        n_x, n_y = int((x_exp_het > 0).sum()), int((classes == CHR_Y).sum())
        return counts, x_exp, n_var, n_x, n_y, where


def _stream(reader, job, quiet, chunk_variants) -> dict:
    from genomekit.kernels.sampleqc import COUNT_NAMES, N_COUNTS

    n_smp = len(reader.samples)
    totals = {"counts": np.zeros((n_smp, N_COUNTS), np.int64),
              "x_exp": np.zeros(n_smp, np.float64), "n_sites": 0, "n_x_sites": 0,
              "n_y_sites": 0, "count_names": COUNT_NAMES}
    progress = Progress("sample-qc", quiet=quiet)
    try:
        # Chunks come back in file order, so the float sums do not depend on --threads.
        first = True
        for result in reader.map_chunks(job, chunk_variants):
            if isinstance(result, InputError):
                result.file = reader.path
                raise result
            counts, x_exp, n_var, n_x, n_y, where = result
            if first:
                # polars loads while the other chunks are counted, after numba has
                # loaded the kernels (both hold the GIL while they load).
                import_in_background("genomekit.io.tables", "genomekit.tables.sample_qc")
                first = False
            totals["counts"] += counts
            totals["x_exp"] += x_exp
            totals["n_sites"] += n_var
            totals["n_x_sites"] += n_x
            totals["n_y_sites"] += n_y
            progress.update(n_var, where)
    finally:
        progress.close()
        reader.close()
    return totals
