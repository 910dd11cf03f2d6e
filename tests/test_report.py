"""`genomekit report`: the aggregations against plain loops, the page against the tables it
shows, its self-containment, MultiQC reading the custom-content files, and the page's own
script running in headless Chromium."""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from genomekit.cli import cli
from genomekit.commands import bam_qc as bam_qc_command
from genomekit.commands import fingerprint as fingerprint_command
from genomekit.commands import freq as freq_command
from genomekit.commands import pca as pca_command
from genomekit.commands import relate as relate_command
from genomekit.commands import release as release_command
from genomekit.commands import report as command
from genomekit.commands import sample_qc as sample_qc_command
from genomekit.errors import InputError, UsageError
from genomekit.report import aggregate, svg
from genomekit.report.svg import fmt_value
from genomekit.tables.relate import RELATE_SCHEMA
from tests.conftest import need_tool
from tests.test_bam_qc import FEMALE, FEMALE2, MALE, mosdepth

ALL_SECTIONS = ["overview", "flagged-samples", "sample-qc", "sex-check", "relatedness", "pca",
                "sfs", "af-by-population"]
# A report of every kind of input.
EVERY_SECTION = ["overview", "flagged-samples", "sample-qc", "coverage", "sex-check",
                 "sample-identity", "relatedness", "pca", "sfs", "af-by-population", "release"]


# The page, parsed -------------------------------------------------------------------------

class Page(html.parser.HTMLParser):
    """Every tag with its attributes, the text of <style>/<script>, and each table's rows."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self.tables: dict[str, list[dict]] = {}
        self._in: str | None = None
        self._table: str | None = None
        self._row: dict | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag in ("style", "script"):
            self._in = tag
        elif tag == "table":
            self._table = a.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = {"attrs": a, "cells": [], "header": False}
        elif tag in ("td", "th") and self._row is not None:
            self._row["header"] = tag == "th"
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._in = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if not self._row["header"]:
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._in == "style":
            self.styles.append(data)
        elif self._in == "script":
            self.scripts.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def cells(self, table_id: str) -> list[list[str]]:
        return [r["cells"] for r in self.tables[table_id]]


def number(text: str) -> float:
    return float(text.replace(",", ""))


# Inputs: the commands' own tables on the shared generated cohort --------------------------

@pytest.fixture(scope="module")
def run_dir(cohort, tmp_path_factory):
    """freq, sample-qc and relate (every pair) of the cohort, and a PCA scores table."""
    folder = tmp_path_factory.mktemp("report")
    prefix = str(folder / "c")
    common = {"quiet": True, "force": True}
    freq_command.run(cohort["vcf"], prefix, pops_file=cohort["pops"], **common)
    sample_qc_command.run(cohort["vcf"], prefix, pops_file=cohort["pops"], **common)
    relate_command.run(cohort["vcf"], prefix, min_kinship=-1.0, **common)
    # The pca command's table layout (sample, PC1..PCk) with made-up scores: the report
    # only plots them.
    samples = pl.read_parquet(prefix + ".sample_qc.parquet")["sample"]
    rng = np.random.default_rng(3)
    pl.DataFrame({"sample": samples, **{f"PC{k}": rng.normal(size=len(samples))
                                        for k in range(1, 5)}}).write_parquet(
        prefix + ".pca_scores.parquet")
    return {"prefix": prefix, "folder": folder, "pops": cohort["pops"]}


@pytest.fixture(scope="module")
def full_report(run_dir, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("full") / "cohort")
    summary = command.run(out, from_prefix=run_dir["prefix"], pops_file=run_dir["pops"],
                          quiet=True, command_line="genomekit report --from c")
    text = Path(out + ".report.html").read_text(encoding="utf-8")
    return {"out": out, "summary": summary, "text": text, "page": Page(text)}


def tables(run_dir) -> dict[str, pl.DataFrame]:
    p = run_dir["prefix"]
    return {k: pl.read_parquet(f"{p}.{k}.parquet") for k in ("freq", "sample_qc", "relate")}


@pytest.fixture(scope="module")
def bam_run(bam_cohort, make_bams, tmp_path_factory):
    """Every table of a run on one small cohort (12 samples, two populations): freq,
    sample-qc, relate, pca, and bam-qc, fingerprint of three BAMs over 150 kb per contig
    (the BAMs of a male and a female swapped), and a release of the freq table."""
    folder = tmp_path_factory.mktemp("bamrun")
    prefix = str(folder / "b")
    lines = Path(bam_cohort["pops"]).read_text().splitlines()
    pops = folder / "pops.tsv"
    # The last four samples as a second population, for the per-population plots and the
    # release's group rules.
    pops.write_text("\n".join([lines[0]] + [
        "\t".join([c[0], "JPN" if i >= 8 else c[1], *c[2:]])
        for i, c in enumerate(x.split("\t") for x in lines[1:])]) + "\n")
    sim = make_bams("sexes", [MALE, FEMALE, FEMALE2], swap=(MALE, FEMALE2))
    bams = [sim.bams[s] for s in (MALE, FEMALE, FEMALE2)]
    # Depth over the simulated spans, where the reads are (bam-qc --by).
    bed = folder / "spans.bed"
    bed.write_text("".join(f"{c}\t{a}\t{b}\n" for c, (a, b) in sim.spans.items()))
    common = {"quiet": True, "force": True}
    vcf = bam_cohort["vcf"]
    freq_command.run(vcf, prefix, pops_file=str(pops), **common)
    sample_qc_command.run(vcf, prefix, pops_file=str(pops), **common)
    relate_command.run(vcf, prefix, min_kinship=-1.0, **common)
    pca_command.run(vcf, prefix, pcs=4, **common)
    bam_qc_command.run(bams, prefix, by=str(bed), **common)
    fingerprint_command.run(vcf, bams, prefix, **common)
    release_command.run([prefix + ".freq.parquet"], prefix, min_group_size=5, **common)
    return {"prefix": prefix, "folder": folder, "pops": str(pops), "bed": str(bed),
            "bams": bams}


def run_tables(bam_run) -> dict[str, pl.DataFrame]:
    p = bam_run["prefix"]
    kinds = ("freq", "sample_qc", "bam_qc", "coverage_dist", "fingerprint", "release")
    return {k: pl.read_parquet(f"{p}.{k}.parquet") for k in kinds}


def run_summary(bam_run, kind: str) -> dict:
    return json.loads(Path(f"{bam_run['prefix']}.{kind}.json").read_text())


def low_depth_threshold(bam_qc: pl.DataFrame) -> float:
    """Between the two lowest mean autosomal depths: one BAM is low, the others are not."""
    depths = sorted(bam_qc["mean_depth_autosomes"].to_list())
    return (depths[0] + depths[1]) / 2


@pytest.fixture(scope="module")
def all_report(bam_run, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("all") / "run")
    min_depth = low_depth_threshold(run_tables(bam_run)["bam_qc"])
    summary = command.run(out, from_prefix=bam_run["prefix"], pops_file=bam_run["pops"],
                          min_depth=min_depth, quiet=True, command_line="genomekit report")
    text = Path(out + ".report.html").read_text(encoding="utf-8")
    return {"out": out, "summary": summary, "text": text, "page": Page(text),
            "min_depth": min_depth}


# Aggregations -----------------------------------------------------------------------------

def test_ac_bins_cover_every_count_once():
    for max_ac in (0, 1, 2, 3, 5, 6, 99, 100, 101, 5000, 123457):
        edges = aggregate.ac_upper_edges(max_ac)
        assert edges[:4] == [0, 1, 2, 5] and edges[-1] >= max_ac
        assert len(edges) == 4 or edges[-2] < max_ac  # no empty bin past the last count
        assert all(a < b for a, b in zip(edges, edges[1:]))
    assert aggregate.ac_bin_labels([0, 1, 2, 5, 10]) == ["0", "1", "2", "3–5", "6–10"]


def test_sfs_counts_match_a_loop():
    rng = np.random.default_rng(1)
    ac = np.concatenate([rng.integers(0, 700, 3000), [0, 1, 2, 5, 6, 10, 11, 699]])
    edges = aggregate.ac_upper_edges(int(ac.max()))
    expected = [0] * len(edges)
    for a in ac.tolist():
        lo = -1
        for i, hi in enumerate(edges):
            if lo < a <= hi or (i == 0 and a == 0):
                expected[i] += 1
                break
            lo = hi
    assert aggregate.sfs_counts(ac, edges).tolist() == expected
    assert sum(expected) == len(ac)


def test_sfs_table_splits_contigs_and_leaves_out_uncalled_alleles():
    df = pl.DataFrame({"CHROM": ["chr1", "1", "chrX", "X", "chrY", "chr2", "chrM"],
                       "AC": [1, 0, 2, 1, 3, 0, 7], "AN": [10, 10, 10, 10, 5, 0, 8]},
                      schema={"CHROM": pl.String, "AC": pl.Int32, "AN": pl.Int32})
    t = aggregate.sfs_table(df)
    assert t["edges"] == [0, 1, 2, 5, 10]
    assert t["no_calls"] == 1
    assert t["all"].tolist() == [1, 2, 1, 1, 1]
    assert t["by_class"]["autosomes/other"].tolist() == [1, 1, 0, 0, 1]
    assert t["by_class"]["chrX"].tolist() == [0, 1, 1, 0, 0]
    assert t["by_class"]["chrY"].tolist() == [0, 0, 0, 1, 0]
    assert t["exact"] == {1: 2, 2: 1, 3: 1, 7: 1}


def test_grid_counts_match_a_loop():
    rng = np.random.default_rng(2)
    x = rng.normal(size=5000)
    y = rng.normal(size=5000) * 3
    x[:5] = [np.nan, 10, -10, 2, 2]  # missing, outside, outside, on the upper edges
    y[:5] = [0, 0, 0, np.nan, 6]
    xs, ys = svg.Scale(-2.0, 2.0), svg.Scale(-6.0, 6.0)
    counts = svg.grid_counts(x, y, xs, ys, columns=7, rows=5)
    expected = np.zeros((5, 7), dtype=np.int64)
    for u, v in zip(x, y):
        if not (np.isfinite(u) and np.isfinite(v)) or not (-2 <= u <= 2 and -6 <= v <= 6):
            continue
        expected[min(int((v + 6) / 12 * 5), 4), min(int((u + 2) / 4 * 7), 6)] += 1
    assert (counts == expected).all()
    assert counts[4, 6] >= 1  # (2, 6) is in the top-right cell


def test_scatter_turns_into_a_grid_above_the_limit(monkeypatch):
    monkeypatch.setattr(svg, "MAX_POINTS", 50)
    fig = svg.Figure(svg.Scale(0, 1), svg.Scale(0, 1))
    x = np.linspace(0, 1, 200)
    keep = np.zeros(200, bool)
    keep[:3] = True
    note = fig.scatter(x, x, emphasis=keep, titles=lambda i: f"p{i}", noun="pairs")
    out = fig.svg()
    assert "197 pairs are drawn as a density grid" in note
    assert out.count("<circle") == 3 and "<title>p2</title>" in out


def test_sample_flags_lists_true_fail_columns():
    qc = pl.DataFrame({"sample": ["a", "b", "c"], "fail_ti_tv": [True, None, False],
                       "fail_sex": [True, False, None], "qc_pass": [False, True, True]})
    assert aggregate.sample_flags(qc) == [["ti_tv", "sex"], [], []]


def test_multiqc_header_is_yaml_of_the_config():
    from genomekit.report.multiqc import yaml_comment_header

    yaml = pytest.importorskip("yaml")

    config = {"id": "x", "description": "it's ± k·MAD: yes", "pconfig": {"min": 0, "ok": True}}
    lines = yaml_comment_header(config)
    assert lines[0] == "# id: 'x'"
    assert yaml.safe_load("\n".join(line[1:] for line in lines)) == config


# The page ---------------------------------------------------------------------------------

def test_page_is_self_contained(full_report):
    page = full_report["page"]
    external = re.compile(r"^\s*(https?:|ftp:|//|data:text/html)", re.I)
    for tag, attrs in page.tags:
        assert tag not in ("link", "img", "iframe", "object", "embed", "base"), tag
        assert not (tag == "script" and "src" in attrs), "external script"
        for name in ("src", "href", "xlink:href", "srcset", "action", "poster", "data"):
            value = attrs.get(name)
            if value is not None:
                assert not external.match(value), f"<{tag} {name}={value}>"
                assert name != "href" or value.startswith("#"), f"<{tag} href={value}>"
    css = "".join(page.styles)
    assert "url(" not in css and "@import" not in css
    js = "".join(page.scripts)
    assert js.strip() and "data-report-ready" in js
    for call in ("fetch(", "XMLHttpRequest", "import(", "WebSocket", "http://", "https://"):
        assert call not in js
    assert "http://" not in full_report["text"] and "https://" not in full_report["text"]


def test_page_has_every_section_in_order(full_report):
    ids = [a["id"] for tag, a in full_report["page"].tags
           if tag == "section" and "report-section" in a.get("class", "")]
    assert ids == ALL_SECTIONS == full_report["summary"]["sections"]
    n_charts = sum(1 for tag, a in full_report["page"].tags if a.get("class") == "chart")
    assert n_charts >= 12


def test_flagged_samples_are_the_failing_rows(full_report, run_dir):
    qc = tables(run_dir)["sample_qc"]
    failing = qc.filter(~pl.col("qc_pass"))
    assert failing.height > 0  # the seeded cohort has outliers: the test means something
    rows = full_report["page"].tables["flagged-table"]
    assert [r["attrs"]["data-sample"] for r in rows] == failing["sample"].to_list()
    flags = aggregate.sample_flags(failing)
    for row, rec, names in zip(rows, failing.iter_rows(named=True), flags):
        sample, population, sex, karyotype, chips = row["cells"]
        assert sample == rec["sample"] and population == fmt_value(rec["population"])
        assert karyotype == fmt_value(rec["karyotype"])
        for name in names:
            if name == "sex":
                assert "sex:" in chips
            else:
                assert f"{name} {fmt_value(rec[name])}" in chips
    counts = dict(full_report["page"].cells("flag-counts"))
    for col in [c for c in qc.columns if c.startswith("fail_")]:
        n = int(qc[col].fill_null(False).sum())
        assert number(counts.get(col[5:], "0")) == n


def test_flag_of_any_metric_shows_its_value(run_dir, tmp_path):
    qc = tables(run_dir)["sample_qc"]
    target = qc["sample"][5]
    edited = qc.with_columns(
        fail_n_indel=pl.when(pl.col("sample") == target).then(True)
        .otherwise(pl.col("fail_n_indel")),
        qc_pass=pl.when(pl.col("sample") == target).then(False).otherwise(pl.col("qc_pass")))
    path = tmp_path / "e.sample_qc.parquet"
    edited.write_parquet(path)
    command.run(str(tmp_path / "e"), sample_qc=str(path), quiet=True)
    rows = Page(Path(tmp_path / "e.report.html").read_text()).tables["flagged-table"]
    row = next(r for r in rows if r["attrs"]["data-sample"] == target)
    assert f"n_indel {qc['n_indel'][5]}" in row["cells"][4]


def test_numbers_in_the_page_are_the_tables(full_report, run_dir):
    t = tables(run_dir)
    page = full_report["page"]
    # Site frequency spectrum: the bins of the freq table's AC.
    spectrum = aggregate.sfs_table(t["freq"])
    sfs_rows = page.cells("sfs-table")
    assert [r[0] for r in sfs_rows] == spectrum["labels"]
    assert [number(r[1]) for r in sfs_rows] == spectrum["all"].tolist()
    assert sum(number(r[1]) for r in sfs_rows) + spectrum["no_calls"] == t["freq"].height
    # Related pairs: the relate rows of a degree, by kinship, cell for cell.
    rel = t["relate"]
    related = rel.filter(pl.col("degree") != "unrelated").sort("KINSHIP", descending=True)
    shown = page.cells("related-pairs")
    assert len(shown) == related.height > 0
    for cells, rec in zip(shown, related.iter_rows(named=True)):
        assert cells[:3] == [rec["IID1"], rec["IID2"], rec["degree"]]
        assert float(cells[3]) == pytest.approx(rec["KINSHIP"], rel=1e-5)
        assert [int(c) for c in cells[4:7]] == [rec["IBS0"], rec["NSNP"], rec["HETHET"]]
    degrees = dict(page.cells("degree-counts"))
    for d, n in rel["degree"].value_counts().iter_rows():
        assert number(degrees[d]) == n
    # Declared sex by karyotype.
    qc = t["sample_qc"]
    crosstab = page.cells("sex-crosstab")
    total = sum(number(c) for row in crosstab for c in row[1:])
    assert total == qc.height
    xx_f = qc.filter((pl.col("declared_sex") == "F") & (pl.col("karyotype") == "XX")).height
    assert number(next(r for r in crosstab if r[0] == "F")[1]) == xx_f
    # Every sample is a point with its value in each per-sample plot.
    text = full_report["text"]
    rec = qc.row(0, named=True)
    assert f"{rec['sample']} ({rec['population']}): call_rate = {fmt_value(rec['call_rate'])}" \
        in text


def test_pairs_beyond_the_point_limit_become_a_grid(full_report, run_dir):
    rel = tables(run_dir)["relate"]
    unrelated = rel.filter(pl.col("degree") == "unrelated").height
    assert unrelated > svg.MAX_POINTS
    assert f"{unrelated:,} pairs are drawn as a density grid" in full_report["text"]


def test_multiqc_files_hold_the_table(full_report, run_dir):
    out = full_report["out"]
    qc = tables(run_dir)["sample_qc"]
    text = Path(out + "_genomekit_sampleqc_mqc.tsv").read_text()
    assert "# id: 'genomekit_sampleqc'" in text and "# plot_type: 'table'" in text
    body = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    header, rows = body[0], body[1:]
    assert header[0] == "Sample" and len(rows) == qc.height
    col = header.index("call_rate")
    for row, rec in zip(rows, qc.iter_rows(named=True)):
        assert row[0] == rec["sample"] and float(row[col]) == rec["call_rate"]
        assert row[header.index("qc")] == ("pass" if rec["qc_pass"] else "fail")
    sfs = json.loads(Path(out + "_genomekit_sfs_mqc.json").read_text())
    freq = tables(run_dir)["freq"]
    exact = sfs["data"]["cohort"]
    assert sum(exact.values()) == freq.filter((pl.col("AN") > 0) & (pl.col("AC") > 0)).height
    assert exact["1"] == freq.filter((pl.col("AN") > 0) & (pl.col("AC") == 1)).height


# Coverage, sample identity and release: the bam-qc, fingerprint and release tables ------

def section_page(text: str, key: str) -> Page:
    """One section of the page, parsed."""
    start = text.index(f'<section id="{key}"')
    return Page(text[start:text.index("</section>", start) + len("</section>")])


def card(text: str, value: str, label: str) -> bool:
    return f'<div class="value">{value}</div><div class="label">{label}</div>' in text


def test_every_input_gives_its_section(all_report, bam_run):
    ids = [a["id"] for tag, a in all_report["page"].tags
           if tag == "section" and "report-section" in a.get("class", "")]
    assert ids == EVERY_SECTION == all_report["summary"]["sections"]
    p = bam_run["prefix"]
    assert all_report["summary"]["inputs"]["coverage_dist"] == os.path.abspath(
        p + ".coverage_dist.parquet")
    assert [os.path.basename(x) for x in all_report["summary"]["outputs"]] == [
        "run.report.html", "run_genomekit_sampleqc_mqc.tsv", "run_genomekit_sexcheck_mqc.json",
        "run_genomekit_sfs_mqc.json", "run_genomekit_bamqc_mqc.tsv",
        "run_genomekit_coverage_mqc.json"]


def test_coverage_section_is_the_bam_qc_table(all_report, bam_run):
    bq = run_tables(bam_run)["bam_qc"]
    min_depth = all_report["min_depth"]
    page = section_page(all_report["text"], "coverage")
    rows = page.tables["coverage-table"]
    assert [r["attrs"]["data-sample"] for r in rows] == bq["sample"].to_list()
    low = []
    for row, rec in zip(rows, bq.iter_rows(named=True)):
        sample, bam, depth_auto, depth, *pcts, mapped, dup, karyotype, status = row["cells"]
        assert (sample, bam) == (rec["sample"], os.path.basename(rec["bam"]))
        assert depth_auto == fmt_value(rec["mean_depth_autosomes"])
        assert depth == fmt_value(rec["mean_depth"])
        expected = [100 * rec[f"frac_ge_{t}x"] for t in (1, 10, 20, 30)]
        assert [float(x) for x in pcts] == pytest.approx(expected, abs=0.005)
        assert mapped == fmt_value(rec["pct_mapped"])
        assert float(dup) == pytest.approx(
            100 * rec["n_primary_duplicates"] / rec["n_primary_mapped"], rel=1e-5)
        assert karyotype == rec["karyotype"]
        assert (status == "low") == (rec["mean_depth_autosomes"] < min_depth)
        if status == "low":
            low.append(rec["sample"])
    assert 0 < len(low) < bq.height
    # One cumulative coverage line per BAM; the low-coverage ones red.
    lines = [a for tag, a in page.tags if tag == "polyline"]
    assert sorted(a["data-s"] for a in lines) == sorted(bq["sample"].to_list())
    assert [a["data-s"] for a in lines if a["stroke"] == svg.FAIL_COLOR] == low
    assert card(all_report["text"], str(bq.height), "BAMs")
    assert f"{len(low)} below {fmt_value(min_depth)}×" in all_report["text"]


def test_coverage_curves_equal_mosdepth(bam_run, tmp_path):
    t = run_tables(bam_run)
    curves = aggregate.coverage_curves(t["coverage_dist"])
    assert [c.sample for c in curves] == t["bam_qc"]["sample"].to_list()
    for curve, rec in zip(curves, t["bam_qc"].iter_rows(named=True)):
        md = mosdepth(tmp_path, rec["bam"], rec["sample"], ("-b", bam_run["bed"]))
        theirs = {d: f for (chrom, d), f in md["region_dist"].items() if chrom == "total"}
        assert len(theirs) > 20
        for d, f in theirs.items():
            assert abs(aggregate.frac_at(curve, d) - f) < 2e-10, d
        assert curve.n_bases == rec["genome_bases"]
        for th in (1, 10, 20, 30):
            assert aggregate.frac_at(curve, th) == pytest.approx(rec[f"frac_ge_{th}x"], abs=1e-12)


def test_coverage_curves_keep_bams_apart_and_match_a_loop():
    rng = np.random.default_rng(4)
    blocks, expected = [], []
    # Two BAMs of one sample, then another; per-contig rows are not genome-wide.
    for sample, chrom in (("a", "total"), ("a", "total"), ("b", "total_region")):
        depth = np.sort(rng.choice(60, size=25, replace=False))
        n = rng.integers(1, 1000, size=25)
        blocks.append(pl.DataFrame({"sample": sample, "chrom": "chr1", "depth": [3],
                                    "n_bases": [7]}))
        blocks.append(pl.DataFrame({"sample": sample, "chrom": chrom, "depth": depth,
                                    "n_bases": n}))
        total = int(n.sum())
        expected.append((sample, total, [sum(int(k) for dd, k in zip(depth, n) if dd >= d)
                                         / total for d in range(70)]))
    curves = aggregate.coverage_curves(pl.concat(blocks))
    assert len(curves) == 3
    for curve, (sample, total, fracs) in zip(curves, expected):
        assert curve.sample == sample and curve.n_bases == total
        assert [aggregate.frac_at(curve, d) for d in range(70)] == pytest.approx(fracs)
    with pytest.raises(ValueError, match="negative"):
        aggregate.coverage_curves(pl.DataFrame({"sample": "a", "chrom": "total", "depth": [-1],
                                                "n_bases": [3]}))


def test_many_bams_draw_the_spread_and_the_low_ones(all_report, bam_run, tmp_path,
                                                    monkeypatch):
    from genomekit.report import sections

    monkeypatch.setattr(sections, "MAX_LINES", 2)
    p = bam_run["prefix"]
    command.run(str(tmp_path / "m"), bam_qc=p + ".bam_qc.parquet",
                min_depth=all_report["min_depth"], quiet=True)
    text = Path(tmp_path / "m.report.html").read_text()
    page = section_page(text, "coverage")
    low = [r["attrs"]["data-sample"] for r in page.tables["coverage-table"]
           if r["cells"][-1] == "low"]
    lines = [a for tag, a in page.tags if tag == "polyline"]
    assert [a["data-s"] for a in lines if "data-s" in a] == low
    assert len(lines) == len(low) + 1  # and the median
    assert sum(1 for tag, _ in page.tags if tag == "polygon") == 2
    assert f"{len(page.tables['coverage-table'])} BAMs: the shade spans them all" in text


def test_bad_coverage_distribution_is_one_error(bam_run, tmp_path):
    dist = run_tables(bam_run)["coverage_dist"]
    path = tmp_path / "x.coverage_dist.parquet"
    dist.with_columns(pl.col("depth") - 1).write_parquet(path)
    with pytest.raises(InputError, match="negative depth") as e:
        command.run(str(tmp_path / "r"), coverage_dist=str(path), quiet=True)
    assert str(path) in e.value.message()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.coverage_dist.parquet"]


def test_multiqc_keeps_bams_of_one_sample_apart(bam_run):
    from genomekit.report import multiqc

    bq = run_tables(bam_run)["bam_qc"].with_columns(pl.lit("S").alias("sample"))
    rows = [line.split("\t") for line in multiqc.bamqc_tsv(bq, "t", 10).splitlines()
            if not line.startswith("#")]
    assert [r[0] for r in rows[1:]] == [f"S ({os.path.basename(b)})" for b in bq["bam"]]


def test_sex_check_by_depth_flags_the_swapped_bams(all_report, bam_run):
    t = run_tables(bam_run)
    bq, qc = t["bam_qc"], t["sample_qc"]
    declared = dict(zip(qc["sample"].to_list(), qc["declared_sex"].to_list()))
    genotypes = dict(zip(qc["sample"].to_list(), qc["karyotype"].to_list()))
    expected = []
    for rec in bq.iter_rows(named=True):
        s, k = rec["sample"], rec["karyotype"]
        wrong_sex = (declared[s] in ("M", "F") and k in ("XX", "XY")
                     and (declared[s] == "M") != (k == "XY"))
        if k == "ambiguous" or wrong_sex or genotypes[s] != k:
            expected.append(s)
    # The BAMs of a male and a female were swapped: their depth shows the other sex.
    assert expected == [MALE, FEMALE2]
    page = section_page(all_report["text"], "sex-check")
    rows = page.tables["sex-depth-table"]
    assert [r["attrs"]["data-sample"] for r in rows] == expected
    for row in rows:
        s = row["attrs"]["data-sample"]
        rec = bq.filter(pl.col("sample") == s).row(0, named=True)
        cells = row["cells"]
        assert cells[2:5] == [declared[s], genotypes[s], rec["karyotype"]]
        assert cells[5:7] == [fmt_value(rec["x_depth_ratio"]), fmt_value(rec["y_depth_ratio"])]
        assert f"declared {declared[s]}, depth {rec['karyotype']}" in cells[7]
        assert f"genotypes {genotypes[s]}, depth {rec['karyotype']}" in cells[7]
    crosstab = page.cells("sex-depth-crosstab")
    assert sum(number(c) for row in crosstab for c in row[1:]) == bq.height
    # Both checks: by genotypes (every sample) and by depth (every BAM).
    charts = [a["aria-label"] for tag, a in page.tags if a.get("class") == "chart"]
    assert charts == ["chrX F vs chrY call rate", "chrX vs chrY depth, over the autosomes"]
    assert sum(number(c) for row in page.cells("sex-crosstab") for c in row[1:]) == qc.height


def test_sample_identity_lists_the_swaps(all_report, bam_run):
    fp = run_tables(bam_run)["fingerprint"]
    listed = fp.filter((pl.col("result") != "match") | pl.col("contaminated").fill_null(False))
    n_swap = fp.filter(pl.col("result") == "swap").height
    assert listed.height == n_swap == 2
    page = section_page(all_report["text"], "sample-identity")
    rows = page.tables["identity-table"]
    assert len(rows) == n_swap
    for row, rec in zip(rows, listed.iter_rows(named=True)):
        bam, declared, best, result, lod_d, lod_b, contamination, why = row["cells"]
        assert (bam, declared, best, result) == (os.path.basename(rec["bam"]),
                                                 rec["declared_sample"], rec["best_sample"],
                                                 rec["result"])
        assert (lod_d, lod_b) == (fmt_value(rec["lod_declared"]), fmt_value(rec["lod_best"]))
        assert contamination == fmt_value(rec["contamination"])
        assert f"the reads are {rec['best_sample']}'s" in why
    counts = dict(page.cells("identity-results"))
    for result, n in fp["result"].value_counts().iter_rows():
        assert number(counts[result.replace("_", " ")]) == n
    assert number(counts["contaminated"]) == fp["contaminated"].fill_null(False).sum()
    # One point per BAM, the LOD threshold of the run summary drawn.
    assert sum(1 for tag, a in page.tags if tag == "circle") == fp.height
    threshold = run_summary(bam_run, "fingerprint")["settings"]["lod_threshold"]
    assert f"match when LOD ≥ {fmt_value(threshold)}" in all_report["text"]
    assert card(all_report["text"], str(fp.height - (fp["result"] == "match").sum()),
                "BAMs not matching")


def test_identity_shows_every_verdict(bam_run, tmp_path):
    fp = run_tables(bam_run)["fingerprint"]
    edited = fp.with_columns(
        result=pl.Series(["mismatch", "inconclusive", "not_in_vcf"]),
        lod_declared=pl.Series([-9.0, 1.5, None]), declared_in_vcf=pl.Series([True, True, False]),
        contaminated=pl.Series([False, True, None]), contamination=pl.Series([0.0, 0.2, None]))
    path = tmp_path / "e.fingerprint.parquet"  # no run summary beside it
    edited.write_parquet(path)
    s = command.run(str(tmp_path / "e"), fingerprint=str(path), quiet=True)
    assert s["sections"] == ["overview", "sample-identity"]
    text = Path(tmp_path / "e.report.html").read_text()
    rows = Page(text).tables["identity-table"]
    assert [r["cells"][3] for r in rows] == ["mismatch", "inconclusive", "not_in_vcf"]
    assert "mismatch: not" in rows[0]["cells"][-1]
    assert "inconclusive: LOD 1.5" in rows[1]["cells"][-1]
    assert "contamination 0.2" in rows[1]["cells"][-1]
    assert "not in VCF" in rows[2]["cells"][-1] and rows[2]["cells"][4] == "NA"
    assert "1 BAM(s) without a LOD for the declared sample" in text
    assert card(text, "3", "BAMs not matching")


def test_release_section_is_the_run_summary_and_the_table(all_report, bam_run):
    t = run_tables(bam_run)
    rel, freq = t["release"], t["freq"]
    summary = run_summary(bam_run, "release")
    text = all_report["text"]
    page = section_page(text, "release")
    rows = page.tables["release-groups"]
    groups = summary["groups"]
    assert [r["attrs"]["data-group"] for r in rows] == [g["group"] for g in groups]
    withheld = [v.split(",") for v in rel["suppressed_groups"].to_list() if v]
    assert {g["released"] for g in groups} == {True, False}  # the test sees both kinds
    for row, g in zip(rows, groups):
        cells = row["cells"]
        assert number(cells[2]) == g["n_samples"]
        if g["released"]:
            a = g["allele_counts"]
            n = sum(g["group"] in names for names in withheld)
            assert number(cells[4]) == n == (a["rows_withheld_small_cell"]
                                             + a["rows_withheld_complementary"])
            assert number(cells[5]) == a["rows_withheld_small_cell"]
            assert number(cells[9]) == g["values_suppressed"]
        else:
            assert "dropped" in cells[3] and g["reason"] in cells[3]
    policy = summary["policy"]
    assert f"fewer than {policy['min_group_size']} samples are dropped" in text
    assert f"between 0 and {policy['min_cell']}, exclusive" in text
    assert card(text, f"{rel.height:,}", "rows released")
    assert card(text, f"{summary['rows']['removed_min_ac']:,}", "rows removed")
    # The released spectrum beside the cohort's, binned with a loop.
    sfs = page.cells("release-sfs")
    called = freq.filter(pl.col("AN") > 0)
    edges = aggregate.ac_upper_edges(int(called["AC"].max()))
    assert [r[0] for r in sfs] == aggregate.ac_bin_labels(edges)

    def binned(values):
        counts = [0] * len(edges)
        for v in values:
            counts[next(i for i, hi in enumerate(edges) if v <= hi)] += 1
        return counts

    assert [number(r[1]) for r in sfs] == binned(called["AC"].to_list())
    published = rel.filter(pl.col("AC").is_not_null() & (pl.col("AN") > 0))
    assert [number(r[2]) for r in sfs] == binned(published["AC"].to_list())
    n_withheld = rel.filter(pl.col("AC").is_null()).height
    assert f"{n_withheld:,} with AC withheld are not binned" in text


def test_release_without_its_run_summary(bam_run, tmp_path):
    rel = run_tables(bam_run)["release"]
    path = tmp_path / "r.release.parquet"
    rel.write_parquet(path)
    s = command.run(str(tmp_path / "r"), release=str(path), quiet=True)
    assert s["sections"] == ["overview", "release"]
    page = Page(Path(tmp_path / "r.report.html").read_text())
    counts = dict(page.cells("release-withheld"))
    names = [v.split(",") for v in rel["suppressed_groups"].to_list() if v]
    assert counts and all(number(n) == sum(g in x for x in names) for g, n in counts.items())


def test_each_new_input_alone(bam_run, tmp_path):
    p = bam_run["prefix"]
    s = command.run(str(tmp_path / "b"), bam_qc=p + ".bam_qc.parquet", quiet=True)
    assert s["sections"] == ["overview", "coverage", "sex-check"]
    assert s["inputs"]["coverage_dist"] == os.path.abspath(p + ".coverage_dist.parquet")
    assert [os.path.basename(x) for x in s["outputs"]] == [
        "b.report.html", "b_genomekit_bamqc_mqc.tsv", "b_genomekit_coverage_mqc.json"]
    text = Path(tmp_path / "b.report.html").read_text()
    assert "Declared sex unknown" in text
    s = command.run(str(tmp_path / "c"), coverage_dist=p + ".coverage_dist.parquet",
                    quiet=True)
    assert s["sections"] == ["overview", "coverage"]
    s = command.run(str(tmp_path / "f"), fingerprint=p + ".fingerprint.parquet", quiet=True)
    assert s["sections"] == ["overview", "sample-identity"]
    s = command.run(str(tmp_path / "r"), release=p + ".release.parquet", quiet=True)
    assert s["sections"] == ["overview", "release"]
    # Declared sex from --pops when there is no sample-qc table.
    s = command.run(str(tmp_path / "s"), bam_qc=p + ".bam_qc.parquet",
                    pops_file=bam_run["pops"], quiet=True)
    page = section_page(Path(tmp_path / "s.report.html").read_text(), "sex-check")
    assert [r["attrs"]["data-sample"] for r in page.tables["sex-depth-table"]] == [MALE, FEMALE2]


def test_tsv_tables_give_the_same_page(all_report, bam_run, tmp_path):
    prefix = str(tmp_path / "t")
    for kind, df in run_tables(bam_run).items():
        df.write_csv(f"{prefix}.{kind}.tsv", separator="\t", null_value="NA")
        summary = Path(f"{bam_run['prefix']}.{kind}.json")
        if summary.exists():
            shutil.copy(summary, f"{prefix}.{kind}.json")
    shutil.copy(f"{bam_run['prefix']}.sample_qc.parquet", prefix + ".sample_qc.parquet")
    s = command.run(prefix, from_prefix=prefix, min_depth=all_report["min_depth"], quiet=True)
    assert set(s["sections"]) == set(EVERY_SECTION) - {"relatedness", "pca"}
    page = Page(Path(prefix + ".report.html").read_text())
    for key in ("coverage-table", "sex-depth-table", "identity-table", "release-groups",
                "release-sfs"):
        assert page.cells(key) == all_report["page"].cells(key), key


def test_multiqc_bam_qc_files_hold_the_table(all_report, bam_run):
    t = run_tables(bam_run)
    bq = t["bam_qc"]
    text = Path(all_report["out"] + "_genomekit_bamqc_mqc.tsv").read_text()
    assert "# plot_type: 'generalstats'" in text
    body = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    assert body[0] == ["Sample", "mean_depth_autosomes", "pct_ge_20x", "pct_mapped",
                       "pct_duplicates"]
    for row, rec in zip(body[1:], bq.iter_rows(named=True), strict=True):
        assert row[0] == rec["sample"]
        assert float(row[1]) == rec["mean_depth_autosomes"]
        assert float(row[2]) == pytest.approx(100 * rec["frac_ge_20x"], rel=1e-12)
        assert float(row[3]) == rec["pct_mapped"]
        assert float(row[4]) == pytest.approx(
            100 * rec["n_primary_duplicates"] / rec["n_primary_mapped"], rel=1e-12)
    doc = json.loads(Path(all_report["out"] + "_genomekit_coverage_mqc.json").read_text())
    assert list(doc["data"]) == bq["sample"].to_list()
    dist = t["coverage_dist"]
    for rec in bq.iter_rows(named=True):
        rows = dist.filter((pl.col("sample") == rec["sample"])
                           & (pl.col("chrom") == "total_region"))
        total = rows["n_bases"].sum()
        for d in (0, 10, 20):
            at_least = rows.filter(pl.col("depth") >= d)["n_bases"].sum()
            assert doc["data"][rec["sample"]][str(d)] == pytest.approx(100 * at_least / total,
                                                                      abs=1e-6)


@pytest.mark.parametrize("args,code,text", [
    (["report", "--bam-qc", "{prefix}.fingerprint.parquet", "-o", "{tmp}/x"], 1,
     "not a genomekit bam-qc table: no column sample"),
    (["report", "--coverage-dist", "{prefix}.bam_qc.parquet", "-o", "{tmp}/x"], 1,
     "--coverage-dist"),
    (["report", "--fingerprint", "{prefix}.bam_qc.parquet", "-o", "{tmp}/x"], 1,
     "not a genomekit fingerprint table"),
    (["report", "--release", "{prefix}.freq.parquet", "-o", "{tmp}/x"], 1,
     "not a genomekit release table: no column suppressed"),
    (["report", "--bam-qc", "{prefix}.bam_qc.parquet", "--min-depth", "-1", "-o", "{tmp}/x"],
     2, "--min-depth"),
])
def test_cli_errors_of_the_new_inputs(bam_run, tmp_path, args, code, text):
    args = [a.format(tmp=tmp_path, prefix=bam_run["prefix"]) for a in args]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == code, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genomekit: error:") and text in lines[0]
    assert list(tmp_path.iterdir()) == []


# Inputs, outputs, errors ------------------------------------------------------------------

def test_any_subset_of_inputs(run_dir, tmp_path):
    p = run_dir["prefix"]
    s = command.run(str(tmp_path / "r"), relate=p + ".relate.parquet", quiet=True)
    assert s["sections"] == ["overview", "relatedness"]
    assert [os.path.basename(x) for x in s["outputs"]] == ["r.report.html"]
    s = command.run(str(tmp_path / "f"), freq=p + ".freq.parquet", quiet=True)
    assert s["sections"] == ["overview", "sfs", "af-by-population"]
    assert [os.path.basename(x) for x in s["outputs"]] == ["f.report.html",
                                                            "f_genomekit_sfs_mqc.json"]
    s = command.run(str(tmp_path / "p"), pca=p + ".pca_scores.parquet", quiet=True)
    assert s["sections"] == ["overview", "pca"]


def test_from_finds_tsv_tables_and_options_override(cohort, run_dir, tmp_path):
    prefix = str(tmp_path / "t")
    sample_qc_command.run(cohort["vcf"], prefix, pops_file=cohort["pops"], fmt="tsv",
                          quiet=True)
    empty = pl.DataFrame(schema=RELATE_SCHEMA)  # no pair reaches --min-kinship
    empty.write_parquet(str(tmp_path / "empty.relate.parquet"))
    s = command.run(prefix, from_prefix=prefix, relate=str(tmp_path / "empty.relate.parquet"),
                    quiet=True)
    assert s["inputs"] == {"sample_qc": os.path.abspath(prefix + ".sample_qc.tsv"),
                           "relate": str(tmp_path / "empty.relate.parquet")}
    assert s["sections"] == ["overview", "flagged-samples", "sample-qc", "sex-check",
                             "relatedness"]
    page = Page(Path(prefix + ".report.html").read_text())
    qc = pl.read_csv(prefix + ".sample_qc.tsv", separator="\t", null_values="NA")
    assert len(page.tables["flagged-table"]) == qc.filter(~pl.col("qc_pass")).height
    assert "No pair reaches the third-degree bound" in Path(prefix + ".report.html").read_text()


def test_refuses_to_overwrite_and_leaves_nothing_on_error(run_dir, tmp_path):
    p = run_dir["prefix"]
    out = str(tmp_path / "r")
    command.run(out, relate=p + ".relate.parquet", quiet=True)
    with pytest.raises(UsageError, match="exists"):
        command.run(out, relate=p + ".relate.parquet", quiet=True)
    command.run(out, relate=p + ".relate.parquet", quiet=True, force=True)
    bad = tmp_path / "bad"
    bad.mkdir()
    with pytest.raises(InputError, match="not a genomekit relate table") as e:
        command.run(str(bad / "r"), sample_qc=p + ".sample_qc.parquet",
                    relate=p + ".freq.parquet", quiet=True)
    assert p + ".freq.parquet" in e.value.message() and "--relate" in e.value.message()
    assert list(bad.iterdir()) == []


@pytest.mark.parametrize("args,code,text", [
    (["report", "-o", "{tmp}/x"], 2, "nothing to report"),
    (["report", "--from", "{tmp}/none", "-o", "{tmp}/x"], 2, "no genomekit table found"),
    (["report", "--freq", "{tmp}/none.freq.parquet", "-o", "{tmp}/x"], 1, "no such file"),
    (["report", "--relate", "{prefix}.relate.parquet", "-o", "{tmp}/no/x"], 2, "does not exist"),
    (["report", "--relate", "{prefix}.relate.parquet", "-o", "{tmp}/x", "--title", " "], 2,
     "--title"),
])
def test_cli_errors_are_one_line(run_dir, tmp_path, args, code, text):
    args = [a.format(tmp=tmp_path, prefix=run_dir["prefix"]) for a in args]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == code, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genomekit: error:") and text in lines[0]


def test_cli_subprocess_run(run_dir, tmp_path):
    out = str(tmp_path / "c")
    r = subprocess.run([sys.executable, "-m", "genomekit", "report", "--from", run_dir["prefix"],
                        "--pops", run_dir["pops"], "-o", out, "--title", "Cohort 7 QC"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "8 sections" in r.stderr
    text = Path(out + ".report.html").read_text()
    assert "<title>Cohort 7 QC</title>" in text


# Peers: MultiQC and Chromium --------------------------------------------------------------

def _multiqc() -> list[str]:
    """The multiqc of this interpreter (the test extra installs it); skip or, in CI, fail."""
    try:
        import multiqc  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("multiqc is not installed; the test extra installs it")
        pytest.skip("multiqc not installed")
    exe = Path(sys.executable).parent / "multiqc"
    return [str(exe)] if exe.exists() else [need_tool("multiqc")]


def test_multiqc_shows_genomekit_sections(all_report, bam_run, tmp_path):
    cmd = _multiqc()
    results = tmp_path / "results"
    results.mkdir()
    for path in Path(all_report["out"]).parent.glob("*_mqc.*"):
        shutil.copy(path, results)
    r = subprocess.run([*cmd, str(results), "-o", str(tmp_path / "mqc"), "--no-version-check",
                        "--force"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    report = (tmp_path / "mqc" / "multiqc_report.html").read_text()
    for section in ("genomekit_sampleqc", "genomekit_sfs", "genomekit_sexcheck",
                    "genomekit_coverage"):
        assert f'id="{section}"' in report, section
    assert "genomekit: sample QC" in report
    data_dir = tmp_path / "mqc" / "multiqc_data"
    data = json.loads((data_dir / "multiqc_data.json").read_text())
    assert {"genomekit_sampleqc_table", "genomekit_sfs_plot", "genomekit_sexcheck_plot",
            "genomekit_coverage_plot"} <= set(data["report_plot_data"])
    table = data_dir / "multiqc_genomekit_sampleqc_table.txt"
    ours = Path(all_report["out"] + "_genomekit_sampleqc_mqc.tsv").read_text().splitlines()
    assert len(table.read_text().splitlines()) == sum(not x.startswith("#") for x in ours)
    # bam-qc's columns in the General Statistics table, one row per sample.
    bq = run_tables(bam_run)["bam_qc"]
    general = pl.read_csv(data_dir / "multiqc_general_stats.txt", separator="\t")
    depth = next(c for c in general.columns if c.endswith("-mean_depth_autosomes"))
    assert any(c.endswith("-pct_duplicates") for c in general.columns)
    got = dict(zip(general["Sample"].to_list(), general[depth].to_list()))
    for rec in bq.iter_rows(named=True):
        assert got[rec["sample"]] == pytest.approx(rec["mean_depth_autosomes"], rel=1e-9)
    curves = (data_dir / "multiqc_genomekit_coverage_plot.txt").read_text().splitlines()
    assert [line.split("\t")[0] for line in curves[1:]] == bq["sample"].to_list()


def _chromium(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    exe = need_tool("chromium")
    return subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", *args, url],
        capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("which,sections", [("full_report", ALL_SECTIONS),
                                             ("all_report", EVERY_SECTION)])
def test_page_renders_in_headless_chromium(request, which, sections, tmp_path):
    """The cohort's report (density grids) and the report of every kind of input."""
    report = request.getfixturevalue(which)
    url = Path(report["out"] + ".report.html").resolve().as_uri()
    r = _chromium(url, tmp_path / "profile1", "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    dom = Page(r.stdout)
    root = next(a for tag, a in dom.tags if tag == "html")
    assert root.get("data-report-ready") == "yes" and "data-report-error" not in root
    assert root.get("data-report-sections") == str(len(sections))
    toc = [a["href"] for tag, a in dom.tags if tag == "a" and a.get("href", "").startswith("#")]
    assert toc == [f"#{s}" for s in sections]
    shot = tmp_path / "report.png"
    r = _chromium(url, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1400,3000")
    assert r.returncode == 0, r.stderr[-2000:]
    assert [line for line in r.stderr.splitlines() if ":CONSOLE" in line] == []
    data = shot.read_bytes()
    # A PNG of the requested size, and not a blank page (which compresses to a few KB).
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1400
    assert int.from_bytes(data[20:24], "big") == 3000
    assert len(data) > 100_000
