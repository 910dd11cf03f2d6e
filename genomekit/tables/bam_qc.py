"""The bam-qc tables: one row per BAM (flag counts, depth, karyotype by depth), the
depth distribution (bases per depth) and, with --by, the mean depth of each region.

Depth figures follow mosdepth: the genome is every contig with at least one record
(``total`` in ``.mosdepth.summary.txt``), or with --by the BED regions on those
contigs (``total_region``); a contig's mean is its summed depth over its length (or
over its BED regions).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from genomekit.genome import bare_name, contig_kind, is_autosome

DEFAULT_THRESHOLDS = (1, 10, 20, 30)
# Karyotype by depth: chrX (outside the PARs) over the autosomal mean depth at most
# X_ONE means one X, at least X_TWO two; chrY (outside the PARs) over the autosomal
# mean at most Y_ABSENT means no Y, at least Y_PRESENT a Y.
X_ONE, X_TWO = 0.65, 0.8
Y_ABSENT, Y_PRESENT = 0.05, 0.1

# samtools flagstat's lines, QC-passed records (its first column); n_records and
# n_qcfail count every record and the QC-failed ones.
FLAGSTAT_COLUMNS = (
    "n_records", "n_qcfail", "n_total", "n_primary", "n_secondary", "n_supplementary",
    "n_duplicates", "n_primary_duplicates", "n_mapped", "n_primary_mapped", "n_paired",
    "n_read1", "n_read2", "n_properly_paired", "n_both_mapped", "n_singletons",
    "n_mate_other_chr", "n_mate_other_chr_mapq5",
)
# flagstat's percentages: (column, numerator, denominator).
PERCENT_COLUMNS = (
    ("pct_mapped", "n_mapped", "n_total"),
    ("pct_primary_mapped", "n_primary_mapped", "n_primary"),
    ("pct_properly_paired", "n_properly_paired", "n_paired"),
    ("pct_singletons", "n_singletons", "n_paired"),
)

COVERAGE_DIST_SCHEMA: dict[str, pl.DataType] = {
    "sample": pl.String, "chrom": pl.String, "depth": pl.Int32, "n_bases": pl.Int64,
}
REGIONS_SCHEMA: dict[str, pl.DataType] = {
    "sample": pl.String, "chrom": pl.String, "start": pl.Int64, "end": pl.Int64,
    "name": pl.String, "mean_depth": pl.Float64,
}


def is_chromosome(contig: str) -> bool:
    """1-22, X, Y and the mitochondrion (M, MT), with or without 'chr'."""
    return (is_autosome(contig) or contig_kind(contig) is not None
            or bare_name(contig).upper() in ("M", "MT"))


def threshold_column(t: int) -> str:
    return f"frac_ge_{t}x"


def bam_qc_schema(thresholds, chromosomes) -> dict[str, pl.DataType]:
    """Column names and dtypes of the bam-qc table, in order."""
    schema: dict[str, pl.DataType] = {"sample": pl.String, "bam": pl.String}
    schema.update({c: pl.Int64 for c in FLAGSTAT_COLUMNS})
    schema.update({c: pl.Float64 for c, _, _ in PERCENT_COLUMNS})
    schema.update({"mean_mapq": pl.Float64, "genome_bases": pl.Int64, "sum_depth": pl.Int64,
                   "mean_depth": pl.Float64, "mean_depth_autosomes": pl.Float64,
                   "x_depth_ratio": pl.Float64, "y_depth_ratio": pl.Float64,
                   "karyotype": pl.String, "karyotype_reason": pl.String})
    schema.update({threshold_column(t): pl.Float64 for t in thresholds})
    schema.update({f"mean_depth_{c}": pl.Float64 for c in chromosomes})
    return schema


def flag_columns(counts: np.ndarray, names) -> dict:
    """The flagstat columns from the kernel's (2, N) counts (row 0 QC-passed, row 1
    QC-failed) whose first columns are named ``names`` (kernels.coverage)."""
    idx = {n: i for i, n in enumerate(names)}
    row = {"n_records": int(counts[:, idx["total"]].sum()),
           "n_qcfail": int(counts[1, idx["total"]])}
    for name in names:
        row[f"n_{name}"] = int(counts[0, idx[name]])
    for col, num, den in PERCENT_COLUMNS:
        row[col] = 100.0 * row[num] / row[den] if row[den] else None
    return row


def frac_at_least(hist: np.ndarray, bases: int, t: int) -> float | None:
    """Share of the ``bases`` positions of a depth histogram with depth >= t."""
    if bases <= 0:
        return None
    return float(hist[t:].sum()) / bases if t < hist.size else 0.0


def infer_karyotype(x_ratio: float | None, y_ratio: float | None,
                    x_one: float = X_ONE, x_two: float = X_TWO, y_absent: float = Y_ABSENT,
                    y_present: float = Y_PRESENT) -> tuple[str | None, str | None]:
    """'XX', 'XY', 'ambiguous' (with the reason) or None (no chrX or autosomal depth)."""
    if x_ratio is None:
        return None, "no chrX outside the PARs, or no autosomal depth"
    x = "one" if x_ratio <= x_one else "two" if x_ratio >= x_two else None
    if x is None:
        return "ambiguous", f"chrX/autosome depth {x_ratio:.3f} between {x_one} and {x_two}"
    if y_ratio is None:
        return ("XX" if x == "two" else "XY"), None
    y = "absent" if y_ratio <= y_absent else "present" if y_ratio >= y_present else None
    if y is None:
        return "ambiguous", (f"chrY/autosome depth {y_ratio:.3f} between {y_absent} and "
                             f"{y_present}")
    if x == "two" and y == "absent":
        return "XX", None
    if x == "one" and y == "present":
        return "XY", None
    if x == "two":
        return "ambiguous", (f"two X (chrX/autosome {x_ratio:.3f}) and a Y "
                             f"(chrY/autosome {y_ratio:.3f}): XXY?")
    return "ambiguous", (f"one X (chrX/autosome {x_ratio:.3f}) and no Y "
                         f"(chrY/autosome {y_ratio:.3f}): X0?")


def qc_table(rows: list[dict], thresholds, chromosomes) -> pl.DataFrame:
    schema = bam_qc_schema(thresholds, chromosomes)
    cols = {k: [r.get(k) for r in rows] for k in schema}
    return pl.DataFrame(cols, schema=schema, strict=False)


def dist_rows(sample: str, chrom: str, hist: np.ndarray) -> pl.DataFrame:
    """Rows (sample, chrom, depth, n_bases) of the depths with at least one base."""
    depth = np.flatnonzero(hist)
    return pl.DataFrame({"sample": [sample] * depth.size, "chrom": [chrom] * depth.size,
                         "depth": depth.astype(np.int32), "n_bases": hist[depth]},
                        schema=COVERAGE_DIST_SCHEMA)


def regions_rows(sample: str, chrom: list, start: np.ndarray, end: np.ndarray, name: list,
                 sums: np.ndarray) -> pl.DataFrame:
    length = (end - start).astype(np.float64)
    mean = np.divide(sums, length, out=np.zeros(len(sums)), where=length > 0)
    return pl.DataFrame({"sample": [sample] * len(chrom), "chrom": chrom, "start": start,
                         "end": end, "name": name, "mean_depth": mean},
                        schema=REGIONS_SCHEMA)
