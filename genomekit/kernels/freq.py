"""Per-allele cohort counts from a chunk of genotypes, and the exact HWE test.

Genotype encoding (sgkit's): ``gt[v, s, p]`` is the allele index of ploidy slot
``p`` of sample ``s`` at variant ``v``; ``-1`` is a missing allele and ``-2``
pads calls of lower ploidy than the chunk's widest call.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from genomekit.kernels._jit import jit

# Site classes and sex codes, mirrored from genomekit.genome (kernels import numpy/numba only).
_X_NONPAR = 1
_CHR_Y = 2
_MALE = 1
_FEMALE = 2
# Variants with at most this many alleles take the tallied path of _count.
_FAST_ALLELES = 8


class FreqCounts(NamedTuple):
    """Counts for one chunk; ``A`` is the chunk's largest number of alleles.

    Per allele (n_var, A), every array int32: ``ac`` allele count; ``ac_het``
    heterozygous samples carrying the allele; ``ac_hom`` alleles in homozygous
    calls of ploidy >= 2; ``nhom`` homozygous samples; ``ac_hemi`` alleles in
    haploid, half-missing and male-hemizygous calls; ``hwe_het``/``hwe_hom``
    complete diploid calls with one/two copies. Per site (n_var,): ``an``,
    ``n_called`` samples with at least one called allele (bcftools NS),
    ``n_missing`` samples with any allele missing, half calls included
    (bcftools F_MISSING numerator), ``n_eligible`` samples counted at the site
    (females are not on chrY), ``n_male_het``, ``n_diploid``. Per group
    (n_var, G[, A]): ``ac_grp``, ``an_grp``, ``nhom_grp``. Per sex
    (n_var, 2[, A], index 0 = XY, 1 = XX): ``ac_sex``, ``an_sex``. Quality-
    filtered: ``ac_adj`` (n_var, A), ``an_adj`` (n_var,).
    """

    ac: np.ndarray
    ac_het: np.ndarray
    ac_hom: np.ndarray
    nhom: np.ndarray
    ac_hemi: np.ndarray
    hwe_het: np.ndarray
    hwe_hom: np.ndarray
    an: np.ndarray
    n_called: np.ndarray
    n_missing: np.ndarray
    n_eligible: np.ndarray
    n_male_het: np.ndarray
    n_diploid: np.ndarray
    ac_grp: np.ndarray
    an_grp: np.ndarray
    nhom_grp: np.ndarray
    ac_sex: np.ndarray
    an_sex: np.ndarray
    ac_adj: np.ndarray
    an_adj: np.ndarray


def count_alleles(gt, n_alleles, site_class, sex, group, n_groups, adj_pass=None):
    """Count alleles and genotype classes for every variant of a chunk.

    Parameters
    ----------
    gt : int8 or int16 array (n_var, n_samples, ploidy)
        Allele indices; -1 missing, -2 padding.
    n_alleles : int32 array (n_var,)
        Number of alleles (REF + ALTs) of each variant.
    site_class : int8 array (n_var,)
        0 as written, 1 chrX outside the PARs, 2 chrY.
    sex : int8 array (n_samples,)
        0 unknown, 1 male, 2 female.
    group : int32 array (n_samples,)
        Population index in [0, n_groups), or -1 for none.
    n_groups : int
    adj_pass : bool array (n_var, n_samples), optional
        Calls that pass the genotype quality filter.

    Returns
    -------
    FreqCounts, and the (variant, sample) of the first allele index outside
    [0, n_alleles), or (-1, -1).
    """
    n_var = gt.shape[0]
    width = max(2, int(n_alleles.max()) if n_var else 2)
    z = np.zeros

    def per_allele():
        return z((n_var, width), np.int32)

    out = FreqCounts(
        ac=per_allele(), ac_het=per_allele(), ac_hom=per_allele(), nhom=per_allele(),
        ac_hemi=per_allele(), hwe_het=per_allele(), hwe_hom=per_allele(),
        an=z(n_var, np.int32), n_called=z(n_var, np.int32), n_missing=z(n_var, np.int32),
        n_eligible=z(n_var, np.int32), n_male_het=z(n_var, np.int32), n_diploid=z(n_var, np.int32),
        ac_grp=z((n_var, n_groups, width), np.int32), an_grp=z((n_var, n_groups), np.int32),
        nhom_grp=z((n_var, n_groups, width), np.int32),
        ac_sex=z((n_var, 2, width), np.int32), an_sex=z((n_var, 2), np.int32),
        ac_adj=per_allele(), an_adj=z(n_var, np.int32),
    )
    use_adj = adj_pass is not None
    if not use_adj:
        adj_pass = z((0, 0), np.bool_)
    bad = _count(gt, n_alleles, site_class, sex, group, adj_pass, use_adj, *out)
    return out, (int(bad[0]), int(bad[1]))


@jit
def _count(gt, n_alleles, site_class, sex, group, adj_pass, use_adj,
           ac, ac_het, ac_hom, nhom, ac_hemi, hwe_het, hwe_hom,
           an, n_called, n_missing, n_eligible, n_male_het, n_diploid,
           ac_grp, an_grp, nhom_grp, ac_sex, an_sex, ac_adj, an_adj):
    n_var, n_smp, ploidy = gt.shape
    n_groups = an_grp.shape[1]
    calls = np.empty(ploidy, np.int64)
    bad = np.full(2, -1, np.int64)
    # Complete or missing diploid calls of variants with few alleles are tallied per
    # (group, sex, passes-adj, genotype) and folded into the counts once per variant:
    # one increment per sample instead of a dozen scattered ones.
    key = np.empty(n_smp, np.int64)
    for s in range(n_smp):
        key[s] = (group[s] + 1) * 3 + sex[s]
    n_pairs = _FAST_ALLELES * (_FAST_ALLELES + 1) // 2
    pair_a = np.empty(n_pairs, np.int64)
    pair_b = np.empty(n_pairs, np.int64)
    for b in range(_FAST_ALLELES):
        for a in range(b + 1):
            pair_a[b * (b + 1) // 2 + a] = a
            pair_b[b * (b + 1) // 2 + a] = b
    tally = np.zeros(((n_groups + 1) * 3, n_pairs + 1, 2), np.int64)  # last class: ./.
    for v in range(n_var):
        cls = site_class[v]
        na = n_alleles[v]
        fast = ploidy >= 2 and na <= _FAST_ALLELES
        if fast:
            tally[:] = 0
        for s in range(n_smp):
            sx = sex[s]
            if sx == _FEMALE and cls == _CHR_Y:
                continue
            if fast and (ploidy == 2 or gt[v, s, 2] == -2) and not (sx == _MALE and cls != 0):
                a = gt[v, s, 0]
                b = gt[v, s, 1]
                if a > b:
                    a, b = b, a
                if a >= 0 and b < na:
                    tally[key[s], b * (b + 1) // 2 + a, 1 if use_adj and adj_pass[v, s] else 0] += 1
                    continue
                if a == -1 and b == -1:
                    tally[key[s], n_pairs, 0] += 1
                    continue
            n_eligible[v] += 1
            slots = 0
            k = 0
            for p in range(ploidy):
                a = gt[v, s, p]
                if a == -2:
                    break
                slots += 1
                if a < 0:
                    continue
                if a >= na:
                    bad[0] = v
                    bad[1] = s
                    return bad
                calls[k] = a
                k += 1
            if k == 0:
                n_missing[v] += 1
                continue
            distinct = 1
            for i in range(1, k):
                new = True
                for j in range(i):
                    if calls[j] == calls[i]:
                        new = False
                        break
                if new:
                    distinct += 1
            hemizygous = sx == _MALE and (cls == _X_NONPAR or cls == _CHR_Y)
            if hemizygous:
                if distinct > 1:
                    # A heterozygous call on a haploid chromosome is an error call.
                    n_male_het[v] += 1
                    n_missing[v] += 1
                    continue
                k = 1
            elif k < slots:
                n_missing[v] += 1
            n_called[v] += 1
            an[v] += k
            g = group[s]
            if g >= 0:
                an_grp[v, g] += k
            if sx != 0:
                an_sex[v, sx - 1] += k
            passed = use_adj and adj_pass[v, s]
            if passed:
                an_adj[v] += k
            for i in range(k):
                a = calls[i]
                ac[v, a] += 1
                if g >= 0:
                    ac_grp[v, g, a] += 1
                if sx != 0:
                    ac_sex[v, sx - 1, a] += 1
                if passed:
                    ac_adj[v, a] += 1
            if hemizygous or slots == 1 or k < slots:
                for i in range(k):
                    ac_hemi[v, calls[i]] += 1
            elif distinct == 1:
                a = calls[0]
                ac_hom[v, a] += k
                nhom[v, a] += 1
                if g >= 0:
                    nhom_grp[v, g, a] += 1
                if k == 2:
                    hwe_hom[v, a] += 1
                    n_diploid[v] += 1
            else:
                for i in range(k):
                    first = True
                    for j in range(i):
                        if calls[j] == calls[i]:
                            first = False
                            break
                    if first:
                        ac_het[v, calls[i]] += 1
                if k == 2:
                    hwe_het[v, calls[0]] += 1
                    hwe_het[v, calls[1]] += 1
                    n_diploid[v] += 1
        if fast:
            _fold(v, tally, pair_a, pair_b, ac, ac_het, ac_hom, nhom, hwe_het, hwe_hom, an,
                  n_called, n_missing, n_eligible, n_diploid, ac_grp, an_grp, nhom_grp, ac_sex,
                  an_sex, ac_adj, an_adj)
    return bad


@jit
def _fold(v, tally, pair_a, pair_b, ac, ac_het, ac_hom, nhom, hwe_het, hwe_hom, an, n_called,
          n_missing, n_eligible, n_diploid, ac_grp, an_grp, nhom_grp, ac_sex, an_sex, ac_adj,
          an_adj):
    """Add the tallied diploid calls of variant ``v`` to the counts (see ``_count``)."""
    n_pairs = pair_a.shape[0]
    for kk in range(tally.shape[0]):
        g = kk // 3 - 1
        sx = kk % 3
        missing = tally[kk, n_pairs, 0]
        n_eligible[v] += missing
        n_missing[v] += missing
        for i in range(n_pairs):
            for passed in range(2):
                c = tally[kk, i, passed]
                if c == 0:
                    continue
                a = pair_a[i]
                b = pair_b[i]
                n_eligible[v] += c
                n_called[v] += c
                n_diploid[v] += c
                an[v] += 2 * c
                ac[v, a] += c
                ac[v, b] += c
                if a == b:
                    ac_hom[v, a] += 2 * c
                    nhom[v, a] += c
                    hwe_hom[v, a] += c
                else:
                    ac_het[v, a] += c
                    ac_het[v, b] += c
                    hwe_het[v, a] += c
                    hwe_het[v, b] += c
                if g >= 0:
                    an_grp[v, g] += 2 * c
                    ac_grp[v, g, a] += c
                    ac_grp[v, g, b] += c
                    if a == b:
                        nhom_grp[v, g, a] += c
                if sx != 0:
                    an_sex[v, sx - 1] += 2 * c
                    ac_sex[v, sx - 1, a] += c
                    ac_sex[v, sx - 1, b] += c
                if passed:
                    an_adj[v] += 2 * c
                    ac_adj[v, a] += c
                    ac_adj[v, b] += c


@jit
def hwe_exact(n_het, n_hom, n_diploid, midp):
    """Exact Hardy-Weinberg test of one allele against all others (Wigginton 2005).

    Parameters
    ----------
    n_het, n_hom, n_diploid : int64 arrays (n,)
        Complete diploid calls with one copy, with two copies, and in all.
    midp : bool
        Return mid-p values: outcomes exactly as likely as the observed one count
        half (plink2's convention), and half the observed probability is removed
        from ExcHet.

    Returns
    -------
    p_hwe, p_exc_het : float64 arrays (n,)
        Two-sided HWE p-value and the one-sided p-value for excess
        heterozygosity; 1.0 where the allele or its complement is absent.
    """
    n = n_het.shape[0]
    p_hwe = np.ones(n, np.float64)
    p_exc = np.ones(n, np.float64)
    buf = np.empty(16, np.float64)
    for i in range(n):
        het = n_het[i]
        n_a = 2 * n_hom[i] + het
        n_b = 2 * (n_diploid[i] - n_hom[i] - het) + het
        if n_a == 0 or n_b == 0:
            continue
        n_rare = min(n_a, n_b)
        n_gt = (n_a + n_b) // 2
        if buf.shape[0] < n_rare + 1:
            buf = np.empty(2 * (n_rare + 1), np.float64)
        probs = buf[: n_rare + 1]
        probs[:] = 0.0
        mid = (n_rare * (n_a + n_b - n_rare)) // (n_a + n_b)
        if (n_rare & 1) != (mid & 1):
            mid += 1
        probs[mid] = 1.0
        total = 1.0
        hom_r = (n_rare - mid) // 2
        hom_c = n_gt - mid - hom_r
        h = mid
        while h > 1:
            probs[h - 2] = probs[h] * h * (h - 1.0) / (4.0 * (hom_r + 1.0) * (hom_c + 1.0))
            total += probs[h - 2]
            hom_r += 1
            hom_c += 1
            h -= 2
        hom_r = (n_rare - mid) // 2
        hom_c = n_gt - mid - hom_r
        h = mid
        while h <= n_rare - 2:
            probs[h + 2] = probs[h] * 4.0 * hom_r * hom_c / ((h + 2.0) * (h + 1.0))
            total += probs[h + 2]
            hom_r -= 1
            hom_c -= 1
            h += 2
        # Outcomes as likely as the observed one, to a relative 1e-9: exact ties can
        # differ in the last bits after the recurrence.
        limit = probs[het] * (1.0 + 1e-9)
        floor = probs[het] * (1.0 - 1e-9)
        exc = 0.0
        for h in range(het, n_rare + 1):
            exc += probs[h]
        two_sided = 0.0
        tied = 0.0
        for h in range(n_rare + 1):
            if probs[h] <= limit:
                two_sided += probs[h]
                if probs[h] >= floor:
                    tied += probs[h]
        if midp:
            # Half weight to every outcome as likely as the observed one (plink2's mid-p).
            two_sided -= 0.5 * tied
            exc -= 0.5 * probs[het]
        two_sided /= total
        exc /= total
        p_hwe[i] = min(1.0, two_sided)
        p_exc[i] = min(1.0, exc)
    return p_hwe, p_exc


@jit
def adj_pass(gt, gq, dp, ad, min_gq, min_dp, min_ab):
    """Which calls pass a genotype quality filter (gnomAD's "adj").

    Parameters
    ----------
    gt : int8 or int16 array (n_var, n_samples, ploidy)
    gq, dp : int32 arrays (n_var, n_samples), or (0, 0) when not filtered on;
        values < 0 are missing and fail.
    ad : int32 array (n_var, n_samples, A), or (0, 0, 0) when not filtered on.
    min_gq, min_dp : int; min_ab : float
        Thresholds; a call passes when GQ >= min_gq, DP >= min_dp and, for a
        heterozygous call, every called non-reference allele has
        AD[allele] / sum(AD) >= min_ab.

    Returns
    -------
    bool array (n_var, n_samples)
    """
    n_var, n_smp, ploidy = gt.shape
    out = np.zeros((n_var, n_smp), np.bool_)
    check_gq = gq.shape[0] > 0
    check_dp = dp.shape[0] > 0
    check_ab = ad.shape[0] > 0
    for v in range(n_var):
        for s in range(n_smp):
            if check_gq and gq[v, s] < min_gq:
                continue
            if check_dp and dp[v, s] < min_dp:
                continue
            ok = True
            if check_ab:
                first = -1
                het = False
                for p in range(ploidy):
                    a = gt[v, s, p]
                    if a < 0:
                        continue
                    if first < 0:
                        first = a
                    elif a != first:
                        het = True
                if het:
                    total = 0
                    for j in range(ad.shape[2]):
                        if ad[v, s, j] > 0:
                            total += ad[v, s, j]
                    for p in range(ploidy):
                        a = gt[v, s, p]
                        if a <= 0:
                            continue
                        if a >= ad.shape[2] or ad[v, s, a] < 0 or total == 0 \
                                or ad[v, s, a] < min_ab * total:
                            ok = False
                            break
            out[v, s] = ok
    return out


def inbreeding_coeff(n_het, n_hom, n_diploid):
    """1 - observed / expected heterozygosity of one allele among complete diploid calls.

    Arrays as for `hwe_exact`; NaN where the expectation is zero.
    """
    n = n_diploid.astype(np.float64)
    p = np.divide(2.0 * n_hom + n_het, 2.0 * n, out=np.full(n.shape, np.nan), where=n > 0)
    expected = 2.0 * p * (1.0 - p) * n
    with np.errstate(invalid="ignore", divide="ignore"):
        f = 1.0 - n_het / expected
    f[~(expected > 0)] = np.nan
    return f
