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
            "pca": ".pca_scores.tsv"}


def run_corpus(command, out_dir):
    files = sorted(str(p) for p in CORPUS.rglob("*") if p.is_file()
                   and p.name.endswith((".vcf", ".vcf.gz", ".bcf")))
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "corpus_runner.py"), command,
                           str(out_dir)],
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


@pytest.mark.parametrize("command", list(COMMANDS))
def test_result_or_one_line_error(command, corpus_runs, tmp_path):
    runs = corpus_runs if command == "freq" else run_corpus(command, tmp_path)
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
