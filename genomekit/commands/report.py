"""`genomekit report`: one self-contained HTML page (and MultiQC files) from the tables of a run."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import polars as pl

from genomekit.commands._common import warn
from genomekit.errors import InputError, UsageError
from genomekit.io.outputs import OutputSet
from genomekit.report.inputs import BY_KEY, INPUTS, read_columns, read_summary, table_columns

# Column dtypes the sections rely on; TSV tables are read with inferred types, so they are
# cast here, where a bad column can still be reported with its file.
_FLOAT_COLUMNS = ("AF", "call_rate", "het_hom_ratio", "ti_tv", "x_f", "y_call_rate", "mean_dp",
                  "mean_gq", "KINSHIP", "mean_mapq", "mean_depth", "x_depth_ratio",
                  "y_depth_ratio", "contamination")
_FLOAT_PREFIXES = ("AF_", "PC", "pct_", "frac_ge_", "mean_depth_", "lod_", "discordance_")
_INT_COLUMNS = ("POS", "AC", "AN", "NSNP", "IBS0", "HETHET", "depth")
_STRING_COLUMNS = ("CHROM", "REF", "ALT", "sample", "population", "declared_sex", "karyotype",
                   "karyotype_reason", "IID1", "IID2", "degree", "bam", "chrom",
                   "declared_sample", "best_sample", "result", "suppressed_groups")
# Coverage: BAMs whose mean autosomal depth is below this are marked low.
DEFAULT_MIN_DEPTH = 15.0
_BOOL_COLUMNS = ("qc_pass", "sex_mismatch", "declared_in_vcf", "contaminated", "swap",
                 "suppressed")


@dataclass(frozen=True)
class ReportOutputs:
    html: str
    sampleqc_mqc: str | None
    sexcheck_mqc: str | None
    sfs_mqc: str | None
    bamqc_mqc: str | None
    coverage_mqc: str | None

    @classmethod
    def for_prefix(cls, prefix: str, kinds: set[str]) -> ReportOutputs:
        qc = "sample_qc" in kinds
        return cls(
            html=f"{prefix}.report.html",
            sampleqc_mqc=f"{prefix}_genomekit_sampleqc_mqc.tsv" if qc else None,
            sexcheck_mqc=f"{prefix}_genomekit_sexcheck_mqc.json" if qc else None,
            sfs_mqc=f"{prefix}_genomekit_sfs_mqc.json" if "freq" in kinds else None,
            bamqc_mqc=f"{prefix}_genomekit_bamqc_mqc.tsv" if "bam_qc" in kinds else None,
            coverage_mqc=(f"{prefix}_genomekit_coverage_mqc.json" if "coverage_dist" in kinds
                          else None),
        )

    def paths(self) -> list[str]:
        return [p for p in (self.html, self.sampleqc_mqc, self.sexcheck_mqc, self.sfs_mqc,
                            self.bamqc_mqc, self.coverage_mqc) if p]


def resolve_inputs(given: dict[str, str | None], from_prefix: str | None) -> dict[str, str]:
    """The table path of each input kind: as given, else found after ``--from PREFIX``, else
    (for a table written beside another, as bam-qc's coverage distribution) beside that one."""
    paths = {}
    for spec in INPUTS:
        path = given.get(spec.key)
        partner = given.get(spec.beside) if spec.beside is not None else None
        if path is None and partner is not None:
            # Beside the table given, not under --from: the two must come from one run.
            prefix = BY_KEY[spec.beside].prefix_of(partner)
            path = spec.discover(prefix) if prefix is not None else None
        elif path is None and from_prefix is not None:
            path = spec.discover(from_prefix)
        if path is not None:
            paths[spec.key] = path
    if not paths:
        if from_prefix is not None:
            expected = ", ".join(from_prefix + spec.suffixes[0] for spec in INPUTS)
            raise UsageError(f"--from {from_prefix}: no genomekit table found",
                             hint=f"expected one of {expected} (or their .tsv)")
        options = ", ".join(spec.option for spec in INPUTS)
        raise UsageError("nothing to report", hint=f"give --from PREFIX or any of {options}")
    return paths


def _typed(df: pl.DataFrame, path: str) -> pl.DataFrame:
    casts = {}
    for col in df.columns:
        if col in _FLOAT_COLUMNS or col.startswith(_FLOAT_PREFIXES):
            casts[col] = pl.Float64
        elif col in _INT_COLUMNS or col.startswith(("AN_", "n_")):
            casts[col] = pl.Int64
        elif col in _STRING_COLUMNS:
            casts[col] = pl.String
        elif col.startswith("fail_") or col in _BOOL_COLUMNS:
            casts[col] = pl.Boolean
    for col, dtype in casts.items():
        try:
            df = df.with_columns(pl.col(col).cast(dtype))
        except Exception:
            raise InputError(f"column {col} does not hold {dtype} values", file=path,
                             hint="give the table as genomekit wrote it") from None
    return df


def run(out: str, *, freq: str | None = None, sample_qc: str | None = None,
        relate: str | None = None, pca: str | None = None, bam_qc: str | None = None,
        coverage_dist: str | None = None, fingerprint: str | None = None,
        release: str | None = None, from_prefix: str | None = None,
        pops_file: str | None = None, min_depth: float = DEFAULT_MIN_DEPTH,
        title: str | None = None, force: bool = False, quiet: bool = False,
        command_line: str = "") -> dict:
    """Write ``OUT.report.html`` and the MultiQC files for the tables given or found.

    Any subset of the inputs works; each section appears when its tables are there.
    Returns a summary: the outputs, the inputs used and the section ids.
    """
    from genomekit.io.samples import read_pops
    from genomekit.report import html, multiqc
    from genomekit.report.aggregate import coverage_curves, sfs_table
    from genomekit.report.sections import COLUMNS, Context, Loaded, build_sections, meta_html

    if title is not None and not title.strip():
        raise UsageError("--title must not be empty")
    if not (min_depth >= 0 and math.isfinite(min_depth)):
        raise UsageError(f"--min-depth must be a number >= 0, not {min_depth}")
    paths = resolve_inputs({"freq": freq, "sample_qc": sample_qc, "relate": relate,
                            "pca": pca, "bam_qc": bam_qc, "coverage_dist": coverage_dist,
                            "fingerprint": fingerprint, "release": release}, from_prefix)
    outputs = ReportOutputs.for_prefix(out, set(paths))
    with OutputSet(outputs.paths(), force) as files:
        tables = {}
        for key, path in paths.items():
            spec = BY_KEY[key]
            names = table_columns(spec, path)
            summary, summary_path, problem = read_summary(spec, path)
            if problem:
                warn(problem, quiet)
            df = _typed(read_columns(spec, path, COLUMNS[key](spec, names, summary)), path)
            tables[key] = Loaded(spec, path, df, summary, summary_path)
        sheet = read_pops(pops_file) if pops_file else None
        ctx = Context(tables, sheet, pops_file, min_depth=min_depth)
        sections = build_sections(ctx)
        name = os.path.basename(out) or out
        page_title = title or f"genomekit report: {name}"
        generated = time.strftime("%Y-%m-%d %H:%M %Z")
        document = html.page(page_title, sections, meta=meta_html(command_line, generated))
        texts = {outputs.html: document}
        if "sample_qc" in tables:
            qc = tables["sample_qc"]
            texts[outputs.sampleqc_mqc] = multiqc.sampleqc_tsv(qc.df, qc.path)
            # No sample with both chrX F and a chrY call rate: no scatter to show.
            sex = multiqc.sexcheck_json(qc.df, qc.path)
            if sex is not None:
                texts[outputs.sexcheck_mqc] = sex
        if "freq" in tables:
            fq = tables["freq"]
            texts[outputs.sfs_mqc] = multiqc.sfs_json(sfs_table(fq.df), name, fq.path)
        if "bam_qc" in tables:
            bq = tables["bam_qc"]
            texts[outputs.bamqc_mqc] = multiqc.bamqc_tsv(bq.df, bq.path, min_depth)
        if "coverage_dist" in tables:
            cd = tables["coverage_dist"]
            texts[outputs.coverage_mqc] = multiqc.coverage_json(coverage_curves(cd.df), cd.path)
        for path, text in texts.items():
            with open(files.tmp(path), "w", encoding="utf-8") as fh:
                fh.write(text)
        files.commit()
    written = [p for p in outputs.paths() if p in texts]
    return {
        "command": "report",
        "inputs": {k: os.path.abspath(p) for k, p in paths.items()},
        "pops": os.path.abspath(pops_file) if pops_file else None,
        "sections": [s.key for s in sections],
        "outputs": [os.path.abspath(p) for p in written],
    }

