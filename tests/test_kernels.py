"""Every kernel against its plain-Python reference in tests/naive.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomekit.kernels import freq as kf
from tests import naive


def random_chunk(rng, n_var, n_smp, max_alleles=5, ploidy=3, n_groups=3):
    n_alleles = rng.integers(1, max_alleles + 1, size=n_var).astype(np.int32)
    gt = np.full((n_var, n_smp, ploidy), -2, dtype=np.int8)
    for v in range(n_var):
        for s in range(n_smp):
            p = min(ploidy, int(rng.choice([1, 2, 3], p=[0.15, 0.75, 0.1])))
            for k in range(p):
                gt[v, s, k] = -1 if rng.random() < 0.1 else rng.integers(0, n_alleles[v])
    site_class = rng.integers(0, 3, size=n_var).astype(np.int8)
    sex = rng.integers(0, 3, size=n_smp).astype(np.int8)
    group = rng.integers(-1, n_groups, size=n_smp).astype(np.int32)
    adj = rng.random((n_var, n_smp)) < 0.7
    return gt, n_alleles, site_class, sex, group, adj


def assert_counts_equal(counts, ref, n_alleles):
    for v, r in enumerate(ref):
        na = int(n_alleles[v])
        for key in ("ac", "ac_het", "ac_hom", "nhom", "ac_hemi", "hwe_het", "hwe_hom", "ac_adj"):
            assert getattr(counts, key)[v, :na].tolist() == r[key], (key, v)
            assert not getattr(counts, key)[v, na:].any(), (key, v)
        for key in ("an", "n_called", "n_missing", "n_eligible", "n_male_het", "n_diploid",
                    "an_adj"):
            assert int(getattr(counts, key)[v]) == r[key], (key, v)
        assert counts.ac_grp[v, :, :na].tolist() == r["ac_grp"]
        assert counts.an_grp[v].tolist() == r["an_grp"]
        assert counts.nhom_grp[v, :, :na].tolist() == r["nhom_grp"]
        assert counts.ac_sex[v, :, :na].tolist() == r["ac_sex"]
        assert counts.an_sex[v].tolist() == r["an_sex"]


@pytest.mark.parametrize("ploidy,max_alleles,n_groups",
                         [(3, 5, 3), (2, 5, 3), (2, 12, 3), (1, 5, 3), (1, 12, 3), (2, 6, 26)])
@pytest.mark.parametrize("use_adj", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_count_alleles_matches_naive(seed, use_adj, ploidy, max_alleles, n_groups):
    # Ploidies 1 and 2 take the histogram path (alleles from 4 up, haploid and half
    # calls included); ploidy 3 the per-call path. 26 groups: a histogram slot for
    # each group and sex, most of them with a few samples.
    rng = np.random.default_rng(seed)
    gt, n_alleles, site_class, sex, group, adj = random_chunk(rng, 40, 30 * (1 + n_groups // 5),
                                                              max_alleles, ploidy, n_groups)
    adj = adj if use_adj else None
    counts, bad = kf.count_alleles(gt, n_alleles, site_class, sex, group, n_groups, adj)
    assert bad == (-1, -1)
    ref = naive.count_alleles(gt, n_alleles, site_class, sex, group, n_groups, adj)
    assert_counts_equal(counts, ref, n_alleles)
    # Sanity of the invariants the table relies on.
    assert (counts.ac.sum(axis=1) == counts.an).all()
    assert (counts.n_called <= counts.n_eligible).all()


@pytest.mark.parametrize("ploidy,max_alleles", [(2, 3), (2, 8), (1, 3), (1, 8)])
@pytest.mark.parametrize("seed", range(3))
def test_count_alleles_mostly_zero_calls_match_naive(seed, ploidy, max_alleles):
    # Rare variants: runs of four zero calls are skipped, their number derived from
    # the slot sizes. Variants alternate between mostly zero and not, so that the
    # skipping turns on and off; 61 samples leave a tail shorter than a run; alleles
    # from 4 up, missing calls and (ploidy 2) haploid calls stay beside the zeros.
    rng = np.random.default_rng(100 + seed)
    n_var, n_smp = 30, 61
    gt, n_alleles, site_class, sex, group, _ = random_chunk(rng, n_var, n_smp, max_alleles,
                                                            ploidy, 4)
    for v in range(n_var):
        zero = rng.random(n_smp) < (0.97 if v % 3 else 0.5)
        gt[v, zero] = np.where(gt[v, zero] == -2, -2, 0)
    counts, bad = kf.count_alleles(gt, n_alleles, site_class, sex, group, 4)
    assert bad == (-1, -1)
    ref = naive.count_alleles(gt, n_alleles, site_class, sex, group, 4)
    assert_counts_equal(counts, ref, n_alleles)
    # An allele the variant lacks, after skipped runs, is still found.
    gt[7, :] = np.where(gt[7, :] == -2, -2, 0)
    gt[7, 45, 0] = n_alleles[7]
    _, bad = kf.count_alleles(gt, n_alleles, site_class, sex, group, 4)
    assert bad == (7, 45)


def test_count_alleles_int16_many_alleles():
    rng = np.random.default_rng(3)
    n_alleles = np.array([200, 150], dtype=np.int32)
    gt = rng.integers(0, 150, size=(2, 20, 2)).astype(np.int16)
    gt[0, 0, 1] = 199
    counts, bad = kf.count_alleles(gt, n_alleles, np.zeros(2, np.int8), np.zeros(20, np.int8),
                                   np.full(20, -1, np.int32), 0)
    ref = naive.count_alleles(gt, n_alleles, [0, 0], [0] * 20, [-1] * 20, 0)
    assert bad == (-1, -1)
    assert_counts_equal(counts, ref, n_alleles)


@pytest.mark.parametrize("ploidy", [1, 2, 3])
def test_count_alleles_reports_allele_beyond_alt(ploidy):
    # The first offending call in variant, then sample order, whatever the path.
    gt = np.full((3, 4, ploidy), 0, dtype=np.int8)
    gt[1, 2, min(1, ploidy - 1)] = 2
    gt[1, 3, 0] = 9
    gt[2, 0, 0] = 5
    _, bad = kf.count_alleles(gt, np.array([2, 2, 2], np.int32), np.zeros(3, np.int8),
                              np.zeros(4, np.int8), np.zeros(4, np.int32), 1)
    assert bad == (1, 2)


def test_sex_rules_by_hand():
    # Samples: male '1' haploid, male '1/1', male '0/1' (het: missing), female '0/1',
    # unknown '1/1'.
    gt = np.array([[[1, -2], [1, 1], [0, 1], [0, 1], [1, 1]]], dtype=np.int8)
    sex = np.array([1, 1, 1, 2, 0], np.int8)
    group = np.zeros(5, np.int32)
    na = np.array([2], np.int32)
    x, _ = kf.count_alleles(gt, na, np.array([1], np.int8), sex, group, 1)
    assert (x.an[0], x.ac[0, 1], x.n_male_het[0], x.n_missing[0]) == (6, 5, 1, 1)
    assert (x.ac_hemi[0, 1], x.nhom[0, 1], x.ac_het[0, 1]) == (2, 1, 1)
    assert x.an_sex[0].tolist() == [2, 2] and x.ac_sex[0, :, 1].tolist() == [2, 1]
    y, _ = kf.count_alleles(gt, na, np.array([2], np.int8), sex, group, 1)
    assert (y.an[0], y.ac[0, 1], y.n_eligible[0]) == (4, 4, 4)  # the female is not counted
    auto, _ = kf.count_alleles(gt, na, np.array([0], np.int8), sex, group, 1)
    assert (auto.an[0], auto.ac[0, 1], auto.n_male_het[0]) == (9, 7, 0)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 80), st.booleans())
def test_hwe_matches_enumeration(het, hom, other, midp):
    n = het + hom + other
    p, exc = kf.hwe_exact(np.array([het]), np.array([hom]), np.array([n]), midp)
    ref, exc_ref = naive.hwe_exact(het, hom, n, midp)
    assert p[0] == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert exc[0] == pytest.approx(exc_ref, rel=1e-9, abs=1e-12)


def test_hwe_midp_ties_count_half():
    # 6/71/219 hom/het/other: P(71 hets) equals P(73 hets) exactly.
    p, _ = kf.hwe_exact(np.array([71]), np.array([6]), np.array([296]), False)
    mid, _ = kf.hwe_exact(np.array([71]), np.array([6]), np.array([296]), True)
    ref, _ = naive.hwe_exact(71, 6, 296)
    probs = {h: naive._log_prob_het(h, 83, 509) for h in (71, 73)}
    assert probs[71] == pytest.approx(probs[73], rel=1e-12)
    p_obs = math.exp(probs[71]) / sum(math.exp(naive._log_prob_het(h, 83, 509))
                                      for h in range(1, 84, 2))
    assert p[0] == pytest.approx(ref, rel=1e-9)
    assert mid[0] == pytest.approx(p[0] - p_obs, rel=1e-9)


def test_hwe_known_values():
    # 50 samples all heterozygous deviate strongly, towards excess heterozygosity.
    p, exc = kf.hwe_exact(np.array([50]), np.array([0]), np.array([50]), False)
    assert p[0] < 1e-10 and exc[0] < 1e-10
    # No heterozygotes at all: deficit, so ExcHet is 1.
    p, exc = kf.hwe_exact(np.array([0]), np.array([25]), np.array([50]), False)
    assert p[0] < 1e-10 and exc[0] == pytest.approx(1.0)
    # Perfect equilibrium 25/50/25 gives p = 1.
    p, _ = kf.hwe_exact(np.array([50]), np.array([25]), np.array([100]), False)
    assert p[0] == pytest.approx(1.0)
    # Absent allele: p = 1 by definition.
    p, exc = kf.hwe_exact(np.array([0]), np.array([0]), np.array([30]), False)
    assert (p[0], exc[0]) == (1.0, 1.0)


def test_hwe_large_counts():
    het, hom, n = 3000, 200, 10000
    p, exc = kf.hwe_exact(np.array([het]), np.array([hom]), np.array([n]), False)
    ref, exc_ref = naive.hwe_exact(het, hom, n)
    assert p[0] == pytest.approx(ref, rel=1e-6)
    assert exc[0] == pytest.approx(exc_ref, rel=1e-6)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))
def test_inbreeding_coeff_matches_naive(het, hom, other):
    n = het + hom + other
    got = kf.inbreeding_coeff(np.array([het]), np.array([hom]), np.array([n]))[0]
    ref = naive.inbreeding_coeff(het, hom, n)
    if math.isnan(ref):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(ref, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_adj_pass_matches_naive(seed):
    rng = np.random.default_rng(seed)
    gt, n_alleles, *_ = random_chunk(rng, 25, 20, ploidy=2)
    gt[gt == -2] = -1
    gq = rng.integers(-1, 60, size=gt.shape[:2]).astype(np.int32)
    dp = rng.integers(-1, 40, size=gt.shape[:2]).astype(np.int32)
    ad = rng.integers(-1, 20, size=(*gt.shape[:2], 5)).astype(np.int32)
    for use in [(True, True, True), (True, False, False), (False, False, True)]:
        g = gq if use[0] else np.zeros((0, 0), np.int32)
        d = dp if use[1] else np.zeros((0, 0), np.int32)
        a = ad if use[2] else np.zeros((0, 0, 0), np.int32)
        got = kf.adj_pass(gt, g, d, a, 20, 10, 0.2)
        ref = naive.adj_pass(gt, gq if use[0] else None, dp if use[1] else None,
                             ad if use[2] else None, 20, 10, 0.2)
        assert got.tolist() == ref
