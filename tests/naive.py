"""Slow, plain-Python references for every Numba kernel. Obvious over fast."""

from __future__ import annotations

import math

X_NONPAR, CHR_Y = 1, 2
MALE, FEMALE = 1, 2


def count_alleles(gt, n_alleles, site_class, sex, group, n_groups, adj_pass=None):
    """Per-variant dictionaries of the counts kernels.freq.count_alleles computes.

    gt is a nested list or array [variant][sample][slot] with -1 missing, -2 padding.
    Returns a list (one dict per variant) of plain ints and lists.
    """
    out = []
    for v in range(len(gt)):
        na = int(n_alleles[v])
        cls = int(site_class[v])
        r = {
            "ac": [0] * na, "ac_het": [0] * na, "ac_hom": [0] * na, "nhom": [0] * na,
            "ac_hemi": [0] * na, "hwe_het": [0] * na, "hwe_hom": [0] * na,
            "an": 0, "n_called": 0, "n_missing": 0, "n_eligible": 0, "n_male_het": 0,
            "n_diploid": 0,
            "ac_grp": [[0] * na for _ in range(n_groups)], "an_grp": [0] * n_groups,
            "nhom_grp": [[0] * na for _ in range(n_groups)],
            "ac_sex": [[0] * na for _ in range(2)], "an_sex": [0, 0],
            "ac_adj": [0] * na, "an_adj": 0, "bad": None,
        }
        for s in range(len(gt[v])):
            sx = int(sex[s])
            if sx == FEMALE and cls == CHR_Y:
                continue
            r["n_eligible"] += 1
            slots = [int(a) for a in gt[v][s] if a != -2]
            called = [a for a in slots if a >= 0]
            if any(a >= na for a in called):
                r["bad"] = s
                break
            if not called:
                r["n_missing"] += 1
                continue
            hemizygous = sx == MALE and cls in (X_NONPAR, CHR_Y)
            if hemizygous:
                if len(set(called)) > 1:
                    r["n_male_het"] += 1
                    r["n_missing"] += 1
                    continue
                called = called[:1]
            elif len(called) < len(slots):
                r["n_missing"] += 1
            r["n_called"] += 1
            r["an"] += len(called)
            g = int(group[s])
            passed = adj_pass is not None and bool(adj_pass[v][s])
            for a in called:
                r["ac"][a] += 1
                if g >= 0:
                    r["ac_grp"][g][a] += 1
                if sx:
                    r["ac_sex"][sx - 1][a] += 1
                if passed:
                    r["ac_adj"][a] += 1
            if g >= 0:
                r["an_grp"][g] += len(called)
            if sx:
                r["an_sex"][sx - 1] += len(called)
            if passed:
                r["an_adj"] += len(called)
            if hemizygous or len(slots) == 1 or len(called) < len(slots):
                for a in called:
                    r["ac_hemi"][a] += 1
            elif len(set(called)) == 1:
                a = called[0]
                r["ac_hom"][a] += len(called)
                r["nhom"][a] += 1
                if g >= 0:
                    r["nhom_grp"][g][a] += 1
                if len(called) == 2:
                    r["hwe_hom"][a] += 1
                    r["n_diploid"] += 1
            else:
                for a in set(called):
                    r["ac_het"][a] += 1
                if len(called) == 2:
                    for a in called:
                        r["hwe_het"][a] += 1
                    r["n_diploid"] += 1
        out.append(r)
    return out


def _log_prob_het(n_het, n_a, n_b):
    """log P(n_het heterozygotes | n_a copies of A and n_b of B in (n_a+n_b)/2 diploids)."""
    n = (n_a + n_b) // 2
    hom_a = (n_a - n_het) // 2
    hom_b = (n_b - n_het) // 2
    lg = math.lgamma
    return (lg(n + 1) - lg(hom_a + 1) - lg(n_het + 1) - lg(hom_b + 1) + n_het * math.log(2)
            + lg(n_a + 1) + lg(n_b + 1) - lg(2 * n + 1))


def hwe_exact(n_het, n_hom, n_diploid, midp=False, tie=1e-9):
    """(p_hwe, p_exc_het) by enumerating every feasible het count with log-factorials.

    Probabilities within a relative ``tie`` of the observed one count as equal
    to it (and count half with ``midp``); a negative ``tie`` excludes near-ties.
    """
    n_a = 2 * n_hom + n_het
    n_b = 2 * (n_diploid - n_hom - n_het) + n_het
    if n_a == 0 or n_b == 0:
        return 1.0, 1.0
    rare = min(n_a, n_b)
    hets = range(rare % 2, rare + 1, 2)
    probs = {h: math.exp(_log_prob_het(h, n_a, n_b)) for h in hets}
    total = sum(probs.values())
    obs = probs[n_het]
    p = sum(q for q in probs.values() if q <= obs * (1 + tie)) / total
    exc = sum(q for h, q in probs.items() if h >= n_het) / total
    if midp:
        p -= 0.5 * sum(q for q in probs.values() if abs(q - obs) <= abs(tie) * obs) / total
        exc -= 0.5 * obs / total
    return min(1.0, p), min(1.0, exc)


def inbreeding_coeff(n_het, n_hom, n_diploid):
    if n_diploid == 0:
        return math.nan
    p = (2 * n_hom + n_het) / (2 * n_diploid)
    expected = 2 * p * (1 - p) * n_diploid
    if expected <= 0:
        return math.nan
    return 1 - n_het / expected


def adj_pass(gt, gq, dp, ad, min_gq, min_dp, min_ab):
    """gnomAD-style genotype filter, one bool per (variant, sample). None skips a filter."""
    out = []
    for v in range(len(gt)):
        row = []
        for s in range(len(gt[v])):
            ok = True
            if gq is not None and gq[v][s] < min_gq:
                ok = False
            if dp is not None and dp[v][s] < min_dp:
                ok = False
            if ok and ad is not None:
                called = [int(a) for a in gt[v][s] if a >= 0]
                if len(set(called)) > 1:
                    depths = list(ad[v][s])
                    total = sum(d for d in depths if d > 0)
                    for a in called:
                        if a == 0:
                            continue
                        if a >= len(depths) or depths[a] < 0 or total == 0 \
                                or depths[a] < min_ab * total:
                            ok = False
            row.append(ok)
        out.append(row)
    return out
