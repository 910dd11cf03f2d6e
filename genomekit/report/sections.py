"""The sections of the report, each built from the tables it needs.

Values in plots, tooltips and tables are the table cells themselves, formatted for
display; what is derived (bin and group counts, IBS0/NSNP) is in report.aggregate or
stated where it is computed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from genomekit import __version__
from genomekit.errors import InputError
from genomekit.genome import SEX_FEMALE, SEX_MALE
from genomekit.io.samples import SampleSheet
from genomekit.report import aggregate
from genomekit.report.html import Section, cards, figure, figures, legend, table
from genomekit.report.inputs import ReportInput
from genomekit.report.svg import (
    FAIL_COLOR,
    MUTED,
    PALETTE,
    Figure,
    Scale,
    bar_chart,
    data_scale,
    esc,
    fmt_value,
    grouped_bar_chart,
)
from genomekit.tables import bam_qc as bam_table
from genomekit.tables import fingerprint as fingerprint_table
from genomekit.tables import relate as relate_table
from genomekit.tables import sample_qc as qc_table

# Key of the samples without a population in sample-qc's outlier bounds: the constant of
# commands.sample_qc, not imported from there because that module loads the VCF readers.
NO_POPULATION = "(none)"
SEX_COLORS = {"M": "#0072B2", "F": "#E69F00", None: MUTED}
SEX_LABELS = {"M": "declared male", "F": "declared female", None: "sex unknown"}
DEGREE_COLORS = {"duplicate": "#B2182B", "first": "#EE7733", "second": "#009988",
                 "third": "#0077BB", relate_table.UNRELATED: "#AAAAAA"}
# Per-sample metrics plotted, when the table has them.
SAMPLE_METRICS = (
    ("call_rate", "Call rate"),
    ("het_hom_ratio", "Het / hom-alt ratio"),
    ("ti_tv", "Ti/Tv"),
    ("n_singleton", "Singletons"),
    ("mean_dp", "Mean depth (DP)"),
    ("mean_gq", "Mean GQ"),
)
# Rows shown in a pair table; the rest are counted in a note.
MAX_TABLE_ROWS = 2000
_PC = re.compile(r"^PC(\d+)$")


@dataclass
class Loaded:
    """A table read for the report, with the run summary written beside it."""

    spec: ReportInput
    path: str
    df: pl.DataFrame
    summary: dict = field(default_factory=dict)
    summary_path: str | None = None


@dataclass
class Context:
    """Everything a section may draw on: the tables by input key, and the --pops sheet.

    Each population gets one colour for the whole page.
    """

    tables: dict[str, Loaded]
    sheet: SampleSheet | None = None
    pops_path: str | None = None
    # Coverage: a BAM whose mean autosomal depth is below this is marked low.
    min_depth: float = 15.0

    def __post_init__(self):
        self.qc_rows: dict[str, dict] = {}
        if "sample_qc" in self.tables:
            qc = self.tables["sample_qc"].df.select("sample", "population", "declared_sex",
                                                    "karyotype")
            self.qc_rows = {r["sample"]: r for r in qc.iter_rows(named=True)}
        order: list[str] = []
        if self.sheet is not None:
            order = list(self.sheet.populations)
        if "sample_qc" in self.tables:
            order += aggregate.group_order(self.tables["sample_qc"].df["population"].to_list())
        if "freq" in self.tables:
            order += freq_populations(self.tables["freq"])
        order = [p for p in dict.fromkeys(order) if p is not None]
        self.pop_colors = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(order)}

    def pop_color(self, pop: str | None) -> str:
        return self.pop_colors.get(pop, MUTED)

    def population_of(self, sample: str) -> str | None:
        """From --pops, else from the sample-qc table."""
        if self.sheet is not None:
            return self.sheet.population.get(sample)
        return (self.qc_rows.get(sample) or {}).get("population")

    def declared_sex_of(self, sample: str) -> str | None:
        """'M', 'F' or None: from the sample-qc table, else from --pops."""
        if sample in self.qc_rows:
            return self.qc_rows[sample]["declared_sex"]
        if self.sheet is not None:
            return {SEX_MALE: "M", SEX_FEMALE: "F"}.get(self.sheet.sex.get(sample))
        return None


def freq_populations(loaded: Loaded) -> list[str]:
    """Populations of a freq table read by the report: freq_columns reads AF_/AN_<pop> for
    the populations only (not AN_XX, AN_XY or AN_adj)."""
    cols = set(loaded.df.columns)
    return [c[len("AN_"):] for c in loaded.df.columns
            if c.startswith("AN_") and f"AF_{c[len('AN_'):]}" in cols]


def freq_columns(spec: ReportInput, names: list[str], summary: dict) -> list[str]:
    """The freq columns the report reads: the site, AC/AN/AF and every AF_/AN_<pop>."""
    pops = summary.get("populations")
    if not isinstance(pops, list):
        pops = [c[len("nhomalt_"):] for c in names if c.startswith("nhomalt_")]
    cols = ["CHROM", "POS", "REF", "ALT", "AC", "AN", "AF"]
    for p in pops:
        if f"AF_{p}" in names and f"AN_{p}" in names:
            cols += [f"AF_{p}", f"AN_{p}"]
    return [c for c in dict.fromkeys(cols) if c in names]


def sample_qc_columns(spec: ReportInput, names: list[str], summary: dict) -> list[str]:
    """The needed columns, depth and GQ, and each fail_<metric> flag with its metric (whose
    value the flagged-samples table shows)."""
    flags = [c for c in names if c.startswith("fail_")]
    extra = ["n_y_sites", "mean_dp", "mean_gq", *flags, *(c[len("fail_"):] for c in flags)]
    return list(dict.fromkeys(list(spec.columns) + [c for c in extra if c in names]))


def relate_columns(spec: ReportInput, names: list[str], summary: dict) -> list[str]:
    return list(spec.columns) + (["HETHET"] if "HETHET" in names else [])


def pca_columns(spec: ReportInput, names: list[str], summary: dict) -> list[str]:
    pcs = sorted((c for c in names if _PC.match(c)), key=lambda c: int(_PC.match(c).group(1)))
    return ["sample", *pcs]


_THRESHOLD = re.compile(r"^frac_ge_(\d+)x$")


def bam_qc_columns(spec: ReportInput, names: list[str], summary: dict) -> list[str]:
    """The needed columns and every fraction of bases at or above a depth threshold."""
    return list(spec.columns) + [c for c in names if _THRESHOLD.match(c)]


def fingerprint_columns(spec: ReportInput, names: list[str], summary: dict) -> list[str]:
    extra = ("discordance_declared", "discordance_best", "second_sample", "lod_second",
             "contamination_sample", "mean_depth", "n_sites_with_reads")
    return list(spec.columns) + [c for c in extra if c in names]


def release_columns(spec: ReportInput, names: list[str], summary: dict) -> list[str]:
    """The counts the section bins and the withheld groups of each row (a release table has
    as many rows as its freq table)."""
    return ["AC", "AN", "suppressed", "suppressed_groups"]


def own_columns(spec: ReportInput, names: list[str], summary: dict) -> list[str]:
    return list(spec.columns)


# Which columns to read from each kind of input (a freq table can be very wide).
COLUMNS: dict[str, Callable] = {
    "freq": freq_columns,
    "sample_qc": sample_qc_columns,
    "relate": relate_columns,
    "pca": pca_columns,
    "bam_qc": bam_qc_columns,
    "coverage_dist": own_columns,
    "fingerprint": fingerprint_columns,
    "release": release_columns,
}


def _floats(series: pl.Series) -> np.ndarray:
    return series.cast(pl.Float64).fill_null(np.nan).to_numpy()


def _bools(series: pl.Series) -> np.ndarray:
    return series.cast(pl.Boolean).fill_null(False).to_numpy()


def _count(n: int) -> str:
    return f"{n:,}"


def _value_counts(series: pl.Series) -> dict:
    """{value: number of rows} of a column."""
    counts = series.value_counts()
    return dict(zip(counts[series.name].to_list(), counts["count"].to_list()))


# Overview ---------------------------------------------------------------------------------

def overview(ctx: Context) -> list[Section]:
    items = []
    if "sample_qc" in ctx.tables:
        qc = ctx.tables["sample_qc"].df
        n_pass = int(_bools(qc["qc_pass"]).sum())
        items.append((_count(qc.height), "samples",
                      f"{_count(n_pass)} pass QC, {_count(qc.height - n_pass)} flagged"))
    if "freq" in ctx.tables:
        fq = ctx.tables["freq"].df
        n_sites = fq.select(pl.struct("CHROM", "POS").n_unique()).item() if fq.height else 0
        items.append((_count(fq.height), "ALT alleles", f"at {_count(n_sites)} sites"))
    if "relate" in ctx.tables:
        rel = ctx.tables["relate"].df
        counts = _value_counts(rel["degree"])
        related = sum(n for d, n in counts.items() if d != relate_table.UNRELATED)
        detail = ", ".join(f"{counts.get(d, 0)} {d}" for d, _ in relate_table.DEGREES)
        items.append((_count(related), "related pairs", detail))
    if "pca" in ctx.tables:
        pca = ctx.tables["pca"].df
        items.append((_count(pca.height), "samples in the PCA",
                      f"{len(pca.columns) - 1} principal components"))
    if "bam_qc" in ctx.tables:
        bq = ctx.tables["bam_qc"].df
        depth = _floats(bq["mean_depth_autosomes"])
        n_low = int((~(depth >= ctx.min_depth)).sum())
        median = float(np.median(depth[np.isfinite(depth)])) if np.isfinite(depth).any() \
            else math.nan
        items.append((_count(bq.height), "BAMs",
                      f"median autosomal depth {fmt_value(median)}×, {_count(n_low)} below "
                      f"{fmt_value(ctx.min_depth)}×"))
    if "fingerprint" in ctx.tables:
        fp = ctx.tables["fingerprint"].df
        counts = _value_counts(fp["result"])
        n_contaminated = int(_bools(fp["contaminated"]).sum())
        detail = ", ".join(f"{counts[r]} {r.replace('_', ' ')}" for r in _results_order(counts))
        items.append((_count(fp.height - counts.get("match", 0)), "BAMs not matching",
                      f"of {_count(fp.height)} fingerprinted: {detail}; {n_contaminated} "
                      "contaminated"))
    if "release" in ctx.tables:
        rel_df = ctx.tables["release"].df
        n_suppressed = int(_bools(rel_df["suppressed"]).sum())
        items.append((_count(rel_df.height), "rows released",
                      f"{_count(n_suppressed)} with counts withheld"))
    rows = []
    for loaded in ctx.tables.values():
        s = loaded.summary
        rows.append([esc(loaded.spec.command), f"<code>{esc(loaded.path)}</code>",
                     _count(loaded.df.height),
                     f"<code>{esc(s['command_line'])}</code>" if s.get("command_line") else "",
                     esc(s.get("version", ""))])
    if ctx.pops_path:
        rows.append(["--pops", f"<code>{esc(ctx.pops_path)}</code>",
                     _count(len(ctx.sheet.population)), "", ""])
    body = cards(items) + "<h3>Inputs</h3>" + table(
        ["table", "file", "rows", "written by", "version"], rows, key="inputs-table",
        numeric=[False, False, True, False, False], sortable=False)
    return [Section("overview", "Overview", body)]


# Samples ----------------------------------------------------------------------------------

def _bounds(loaded: Loaded) -> dict:
    """sample-qc's outlier bounds per population and metric, from its run summary."""
    outliers = loaded.summary.get("outliers")
    bounds = outliers.get("bounds") if isinstance(outliers, dict) else None
    return bounds if isinstance(bounds, dict) else {}


def _bound_text(bounds: dict, pop: str | None, metric: str, mad_k) -> str:
    entry = bounds.get(pop if pop is not None else NO_POPULATION, {}).get(metric, {})
    if "lower" not in entry:
        return ""
    return (f"{pop or 'no population'}: median {fmt_value(entry['median'])} ± {mad_k}·MAD, "
            f"bounds {fmt_value(entry['lower'])} to {fmt_value(entry['upper'])}")


def flagged_samples(ctx: Context) -> list[Section]:
    loaded = ctx.tables["sample_qc"]
    qc = loaded.df
    bounds = _bounds(loaded)
    mad_k = (loaded.summary.get("outliers") or {}).get("mad_k", "k")
    flags = aggregate.sample_flags(qc)
    passed = _bools(qc["qc_pass"])
    rows, attrs = [], []
    for i in np.flatnonzero(~passed).tolist():
        rec = qc.row(i, named=True)
        chips = []
        for flag in flags[i]:
            if flag == "sex":
                why = rec["karyotype_reason"] or (f"declared {rec['declared_sex']}, karyotype "
                                                  f"{rec['karyotype']}")
                chips.append(f'<span class="flag sex">sex: {esc(why)}</span>')
            else:
                value = fmt_value(rec.get(flag))
                tip = _bound_text(bounds, rec["population"], flag, mad_k)
                chips.append(f'<span class="flag" title="{esc(tip)}">{esc(flag)} '
                             f"{esc(value)}</span>")
        rows.append([esc(rec["sample"]), esc(fmt_value(rec["population"])),
                     esc(fmt_value(rec["declared_sex"])), esc(fmt_value(rec["karyotype"])),
                     "".join(chips)])
        attrs.append(f'data-sample="{esc(rec["sample"])}"')
    fail_cols = [c for c in qc.columns if c.startswith("fail_")]
    counts = [(c[len("fail_"):], int(_bools(qc[c]).sum())) for c in fail_cols]
    n_flagged = len(rows)
    intro = (f"<p>{_count(n_flagged)} of {_count(qc.height)} samples have "
             "<code>qc_pass</code> false. Each flag is a <code>fail_*</code> column that is "
             "true: a metric outside median ± k·MAD of the sample's population, or "
             "<code>fail_sex</code> (declared sex ≠ karyotype, or an ambiguous karyotype). "
             "Hover a flag for its bounds; click a row to highlight the sample in every "
             "plot.</p>")
    if rows:
        body = intro + table(["sample", "population", "declared sex", "karyotype", "flags"],
                             rows, key="flagged-table", row_attrs=attrs)
    else:
        body = intro + '<p class="note">No sample is flagged.</p>'
    count_rows = [[esc(name), _count(n)] for name, n in counts if n]
    if count_rows:
        body += "<h3>Samples per flag</h3>" + table(["flag", "samples"], count_rows,
                                                   key="flag-counts", numeric=[False, True])
    return [Section("flagged-samples", "Flagged samples", body, [loaded.path])]


def _strip_positions(pops: list) -> tuple[np.ndarray, list, list]:
    """x of each sample in a strip plot: one unit-wide slot per population, samples in
    table order spread across their slot. Returns x, the populations, and their slots."""
    groups = aggregate.group_order(pops)
    slot = {g: i for i, g in enumerate(groups)}
    size = {g: 0 for g in groups}
    seen = {g: 0 for g in groups}
    for p in pops:
        size[p] += 1
    x = np.empty(len(pops))
    for i, p in enumerate(pops):
        x[i] = slot[p] + 0.1 + 0.8 * (seen[p] + 0.5) / size[p]
        seen[p] += 1
    return x, groups, [slot[g] for g in groups]


def sample_metrics(ctx: Context) -> list[Section]:
    loaded = ctx.tables["sample_qc"]
    qc = loaded.df
    bounds = _bounds(loaded)
    pops = qc["population"].to_list()
    samples = qc["sample"].to_list()
    x, groups, slots = _strip_positions(pops)
    colors = [ctx.pop_color(p) for p in pops]
    ticks = [(s + 0.5, g if g is not None else "none") for g, s in zip(groups, slots)]
    mad_k = (loaded.summary.get("outliers") or {}).get("mad_k")
    plots = []
    for metric, label in SAMPLE_METRICS:
        if metric not in qc.columns:
            continue
        y = _floats(qc[metric])
        fail_col = f"fail_{metric}"
        fail = _bools(qc[fail_col]) if fail_col in qc.columns else np.zeros(qc.height, bool)
        lines = []
        for g, s in zip(groups, slots):
            entry = bounds.get(g if g is not None else NO_POPULATION, {}).get(metric, {})
            if "lower" in entry:
                lines.append((s, entry["lower"], entry["upper"]))
        finite = y[np.isfinite(y)]
        span = float(finite.max() - finite.min()) if finite.size else 0.0
        near = [b for _, lo, hi in lines for b in (lo, hi)
                if finite.size and finite.min() - span <= b <= finite.max() + span]
        fig = Figure(Scale(0.0, float(max(len(groups), 1))), data_scale(y, include=near),
                     title=label, xlabel="population (samples in table order)",
                     ylabel=metric, xticks=ticks)
        for s in slots[1:]:
            fig.vline(s, color="#c8ced8", dash="none")
        titles = [f"{s} ({p or 'no population'}): {metric} = {fmt_value(v)}"
                  for s, p, v in zip(samples, pops, qc[metric].to_list())]
        ok = ~fail
        note = fig.scatter(x[ok], y[ok], color=[c for c, k in zip(colors, ok) if k],
                           titles=[t for t, k in zip(titles, ok) if k],
                           samples=[s for s, k in zip(samples, ok) if k], noun="samples")
        fig.points(x[fail], y[fail], color=FAIL_COLOR, r=4.2, css="pt fail", opacity=0.95,
                   titles=[t + f" — {fail_col}" for t, k in zip(titles, fail) if k],
                   samples=[s for s, k in zip(samples, fail) if k])
        # Bounds go over the points, so that a dense population does not hide them.
        for s, lo, hi in lines:
            fig.hline(lo, x0=s, x1=s + 1, color="#555555",
                      label=f"lower bound {fmt_value(lo)}")
            fig.hline(hi, x0=s, x1=s + 1, color="#555555",
                      label=f"upper bound {fmt_value(hi)}")
        missing = int((~np.isfinite(y)).sum())
        caption = [f"Red: <code>{esc(fail_col)}</code> true ({int(fail.sum())})."]
        if lines:
            caption.append(f"Dashed: median ± {esc(mad_k)}·MAD bounds of each population "
                           "(sample-qc run summary).")
        if missing:
            caption.append(f"{missing} sample(s) with no value are not drawn.")
        if note:
            caption.append(esc(note))
        plots.append(figure(fig.svg(), " ".join(caption)))
    key = legend([(g if g is not None else "no population", ctx.pop_color(g)) for g in groups],
                 ring="fails this metric")
    body = ("<p>One point per sample; each population has a slot of its own so that small "
            "populations stay visible.</p>" + key + figures(plots))
    return [Section("sample-qc", "Sample QC metrics", body, [loaded.path])]


def sex_check(ctx: Context) -> list[Section]:
    """By genotypes (sample-qc: chrX F, chrY calls, depth) and by read depth (bam-qc:
    chrX and chrY over the autosomes), whichever tables are given."""
    parts, sources = [], []
    if "sample_qc" in ctx.tables:
        parts.append(("By genotypes (sample-qc)", _sex_by_genotypes(ctx)))
        sources.append(ctx.tables["sample_qc"].path)
    if "bam_qc" in ctx.tables:
        parts.append(("By read depth (bam-qc)", _sex_by_depth(ctx)))
        sources.append(ctx.tables["bam_qc"].path)
    if len(parts) == 1:
        body = parts[0][1]
    else:
        body = "".join(f"<h3>{esc(title)}</h3>{html}" for title, html in parts)
    return [Section("sex-check", "Sex check", body, sources)]


def _sex_by_genotypes(ctx: Context) -> str:
    loaded = ctx.tables["sample_qc"]
    qc = loaded.df
    thresholds = loaded.summary.get("karyotype_thresholds")
    if not isinstance(thresholds, dict):
        thresholds = {}
    f_lo = thresholds.get("female_max_f", qc_table.FEMALE_MAX_F)
    f_hi = thresholds.get("male_min_f", qc_table.MALE_MIN_F)
    y_lo = thresholds.get("female_max_y_call_rate", qc_table.FEMALE_MAX_Y_RATE)
    y_hi = thresholds.get("male_min_y_call_rate", qc_table.MALE_MIN_Y_RATE)
    samples = qc["sample"].to_list()
    sexes = qc["declared_sex"].to_list()
    karyo = qc["karyotype"].to_list()
    x_f = _floats(qc["x_f"])
    y_rate = _floats(qc["y_call_rate"])
    fail = _bools(qc["fail_sex"])
    colors = [SEX_COLORS.get(s, MUTED) for s in sexes]
    titles = [f"{s}: declared {fmt_value(d)}, karyotype {fmt_value(k)}, chrX F {fmt_value(f)}, "
              f"chrY call rate {fmt_value(r)} ({fmt_value(n)} chrY calls)"
              for s, d, k, f, r, n in zip(samples, sexes, karyo, qc["x_f"].to_list(),
                                          qc["y_call_rate"].to_list(),
                                          qc["n_y_called"].to_list())]

    def draw(fig: Figure, xs, ys) -> str:
        ok = ~fail
        note = fig.scatter(xs[ok], ys[ok], color=[c for c, k in zip(colors, ok) if k],
                           titles=[t for t, k in zip(titles, ok) if k],
                           samples=[s for s, k in zip(samples, ok) if k], noun="samples")
        fig.points(xs[fail], ys[fail], color=[c for c, k in zip(colors, fail) if k], r=4.4,
                   stroke=FAIL_COLOR, opacity=0.95, css="pt fail",
                   titles=[t + " — fail_sex" for t, k in zip(titles, fail) if k],
                   samples=[s for s, k in zip(samples, fail) if k])
        return note

    xscale = data_scale(x_f, include=(0.0, 1.0, f_lo, f_hi))
    fig = Figure(xscale, Scale(-0.03, 1.03), title="chrX F vs chrY call rate",
                 xlabel="chrX F (x_f)", ylabel="chrY call rate (y_call_rate)")
    fig.vline(f_lo, label=f"XX when F < {f_lo}")
    fig.vline(f_hi, label=f"XY when F > {f_hi}")
    fig.hline(y_lo, label=f"no Y when call rate ≤ {y_lo}")
    fig.hline(y_hi, label=f"Y present when call rate ≥ {y_hi}")
    note = draw(fig, x_f, y_rate)
    undrawn = int((~(np.isfinite(x_f) & np.isfinite(y_rate))).sum())
    cap = (f"Dashed: karyotype thresholds (F {fmt_value(f_lo)} / {fmt_value(f_hi)}, chrY call "
           f"rate {fmt_value(y_lo)} / {fmt_value(y_hi)}). Red ring: <code>fail_sex</code> true "
           f"({int(fail.sum())}).")
    if undrawn:
        cap += f" {undrawn} sample(s) without chrX F or chrY calls are not drawn."
    if note:
        cap += " " + esc(note)
    plots = [figure(fig.svg(), cap)]
    if "mean_dp" in qc.columns:
        dp = _floats(qc["mean_dp"])
        fig2 = Figure(xscale, data_scale(dp), title="chrX F vs mean depth",
                      xlabel="chrX F (x_f)", ylabel="mean depth (mean_dp)")
        fig2.vline(f_lo)
        fig2.vline(f_hi)
        note2 = draw(fig2, x_f, dp)
        plots.append(figure(fig2.svg(), "Low depth can pull F towards the ambiguous middle. "
                            + esc(note2)))
    key = legend([(SEX_LABELS[s], SEX_COLORS[s]) for s in ("M", "F", None)],
                 ring="fail_sex")
    tab = aggregate.crosstab([s if s is not None else "unknown" for s in sexes],
                             [k if k is not None else "none" for k in karyo])
    kinds = [k for k in ("XX", "XY", "ambiguous", "none") if any(c == k for _, c in tab)]
    rows = [[esc(sex)] + [_count(tab.get((sex, k), 0)) for k in kinds]
            for sex in ("F", "M", "unknown") if any(r == sex for r, _ in tab)]
    crosstab = table(["declared sex", *kinds], rows, key="sex-crosstab",
                     numeric=[False] + [True] * len(kinds), sortable=False)
    return key + figures(plots) + "<h4>Declared sex by karyotype</h4>" + crosstab


# PCA --------------------------------------------------------------------------------------

def pca(ctx: Context) -> list[Section]:
    loaded = ctx.tables["pca"]
    df = loaded.df
    samples = df["sample"].to_list()
    pcs = [c for c in df.columns if _PC.match(c)]
    if ctx.sheet is not None:
        pop_of = dict(ctx.sheet.population)
        pop_source = "--pops"
    elif "sample_qc" in ctx.tables:
        qc = ctx.tables["sample_qc"].df
        pop_of = dict(zip(qc["sample"].to_list(), qc["population"].to_list()))
        pop_source = "the sample-qc table"
    else:
        pop_of, pop_source = {}, None
    pops = [pop_of.get(s) for s in samples]
    colors = [ctx.pop_color(p) for p in pops]
    failed: set = set()
    if "sample_qc" in ctx.tables:
        qc = ctx.tables["sample_qc"].df
        failed = set(qc.filter(~pl.col("qc_pass").cast(pl.Boolean).fill_null(False))["sample"])
    fail = np.array([s in failed for s in samples], dtype=bool)
    pairs = [("PC1", "PC2")]
    if "PC4" in pcs:
        pairs.append(("PC3", "PC4"))
    elif "PC3" in pcs:
        pairs.append(("PC1", "PC3"))
    share = loaded.summary.get("variance_share")

    def axis_label(pc: str) -> str:
        k = int(_PC.match(pc).group(1))
        if isinstance(share, list) and k <= len(share) and isinstance(share[k - 1], float):
            return f"{pc} ({100 * share[k - 1]:.3g}% of variance)"
        return pc

    plots = []
    for a, b in pairs:
        xs, ys = _floats(df[a]), _floats(df[b])
        fig = Figure(data_scale(xs), data_scale(ys), title=f"{a} vs {b}", xlabel=axis_label(a),
                     ylabel=axis_label(b))
        titles = [f"{s} ({p or 'no population'}): {a} {fmt_value(u)}, {b} {fmt_value(v)}"
                  for s, p, u, v in zip(samples, pops, df[a].to_list(), df[b].to_list())]
        ok = ~fail
        note = fig.scatter(xs[ok], ys[ok], color=[c for c, k in zip(colors, ok) if k],
                           titles=[t for t, k in zip(titles, ok) if k],
                           samples=[s for s, k in zip(samples, ok) if k], noun="samples")
        fig.points(xs[fail], ys[fail], color=[c for c, k in zip(colors, fail) if k], r=4.2,
                   stroke=FAIL_COLOR, css="pt fail", opacity=0.95,
                   titles=[t + " — qc_pass false" for t, k in zip(titles, fail) if k],
                   samples=[s for s, k in zip(samples, fail) if k])
        plots.append(figure(fig.svg(), esc(note)))
    groups = aggregate.group_order(pops)
    key = legend([(g if g is not None else "no population", ctx.pop_color(g)) for g in groups],
                 ring="qc_pass false" if failed else None)
    n_none = sum(p is None for p in pops)
    text = f"<p>{_count(len(samples))} samples, {len(pcs)} principal components."
    if pop_source:
        text += f" Populations from {esc(pop_source)}"
        text += f"; {n_none} sample(s) have none.</p>" if n_none else ".</p>"
    else:
        text += " Give --pops (or --sample-qc) to colour them by population.</p>"
    return [Section("pca", "PCA", text + key + figures(plots), [loaded.path])]


# Relatedness ------------------------------------------------------------------------------

def relatedness(ctx: Context) -> list[Section]:
    loaded = ctx.tables["relate"]
    rel = loaded.df
    kin = _floats(rel["KINSHIP"])
    nsnp = _floats(rel["NSNP"])
    # The IBS0 proportion, as KING plots it; NSNP = 0 leaves it undefined.
    with np.errstate(divide="ignore", invalid="ignore"):
        ibs0 = np.where(nsnp > 0, _floats(rel["IBS0"]) / nsnp, np.nan)
    degree = rel["degree"].to_list()
    related = np.array([d != relate_table.UNRELATED for d in degree], dtype=bool)
    bounds = [b for _, b in relate_table.DEGREES]
    top = float(np.nanmax(kin)) if np.isfinite(kin).any() else 0.0
    include = [b for b in bounds if b <= top] + [min((b for b in bounds if b > top),
                                                     default=0.5)]
    fig = Figure(data_scale(ibs0, include=(0.0,)), data_scale(kin, include=include),
                 title="Kinship vs IBS0", xlabel="IBS0 / NSNP", ylabel="KING kinship",
                 width=620, height=380)
    edges = [math.inf] + bounds
    for (name, lo), hi in zip(relate_table.DEGREES, edges):
        fig.hband(lo, min(hi, fig.y.hi), color=DEGREE_COLORS[name], label=name)
    iid1, iid2 = rel["IID1"], rel["IID2"]
    order = np.argsort(related, kind="stable")  # related pairs drawn last, on top

    def title(j: int) -> str:
        i = int(order[j])
        return (f"{iid1[i]} – {iid2[i]}: kinship {fmt_value(rel['KINSHIP'][i])}, IBS0 "
                f"{fmt_value(rel['IBS0'][i])} of {fmt_value(rel['NSNP'][i])} SNPs, {degree[i]}")

    colors = [DEGREE_COLORS.get(d, MUTED) for d in degree]
    note = fig.scatter(ibs0[order], kin[order], emphasis=related[order],
                       color=[colors[i] for i in order], titles=title, noun="pairs")
    s = loaded.summary
    reported = ""
    if "min_kinship" in s and "n_pairs" in s:
        reported = (f" The table holds the {_count(rel.height)} pairs with kinship ≥ "
                    f"{fmt_value(s['min_kinship'])} of {_count(int(s['n_pairs']))} pairs.")
    bands = ", ".join(f"{name} ≥ {bound}" for name, bound in relate_table.DEGREES)
    cap = (f"Bands: the degree bounds of genomekit relate ({bands})." + reported
           + (" " + esc(note) if note else ""))
    count_of = _value_counts(rel["degree"])
    count_rows = [[esc(d), _count(int(count_of.get(d, 0)))]
                  for d in relate_table.DEGREE_LABELS if d in count_of]
    key = legend([(d, DEGREE_COLORS[d]) for d in relate_table.DEGREE_LABELS if d in count_of])
    pairs = rel.filter(pl.col("degree") != relate_table.UNRELATED).sort(
        "KINSHIP", descending=True)
    cols = [c for c in ("IID1", "IID2", "degree", "KINSHIP", "IBS0", "NSNP", "HETHET")
            if c in pairs.columns]
    rows = [[esc(fmt_value(v)) for v in r] for r in
            pairs.select(cols).head(MAX_TABLE_ROWS).iter_rows()]
    body = figures([figure(fig.svg(), cap, key)])
    body += "<h3>Pairs per degree</h3>" + table(["degree", "pairs"], count_rows,
                                                key="degree-counts", numeric=[False, True],
                                                sortable=False)
    body += "<h3>Related pairs</h3>"
    if rows:
        if pairs.height > MAX_TABLE_ROWS:
            body += (f'<p class="note">The {_count(MAX_TABLE_ROWS)} pairs of highest kinship '
                     f"of {_count(pairs.height)}; all are in the relate table.</p>")
        body += table(cols, rows, key="related-pairs",
                      numeric=[c in ("KINSHIP", "IBS0", "NSNP", "HETHET") for c in cols])
    else:
        body += '<p class="note">No pair reaches the third-degree bound.</p>'
    return [Section("relatedness", "Relatedness", body, [loaded.path])]


# Variants ---------------------------------------------------------------------------------

def sfs(ctx: Context) -> list[Section]:
    loaded = ctx.tables["freq"]
    spectrum = aggregate.sfs_table(loaded.df)
    labels, counts = spectrum["labels"], spectrum["all"].tolist()
    chart = bar_chart(labels, counts, title="Site frequency spectrum",
                      xlabel="ALT allele count (AC)", ylabel="ALT alleles (log scale)",
                      tips=[f"AC {lab}: {n:,} ALT alleles" for lab, n in zip(labels, counts)])
    classes = list(spectrum["by_class"])
    headers = ["AC", "all", *classes] if len(classes) > 1 else ["AC", "ALT alleles"]
    rows = []
    for i, lab in enumerate(labels):
        row = [esc(lab), _count(int(spectrum["all"][i]))]
        if len(classes) > 1:
            row += [_count(int(spectrum["by_class"][c][i])) for c in classes]
        rows.append(row)
    cap = ("One count per ALT allele (row of the freq table): a multi-allelic site adds one "
           "per ALT allele. Bins: AC 0, singletons, doubletons, then 1-2-5 steps.")
    if spectrum["no_calls"]:
        cap += (f" {spectrum['no_calls']:,} ALT allele(s) with AN = 0 (no called genotype) "
                "are not binned.")
    body = figures([figure(chart, cap)]) + table(
        headers, rows, key="sfs-table", numeric=[False] + [True] * (len(headers) - 1),
        sortable=False)
    return [Section("sfs", "Site frequency spectrum", body, [loaded.path])]


def af_by_population(ctx: Context) -> list[Section]:
    loaded = ctx.tables["freq"]
    fq = loaded.df
    pops = freq_populations(loaded)
    if len(pops) < 2:
        return []
    max_an = {p: fq[f"AN_{p}"].max() or 0 for p in pops}
    # The reference axis is the population with the most alleles, the best-measured AF.
    ref = max(pops, key=lambda p: (max_an[p], -pops.index(p)))
    x_all = _floats(fq[f"AF_{ref}"])

    def site(i: int) -> str:
        row = fq.row(i, named=True)
        return f"{row['CHROM']}:{row['POS']} {row['REF']}>{row['ALT']}"

    plots = []
    for pop in pops:
        if pop == ref:
            continue
        y_all = _floats(fq[f"AF_{pop}"])
        ok = np.isfinite(x_all) & np.isfinite(y_all)
        idx = np.flatnonzero(ok)
        fig = Figure(Scale(-0.02, 1.02), Scale(-0.02, 1.02), title=f"AF_{ref} vs AF_{pop}",
                     xlabel=f"AF_{ref}", ylabel=f"AF_{pop}", width=360, height=340)
        fig.diagonal()
        xv, yv = fq[f"AF_{ref}"], fq[f"AF_{pop}"]

        def title(j: int, idx=idx, xv=xv, yv=yv, pop=pop) -> str:
            i = int(idx[j])
            return f"{site(i)}: AF_{ref} {fmt_value(xv[i])}, AF_{pop} {fmt_value(yv[i])}"

        note = fig.scatter(x_all[idx], y_all[idx], color=ctx.pop_color(pop), titles=title,
                           noun="ALT alleles", r=2.0)
        cap = (f"{_count(len(idx))} ALT alleles with both frequencies defined; AN_{esc(pop)} "
               f"is at most {_count(int(max_an[pop]))}, so its AF moves in steps of "
               f"{fmt_value(1 / max_an[pop]) if max_an[pop] else 'NA'}.")
        plots.append(figure(fig.svg(), cap + (" " + esc(note) if note else "")))
    body = (f"<p>Each ALT allele's frequency in {esc(ref)} (the population with the most "
            "called alleles) against its frequency in each other population; the dotted "
            "line is equal frequency.</p>" + figures(plots))
    return [Section("af-by-population", "Allele frequency by population", body, [loaded.path])]


# Coverage (bam-qc) ------------------------------------------------------------------------

# Above this many BAMs the cumulative coverage plot shows the spread of the curves (a band
# and quantile lines) and draws only the low-coverage BAMs one by one.
MAX_LINES = 300


def _thresholds(df: pl.DataFrame) -> list[int]:
    """The depth thresholds of a bam-qc table's frac_ge_<t>x columns, in increasing order."""
    return sorted(int(_THRESHOLD.match(c).group(1)) for c in df.columns if _THRESHOLD.match(c))


def duplicate_percent(df: pl.DataFrame) -> np.ndarray:
    """100 · n_primary_duplicates / n_primary_mapped (NaN without mapped primary reads)."""
    dup = _floats(df["n_primary_duplicates"])
    mapped = _floats(df["n_primary_mapped"])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mapped > 0, 100.0 * dup / mapped, np.nan)


def low_coverage(df: pl.DataFrame, min_depth: float) -> np.ndarray:
    """BAMs whose mean autosomal depth is below ``min_depth`` or undefined."""
    return ~(_floats(df["mean_depth_autosomes"]) >= min_depth)


def _pct(value) -> str:
    """A fraction of the table (0..1) shown as a percentage."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    return f"{100 * value:.2f}"


def _strip(ctx: Context, samples: list[str], values: np.ndarray, marked: np.ndarray, *,
           title: str, ylabel: str, column: str, lines: Sequence[tuple[float, str]] = (),
           mark_label: str) -> str:
    pops = [ctx.population_of(s) for s in samples]
    x, groups, slots = _strip_positions(pops)
    ticks = [(sl + 0.5, g if g is not None else "none") for g, sl in zip(groups, slots)]
    fig = Figure(Scale(0.0, float(max(len(groups), 1))),
                 data_scale(values, include=[v for v, _ in lines]), title=title,
                 xlabel="population (BAMs in table order)" if any(pops) else "BAMs in table order",
                 ylabel=ylabel, xticks=ticks)
    for sl in slots[1:]:
        fig.vline(sl, color="#c8ced8", dash="none")
    colors = [ctx.pop_color(p) for p in pops]
    titles = [f"{s}: {column} = {fmt_value(v)}" for s, v in zip(samples, values.tolist())]
    ok = ~marked
    note = fig.scatter(x[ok], values[ok], color=[c for c, k in zip(colors, ok) if k],
                       titles=[t for t, k in zip(titles, ok) if k],
                       samples=[s for s, k in zip(samples, ok) if k], noun="BAMs")
    fig.points(x[marked], values[marked], color=FAIL_COLOR, r=4.2, css="pt fail", opacity=0.95,
               titles=[t + f" — {mark_label}" for t, k in zip(titles, marked) if k],
               samples=[s for s, k in zip(samples, marked) if k])
    for value, label in lines:
        fig.hline(value, color="#555555", label=label)
    return figure(fig.svg(), esc(note))


def _coverage_plot(ctx: Context, curves: list[aggregate.CoverageCurve],
                   low_of: list[bool], thresholds: list[int]) -> str:
    """Share of bases at or above each depth, one line per BAM (mosdepth plot-dist)."""
    # Depths up to where every curve has fallen below 0.5 % of its bases.
    ends = [int(np.flatnonzero(c.frac >= 0.005).max(initial=0)) + 1 for c in curves]
    x_max = max(max(ends), max(thresholds, default=0), int(math.ceil(ctx.min_depth)), 1)
    step = max(1, x_max // 300)
    depth = np.arange(0, x_max + 1, step)
    fig = Figure(Scale(0.0, float(x_max)), Scale(0.0, 100.0), title="Cumulative coverage",
                 xlabel="depth", ylabel="% of bases at or above the depth", width=620,
                 height=360)
    fig.vline(ctx.min_depth, label=f"--min-depth {fmt_value(ctx.min_depth)}")

    def pct_at(c: aggregate.CoverageCurve) -> np.ndarray:
        # frac_at for every drawn depth: 0 past the curve's largest depth.
        frac = np.zeros(x_max + 1)
        n = min(c.frac.size, x_max + 1)
        frac[:n] = c.frac[:n]
        return 100.0 * frac[depth]

    def tip(c: aggregate.CoverageCurve, low: bool) -> str:
        at = ", ".join(f"≥{t}×: {100 * aggregate.frac_at(c, t):.2f}%" for t in thresholds)
        return f"{c.sample}: {at} of {c.n_bases:,} bases" + (" — low coverage" if low else "")

    keys = []
    known_pops = any(ctx.population_of(c.sample) is not None for c in curves)
    if len(curves) <= MAX_LINES:
        for i, (c, low) in enumerate(zip(curves, low_of)):
            if low:
                color = FAIL_COLOR
            elif known_pops:
                color = ctx.pop_color(ctx.population_of(c.sample))
            else:
                color = PALETTE[i % len(PALETTE)] if len(curves) <= len(PALETTE) else "#0072B2"
            fig.line(depth, pct_at(c), color=color, title=tip(c, low), sample=c.sample)
            if not known_pops and len(curves) <= len(PALETTE):
                keys.append((c.sample, color))
        cap = f"One line per BAM ({len(curves)}); red: low coverage."
    else:
        grid = np.vstack([pct_at(c) for c in curves])
        q = np.quantile(grid, [0.0, 0.1, 0.5, 0.9, 1.0], axis=0)
        fig.band(depth, q[0], q[4], color="#0072B2", opacity=0.12, title="range of the BAMs")
        fig.band(depth, q[1], q[3], color="#0072B2", opacity=0.2,
                 title="10th to 90th percentile of the BAMs")
        fig.line(depth, q[2], color="#0072B2", width=2.0, title="median of the BAMs")
        n_drawn = 0
        for c, low in zip(curves, low_of):
            if low and n_drawn < MAX_LINES:
                fig.line(depth, pct_at(c), color=FAIL_COLOR, width=1.0, title=tip(c, True),
                         sample=c.sample)
                n_drawn += 1
        cap = (f"{len(curves):,} BAMs: the shade spans them all (darker: 10th to 90th "
               f"percentile at each depth), the line is their median; red lines: "
               f"{n_drawn:,} low-coverage BAMs.")
    cap += (" From the genome-wide rows of the coverage distribution, as mosdepth's "
            "<code>.dist.txt</code> (depth counted over the --by regions when bam-qc had "
            "them).")
    if step > 1:
        cap += f" Every {step}th depth is drawn."
    key = legend(keys) if keys else ""
    return figure(fig.svg(), cap, key)


def coverage(ctx: Context) -> list[Section]:
    sources, body = [], ""
    bq = ctx.tables.get("bam_qc")
    low_samples: set[str] = set()
    low = np.zeros(0, bool)
    thresholds: list[int] = []
    if bq is not None:
        df = bq.df
        sources.append(bq.path)
        samples = df["sample"].to_list()
        thresholds = _thresholds(df)
        low = low_coverage(df, ctx.min_depth)
        low_samples = {s for s, k in zip(samples, low) if k}
        depth = _floats(df["mean_depth_autosomes"])
        dup = duplicate_percent(df)
        mapped = _floats(df["pct_mapped"])
        body += (f"<p>{_count(df.height)} BAMs; {_count(int(low.sum()))} with a mean "
                 f"autosomal depth below {fmt_value(ctx.min_depth)}× (<code>--min-depth</code>) "
                 "or none, marked red. Depth as mosdepth counts it (bam-qc's "
                 "<code>mean_depth_autosomes</code>); mapped % is samtools flagstat's; "
                 "duplicates % is <code>n_primary_duplicates / n_primary_mapped</code>.</p>")
        plots = [_strip(ctx, samples, depth, low, title="Mean autosomal depth",
                        ylabel="mean_depth_autosomes", column="mean_depth_autosomes",
                        lines=[(ctx.min_depth, f"--min-depth {fmt_value(ctx.min_depth)}")],
                        mark_label="low coverage")]
        shown = 20 if 20 in thresholds else (thresholds[-1] if thresholds else None)
        if shown is not None:
            plots.append(_strip(ctx, samples, 100 * _floats(df[f"frac_ge_{shown}x"]), low,
                                title=f"Bases at ≥ {shown}×", ylabel="% of bases",
                                column=f"% frac_ge_{shown}x", mark_label="low coverage"))
        plots.append(_strip(ctx, samples, mapped, low, title="Mapped reads",
                            ylabel="pct_mapped (%)", column="pct_mapped",
                            mark_label="low coverage"))
        plots.append(_strip(ctx, samples, dup, low, title="Duplicates",
                            ylabel="% of mapped primary reads", column="duplicates %",
                            mark_label="low coverage"))
        body += figures(plots)
        headers = ["sample", "BAM", "mean depth (autosomes)", "mean depth",
                   *(f"% ≥ {t}×" for t in thresholds), "mapped %", "duplicates %",
                   "karyotype (depth)", "coverage"]
        rows, attrs = [], []
        cols = ["sample", "bam", "mean_depth_autosomes", "mean_depth",
                *(f"frac_ge_{t}x" for t in thresholds), "pct_mapped", "karyotype"]
        for i, rec in enumerate(df.select(cols).head(MAX_TABLE_ROWS).iter_rows(named=True)):
            rows.append([esc(rec["sample"]), f'<code title="{esc(rec["bam"])}">'
                         f'{esc(_basename(rec["bam"]))}</code>',
                         esc(fmt_value(rec["mean_depth_autosomes"])),
                         esc(fmt_value(rec["mean_depth"])),
                         *(_pct(rec[f"frac_ge_{t}x"]) for t in thresholds),
                         esc(fmt_value(rec["pct_mapped"])), esc(fmt_value(float(dup[i]))),
                         esc(fmt_value(rec["karyotype"])),
                         '<span class="flag">low</span>' if low[i] else "ok"])
            attrs.append(f'data-sample="{esc(rec["sample"])}"')
        body += "<h3>BAMs</h3>"
        if df.height > MAX_TABLE_ROWS:
            body += (f'<p class="note">The first {_count(MAX_TABLE_ROWS)} of '
                     f"{_count(df.height)} BAMs; all are in the bam-qc table.</p>")
        body += table(headers, rows, key="coverage-table", row_attrs=attrs,
                      numeric=[False, False] + [True] * (4 + len(thresholds)) + [False, False])
    cd = ctx.tables.get("coverage_dist")
    if cd is not None:
        sources.append(cd.path)
        try:
            curves = aggregate.coverage_curves(cd.df)
        except ValueError as e:
            raise InputError(f"not a coverage distribution: {e}", file=cd.path,
                             hint="give the .coverage_dist table of genomekit bam-qc") from None
        if not curves:
            body += '<p class="note">The coverage distribution has no genome-wide rows.</p>'
        else:
            if bq is not None and [c.sample for c in curves] == bq.df["sample"].to_list():
                low_of = [bool(k) for k in low]  # the same BAMs in the same order
            else:
                low_of = [c.sample in low_samples for c in curves]
            if not thresholds:
                thresholds = list(bam_table.DEFAULT_THRESHOLDS)
            body = figures([_coverage_plot(ctx, curves, low_of, thresholds)]) + body
    return [Section("coverage", "Coverage", body, sources)]


def _basename(path: str | None) -> str:
    return "NA" if path is None else path.replace("\\", "/").rsplit("/", 1)[-1]


def _sex_by_depth(ctx: Context) -> str:
    """chrX/autosome against chrY/autosome depth per BAM, by declared sex, and the BAMs whose
    depth karyotype is ambiguous or disagrees with the declared sex or the genotypes."""
    loaded = ctx.tables["bam_qc"]
    df = loaded.df
    t = loaded.summary.get("karyotype_thresholds")
    t = t if isinstance(t, dict) else {}
    x_one = t.get("x_ratio_one_x", bam_table.X_ONE)
    x_two = t.get("x_ratio_two_x", bam_table.X_TWO)
    y_absent = t.get("y_ratio_absent", bam_table.Y_ABSENT)
    y_present = t.get("y_ratio_present", bam_table.Y_PRESENT)
    samples = df["sample"].to_list()
    sexes = [ctx.declared_sex_of(s) for s in samples]
    geno = [(ctx.qc_rows.get(s) or {}).get("karyotype") for s in samples]
    karyo = df["karyotype"].to_list()
    reasons = df["karyotype_reason"].to_list()
    issues = depth_sex_issues(sexes, karyo, geno, reasons, "sample_qc" in ctx.tables)
    flagged = np.array([bool(i) for i in issues], dtype=bool)
    x = _floats(df["x_depth_ratio"])
    y = _floats(df["y_depth_ratio"])
    colors = [SEX_COLORS.get(s, MUTED) for s in sexes]
    titles = [f"{s} ({_basename(b)}): declared {fmt_value(d)}, depth karyotype {fmt_value(k)}"
              f", chrX/autosome {fmt_value(u)}, chrY/autosome {fmt_value(v)}"
              for s, b, d, k, u, v in zip(samples, df["bam"].to_list(), sexes, karyo,
                                          df["x_depth_ratio"].to_list(),
                                          df["y_depth_ratio"].to_list())]
    fig = Figure(data_scale(x, include=(0.0, 1.0, x_one, x_two)),
                 data_scale(y, include=(0.0, y_present, 0.5)),
                 title="chrX vs chrY depth, over the autosomes",
                 xlabel="chrX / autosome depth (x_depth_ratio)",
                 ylabel="chrY / autosome depth (y_depth_ratio)")
    fig.vline(x_one, label=f"one X when ≤ {x_one}")
    fig.vline(x_two, label=f"two X when ≥ {x_two}")
    fig.hline(y_absent, label=f"no Y when ≤ {y_absent}")
    fig.hline(y_present, label=f"a Y when ≥ {y_present}")
    ok = ~flagged
    note = fig.scatter(x[ok], y[ok], color=[c for c, k in zip(colors, ok) if k],
                       titles=[t_ for t_, k in zip(titles, ok) if k],
                       samples=[s for s, k in zip(samples, ok) if k], noun="BAMs")
    fig.points(x[flagged], y[flagged], color=[c for c, k in zip(colors, flagged) if k], r=4.4,
               stroke=FAIL_COLOR, opacity=0.95, css="pt fail",
               titles=[t_ + " — " + "; ".join(i) for t_, i in zip(titles, issues) if i],
               samples=[s for s, k in zip(samples, flagged) if k])
    undrawn = int((~(np.isfinite(x) & np.isfinite(y))).sum())
    cap = (f"Dashed: bam-qc's karyotype thresholds (chrX {fmt_value(x_one)} / "
           f"{fmt_value(x_two)}, chrY {fmt_value(y_absent)} / {fmt_value(y_present)}). "
           f"Red ring: depth karyotype ambiguous or in disagreement ({int(flagged.sum())}).")
    if undrawn:
        cap += f" {undrawn} BAM(s) without chrX or chrY depth are not drawn."
    if note:
        cap += " " + esc(note)
    source = ("the sample-qc table" if "sample_qc" in ctx.tables
              else "--pops" if ctx.sheet is not None else None)
    n_unknown = sum(s is None for s in sexes)
    text = "<p>Declared sex "
    text += f"from {esc(source)}" if source else "unknown (give --sample-qc or --pops)"
    text += (f"; {n_unknown} BAM(s) have none.</p>" if n_unknown and source else ".</p>")
    key = legend([(SEX_LABELS[s], SEX_COLORS[s]) for s in ("M", "F", None)],
                 ring="ambiguous or disagrees")
    rows, attrs = [], []
    for i in np.flatnonzero(flagged).tolist():
        chips = "".join(f'<span class="flag sex why">{esc(m)}</span>' for m in issues[i])
        rows.append([esc(samples[i]), f"<code>{esc(_basename(df['bam'][i]))}</code>",
                     esc(fmt_value(sexes[i])), esc(fmt_value(geno[i])), esc(fmt_value(karyo[i])),
                     esc(fmt_value(df["x_depth_ratio"][i])),
                     esc(fmt_value(df["y_depth_ratio"][i])), chips])
        attrs.append(f'data-sample="{esc(samples[i])}"')
    out = text + key + figures([figure(fig.svg(), cap)])
    out += "<h4>BAMs whose depth karyotype is ambiguous or disagrees</h4>"
    if rows:
        out += table(["sample", "BAM", "declared sex", "karyotype (genotypes)",
                      "karyotype (depth)", "chrX/autosome", "chrY/autosome", "why"], rows,
                     key="sex-depth-table", row_attrs=attrs,
                     numeric=[False] * 5 + [True, True, False])
    else:
        out += '<p class="note">None.</p>'
    tab = aggregate.crosstab([s if s is not None else "unknown" for s in sexes],
                             [k if k is not None else "none" for k in karyo])
    kinds = [k for k in ("XX", "XY", "ambiguous", "none") if any(c == k for _, c in tab)]
    cross = [[esc(sex)] + [_count(tab.get((sex, k), 0)) for k in kinds]
             for sex in ("F", "M", "unknown") if any(r == sex for r, _ in tab)]
    out += "<h4>Declared sex by depth karyotype (BAMs)</h4>" + table(
        ["declared sex", *kinds], cross, key="sex-depth-crosstab",
        numeric=[False] + [True] * len(kinds), sortable=False)
    return out


def depth_sex_issues(sexes: list, karyo: list, geno: list, reasons: list,
                     have_genotypes: bool) -> list[list[str]]:
    """Why each BAM's depth karyotype is flagged: ambiguous (bam-qc's reason), not the
    declared sex (as sample-qc's sex_mismatch: only XX and XY against M and F), or not the
    karyotype sample-qc inferred from the genotypes (when both are known)."""
    out = []
    for sex, k, g, reason in zip(sexes, karyo, geno, reasons):
        why = []
        if k == "ambiguous":
            why.append(f"ambiguous: {reason}" if reason else "ambiguous")
        if sex in ("M", "F") and k in ("XX", "XY") and (sex == "M") != (k == "XY"):
            why.append(f"declared {sex}, depth {k}")
        if have_genotypes and g is not None and k is not None and g != k:
            why.append(f"genotypes {g}, depth {k}")
        out.append(why)
    return out


# Sample identity (fingerprint) ------------------------------------------------------------

RESULT_COLORS = {"match": "#009E73", "swap": "#D55E00", "mismatch": "#CC79A7",
                 "inconclusive": "#E69F00", "not_in_vcf": "#56B4E9"}


def _results_order(counts: dict) -> list[str]:
    known = [r for r in fingerprint_table.RESULTS if r in counts]
    return known + sorted(r for r in counts if r not in fingerprint_table.RESULTS and r)


def identity_issues(rec: dict, threshold, max_contamination) -> list[str]:
    """Why a fingerprint row is listed: its verdict when not a match, and contamination."""
    out = []
    result = rec["result"]
    lod_d, lod_b = fmt_value(rec["lod_declared"]), fmt_value(rec["lod_best"])
    if result == "swap":
        what = (f"declared {rec['declared_sample']} is not in the VCF"
                if not rec["declared_in_vcf"] else f"LOD {lod_d} for {rec['declared_sample']}")
        out.append(f"swap: the reads are {rec['best_sample']}'s (LOD {lod_b}); {what}")
    elif result == "mismatch":
        out.append(f"mismatch: not {rec['declared_sample']}'s (LOD {lod_d}) and no sample "
                   f"matches (best {rec['best_sample']}, LOD {lod_b})")
    elif result == "inconclusive":
        out.append(f"inconclusive: LOD {lod_d} between −{fmt_value(threshold)} and "
                   f"{fmt_value(threshold)}")
    elif result == "not_in_vcf":
        out.append(f"not in VCF: {rec['declared_sample']} has no genotypes and no sample "
                   f"matches (best LOD {lod_b})")
    elif result != "match":
        out.append(f"result {result}")
    if rec["contaminated"]:
        out.append(f"contamination {fmt_value(rec['contamination'])} ≥ "
                   f"{fmt_value(max_contamination)}")
    return out


def sample_identity(ctx: Context) -> list[Section]:
    loaded = ctx.tables["fingerprint"]
    fp = loaded.df
    settings = loaded.summary.get("settings")
    settings = settings if isinstance(settings, dict) else {}
    threshold = settings.get("lod_threshold")
    max_contamination = settings.get("max_contamination", "the --max-contamination")
    records = fp.to_dicts()
    issues = [identity_issues(r, threshold if threshold is not None else "t",
                              max_contamination) for r in records]
    listed = [i for i, why in enumerate(issues) if why]
    counts = _value_counts(fp["result"])
    n_contaminated = int(_bools(fp["contaminated"]).sum())
    sites = loaded.summary.get("sites")
    n_used = sites.get("used") if isinstance(sites, dict) else None
    text = (f"<p>{_count(fp.height)} BAMs compared with the genotypes of "
            f"{_count(loaded.summary['n_samples']) if 'n_samples' in loaded.summary else 'the'}"
            " VCF samples")
    text += f" at {_count(n_used)} common SNPs" if isinstance(n_used, int) else ""
    text += (". LOD: log10 odds that the reads are a sample's rather than an unrelated cohort "
             "member's (Picard's CrosscheckFingerprints)")
    if threshold is not None:
        text += f"; ≥ {fmt_value(threshold)}: the sample's, ≤ −{fmt_value(threshold)}: not"
    text += ".</p>"
    result_rows = [[esc(r.replace("_", " ")), _count(counts[r])] for r in _results_order(counts)]
    result_rows.append(["contaminated", _count(n_contaminated)])
    body = text + table(["result", "BAMs"], result_rows, key="identity-results",
                        numeric=[False, True], sortable=False)
    body += "<h3>BAMs that are not the declared sample, or contaminated</h3>"
    if listed:
        rows, attrs = [], []
        for i in listed:
            r = records[i]
            chips = "".join(f'<span class="flag why">{esc(m)}</span>' for m in issues[i])
            rows.append([f'<code title="{esc(r["bam"])}">{esc(_basename(r["bam"]))}</code>',
                         esc(r["declared_sample"]), esc(fmt_value(r["best_sample"])),
                         esc(fmt_value(r["result"])), esc(fmt_value(r["lod_declared"])),
                         esc(fmt_value(r["lod_best"])), esc(fmt_value(r["contamination"])),
                         chips])
            attrs.append(f'data-sample="{esc(r["declared_sample"])}"')
        body += table(["BAM", "declared sample", "best-matching sample", "result",
                       "LOD declared", "LOD best", "contamination", "why"], rows,
                      key="identity-table", row_attrs=attrs,
                      numeric=[False] * 4 + [True] * 3 + [False])
    else:
        body += '<p class="note">Every BAM matches its declared sample.</p>'
    x = _floats(fp["lod_declared"])
    y = _floats(fp["lod_best"])
    results = fp["result"].to_list()
    samples = fp["declared_sample"].to_list()
    contaminated = _bools(fp["contaminated"])
    titles = [f"{_basename(r['bam'])}: declared {r['declared_sample']} LOD "
              f"{fmt_value(r['lod_declared'])}, best {fmt_value(r['best_sample'])} LOD "
              f"{fmt_value(r['lod_best'])}, {r['result']}" for r in records]
    include = (0.0,) if threshold is None else (0.0, threshold, -threshold)
    fig = Figure(data_scale(x, include=include), data_scale(y, include=include),
                 title="LOD of the declared vs the best-matching sample",
                 xlabel="LOD, declared sample (lod_declared)",
                 ylabel="LOD, best-matching sample (lod_best)")
    fig.diagonal()
    if threshold is not None:
        fig.vline(threshold, label=f"match when LOD ≥ {fmt_value(threshold)}")
        fig.vline(-threshold, label=f"not the sample when LOD ≤ −{fmt_value(threshold)}")
        fig.hline(threshold, label=f"another sample matches when LOD ≥ {fmt_value(threshold)}")
    colors = [RESULT_COLORS.get(r, MUTED) for r in results]
    ok = ~contaminated
    note = fig.scatter(x[ok], y[ok], color=[c for c, k in zip(colors, ok) if k],
                       titles=[t for t, k in zip(titles, ok) if k],
                       samples=[s for s, k in zip(samples, ok) if k], noun="BAMs")
    fig.points(x[contaminated], y[contaminated],
               color=[c for c, k in zip(colors, contaminated) if k], r=4.4, stroke=FAIL_COLOR,
               css="pt fail", opacity=0.95,
               titles=[t + " — contaminated" for t, k in zip(titles, contaminated) if k],
               samples=[s for s, k in zip(samples, contaminated) if k])
    undrawn = int((~(np.isfinite(x) & np.isfinite(y))).sum())
    cap = ("Dotted: equal LODs, where the best match is the declared sample. Dashed: the "
           "LOD threshold.")
    if undrawn:
        cap += (f" {undrawn} BAM(s) without a LOD for the declared sample (not in the VCF) "
                "are not drawn.")
    if note:
        cap += " " + esc(note)
    key = legend([(r.replace("_", " "), RESULT_COLORS.get(r, MUTED))
                  for r in _results_order(counts)], ring="contaminated")
    body += figures([figure(fig.svg(), cap, key)])
    return [Section("sample-identity", "Sample identity", body, [loaded.path])]


# Release ----------------------------------------------------------------------------------

def _policy_text(policy: dict) -> str:
    size, cell = policy.get("min_group_size"), policy.get("min_cell")
    min_ac, digits = policy.get("min_ac"), policy.get("af_digits")
    parts = []
    if size is not None:
        parts.append(f"Populations and sexes with fewer than {esc(size)} samples are dropped, "
                     "and further groups are pooled until the samples no released group covers "
                     f"number 0 or at least {esc(size)}.")
    if cell is not None:
        parts.append(f"A group's counts at a row are withheld where one of its cells (AC, "
                     f"AN − AC, the site's REF count, nhomalt) is between 0 and {esc(cell)}, "
                     "exclusive, and further groups are withheld where the withheld counts "
                     "could be recomputed as the total minus the published groups.")
    if min_ac:
        parts.append(f"Rows whose AC is below {esc(min_ac)} are removed.")
    elif min_ac is not None:
        parts.append("No row is removed for its AC.")
    if digits:
        parts.append(f"Frequencies are rounded to {esc(digits)} significant digits.")
    elif "af_digits" in policy:
        parts.append("Frequencies are released at full precision.")
    return " ".join(parts)


def _withheld(entry: dict, family: str, key: str) -> int | None:
    value = (entry.get(family) or {}).get(key)
    return value if isinstance(value, int) else None


def release(ctx: Context) -> list[Section]:
    loaded = ctx.tables["release"]
    df = loaded.df
    s = loaded.summary
    from_table = aggregate.withheld_rows(df["suppressed_groups"])
    n_suppressed = int(_bools(df["suppressed"]).sum())
    rows_info = s.get("rows") if isinstance(s.get("rows"), dict) else {}
    sites_info = s.get("sites") if isinstance(s.get("sites"), dict) else {}
    items = [(_count(df.height), "rows released", f"{_count(n_suppressed)} with counts withheld")]
    if "removed_min_ac" in rows_info:
        items.append((_count(rows_info["removed_min_ac"]), "rows removed",
                      f"of {_count(rows_info.get('in', 0))} in the freq table (AC below min_ac)"))
    if "released" in sites_info:
        items.append((_count(sites_info["released"]), "sites released",
                      f"{_count(sites_info.get('removed', 0))} removed"))
    body = cards(items)
    policy = s.get("policy") if isinstance(s.get("policy"), dict) else None
    groups = [g for g in s.get("groups", []) if isinstance(g, dict) and "group" in g]
    if policy is None or not groups:
        body += ('<p class="note">No run summary (.release.json) beside the table: the '
                 "policy and the dropped groups are not known. Rows whose allele counts are "
                 "withheld, per group, from the table's <code>suppressed_groups</code>:</p>")
        rows = [[esc(g), _count(n)] for g, n in sorted(from_table.items())]
        body += table(["group", "rows with AC withheld"], rows, key="release-withheld",
                      numeric=[False, True])
    else:
        body += f"<p>{_policy_text(policy)}</p>"
        rules = policy.get("rules")
        if isinstance(rules, dict) and rules:
            body += ("<details><summary>The rules as the run summary states them</summary><ul>"
                     + "".join(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in rules.items())
                     + "</ul></details>")
        released = [g for g in groups if g.get("released")]
        dropped = [g for g in groups if not g.get("released")]
        text = (f"<p>{len(released)} group(s) released: "
                + ", ".join(f"{esc(g['group'])} ({_count(g.get('n_samples', 0))} samples)"
                            for g in released) + ".")
        if dropped:
            text += (f" {len(dropped)} dropped (why: in the table below): "
                     + ", ".join(f"{esc(g['group'])} ({_count(g.get('n_samples', 0))} samples)"
                                 for g in dropped) + ".")
        remainders = [r for r in s.get("remainders", []) if isinstance(r, dict)]
        if remainders:
            text += (" Samples in no released group: "
                     + ", ".join(f"{_count(r.get('n_samples', 0))} ({esc(r.get('partition'))})"
                                 for r in remainders) + ".")
        body += text + "</p>"
        rows, attrs = [], []
        for g in groups:
            name = g["group"]
            a_small = _withheld(g, "allele_counts", "rows_withheld_small_cell")
            a_comp = _withheld(g, "allele_counts", "rows_withheld_complementary")
            h_small = _withheld(g, "genotype_counts", "rows_withheld_small_cell")
            h_comp = _withheld(g, "genotype_counts", "rows_withheld_complementary")
            is_released = bool(g.get("released"))
            rows.append([esc(name), esc(g.get("kind", "")), _count(g.get("n_samples", 0)),
                         "released" if is_released else
                         f'<span class="flag">dropped</span> {esc(g.get("reason") or "")}',
                         _count(from_table.get(name, 0)) if is_released else "",
                         "" if a_small is None else _count(a_small),
                         "" if a_comp is None else _count(a_comp),
                         "" if h_small is None else _count(h_small),
                         "" if h_comp is None else _count(h_comp),
                         _count(g["values_suppressed"]) if is_released and isinstance(
                             g.get("values_suppressed"), int) else ""])
            attrs.append(f'data-group="{esc(name)}"')
        body += "<h3>Groups</h3>" + table(
            ["group", "kind", "samples", "status", "rows with AC withheld",
             "AC: own small cell", "AC: complementary", "nhomalt: own small cell",
             "nhomalt: complementary", "cells withheld"], rows, key="release-groups",
            row_attrs=attrs, numeric=[False, False, True, False] + [True] * 6)
        names = [g["group"] for g in released]
        values = [int(g.get("values_suppressed") or 0) for g in released]
        body += figures([figure(
            bar_chart(names, values, title="Cells withheld per released group", log=False,
                      xlabel="group", ylabel="cells withheld", width=520, height=300,
                      tips=[f"{n}: {v:,} cells withheld" for n, v in zip(names, values)]),
            "Cells: the values nulled in the group's columns (AC, AF, nhomalt; for all "
            "samples also n_het, AC_Hom, n_hemi_alt, HWE, ExcHet, InbreedingCoeff), as the "
            "run summary counts them.")])
    body += _release_sfs(ctx)
    return [Section("release", "Release summary", body, [loaded.path])]


def _release_sfs(ctx: Context) -> str:
    """The released spectrum, beside the cohort's when the freq table is given."""
    rel = ctx.tables["release"].df
    fq = ctx.tables["freq"].df if "freq" in ctx.tables else None
    an = rel["AN"].fill_null(0).to_numpy()
    ac_max = rel.filter(pl.Series(an > 0))["AC"].max()
    top = int(ac_max) if ac_max is not None else 0
    if fq is not None:
        cohort = aggregate.sfs_table(fq)
        top = max(top, cohort["edges"][-1])
    edges = aggregate.ac_upper_edges(top)
    labels = aggregate.ac_bin_labels(edges)
    released = aggregate.release_sfs(rel, edges)
    series = [("released", released["counts"].tolist(), "#0072B2")]
    headers = ["AC", "released"]
    if fq is not None:
        called = fq["AN"].to_numpy() > 0
        cohort_counts = aggregate.sfs_counts(fq["AC"].to_numpy()[called], edges)
        series.insert(0, ("cohort (freq)", cohort_counts.tolist(), "#AAAAAA"))
        headers.insert(1, "cohort")
    rows = []
    for i, lab in enumerate(labels):
        rows.append([esc(lab)] + [_count(int(v[i])) for _, v, _ in series])
    chart = grouped_bar_chart(labels, series, title="Site frequency spectrum of the release",
                              xlabel="ALT allele count (AC)",
                              ylabel="ALT alleles (log scale)")
    cap = (f"Rows of the release table binned by AC; {released['withheld']:,} with AC "
           "withheld are not binned")
    cap += f", nor {released['no_calls']:,} with AN = 0." if released["no_calls"] else "."
    if fq is not None:
        cap += " Grey: the freq table's rows, as in the spectrum above."
    key = legend([(name, color) for name, _, color in series])
    return ("<h3>Frequency spectrum</h3>" + figures([figure(chart, cap, key)])
            + table(headers, rows, key="release-sfs", numeric=[False] + [True] * (len(headers) - 1),
                    sortable=False))


# Sections in page order, each with the inputs that bring it: it is built when any of them
# is given.
SECTIONS: tuple[tuple[tuple[str, ...], Callable[[Context], list[Section]]], ...] = (
    (("sample_qc",), flagged_samples),
    (("sample_qc",), sample_metrics),
    (("bam_qc", "coverage_dist"), coverage),
    (("sample_qc", "bam_qc"), sex_check),
    (("fingerprint",), sample_identity),
    (("relate",), relatedness),
    (("pca",), pca),
    (("freq",), sfs),
    (("freq",), af_by_population),
    (("release",), release),
)


def build_sections(ctx: Context) -> list[Section]:
    out = overview(ctx)
    for needs, builder in SECTIONS:
        if any(k in ctx.tables for k in needs):
            out.extend(builder(ctx))
    return out


def meta_html(command_line: str, generated: str) -> str:
    return (f'<p class="meta">genomekit {esc(__version__)} · {esc(generated)} · '
            f"<code>{esc(command_line)}</code></p>")
