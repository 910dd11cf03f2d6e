"""The tables a report can show, how to find them after a run, and how to read them.

Every input is described once in INPUTS: the file names its command writes after
``--out PREFIX``, the columns the report needs, and the run summary beside it. A new
kind of input is one more entry here, a ``--<key>`` option and a section builder in
report.sections; nothing else needs to learn about it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import polars as pl

from genomekit.errors import InputError


@dataclass(frozen=True)
class ReportInput:
    """One kind of table: ``key`` is its option name (``--sample-qc`` → ``sample_qc``)."""

    key: str
    command: str
    suffixes: tuple[str, ...]
    columns: tuple[str, ...]
    summary_suffix: str | None = None
    # The input whose table this one is written beside, by the same command and --out
    # (bam-qc's coverage distribution beside its table): found there when not given.
    beside: str | None = None

    @property
    def option(self) -> str:
        return "--" + self.key.replace("_", "-")

    def discover(self, prefix: str) -> str | None:
        """The first of PREFIX + suffix that exists, as a workflow run leaves them."""
        for suffix in self.suffixes:
            if os.path.isfile(prefix + suffix):
                return prefix + suffix
        return None

    def prefix_of(self, table_path: str) -> str | None:
        """The --out PREFIX that wrote ``table_path``, when it ends in one of the suffixes."""
        for suffix in self.suffixes:
            if table_path.endswith(suffix):
                return table_path[: -len(suffix)]
        return None

    def summary_path(self, table_path: str) -> str | None:
        """The run summary written beside ``table_path`` (PREFIX.<kind>.json), if any."""
        prefix = self.prefix_of(table_path)
        if self.summary_suffix is None or prefix is None:
            return None
        path = prefix + self.summary_suffix
        return path if os.path.isfile(path) else None


INPUTS: tuple[ReportInput, ...] = (
    ReportInput("freq", "freq", (".freq.parquet", ".freq.tsv"),
                ("CHROM", "POS", "ALT", "AC", "AN", "AF"), ".freq.json"),
    ReportInput("sample_qc", "sample-qc", (".sample_qc.parquet", ".sample_qc.tsv"),
                ("sample", "population", "declared_sex", "call_rate", "het_hom_ratio",
                 "ti_tv", "n_singleton", "x_f", "n_y_called", "y_call_rate", "karyotype",
                 "karyotype_reason", "sex_mismatch", "fail_sex", "qc_pass"),
                ".sample_qc.json"),
    ReportInput("relate", "relate", (".relate.parquet", ".relate.tsv"),
                ("IID1", "IID2", "NSNP", "IBS0", "KINSHIP", "degree"), ".relate.json"),
    ReportInput("pca", "pca", (".pca_scores.parquet", ".pca_scores.tsv"),
                ("sample", "PC1", "PC2"), ".pca.json"),
    ReportInput("bam_qc", "bam-qc", (".bam_qc.parquet", ".bam_qc.tsv"),
                ("sample", "bam", "n_primary_mapped", "n_primary_duplicates", "pct_mapped",
                 "mean_depth", "mean_depth_autosomes", "x_depth_ratio", "y_depth_ratio",
                 "karyotype", "karyotype_reason"), ".bam_qc.json"),
    ReportInput("coverage_dist", "bam-qc", (".coverage_dist.parquet", ".coverage_dist.tsv"),
                ("sample", "chrom", "depth", "n_bases"), ".bam_qc.json", beside="bam_qc"),
    ReportInput("fingerprint", "fingerprint", (".fingerprint.parquet", ".fingerprint.tsv"),
                ("bam", "declared_sample", "declared_in_vcf", "lod_declared", "best_sample",
                 "lod_best", "result", "contamination", "contaminated"), ".fingerprint.json"),
    ReportInput("release", "release", (".release.parquet", ".release.tsv"),
                ("CHROM", "POS", "ALT", "AC", "AN", "suppressed", "suppressed_groups"),
                ".release.json"),
)
BY_KEY = {spec.key: spec for spec in INPUTS}


def _scan(path: str) -> pl.LazyFrame:
    if path.endswith(".parquet"):
        return pl.scan_parquet(path)
    # Tables written with --format tsv: NA for undefined values, no quoting.
    return pl.scan_csv(path, separator="\t", null_values="NA", quote_char=None,
                       infer_schema_length=10000)


def table_columns(spec: ReportInput, path: str) -> list[str]:
    """Column names of the table, checked to hold every column the report needs."""
    if not os.path.isfile(path):
        raise InputError("no such file", file=path, hint=f"check the {spec.option} path")
    try:
        names = _scan(path).collect_schema().names()
    except Exception as e:
        raise InputError(f"cannot read the table ({str(e).splitlines()[0]})", file=path,
                         hint=f"give a table written by genomekit {spec.command}") from None
    missing = [c for c in spec.columns if c not in names]
    if missing:
        raise InputError(f"not a genomekit {spec.command} table: no column "
                         f"{', '.join(missing)}", file=path,
                         hint=f"give the {spec.suffixes[0]} table of genomekit {spec.command} "
                              f"to {spec.option}")
    return names


def read_columns(spec: ReportInput, path: str, columns: list[str]) -> pl.DataFrame:
    """Only ``columns`` of the table (a freq table can have millions of rows and 100 columns)."""
    try:
        return _scan(path).select(columns).collect()
    except Exception as e:
        raise InputError(f"cannot read the table ({str(e).splitlines()[0]})", file=path,
                         hint=f"give a table written by genomekit {spec.command}") from None


def read_summary(spec: ReportInput, table_path: str) -> tuple[dict, str | None, str | None]:
    """The run summary beside the table: (summary, its path, a problem to warn about).

    The summary only adds context (thresholds, the command line), so a missing or
    unreadable one gives {} and the report goes on without it.
    """
    path = spec.summary_path(table_path)
    if path is None:
        return {}, None, None
    try:
        with open(path) as fh:
            summary = json.load(fh)
    except (OSError, ValueError) as e:
        return {}, None, f"{path}: cannot read the run summary ({e}); the report leaves it out"
    if not isinstance(summary, dict):
        return {}, None, f"{path}: the run summary is not a JSON object; the report leaves it out"
    return summary, path, None
