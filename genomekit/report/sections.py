"""The sections of the report, each built from the tables it needs.

Values in plots, tooltips and tables are the table cells themselves, formatted for
display; what is derived (bin and group counts, IBS0/NSNP) is in report.aggregate or
stated where it is computed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from genomekit import __version__
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
)
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

    def __post_init__(self):
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


# Which columns to read from each kind of input (a freq table can be very wide).
COLUMNS: dict[str, Callable] = {
    "freq": freq_columns,
    "sample_qc": sample_qc_columns,
    "relate": relate_columns,
    "pca": pca_columns,
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
    body = (key + figures(plots) + "<h3>Declared sex by karyotype</h3>" + crosstab)
    return [Section("sex-check", "Sex check", body, [loaded.path])]


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


# Sections in page order, each with the inputs it needs. Coverage (bam-qc) and release
# sections go here once those commands write tables.
SECTIONS: tuple[tuple[tuple[str, ...], Callable[[Context], list[Section]]], ...] = (
    (("sample_qc",), flagged_samples),
    (("sample_qc",), sample_metrics),
    (("sample_qc",), sex_check),
    (("relate",), relatedness),
    (("pca",), pca),
    (("freq",), sfs),
    (("freq",), af_by_population),
)


def build_sections(ctx: Context) -> list[Section]:
    out = overview(ctx)
    for needs, builder in SECTIONS:
        if all(k in ctx.tables for k in needs):
            out.extend(builder(ctx))
    return out


def meta_html(command_line: str, generated: str) -> str:
    return (f'<p class="meta">genomekit {esc(__version__)} · {esc(generated)} · '
            f"<code>{esc(command_line)}</code></p>")
