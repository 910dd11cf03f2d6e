"""`genomekit sample-qc`: the kernel against tests/naive.py, the command against a record-by-
record reference, bcftools 1.16 ``stats -s -`` and PLINK 2 (v2.00a3.5) as peers, the sex check,
the outlier flags and the CLI.

Peer conventions relied on below:

* bcftools PSC reads calls as written (no sexes), so it is compared with a run without
  ``--pops``; its nRefHom/nNonRefHom/nHets/nTransitions/nTransversions/nIndels/nSingletons/
  nHapRef/nHapAlt/nMissing equal n_hom_ref/n_hom_alt_snv/n_het_snv/n_transitions/
  n_transversions/n_indel/n_singleton/n_hap_ref/n_hap_alt/n_missing, and PSI's
  nInsHets+nInsAltHoms / nDelHets+nDelAltHoms equal n_insertion / n_deletion.
* plink2 ``--sample-counts`` is sex-aware like ``--pops``; it counts each ALT allele of an
  ``1/2`` call and treats ``*`` as an SNV, so its SNV-specific columns are compared on the
  biallelic records only.
* PLINK 2.00a3.5 has no ``--check-sex`` (added in 2.00a6); its ``--het`` computes the same
  estimator (F = 1 - O(HET)/E(HET), E from ``--read-freq``), on autosomes only, so the chrX
  records outside the PARs are renamed to an autosome for it, with the sex-aware chrX
  frequencies of a ``--freq counts`` run read back with ``--read-freq``.
"""

from __future__ import annotations

import gzip
import json
import math
import subprocess
import sys
from pathlib import Path

import cyvcf2
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from genomekit.commands import sample_qc as command
from genomekit.commands.sample_qc import allele_class
from genomekit.genome import PARS, X_NONPAR, site_classes
from genomekit.io.samples import read_pops
from genomekit.kernels import sampleqc as ks
from genomekit.tables.sample_qc import (
    COUNT_COLUMNS,
    MIN_GROUP_SIZE,
    infer_karyotype,
    outlier_flags,
)
from tests import naive
from tests.conftest import DATA, assert_one_error_line, cli, need_tool

EDGE = DATA / "edge_cases.vcf"
EDGE_POPS = DATA / "edge_cases.pops.tsv"
PAR1_END = PARS["GRCh38"]["X"][0][1]
# Count columns that are plain sums of integer counts (x_exp_het is a float sum).
INT_COUNTS = [c for c in COUNT_COLUMNS if c != "x_exp_het"]


@pytest.fixture(scope="module")
def rich(make_cohort):
    """Half calls, phased sites, males written diploid outside the PARs, 12-allele sites."""
    return make_cohort("sqc_rich", n_samples=160, n_sites=900, seed=11,
                       fields=("GT", "AD", "DP", "GQ"), many_allele_sites=2,
                       half_call_rate=0.01, male_x="diploid", phased_rate=0.1)


@pytest.fixture(scope="module")
def plain(make_cohort):
    """Complete or fully missing calls, males haploid outside the PARs."""
    return make_cohort("sqc_plain", n_samples=150, n_sites=800, seed=5,
                       fields=("GT", "AD", "DP", "GQ"))


def run_qc(input_path, tmp_path, name="out", **kwargs) -> pl.DataFrame:
    prefix = str(Path(tmp_path) / name)
    kwargs.setdefault("quiet", True)
    kwargs.setdefault("force", True)
    command.run(str(input_path), prefix, **kwargs)
    if kwargs.get("fmt") == "tsv":
        return pl.read_csv(prefix + ".sample_qc.tsv", separator="\t", null_values="NA",
                           infer_schema_length=None)
    return pl.read_parquet(prefix + ".sample_qc.parquet")


# --- the kernel against its plain-Python reference -------------------------------------------

def random_chunk(rng, n_var, n_smp, max_alleles=5, ploidy=3):
    """Genotypes with rare alleles (so singletons and private alleles occur), mixed ploidy."""
    n_alleles = rng.integers(1, max_alleles + 1, size=n_var).astype(np.int32)
    gt = np.full((n_var, n_smp, ploidy), -2, dtype=np.int8)
    for v in range(n_var):
        freqs = rng.dirichlet(np.r_[5.0, rng.uniform(0.05, 2.0, n_alleles[v] - 1)])
        for s in range(n_smp):
            p = int(rng.choice([1, 2, 3], p=[0.15, 0.75, 0.1]))
            for k in range(min(p, ploidy)):
                gt[v, s, k] = -1 if rng.random() < 0.08 else rng.choice(n_alleles[v], p=freqs)
    allele_cls = rng.integers(0, 9, size=(n_var, max_alleles)).astype(np.int8)
    allele_cls[:, 0] = 0
    site_class = rng.integers(0, 3, size=n_var).astype(np.int8)
    sex = rng.integers(0, 3, size=n_smp).astype(np.int8)
    x_exp = np.where(rng.random(n_var) < 0.5, rng.random(n_var), 0.0)
    x_exp[rng.random(n_var) < 0.1] = np.nan
    dp = rng.integers(-1, 60, size=(n_var, n_smp)).astype(np.int32)
    gq = rng.integers(-1, 99, size=(n_var, n_smp)).astype(np.int32)
    return gt, n_alleles, allele_cls, site_class, sex, x_exp, dp, gq


def assert_kernel_matches_naive(gt, n_alleles, allele_cls, site_class, sex, x_exp, dp, gq):
    counts, x_sum, bad = ks.sample_counts(gt, n_alleles, allele_cls, site_class, sex, x_exp,
                                          dp, gq)
    ref, ref_bad = naive.sample_counts(gt, n_alleles, allele_cls, site_class, sex, x_exp,
                                       dp, gq)
    assert bad == (-1, -1) and ref_bad is None
    assert ks.COUNT_NAMES == naive.SAMPLE_COUNT_NAMES
    for s, r in enumerate(ref):
        got = dict(zip(ks.COUNT_NAMES, counts[s].tolist()))
        assert got == {k: r[k] for k in ks.COUNT_NAMES}, s
        assert x_sum[s] == pytest.approx(r["x_exp"], rel=1e-12, abs=1e-12)
    return counts


@pytest.mark.parametrize("seed", range(6))
def test_kernel_matches_naive(seed):
    rng = np.random.default_rng(seed)
    chunk = random_chunk(rng, 50, 25)
    counts = assert_kernel_matches_naive(*chunk)
    # Invariants the table relies on.
    c = {name: counts[:, i] for i, name in enumerate(ks.COUNT_NAMES)}
    assert (c["n_called"] == c["n_hom_ref"] + c["n_het"] + c["n_hom_alt"] + c["n_hap_ref"]
            + c["n_hap_alt"]).all()
    assert (c["n_transitions"] + c["n_transversions"]
            <= c["n_het_snv"] + c["n_hom_alt_snv"]).all()
    assert (c["n_indel"] <= c["n_insertion"] + c["n_deletion"]).all()


def test_random_chunks_exercise_every_column():
    total = sum(ks.sample_counts(*random_chunk(np.random.default_rng(seed), 50, 25))[0]
                .sum(axis=0) for seed in range(6))
    assert (total > 0).all(), dict(zip(ks.COUNT_NAMES, total))


def test_kernel_without_format_fields_and_int16():
    rng = np.random.default_rng(9)
    gt, n_alleles, allele_cls, site_class, sex, x_exp, _, _ = random_chunk(rng, 30, 20)
    assert_kernel_matches_naive(gt, n_alleles, allele_cls, site_class, sex, x_exp, None, None)
    wide = gt.astype(np.int16)
    wide[0, 0, 0] = 199
    n_alleles = n_alleles.copy()
    n_alleles[0] = 200
    cls = np.zeros((30, 200), np.int8)
    cls[:, :5] = allele_cls
    assert_kernel_matches_naive(wide, n_alleles, cls, site_class, sex, x_exp, None, None)


def test_kernel_reports_allele_beyond_alt():
    gt = np.array([[[0, 1]], [[0, 2]]], dtype=np.int8)
    args = (np.array([2, 2], np.int32), np.zeros((2, 2), np.int8), np.zeros(2, np.int8),
            np.zeros(1, np.int8), np.zeros(2))
    _, _, bad = ks.sample_counts(gt, *args)
    assert bad == (1, 0)
    assert naive.sample_counts(gt, *args)[1] == (1, 0)


@pytest.mark.parametrize("max_alleles", [2, 3, 5])
@pytest.mark.parametrize("seed", range(3))
def test_pair_path_matches_naive(seed, max_alleles):
    # int8 chunks of ploidy 2 are tallied per (site class, chrX F site, allele class) group
    # from pair codes, and the calls of two different ALT alleles added one at a time;
    # haploid, half and missing calls included. The samples span two blocks.
    rng = np.random.default_rng(100 + seed)
    chunk = random_chunk(rng, 30, ks.BLOCK_SAMPLES + 88, max_alleles, ploidy=2)
    assert ks._pairs(chunk[0]).size
    assert_kernel_matches_naive(*chunk)
    assert_kernel_matches_naive(*chunk[:6], None, None)


@pytest.mark.parametrize("seed", range(3))
def test_haploid_chunks_take_the_pair_path(seed):
    # int8 chunks of ploidy 1 (chrY) read as pairs (a, -2): the reference's counts, and
    # those of the same calls padded to ploidy 3 (the general path).
    rng = np.random.default_rng(200 + seed)
    gt, *rest = random_chunk(rng, 30, ks.BLOCK_SAMPLES + 40, 4, ploidy=1)
    gt[0, :5, 0] = -3  # codes below padding read as missing
    assert ks._pairs(gt).size
    assert_kernel_matches_naive(gt, *rest)
    padded = np.full(gt.shape[:2] + (3,), -2, np.int8)
    padded[:, :, :1] = gt
    counts, x_exp, bad = ks.sample_counts(gt, *rest)
    want = ks.sample_counts(padded, *rest)
    assert bad == want[2] == (-1, -1)
    assert (counts == want[0]).all()
    assert x_exp == pytest.approx(want[1], rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("shape", [(3, 0, 2), (0, 5, 2), (0, 0, 2), (2, 3, 1), (0, 4, 3)])
def test_kernel_empty_chunks(shape):
    n_var, n_smp = shape[:2]
    args = (np.zeros(shape, np.int8), np.full(n_var, 2, np.int32),
            np.zeros((n_var, 2), np.int8), np.zeros(n_var, np.int8), np.zeros(n_smp, np.int8),
            np.zeros(n_var))
    counts, _, bad = ks.sample_counts(*args)
    ref, ref_bad = naive.sample_counts(*args)
    assert counts.shape == (n_smp, ks.N_COUNTS) and bad == (-1, -1) and ref_bad is None
    assert [dict(zip(ks.COUNT_NAMES, row)) for row in counts.tolist()] == [
        {k: r[k] for k in ks.COUNT_NAMES} for r in ref]


def test_pair_and_general_paths_agree():
    # The same calls as int8 of ploidy 2 (pair codes), as int16 and padded to ploidy 3
    # (one call at a time): the same counts, and the reference's.
    rng = np.random.default_rng(7)
    gt, *rest = random_chunk(rng, 40, 60, max_alleles=4, ploidy=2)
    assert ks._pairs(gt).size
    padded = np.full(gt.shape[:2] + (3,), -2, np.int8)
    padded[:, :, :2] = gt
    results = [ks.sample_counts(g, *rest) for g in (gt, gt.astype(np.int16), padded)]
    assert not ks._pairs(gt.astype(np.int16)).size and not ks._pairs(padded).size
    for counts, x_exp, bad in results[1:]:
        assert bad == (-1, -1)
        assert (counts == results[0][0]).all()
        assert x_exp == pytest.approx(results[0][1], rel=1e-12, abs=1e-12)
    assert_kernel_matches_naive(gt, *rest)


def test_singletons_and_private_alleles_across_blocks():
    # Samples 0 (male), 1 (female), then unknown sex; the carriers sit in both blocks.
    n = ks.BLOCK_SAMPLES + 40
    last = n - 1
    gt = np.zeros((6, n, 2), np.int8)
    gt[0, last] = [0, 1]                     # autosomal: singleton and private
    gt[1, 3] = [1, 1]                        # hom-alt singleton; a half call carries nothing
    gt[1, last - 1] = [-1, 1]
    gt[2, 0] = [1, 1]                        # chrX: the male's call is haploid (a carrier,
    gt[2, last] = [0, 1]                     # not a singleton); the unknown's het is one
    gt[3, last] = [1, 2]                     # triallelic: ALT 1 twice, ALT 2 once
    gt[3, 5] = [0, 1]
    gt[4, 1] = [0, 1]                        # chrY: the female's call counts nowhere, the
    gt[4, 0] = [1, -2]                       # male's haploid ALT is private
    gt[5, 0] = [0, 1]                        # chrX: the male's het is an error call, the
    gt[5, 7] = [1, 1]                        # unknown's hom-alt a singleton
    n_alleles = np.array([2, 2, 2, 3, 2, 2], np.int32)
    cls = np.zeros((6, 3), np.int8)
    cls[:, 1] = ks.TRANSITION
    cls[3, 2] = ks.DELETION
    site = np.array([0, 0, X_NONPAR, 0, 2, X_NONPAR], np.int8)
    sex = np.zeros(n, np.int8)
    sex[0], sex[1] = 1, 2
    counts = assert_kernel_matches_naive(gt, n_alleles, cls, site, sex, np.zeros(6), None,
                                         None)
    c = dict(zip(ks.COUNT_NAMES, counts.T))
    assert {s: int(c["n_singleton"][s]) for s in np.flatnonzero(c["n_singleton"])} == {
        last: 2, 3: 1, 7: 1}
    assert {s: int(c["n_private"][s]) for s in np.flatnonzero(c["n_private"])} == {
        last: 2, 3: 1, 0: 1, 7: 1}


@pytest.mark.parametrize("ploidy", [2, 3])
def test_negative_codes_below_padding_match_naive(ploidy):
    # Codes no reader writes: negative values below -2 read as missing alleles.
    rng = np.random.default_rng(3)
    gt, n_alleles, allele_cls, site_class, sex, x_exp, dp, gq = random_chunk(
        rng, 20, 30, max_alleles=3, ploidy=ploidy)
    gt[0, :6, 0] = -3
    gt[1, :6, 1] = -7
    gt[2, :6, :2] = -100
    assert_kernel_matches_naive(gt, n_alleles, allele_cls, site_class, sex, x_exp, dp, gq)


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_first_allele_beyond_alt_haploid(dtype):
    n = ks.BLOCK_SAMPLES + 10
    gt = np.zeros((2, n, 1), dtype)
    gt[1, 3, 0] = 3
    gt[1, 2, 0] = 2
    args = (np.array([2, 3], np.int32), np.zeros((2, 3), np.int8), np.zeros(2, np.int8),
            np.zeros(n, np.int8), np.zeros(2))
    _, _, bad = ks.sample_counts(gt, *args)
    assert bad == naive.sample_counts(gt, *args)[1] == (1, 3)


@pytest.mark.parametrize("ploidy,dtype", [(2, np.int8), (2, np.int16), (3, np.int8)])
@pytest.mark.parametrize("call", [(0, 5), (-1, 5), (5, -2), (1, 5), (5, 1)])
def test_first_allele_beyond_alt_on_every_path(ploidy, dtype, call):
    # Biallelic site 0 and triallelic site 1; the first offending call in variant, then
    # sample order, whichever block holds it.
    n = ks.BLOCK_SAMPLES + 10
    gt = np.zeros((2, n, ploidy), dtype)
    gt[:, :, 2:] = -2
    gt[1, 2, :2] = [1, 2]
    gt[1, 3, :2] = call
    gt[0, n - 1, :2] = call
    args = (np.array([2, 3], np.int32), np.zeros((2, 3), np.int8), np.zeros(2, np.int8),
            np.zeros(n, np.int8), np.zeros(2))
    _, _, bad = ks.sample_counts(gt, *args)
    ref = naive.sample_counts(gt, *args)[1]
    assert bad == ref == ((0, n - 1) if max(call) >= 2 else (1, 3))


def test_kernel_by_hand():
    # Samples: male, male, female, unknown. Site 0 autosomal SNV A>G; site 1 chrX non-PAR;
    # site 2 chrY; site 3 a triallelic autosomal site (ALT1 insertion, ALT2 transversion).
    gt = np.array([
        [[0, 1], [1, 1], [0, 0], [-1, 1]],
        [[1, -2], [0, 1], [0, 1], [1, 1]],
        [[1, -2], [0, -2], [-1, -2], [0, -2]],
        [[1, 2], [0, 0], [2, 2], [0, 0]],
    ], dtype=np.int8)
    n_alleles = np.array([2, 2, 2, 3], np.int32)
    cls = np.array([[0, ks.TRANSITION, 0], [0, ks.TRANSVERSION, 0], [0, ks.TRANSITION, 0],
                    [0, ks.INSERTION, ks.TRANSVERSION]], np.int8)
    site = np.array([0, X_NONPAR, 2, 0], np.int8)
    sex = np.array([1, 1, 2, 0], np.int8)
    counts, _, _ = ks.sample_counts(gt, n_alleles, cls, site, sex, np.zeros(4))
    c = [dict(zip(ks.COUNT_NAMES, row.tolist())) for row in counts]
    # The male het on chrX is missing; the haploid '1' on chrX and chrY are hap-alt calls.
    assert (c[1]["n_male_het"], c[1]["n_missing"], c[1]["n_hap_ref"]) == (1, 1, 1)
    assert (c[0]["n_hap_alt"], c[0]["n_het"], c[0]["n_het_snv"]) == (2, 2, 2)
    # '1/2' counts once, by its lower ALT (an insertion: no ts/tv); it is an indel call.
    assert (c[0]["n_transitions"], c[0]["n_transversions"], c[0]["n_indel"]) == (1, 0, 1)
    # The female's chrY call counts nowhere; the half call './1' is missing.
    assert c[2]["n_called"] + c[2]["n_missing"] == 3 and c[3]["n_missing"] == 1
    # Every site has two samples with a non-REF call of two alleles: no singleton. Sample 0
    # alone carries ALT1 at site 3 and, in a haploid call, ALT1 on chrY: two private alleles.
    assert [r["n_singleton"] for r in c] == [0, 0, 0, 0]
    assert [r["n_private"] for r in c] == [2, 0, 0, 0]
    # The sex check reads chrY as written, the female's '.' included.
    assert [r["n_y_sites"] for r in c] == [1, 1, 1, 1]
    assert [r["n_y_called"] for r in c] == [1, 1, 0, 1]


# --- allele classes -------------------------------------------------------------------------

@pytest.mark.parametrize("ref,alt,expected", [
    ("A", "G", ks.TRANSITION), ("c", "t", ks.TRANSITION), ("A", "C", ks.TRANSVERSION),
    ("G", "T", ks.TRANSVERSION), ("A", "N", ks.SNV_OTHER), ("A", "A", ks.REF_LIKE),
    ("A", ".", ks.REF_LIKE), ("A", "<*>", ks.REF_LIKE), ("A", "<NON_REF>", ks.REF_LIKE),
    ("A", "*", ks.OVERLAP), ("A", "<DEL>", ks.OTHER), ("A", "A[chr2:100[", ks.OTHER),
    ("A", "AT", ks.INSERTION), ("AT", "A", ks.DELETION), ("CAT", "CATAT", ks.INSERTION),
    ("AT", "GT", ks.TRANSITION), ("AT", "AC", ks.TRANSITION), ("ACG", "ATG", ks.TRANSITION),
    ("AT", "GC", ks.MNP), ("AT", "GCC", ks.OTHER),
])
def test_allele_class(ref, alt, expected):
    assert allele_class(ref, alt) == expected


# --- the command against a record-by-record reference ----------------------------------------

def reference_sums(path, pops_path=None, build="GRCh38") -> dict[str, dict]:
    """Per-sample sums computed record by record with cyvcf2 and tests/naive.py."""
    vcf = cyvcf2.VCF(str(path))
    names = list(vcf.samples)
    sheet = read_pops(str(pops_path)) if pops_path else None
    sex = [sheet.sex.get(s, 0) if sheet else 0 for s in names]
    fields = vcf.raw_header
    totals = {s: dict.fromkeys(naive.SAMPLE_COUNT_NAMES, 0) | {"x_exp": 0.0} for s in names}
    for rec in vcf:
        na = len(rec.ALT) + 1
        gt = rec.genotype.array()[:, :-1].tolist()
        cls = int(site_classes(rec.CHROM, np.array([rec.POS]), build)[0])
        e = 0.0
        if cls == X_NONPAR:
            r = naive.count_alleles([gt], [na], [cls], sex, [-1] * len(names), 0)[0]
            if r["an"]:
                e = 1.0 - sum((a / r["an"]) ** 2 for a in r["ac"])
        acls = [[0] + [allele_class(rec.REF, alt) for alt in rec.ALT]]
        fmt = {}
        for key in ("DP", "GQ"):
            if f"##FORMAT=<ID={key}," in fields:
                v = rec.format(key)
                fmt[key] = [np.where(v[:, 0] < 0, -1, v[:, 0]).tolist()] if v is not None \
                    else [[-1] * len(names)]
        rows, bad = naive.sample_counts([gt], [na], acls, [cls], sex, [e],
                                        fmt.get("DP"), fmt.get("GQ"))
        assert bad is None
        for s, row in zip(names, rows):
            for key, value in row.items():
                totals[s][key] += value
    return totals


def assert_matches_reference(df, ref):
    assert df["sample"].to_list() == list(ref)
    for row in df.to_dicts():
        want = ref[row["sample"]]
        for key in INT_COUNTS:
            if key == "n_snv":
                assert row[key] == want["n_het_snv"] + want["n_hom_alt_snv"]
            elif key in row:
                assert row[key] == want[key], (row["sample"], key)
        assert row["x_exp_het"] == pytest.approx(want["x_exp"], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("with_pops", [False, True])
def test_edge_cases_match_reference(tmp_path, with_pops):
    pops = EDGE_POPS if with_pops else None
    df = run_qc(EDGE, tmp_path, pops_file=str(pops) if pops else None)
    assert_matches_reference(df, reference_sums(EDGE, pops))
    assert "mean_dp" not in df.columns and "fail_mean_gq" not in df.columns


def test_edge_cases_by_hand(tmp_path):
    df = run_qc(EDGE, tmp_path, pops_file=str(EDGE_POPS))
    row = {r["sample"]: r for r in df.to_dicts()}
    # f1's chrY '.' is not counted; u1 (unknown sex) has its '1' as a hap-alt call.
    assert row["f1"]["n_called"] + row["f1"]["n_missing"] == 10
    assert row["u1"]["n_called"] + row["u1"]["n_missing"] == 11
    # m1: './1' missing; chrX '0/1' outside the PARs is a male het (missing).
    assert row["m1"]["n_male_het"] == 1
    # Declared sexes are kept as M/F/None; the sheet's populations too.
    assert [row[s]["declared_sex"] for s in ("m1", "f1", "u1")] == ["M", "F", None]
    assert row["f2"]["population"] == "JPN"


def test_cohort_matches_reference(rich, tmp_path):
    df = run_qc(rich["vcf"], tmp_path, pops_file=rich["pops"])
    assert_matches_reference(df, reference_sums(rich["vcf"], rich["pops"]))
    assert df["n_private"].sum() > 0 and df["n_singleton"].sum() > 0
    # Derived columns from the sums.
    d = df.to_dicts()[0]
    assert d["call_rate"] == pytest.approx(d["n_called"] / (d["n_called"] + d["n_missing"]))
    assert d["ti_tv"] == pytest.approx(d["n_transitions"] / d["n_transversions"])
    assert d["het_hom_ratio"] == pytest.approx(d["n_het"] / d["n_hom_alt"])
    assert d["mean_dp"] == pytest.approx(d["sum_dp"] / d["n_dp"])
    assert d["x_f"] == pytest.approx(1 - d["n_x_het"] / d["x_exp_het"])


def test_threads_and_chunking_do_not_change_results(rich, tmp_path):
    base = run_qc(rich["vcf"], tmp_path, "t1", pops_file=rich["pops"], threads=1)
    for threads, chunk in ((2, None), (2, 37), (1, 1)):
        other = run_qc(rich["vcf"], tmp_path, f"t{threads}_{chunk}", pops_file=rich["pops"],
                       threads=threads, chunk_variants=chunk)
        if chunk is None:
            assert_frame_equal(base, other)
        else:
            # Another chunking sums x_exp_het in another order: equal to rounding.
            assert_frame_equal(base, other, check_exact=False, rel_tol=1e-12)


def test_region_shards_add_up_to_whole(plain, tmp_path):
    whole = run_qc(plain["vcf"], tmp_path, "whole", pops_file=plain["pops"])
    parts = [run_qc(plain["vcf"], tmp_path, f"r{i}", pops_file=plain["pops"], region=r)
             for i, r in enumerate(("chr1", "chr2:1-130000", "chr2:130001-", "chrX", "chrY"))]
    total = pl.concat([p.select("sample", *COUNT_COLUMNS) for p in parts]).group_by(
        "sample", maintain_order=True).sum()
    assert_frame_equal(total.select(INT_COUNTS), whole.select(INT_COUNTS))
    assert np.allclose(total["x_exp_het"], whole["x_exp_het"], rtol=1e-12)


def test_exclude_samples_equals_sample_subset(plain, tmp_path):
    names = list(cyvcf2.VCF(plain["vcf"]).samples)
    (tmp_path / "withdrawn.txt").write_text("\n".join(names[::5]) + "\n")
    (tmp_path / "keep.txt").write_text(
        "\n".join(n for n in names if n not in names[::5]) + "\n")
    a = run_qc(plain["vcf"], tmp_path, "a", exclude_samples_file=str(tmp_path / "withdrawn.txt"))
    b = run_qc(plain["vcf"], tmp_path, "b", samples_file=str(tmp_path / "keep.txt"))
    assert_frame_equal(a, b)
    assert a.height == len(names) - len(names[::5])


def test_tsv_equals_parquet(plain, tmp_path):
    a = run_qc(plain["vcf"], tmp_path, "a", pops_file=plain["pops"])
    b = run_qc(plain["vcf"], tmp_path, "b", pops_file=plain["pops"], fmt="tsv")
    assert_frame_equal(a, b.cast(a.schema), check_exact=False, rel_tol=1e-12)


def test_summary_json(plain, tmp_path):
    summary = command.run(plain["vcf"], str(tmp_path / "s"), pops_file=plain["pops"],
                          quiet=True)
    on_disk = json.loads((tmp_path / "s.sample_qc.json").read_text())
    df = pl.read_parquet(tmp_path / "s.sample_qc.parquet")
    assert on_disk["n_samples"] == df.height == 150 and on_disk["n_sites"] == 800
    assert on_disk["n_qc_pass"] == summary["n_qc_pass"] == df["qc_pass"].sum()
    assert on_disk["n_fail"]["call_rate"] == df["fail_call_rate"].fill_null(False).sum()
    assert sum(on_disk["karyotypes"].values()) == 150
    assert on_disk["format_fields"] == ["DP", "GQ"] and on_disk["n_y_sites"] > 0
    kor = on_disk["outliers"]["bounds"]["KOR"]["call_rate"]
    assert kor["lower"] < kor["median"] < kor["upper"] and kor["n"] > MIN_GROUP_SIZE
    # Populations too small for a median/MAD are listed without bounds.
    assert "lower" not in on_disk["outliers"]["bounds"]["EUR"]["call_rate"]


# --- peers ----------------------------------------------------------------------------------

def bcftools_psc(vcf: str) -> pl.DataFrame:
    exe = need_tool("bcftools")
    text = subprocess.run([exe, "stats", "-s", "-", vcf], capture_output=True, text=True,
                          check=True).stdout
    lines = text.splitlines()
    # bcftools 1.16's header: [2]id [3]sample [4]nRefHom [5]nNonRefHom [6]nHets
    # [7]nTransitions [8]nTransversions [9]nIndels [10]average depth [11]nSingletons
    # [12]nHapRef [13]nHapAlt [14]nMissing.
    header = next(ln for ln in lines if ln.startswith("# PSC\t"))
    names = [h.split("]", 1)[1] for h in header.split("\t")[1:]]
    assert names[2:] == ["nRefHom", "nNonRefHom", "nHets", "nTransitions", "nTransversions",
                         "nIndels", "average depth", "nSingletons", "nHapRef", "nHapAlt",
                         "nMissing"]
    psc = [ln.split("\t")[1:] for ln in lines if ln.startswith("PSC\t")]
    psi = {r[2]: r for r in (ln.split("\t") for ln in lines if ln.startswith("PSI\t"))}
    df = pl.DataFrame(psc, schema=names, orient="row")
    df = df.with_columns(pl.exclude("sample", "average depth").cast(pl.Int64),
                         pl.col("average depth").cast(pl.Float64))
    # PSI: [8]nInsHets [9]nDelHets [10]nInsAltHoms [11]nDelAltHoms.
    return df.with_columns(
        nIns=pl.Series([int(psi[s][7]) + int(psi[s][9]) for s in df["sample"]]),
        nDel=pl.Series([int(psi[s][8]) + int(psi[s][10]) for s in df["sample"]]))


BCFTOOLS_PAIRS = {"n_hom_ref": "nRefHom", "n_hom_alt_snv": "nNonRefHom", "n_het_snv": "nHets",
                  "n_transitions": "nTransitions", "n_transversions": "nTransversions",
                  "n_indel": "nIndels", "n_singleton": "nSingletons", "n_hap_ref": "nHapRef",
                  "n_hap_alt": "nHapAlt", "n_missing": "nMissing", "n_insertion": "nIns",
                  "n_deletion": "nDel"}


def assert_columns_equal(joined: pl.DataFrame, pairs: dict[str, str]):
    for ours, theirs in pairs.items():
        bad = joined.filter(pl.col(ours) != pl.col(theirs)).select("sample", ours, theirs)
        assert bad.height == 0, f"{ours} != {theirs}: {bad.head(5).rows()}"


@pytest.mark.parametrize("which", ["rich", "plain", "edge"])
def test_counts_match_bcftools_stats(request, tmp_path, which):
    vcf = str(EDGE) if which == "edge" else request.getfixturevalue(which)["vcf"]
    ours = run_qc(vcf, tmp_path)
    peer = bcftools_psc(vcf)
    joined = ours.join(peer, on="sample")
    assert joined.height == ours.height == peer.height
    assert_columns_equal(joined, BCFTOOLS_PAIRS)
    if "mean_dp" in ours.columns:
        # bcftools prints the mean depth with one decimal.
        assert (joined["mean_dp"] - joined["average depth"]).abs().max() <= 0.05 + 1e-9
    assert (ours["n_singleton"].sum() > 0) == (which != "edge")
    # 'rich' writes males diploid everywhere: as written, its calls are never haploid.
    assert (ours["n_hap_alt"].sum() > 0) == (which != "rich")


def test_missing_with_pops_leaves_out_female_chry(rich, tmp_path):
    ours = run_qc(rich["vcf"], tmp_path, pops_file=rich["pops"])
    peer = bcftools_psc(rich["vcf"])
    joined = ours.join(peer, on="sample")
    female = pl.col("declared_sex") == "F"
    n_y = ours["n_y_sites"][0]
    assert n_y > 0
    assert (joined.filter(female)["nMissing"] - joined.filter(female)["n_missing"] == n_y).all()
    assert (joined.filter(~female)["nMissing"] == joined.filter(~female)["n_missing"]).all()


def plink2_sex_file(pops: str, path: Path) -> Path:
    sheet = pl.read_csv(pops, separator="\t")
    sheet.select(pl.col("sample").alias("#IID"),
                 pl.col("sex").replace_strict({"M": "1", "F": "2"}).alias("SEX")
                 ).write_csv(path, separator="\t")
    return path


def run_plink2(*args: str) -> None:
    exe = need_tool("plink2")
    res = subprocess.run([exe, *args, "--threads", "1", "--memory", "1024"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def plink2_sample_counts(vcf: str, pops: str, out: Path) -> pl.DataFrame:
    run_plink2("--vcf", vcf, "--vcf-half-call", "missing", "--split-par", "hg38",
               "--update-sex", str(plink2_sex_file(pops, out.with_suffix(".sex"))),
               "--sample-counts", "cols=homref,homalt,homaltsnp,het,hetsnp,dipts,diptv,"
               "dipnonsnpsymb,dipsingle,hapref,hapalt,missing", "--out", str(out))
    return pl.read_csv(f"{out}.scount", separator="\t").rename({"#IID": "sample"})


def test_counts_match_plink2_sample_counts(rich, tmp_path):
    ours = run_qc(rich["vcf"], tmp_path, pops_file=rich["pops"])
    joined = ours.join(plink2_sample_counts(rich["vcf"], rich["pops"], tmp_path / "all"),
                       on="sample")
    assert joined.height == ours.height
    assert_columns_equal(joined, {
        "n_hom_ref": "HOM_REF_CT", "n_hom_alt": "HOM_ALT_CT", "n_het": "HET_CT",
        "n_singleton": "DIPLOID_SINGLETON_CT", "n_hap_ref": "HAP_REF_CT",
        "n_hap_alt": "HAP_ALT_CT", "n_missing": "MISSING_CT"})
    # The SNV-specific counts agree on biallelic records (see the module docstring).
    bi = tmp_path / "bi.vcf.gz"
    subprocess.run([need_tool("bcftools"), "view", "-m2", "-M2", "-Oz", "-o", str(bi),
                    rich["vcf"]], check=True)
    ours_bi = run_qc(str(bi), tmp_path, "bi", pops_file=rich["pops"])
    joined = ours_bi.join(plink2_sample_counts(str(bi), rich["pops"], tmp_path / "bi"),
                          on="sample")
    assert_columns_equal(joined, {
        "n_hom_alt_snv": "HOM_ALT_SNP_CT", "n_het_snv": "HET_SNP_CT",
        "n_transitions": "DIPLOID_TRANSITION_CT", "n_transversions": "DIPLOID_TRANSVERSION_CT",
        "n_indel": "DIPLOID_NONSNP_NONSYMBOLIC_CT"})


def x_nonpar_as_autosome(vcf: str, path: Path) -> Path:
    """The chrX records outside the PARs, renamed to chr3 (IDs kept), as a plain VCF."""
    pars = PARS["GRCh38"]["X"]
    with gzip.open(vcf, "rt") as src, open(path, "w") as dst:
        for line in src:
            if line.startswith("#"):
                dst.write(line)
                continue
            chrom, pos = line.split("\t", 2)[:2]
            if chrom == "chrX" and not any(a <= int(pos) <= b for a, b in pars):
                dst.write("chr3" + line[len("chrX"):])
    return path


def test_chrx_f_matches_plink2_het(plain, tmp_path):
    ours = run_qc(plain["vcf"], tmp_path, pops_file=plain["pops"])
    sex = plink2_sex_file(plain["pops"], tmp_path / "p.sex")
    run_plink2("--vcf", plain["vcf"], "--split-par", "hg38", "--update-sex", str(sex),
               "--freq", "counts", "--out", str(tmp_path / "freq"))
    xvcf = x_nonpar_as_autosome(plain["vcf"], tmp_path / "x.vcf")
    run_plink2("--vcf", str(xvcf), "--read-freq", str(tmp_path / "freq.acount"),
               "--het", "cols=hom,het,nobs,f", "--out", str(tmp_path / "x"))
    het = pl.read_csv(tmp_path / "x.het", separator="\t").rename({"#IID": "sample"})
    joined = ours.join(het, on="sample")
    assert joined.height == ours.height
    assert_columns_equal(joined, {"n_x_het": "O(HET)", "n_x_sites": "OBS_CT"})
    # plink2 prints 6 significant digits.
    assert (joined["x_exp_het"] - joined["E(HET)"]).abs().max() < 1e-4
    assert (joined["x_f"] - joined["F"]).abs().max() < 1e-4


def test_check_sex_matches_plink1_9(plain, tmp_path):
    """PLINK 1.9 --check-sex ycount on the biallelic records (it cannot hold more alleles)."""
    exe = need_tool("plink1.9")
    bi = tmp_path / "bi.vcf.gz"
    subprocess.run([need_tool("bcftools"), "view", "-m2", "-M2", "-Oz", "-o", str(bi),
                    plain["vcf"]], check=True)
    sheet = pl.read_csv(plain["pops"], separator="\t")
    sex = tmp_path / "sex.txt"
    sex.write_text("".join(f"{s}\t{s}\t{1 if x == 'M' else 2}\n"
                           for s, x in zip(sheet["sample"], sheet["sex"])))
    common = ["--threads", "1", "--memory", "1024"]
    for args in (["--vcf", str(bi), "--double-id", "--split-x", "hg38", "no-fail",
                  "--update-sex", str(sex), "--make-bed", "--out", str(tmp_path / "b")],
                 ["--bfile", str(tmp_path / "b"), "--check-sex", "ycount",
                  "--out", str(tmp_path / "s")]):
        res = subprocess.run([exe, *args, *common], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout
    rows = [ln.split() for ln in (tmp_path / "s.sexcheck").read_text().splitlines()[1:]]
    peer = pl.DataFrame({"sample": [r[1] for r in rows], "F": [float(r[5]) for r in rows],
                         "YCOUNT": [int(r[6]) for r in rows]})
    joined = run_qc(str(bi), tmp_path, pops_file=plain["pops"]).join(peer, on="sample")
    assert joined.height == 150
    assert_columns_equal(joined, {"n_y_called": "YCOUNT"})
    assert (joined["x_f"] - joined["F"]).abs().max() < 1e-4  # printed with 4 digits


# --- sex check and outliers -----------------------------------------------------------------

def test_planted_sex_mismatch_is_flagged(plain, tmp_path):
    base = run_qc(plain["vcf"], tmp_path, "base", pops_file=plain["pops"])
    assert base["sex_mismatch"].fill_null(False).sum() == 0
    # Far from the thresholds: the swapped sheet changes the chrX frequencies a little.
    clear = base.filter((pl.col("karyotype") == "XY")
                        | ((pl.col("karyotype") == "XX") & (pl.col("x_f") < 0.1)))
    swapped = (clear.filter(pl.col("declared_sex") == "M")["sample"].head(2).to_list()
               + clear.filter(pl.col("declared_sex") == "F")["sample"].head(2).to_list())
    lines = Path(plain["pops"]).read_text().splitlines()
    flip = {"M": "F", "F": "M"}
    edited = [ln if ln.split("\t")[0] not in swapped
              else "\t".join(ln.split("\t")[:2] + [flip[ln.split("\t")[2]]]) for ln in lines]
    pops = tmp_path / "swapped.tsv"
    pops.write_text("\n".join(edited) + "\n")
    df = run_qc(plain["vcf"], tmp_path, "swapped", pops_file=str(pops))
    flagged = df.filter(pl.col("sex_mismatch"))["sample"].to_list()
    assert sorted(flagged) == sorted(swapped)
    rows = df.filter(pl.col("sample").is_in(swapped))
    assert rows["fail_sex"].all() and not rows["qc_pass"].any()
    # The karyotype comes from the genotypes, not from the declared sex.
    assert_frame_equal(rows.select("sample", "karyotype").sort("sample"),
                       base.filter(pl.col("sample").is_in(swapped))
                       .select("sample", "karyotype").sort("sample"))


def test_males_and_females_are_told_apart(plain, tmp_path):
    df = run_qc(plain["vcf"], tmp_path, pops_file=plain["pops"])
    males = df.filter(pl.col("declared_sex") == "M")
    females = df.filter(pl.col("declared_sex") == "F")
    assert (males["x_f"] > 0.8).all() and (males["y_call_rate"] > 0.5).all()
    assert (females["x_f"] < 0.5).all() and (females["n_y_called"] == 0).all()
    assert (males["karyotype"] == "XY").all()
    assert (females["karyotype"] == "XX").mean() > 0.8
    # Without a sample sheet sexes are still inferred, and nothing can mismatch.
    bare = run_qc(plain["vcf"], tmp_path, "bare")
    assert_frame_equal(bare.select("karyotype"), df.select("karyotype"))
    assert bare["sex_mismatch"].null_count() == bare.height


@pytest.mark.parametrize("x_f,called,sites,karyotype,reason", [
    (0.05, 0, 20, "XX", None),
    (0.99, 19, 20, "XY", None),
    (0.5, 0, 20, "ambiguous", "between"),
    (0.95, 0, 20, "ambiguous", "X0?"),
    (0.01, 18, 20, "ambiguous", "XXY?"),
    (0.05, 7, 20, "ambiguous", "chrY call rate 0.350 between"),
    (math.nan, 18, 20, "XY", None),
    (0.1, 0, 0, "XX", None),
    (math.nan, 0, 0, None, "no informative"),
    (math.nan, 0, 20, None, "may be missing data"),
])
def test_infer_karyotype(x_f, called, sites, karyotype, reason):
    k, r = infer_karyotype(np.array([x_f]), np.array([called]), np.array([sites]))
    assert k == [karyotype]
    assert (r[0] is None) if reason is None else (reason in r[0])


def test_mad_flags_by_hand():
    values = [float(v) for v in range(10, 30)] + [100.0]  # median 20, raw MAD 5
    pops = ["A"] * 21 + ["B"] * 5 + ["C"] * 12 + [None] * 12
    values += [1.0, 2.0, 3.0, 4.0, 1000.0]  # B: too small to judge
    values += [7.0] * 11 + [8.0]  # C: MAD 0
    values += [float(v) for v in range(11)] + [math.nan]  # no population; one undefined
    df = pl.DataFrame({"population": pops, "m": values})
    (flags,), bounds = outlier_flags(df, ["m"], 4.0)
    fail = flags.to_list()
    assert [i for i in range(21) if fail[i]] == [20]
    assert bounds["A"]["m"]["median"] == 20 and bounds["A"]["m"]["mad"] == pytest.approx(
        5 * 1.4826)
    assert bounds["A"]["m"]["upper"] == pytest.approx(20 + 4 * 5 * 1.4826)
    assert fail[21:26] == [None] * 5 and "median" not in bounds["B"]["m"]
    assert fail[26:38] == [None] * 12 and bounds["C"]["m"]["mad"] == 0
    assert fail[38:49] == [False] * 11 and fail[49] is None
    (flags,), _ = outlier_flags(df, ["m"], 1.0)
    assert [i for i in range(21) if flags[i]] == [0, 1, 2, 18, 19, 20]


def test_outlier_samples_are_flagged(plain, tmp_path):
    """One sample made all-missing and one all-heterozygous on the autosomes, by hand."""
    names = list(cyvcf2.VCF(plain["vcf"]).samples)
    empty, het = names[3], names[7]  # both KOR, the large population
    i_empty, i_het = 9 + names.index(empty), 9 + names.index(het)
    out = tmp_path / "edited.vcf"
    with gzip.open(plain["vcf"], "rt") as src, open(out, "w") as dst:
        for line in src:
            if not line.startswith("#"):
                cols = line.rstrip("\n").split("\t")
                cols[i_empty] = "./."
                if cols[0] in ("chr1", "chr2"):
                    cols[i_het] = "0/1" + cols[i_het][3:]
                line = "\t".join(cols) + "\n"
            dst.write(line)
    df = run_qc(out, tmp_path, pops_file=plain["pops"])
    assert df.filter(pl.col("fail_call_rate"))["sample"].to_list() == [empty]
    assert het in df.filter(pl.col("fail_n_het"))["sample"].to_list()
    assert not df.filter(pl.col("sample").is_in([empty, het]))["qc_pass"].any()
    row = df.filter(pl.col("sample") == empty).row(0, named=True)
    assert (row["n_called"], row["call_rate"], row["ti_tv"]) == (0, 0.0, None)
    # No chrY call is no evidence of XX without chrX calls.
    assert row["karyotype"] is None and row["sex_mismatch"] is None
    # A larger k flags fewer samples.
    loose = run_qc(out, tmp_path, "loose", pops_file=plain["pops"], mad_k=50.0)
    assert loose["qc_pass"].sum() >= df["qc_pass"].sum()
    assert loose.filter(pl.col("fail_call_rate"))["sample"].to_list() == [empty]


# --- CLI ------------------------------------------------------------------------------------



def test_cli_subprocess_run(plain, tmp_path):
    out = tmp_path / "c"
    r = cli("sample-qc", plain["vcf"], "--out", str(out), "--pops", plain["pops"],
            "--threads", "2", "--format", "tsv", "--mad-k", "5")
    assert r.returncode == 0, r.stderr
    assert "150 samples" in r.stderr
    assert (tmp_path / "c.sample_qc.tsv").exists() and (tmp_path / "c.sample_qc.json").exists()
    assert json.loads((tmp_path / "c.sample_qc.json").read_text())["outliers"]["mad_k"] == 5
    r = cli("sample-qc", plain["vcf"], "--out", str(out), "--format", "tsv")
    assert r.returncode == 2 and "exists" in r.stderr and "--force" in r.stderr


def test_help_compiles_nothing():
    code = ("import sys; from genomekit.cli import cli; from click.testing import CliRunner; "
            "r = CliRunner().invoke(cli, ['sample-qc', '--help']); "
            "print(r.exit_code, 'numba' in sys.modules, '--mad-k' in r.output)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.split() == ["0", "False", "True"]


@pytest.mark.parametrize("args,code,text", [
    (["sample-qc", "/no/such.vcf", "-o", "{tmp}/x"], 1, "no such file"),
    (["sample-qc", str(EDGE), "-o", "{tmp}/x", "--mad-k", "0"], 2, "--mad-k"),
    (["sample-qc", str(EDGE), "-o", "{tmp}/x", "--mad-k", "nan"], 2, "--mad-k"),
    (["sample-qc", str(EDGE), "-o", "{tmp}/x", "--threads", "0"], 2, "--threads"),
    (["sample-qc", str(EDGE), "-o", "{tmp}/x", "-r", "chr1:5-1"], 2, "bad region"),
    (["sample-qc", str(EDGE), "-o", "{tmp}/x", "-r", "chr1:1-100"], 1, "need an index"),
    (["sample-qc", str(EDGE), "-o", "{tmp}/nodir/x"], 2, "does not exist"),
    (["sample-qc", str(EDGE)], 2, "Missing option"),
    (["sample-qc", str(EDGE), "-o", "{tmp}/x", "--format", "csv"], 2, "--format"),
    (["sample-qc", str(EDGE), "-o", "{tmp}/x", "--pops", str(DATA / "header_only.vcf")], 1,
     "header_only.vcf"),
])
def test_cli_errors_are_one_line(tmp_path, args, code, text):
    assert_one_error_line(tmp_path, args, code, text)


def test_bad_allele_leaves_no_output(tmp_path):
    bad = tmp_path / "bad.vcf"
    lines = EDGE.read_text().splitlines()
    lines[-3] = lines[-3].replace("\t0/1\t", "\t0/7\t", 1)
    bad.write_text("\n".join(lines) + "\n")
    r = cli("sample-qc", str(bad), "-o", str(tmp_path / "o"))
    assert r.returncode == 1
    assert "bad.vcf:chrX:5000100" in r.stderr and "allele" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.vcf"]


def test_no_records_or_no_samples(tmp_path):
    assert run_qc(DATA / "sites_only.vcf", tmp_path, "a").height == 0
    df = run_qc(DATA / "header_only.vcf", tmp_path, "b")
    assert df["sample"].to_list() == ["s1", "s2"]
    assert (df["n_called"] == 0).all() and df["call_rate"].null_count() == 2
    assert df["karyotype"].null_count() == 2 and df["qc_pass"].all()
