"""Every file of ../shared/corpus: a correct result or one clear error line, never a crash."""

from __future__ import annotations

import json
import subprocess
import sys

import cyvcf2
import polars as pl
import pytest

from tests.conftest import CORPUS, ROOT, need_tool

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")


# Every command that reads a VCF, and the table its run must leave.
COMMANDS = {"freq": ".freq.tsv", "sample-qc": ".sample_qc.tsv", "relate": ".relate.tsv",
            "pca": ".pca_scores.tsv", "fingerprint": ".fingerprint.tsv"}


def run_corpus(command, out_dir, extra=()):
    files = sorted(str(p) for p in CORPUS.rglob("*") if p.is_file()
                   and p.name.endswith((".vcf", ".vcf.gz", ".bcf")))
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "corpus_runner.py"), command,
                           str(out_dir), *extra],
                          input="\n".join(files), capture_output=True, text=True, cwd=ROOT)
    lines = [json.loads(ln) for ln in proc.stdout.splitlines()]
    started = [ln["start"] for ln in lines if "start" in ln]
    results = [ln for ln in lines if "code" in ln]
    assert proc.returncode == 0, f"interpreter died on {started[-1]}: {proc.stderr[-2000:]}"
    assert len(results) == len(files) > 100
    return results


@pytest.fixture(scope="module")
def corpus_runs(tmp_path_factory):
    return run_corpus("freq", tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def corpus_bam(tmp_path_factory):
    """The BAM fingerprint compares every corpus VCF with: sample A (a sample name of many
    corpus files), contigs 1 and 20 of 60 kb, 100 bp reads of random bases every 20 bp
    (depth 5). Sites on other contigs, beyond 60 kb or of other samples find no match."""
    import numpy as np
    import pysam

    path = str(tmp_path_factory.mktemp("corpus_bam") / "A.bam")
    rng = np.random.default_rng(1)
    header = {"HD": {"VN": "1.6", "SO": "coordinate"},
              "SQ": [{"SN": "1", "LN": 60_000}, {"SN": "20", "LN": 60_000}],
              "RG": [{"ID": "rg", "SM": "A"}]}
    bases = np.array(list("ACGT"))
    with pysam.AlignmentFile(path, "wb", header=header) as bam:
        for tid in range(2):
            for start in range(0, 60_000 - 100, 20):
                read = pysam.AlignedSegment(bam.header)
                read.query_name = f"r{tid}_{start}"
                read.reference_id, read.reference_start = tid, start
                read.cigartuples, read.mapping_quality = [(0, 100)], 60
                read.query_sequence = "".join(bases[rng.integers(0, 4, 100)])
                read.query_qualities = pysam.qualitystring_to_array("I" * 100)
                read.set_tag("RG", "rg")
                bam.write(read)
    pysam.index(path)
    return path


@pytest.fixture(scope="module")
def fingerprint_runs(corpus_bam, tmp_path_factory):
    return run_corpus("fingerprint", tmp_path_factory.mktemp("corpus_fp"), [corpus_bam])


@pytest.mark.parametrize("command", list(COMMANDS))
def test_result_or_one_line_error(command, request, tmp_path):
    fixture = {"freq": "corpus_runs", "fingerprint": "fingerprint_runs"}.get(command)
    runs = request.getfixturevalue(fixture) if fixture else run_corpus(command, tmp_path)
    problems = []
    for r in runs:
        name = r["path"].rsplit("/", 1)[-1]
        lines = r["stderr"].strip().splitlines()
        if r["code"] == 0:
            if lines:
                problems.append(f"{name}: exit 0 but stderr {lines[:2]}")
            if not any(f.endswith(COMMANDS[command]) for f in r["files"]):
                problems.append(f"{name}: exit 0 without a table")
        elif r["code"] == 1:
            if len(lines) != 1 or not lines[0].startswith("genomekit: error: ") \
                    or name not in lines[0]:
                problems.append(f"{name}: not one error line naming the file: {lines[:3]}")
            if r["files"]:
                problems.append(f"{name}: left files behind after an error: {r['files']}")
        else:
            problems.append(f"{name}: exit {r['code']}: {lines[:3]}")
    assert not problems, "\n".join(problems)
    # The corpus holds deliberately malformed files: some must be refused.
    assert sum(r["code"] == 1 for r in runs) >= 5


def _max_ploidy(path):
    worst = 0
    for rec in cyvcf2.VCF(path):
        if "GT" in rec.FORMAT and len(rec.genotype.array()):
            worst = max(worst, rec.genotype.array().shape[1] - 1)
    return worst


def test_counts_match_bcftools(corpus_runs):
    """AC and AN equal bcftools +fill-tags on every file both tools accept.

    Files with calls of ploidy above 2 are left out: bcftools counts a triploid
    heterozygote as two alleles, genomekit as three. So are sites-only files,
    where bcftools passes the file's own AC/AN through.
    """
    bcftools = need_tool("bcftools")
    compared = 0
    mismatches = []
    for r in corpus_runs:
        if r["code"] != 0:
            continue
        fill = subprocess.run(
            f"{bcftools} +fill-tags '{r['path']}' -- -t AC,AN 2>/dev/null | {bcftools} query "
            "-f '%ALT\\t%INFO/AC\\t%INFO/AN\\n' 2>/dev/null",
            shell=True, capture_output=True, text=True)
        if fill.returncode != 0 or not fill.stdout:
            continue
        if not cyvcf2.VCF(r["path"]).samples or _max_ploidy(r["path"]) > 2:
            continue  # sites-only: bcftools keeps the file's own AC/AN
        want_ac, want_an = [], []
        for line in fill.stdout.splitlines():
            alt, ac, an = line.split("\t")
            if alt == ".":
                continue
            n_alt = alt.count(",") + 1
            want_ac += [int(x) for x in ac.split(",")] if ac != "." else [0] * n_alt
            want_an += [int(an) if an != "." else 0] * n_alt
        df = pl.read_csv(r["prefix"] + ".freq.tsv", separator="\t", null_values="NA",
                         infer_schema_length=None, quote_char=None)
        if df["AC"].to_list() != want_ac or df["AN"].to_list() != want_an:
            mismatches.append(r["path"])
        compared += 1
    assert compared > 100
    assert not mismatches, mismatches


def test_fingerprint_rows(fingerprint_runs, corpus_runs):
    """Each accepted file gives one row for the BAM of sample A, declared in the VCF exactly
    when the VCF has a sample A, with a best sample only where the BAM has reads at a panel
    site; every file freq refuses, fingerprint refuses with the same line; and the BAM does
    meet VCF genotypes on many files."""
    freq = {r["path"]: r for r in corpus_runs}
    with_reads = 0
    for r in fingerprint_runs:
        if freq[r["path"]]["code"] == 1:
            assert r["code"] == 1 and r["stderr"] == freq[r["path"]]["stderr"], r["path"]
        if r["code"] != 0:
            continue
        table = pl.read_csv(r["prefix"] + ".fingerprint.tsv", separator="\t", null_values="NA")
        summary = json.loads(open(r["prefix"] + ".fingerprint.json").read())
        assert table.height == 1, r["path"]
        row = table.row(0, named=True)
        assert row["declared_sample"] == "A" and row["sm"] == "A"
        assert row["declared_in_vcf"] == ("A" in cyvcf2.VCF(r["path"]).samples), r["path"]
        assert row["n_sites"] == summary["sites"]["used"] > 0
        if row["n_sites_with_reads"] == 0:
            assert row["best_sample"] is None and row["result"] in ("inconclusive",
                                                                    "not_in_vcf")
        else:
            with_reads += 1
    assert sum(r["code"] == 0 for r in fingerprint_runs) > 50 and with_reads > 20
