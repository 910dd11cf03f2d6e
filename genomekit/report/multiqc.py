"""MultiQC custom-content files, so that a MultiQC run over the results folder shows genomekit.

MultiQC picks up any ``*_mqc.tsv`` / ``*_mqc.json`` file: the TSV carries its section
settings as ``# key: value`` YAML comment lines above the column names, the JSON as keys
beside ``data``. See MultiQC's "Custom Content" documentation.
"""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl

from genomekit.report import aggregate

SAMPLEQC_ID = "genomekit_sampleqc"
SFS_ID = "genomekit_sfs"
SEXCHECK_ID = "genomekit_sexcheck"
BAMQC_ID = "genomekit_bamqc"
COVERAGE_ID = "genomekit_coverage"

# sample-qc columns copied to the MultiQC table: (column, title, number format).
SAMPLEQC_COLUMNS = (
    ("population", "Population", None),
    ("declared_sex", "Declared sex", None),
    ("karyotype", "Karyotype", None),
    ("call_rate", "Call rate", "{:,.4f}"),
    ("het_hom_ratio", "Het/hom", "{:,.3f}"),
    ("ti_tv", "Ti/Tv", "{:,.3f}"),
    ("n_singleton", "Singletons", "{:,.0f}"),
    ("mean_dp", "Mean DP", "{:,.1f}"),
    ("mean_gq", "Mean GQ", "{:,.1f}"),
    ("x_f", "chrX F", "{:,.3f}"),
    ("y_call_rate", "chrY call rate", "{:,.3f}"),
)


def _yaml_scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    # Single-quoted YAML: only the quote itself needs escaping.
    return "'" + str(value).replace("'", "''") + "'"


def yaml_comment_header(config: dict, indent: int = 0) -> list[str]:
    """``# key: value`` lines for a MultiQC TSV header (nested dicts of scalars)."""
    lines = []
    for key, value in config.items():
        pad = "    " * indent
        if isinstance(value, dict):
            lines.append(f"# {pad}{key}:")
            lines.extend(yaml_comment_header(value, indent + 1))
        else:
            lines.append(f"# {pad}{key}: {_yaml_scalar(value)}")
    return lines


def _cell(value) -> str:
    """A TSV cell: numbers in full (as the table holds them), '' for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    # A tab or newline inside a cell would break the TSV.
    return text.replace("\t", " ").replace("\n", " ")


def sampleqc_tsv(qc: pl.DataFrame, source: str) -> str:
    """The per-sample table as MultiQC custom content (plot_type table)."""
    columns = [(c, t, f) for c, t, f in SAMPLEQC_COLUMNS if c in qc.columns]
    headers: dict = {}
    for col, title, number_format in columns:
        entry: dict = {"title": title}
        if number_format:
            entry["format"] = number_format
        if col in ("call_rate", "y_call_rate"):
            entry.update(min=0, max=1)
        headers[col] = entry
    headers["qc"] = {"title": "QC", "description": "pass: qc_pass true; fail: false"}
    headers["flags"] = {"title": "Flags", "description": "the fail_* columns that are true"}
    config = {
        "id": SAMPLEQC_ID,
        "section_name": "genomekit: sample QC",
        "description": ("Per-sample metrics and outlier flags from genomekit sample-qc "
                        f"({source}). A flag names a fail_* column that is true: a metric "
                        "outside median ± k·MAD of the sample's population, or the sex check."),
        "plot_type": "table",
        "pconfig": {"id": f"{SAMPLEQC_ID}_table", "title": "genomekit: sample QC",
                    "namespace": "genomekit", "col1_header": "Sample"},
        "headers": headers,
    }
    flags = aggregate.sample_flags(qc)
    lines = yaml_comment_header(config)
    lines.append("\t".join(["Sample", *(c for c, _, _ in columns), "qc", "flags"]))
    for i, row in enumerate(qc.select(["sample", *(c for c, _, _ in columns), "qc_pass"])
                            .iter_rows()):
        sample, *values, qc_pass = row
        lines.append("\t".join([_cell(sample), *(_cell(v) for v in values),
                                "pass" if qc_pass else "fail", ",".join(flags[i])]))
    return "\n".join(lines) + "\n"


def sfs_json(spectrum: dict, name: str, source: str) -> str:
    """The site frequency spectrum, one point per allele count, as a MultiQC line graph."""
    doc = {
        "id": SFS_ID,
        "section_name": "genomekit: site frequency spectrum",
        "description": ("Number of ALT alleles (rows of the genomekit freq table "
                        f"{source}) at each allele count AC ≥ 1; log axes."),
        "plot_type": "linegraph",
        "pconfig": {"id": f"{SFS_ID}_plot", "title": "genomekit: site frequency spectrum",
                    "xlab": "ALT allele count (AC)", "ylab": "ALT alleles", "xlog": True,
                    "ylog": True, "style": "lines+markers"},
        "data": {name: {str(ac): n for ac, n in spectrum["exact"].items()}},
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def sexcheck_json(qc: pl.DataFrame, source: str) -> str | None:
    """chrX F against chrY call rate per sample, as a MultiQC scatter plot (None if empty)."""
    data = {}
    for sample, x_f, y_rate in qc.select(["sample", "x_f", "y_call_rate"]).iter_rows():
        if x_f is None or y_rate is None or math.isnan(x_f) or math.isnan(y_rate):
            continue
        data[sample] = {"x": x_f, "y": y_rate}
    if not data:
        return None
    doc = {
        "id": SEXCHECK_ID,
        "section_name": "genomekit: sex check",
        "description": ("chrX inbreeding coefficient F (x_f) against the chrY call rate "
                        f"(y_call_rate) of each sample, from genomekit sample-qc ({source})."),
        "plot_type": "scatter",
        "pconfig": {"id": f"{SEXCHECK_ID}_plot", "title": "genomekit: sex check",
                    "xlab": "chrX F", "ylab": "chrY call rate", "ymin": 0, "ymax": 1},
        "data": data,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def _unique_names(samples: list[str], bams: list[str]) -> list[str]:
    """MultiQC keys rows by sample name: a name that several BAMs share gets the BAM's file
    name added."""
    counts: dict[str, int] = {}
    for s in samples:
        counts[s] = counts.get(s, 0) + 1
    return [s if counts[s] == 1 else f"{s} ({b.replace(chr(92), '/').rsplit('/', 1)[-1]})"
            for s, b in zip(samples, bams)]


def bamqc_tsv(bq: pl.DataFrame, source: str, min_depth: float) -> str:
    """Mean autosomal depth, % of bases ≥ 20× (or the highest threshold), mapped % and
    duplicate % per BAM, as General Statistics columns (plot_type generalstats)."""
    thresholds = sorted(int(c[len("frac_ge_"):-1]) for c in bq.columns
                        if c.startswith("frac_ge_") and c.endswith("x")
                        and c[len("frac_ge_"):-1].isdigit())
    shown = 20 if 20 in thresholds else (thresholds[-1] if thresholds else None)
    headers: dict = {
        "mean_depth_autosomes": {
            "title": "Mean depth", "suffix": "X", "format": "{:,.1f}", "min": 0,
            "description": "Mean autosomal depth, mosdepth's rules (genomekit bam-qc); "
                           f"below {min_depth:g}X is low coverage in the genomekit report"},
    }
    if shown is not None:
        headers[f"pct_ge_{shown}x"] = {
            "title": f"≥ {shown}X", "suffix": "%", "format": "{:,.1f}", "min": 0, "max": 100,
            "description": f"% of bases with depth ≥ {shown}X"}
    headers["pct_mapped"] = {"title": "Mapped", "suffix": "%", "format": "{:,.2f}", "min": 0,
                             "max": 100, "description": "samtools flagstat's mapped %"}
    headers["pct_duplicates"] = {
        "title": "Dups", "suffix": "%", "format": "{:,.2f}", "min": 0, "max": 100,
        "description": "n_primary_duplicates / n_primary_mapped"}
    config = {
        "id": BAMQC_ID,
        "namespace": "genomekit bam-qc",
        "plot_type": "generalstats",
        "description": f"Coverage and mapping of each BAM, from genomekit bam-qc ({source}).",
        "headers": headers,
    }
    names = _unique_names(bq["sample"].to_list(), bq["bam"].to_list())
    lines = yaml_comment_header(config)
    lines.append("\t".join(["Sample", *headers]))
    frac = bq[f"frac_ge_{shown}x"].to_list() if shown is not None else [None] * bq.height
    for name, depth, f, mapped, dup, pm in zip(
            names, bq["mean_depth_autosomes"].to_list(), frac, bq["pct_mapped"].to_list(),
            bq["n_primary_duplicates"].to_list(), bq["n_primary_mapped"].to_list()):
        cells = [_cell(name), _cell(depth)]
        if shown is not None:
            cells.append(_cell(None if f is None else 100.0 * f))
        cells += [_cell(mapped), _cell(100.0 * dup / pm if pm else None)]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def coverage_json(curves: list, source: str) -> str:
    """% of bases at or above each depth per BAM (the cumulative coverage of mosdepth's
    MultiQC module), as a line graph; depths past 0.5 % of a BAM's bases are left out."""
    data = {}
    names = _unique_names([c.sample for c in curves], [str(i + 1) for i in range(len(curves))])
    for name, c in zip(names, curves):
        keep = np.flatnonzero(c.frac >= 0.005)
        end = int(keep.max()) + 1 if keep.size else 1
        data[name] = {str(d): round(100.0 * float(c.frac[d]), 6) for d in range(end)}
    doc = {
        "id": COVERAGE_ID,
        "section_name": "genomekit: cumulative coverage",
        "description": ("Share of bases at or above each depth, per BAM, from the coverage "
                        f"distribution of genomekit bam-qc ({source})."),
        "plot_type": "linegraph",
        "pconfig": {"id": f"{COVERAGE_ID}_plot", "title": "genomekit: cumulative coverage",
                    "xlab": "Depth (X)", "ylab": "% of bases ≥ depth", "ymin": 0, "ymax": 100,
                    "xmin": 0},
        "data": data,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
