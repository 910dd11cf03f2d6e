"""Per-allele cohort counts from a chunk of genotypes, and the exact HWE test.

Genotype encoding (sgkit's): ``gt[v, s, p]`` is the allele index of ploidy slot
``p`` of sample ``s`` at variant ``v``; ``-1`` is a missing allele and ``-2``
pads calls of lower ploidy than the chunk's widest call.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np

from genomekit.kernels._jit import jit
from genomekit.kernels.calls import decode_call, first_time, n_distinct

# Site classes and sex codes, mirrored from genomekit.genome (kernels import numpy/numba only).
_X_NONPAR = 1
_CHR_Y = 2
_MALE = 1
_FEMALE = 2
# Diploid calls of alleles below _CODE_ALLELES take the histogram path of _count:
# code (a + 2) * _CODE_BASE + (b + 2) for the call a/b.
_CODE_ALLELES = 4
_CODE_BASE = _CODE_ALLELES + 2
_CODES = _CODE_BASE * _CODE_BASE
_ODD = _CODES
_LANES = 4
# hwe_exact leaves out outcomes less likely than this times the observed one.
_HWE_NEGLIGIBLE = 1e-20


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
    n_var, n_smp, ploidy = gt.shape
    width = max(2, int(n_alleles.max()) if n_var else 2)
    # Every count of a variant lives in one row of a single array (see _row_layout),
    # so the kernels hand one array around instead of twenty.
    offsets, row = _row_layout(width, n_groups)
    rows = np.zeros((n_var, row), np.int32)
    use_adj = adj_pass is not None
    if not use_adj:
        adj_pass = np.zeros((0, 0), np.bool_)
    # Diploid int8 calls are read two bytes at a time (slot 0 in the low byte),
    # haploid ones (chrY, male chrX) one byte at a time.
    code_table = _PAIR_CODE
    if gt.dtype == np.int8 and ploidy == 2 and sys.byteorder == "little" and n_smp:
        pairs = np.ascontiguousarray(gt).view(np.uint16).reshape(n_var, n_smp)
    elif gt.dtype == np.int8 and ploidy == 1 and n_smp:
        pairs = np.ascontiguousarray(gt).view(np.uint8).reshape(n_var, n_smp)
        code_table = _HAPLOID_CODE
    else:
        pairs = np.zeros((0, 0), np.uint16)
    bad = _count(gt, pairs, code_table, n_alleles, site_class, sex, group, adj_pass, use_adj,
                 rows, width, n_groups)
    fields = {}
    for name, (start, shape) in offsets.items():
        size = int(np.prod(shape))
        fields[name] = rows[:, start:start + size].reshape((n_var, *shape))
    return FreqCounts(**fields), (int(bad[0]), int(bad[1]))


# Per-allele counts first, _R_* rows of ``width`` each; then per-site counts,
# _S_* columns; then the group and sex counts.
_R_AC, _R_HET, _R_HOM, _R_NHOM, _R_HEMI, _R_HWE_HET, _R_HWE_HOM, _R_ADJ = range(8)
_N_R = 8
_S_AN, _S_CALLED, _S_MISSING, _S_ELIGIBLE, _S_MALE_HET, _S_DIPLOID, _S_AN_ADJ = range(7)
_N_S = 7


def _row_layout(width: int, n_groups: int):
    """Where each FreqCounts field sits in a variant's row: {name: (start, shape)}."""
    w, g = width, n_groups
    per_allele = ("ac", "ac_het", "ac_hom", "nhom", "ac_hemi", "hwe_het", "hwe_hom", "ac_adj")
    per_site = ("an", "n_called", "n_missing", "n_eligible", "n_male_het", "n_diploid",
                "an_adj")
    layout = {name: (i * w, (w,)) for i, name in enumerate(per_allele)}
    layout.update({name: (_N_R * w + i, ()) for i, name in enumerate(per_site)})
    o = _N_R * w + _N_S
    layout["ac_grp"] = (o, (g, w))
    layout["nhom_grp"] = (o + g * w, (g, w))
    layout["an_grp"] = (o + 2 * g * w, (g,))
    layout["ac_sex"] = (o + 2 * g * w + g, (2, w))
    layout["an_sex"] = (o + 2 * g * w + g + 2 * w, (2,))
    return layout, o + 2 * g * w + g + 2 * w + 2


def _pair_codes() -> np.ndarray:
    """Histogram code of every two-byte diploid call, one table per number of alleles
    n (row n - 1, n = 1.._CODE_ALLELES, the last row for more): (a + 2) * _CODE_BASE +
    (b + 2) for alleles a, b in -2..n - 1 (-2..._CODE_ALLELES - 1 in the last row),
    _ODD for any other. A call with an allele the variant does not have is odd: it
    never reaches the histogram."""
    table = np.full((_CODE_ALLELES, 65536), _ODD, np.uint16)
    for n in range(1, _CODE_ALLELES + 1):
        for a in range(-2, n):
            for b in range(-2, n):
                table[n - 1, (a & 0xFF) | (b & 0xFF) << 8] = (a + 2) * _CODE_BASE + (b + 2)
    return table


_PAIR_CODE = _pair_codes()
# A one-slot call a is the two-slot call (a, -2): the byte of a is the low byte of its pair.
_HAPLOID_CODE = np.ascontiguousarray(_PAIR_CODE[:, 0xFE00:0xFF00])


@jit
def _count(gt, pairs, pair_code, n_alleles, site_class, sex, group, adj_pass, use_adj,
           rows, width, n_groups):
    n_var, n_smp, ploidy = gt.shape
    bad = np.full(2, -1, np.int64)
    calls = np.empty(max(ploidy, 2), np.int64)
    if pairs.shape[0] == 0:
        for v in range(n_var):
            row = rows[v]
            for s in range(n_smp):
                if not _one_call(gt, v, s, n_alleles[v], site_class[v], sex[s], group[s],
                                 use_adj and adj_pass[v, s], calls, row, width, n_groups):
                    bad[0] = v
                    bad[1] = s
                    return bad
        return bad
    # Diploid and haploid calls go to a histogram per (group, sex, passes-adj)
    # slot and genotype code (see _pair_codes), folded into the counts once per variant:
    # one increment per call. _LANES copies of the histogram, taken in turn,
    # keep runs of equal calls from waiting on one another's increments.
    # Calls with other alleles (_CODE_ALLELES and up) go through _one_call.
    n_kinds = (group.max() + 2) * 3 if n_smp else 0
    slot_of = np.full(n_kinds, -1, np.int64)
    n_used = 0
    for s in range(n_smp):
        kind = (group[s] + 1) * 3 + sex[s]
        if slot_of[kind] < 0:
            slot_of[kind] = n_used
            n_used += 1
    n_adj = 2 if use_adj else 1
    n_slots = n_used * n_adj
    slot_group = np.empty(n_slots, np.int64)
    slot_sex = np.empty(n_slots, np.int64)
    for kind in range(n_kinds):
        if slot_of[kind] >= 0:
            for passed in range(n_adj):
                slot_group[slot_of[kind] * n_adj + passed] = kind // 3 - 1
                slot_sex[slot_of[kind] * n_adj + passed] = kind % 3
    # Unsigned, as are the codes: the histogram index needs no negative-index test.
    base = np.empty(n_smp, np.uint32)
    slot_size = np.zeros(n_slots, np.int64)
    for s in range(n_smp):
        kind = (group[s] + 1) * 3 + sex[s]
        base[s] = ((s % _LANES) * n_slots + slot_of[kind] * n_adj) * _CODES
        slot_size[slot_of[kind] * n_adj] += 1
    # Without the adj filter a slot's size is its number of calls, so its zero calls
    # (0/0, or haploid 0) are what its other codes and odd calls leave: runs of _LANES
    # zero calls can be skipped. Worth it when most calls are zero (rare variants):
    # done for a variant when at least 9 in 10 of the previous variant's calls were.
    skip_zeros = not use_adj
    n_odd_in = np.zeros(n_slots, np.int64)
    mostly_zero = True
    tally = np.zeros(_LANES * n_slots * _CODES, np.int32)
    # Per variant: the histogram summed over lanes, per slot and per (sex, adj) key;
    # and, per sex and code, how a call counts in a group (see _add_site).
    per_slot = np.zeros((n_slots, _CODES), np.int64)
    per_key = np.zeros((3 * n_adj, _CODES), np.int64)
    an_weight = np.zeros((3, _CODES), np.int64)
    ac_weight = np.zeros((3, _CODE_ALLELES, _CODES), np.int64)
    hom_weight = np.zeros((3, _CODE_ALLELES, _CODES), np.int64)
    no_adj = adj_pass[0:0, 0]
    for v in range(n_var):
        na = n_alleles[v]
        cls = site_class[v]
        row = rows[v]
        codes = pair_code[max(1, min(na, _CODE_ALLELES)) - 1]
        if skip_zeros and mostly_zero:
            n_odd = _tally_skipping_zeros(pairs[v], codes, base, tally)
        else:
            n_odd = _tally(pairs[v], codes, base, adj_pass[v] if use_adj else no_adj, use_adj,
                           tally)
        if n_odd:
            s = _first_bad(gt, v, na)
            if s >= 0:
                bad[0] = v
                bad[1] = s
                return bad
            for s in range(n_smp):
                if codes[pairs[v, s]] == _ODD:
                    _one_call(gt, v, s, na, cls, sex[s], group[s], use_adj and adj_pass[v, s],
                              calls, row, width, n_groups)
                    if skip_zeros:
                        n_odd_in[(base[s] // _CODES) % n_slots] += 1
        n_codes = min(na, _CODE_ALLELES) + 2
        # The lanes summed and cleared over the codes up to the last one of the
        # variant's alleles, a contiguous run the compiler vectorises; codes in it
        # that are not the variant's stay empty (its code table makes such calls odd).
        n_run = (n_codes - 1) * _CODE_BASE + n_codes
        n_zero = 0
        for slot in range(n_slots):
            acc = per_slot[slot]
            for j in range(n_run):
                acc[j] = 0
            for lane in range(_LANES):
                run = tally[(lane * n_slots + slot) * _CODES:]
                for j in range(n_run):
                    acc[j] += run[j]
                    run[j] = 0
            if skip_zeros:
                tallied = 0
                for j in range(n_run):
                    tallied += acc[j]
                acc[codes[0]] += slot_size[slot] - n_odd_in[slot] - tallied
                n_odd_in[slot] = 0
                n_zero += acc[codes[0]]
        mostly_zero = 10 * n_zero >= 9 * n_smp
        # The site's counts once per sex and adj state, whatever the number of groups.
        for key in range(3 * n_adj):
            per_key[key, :n_run] = 0
        for slot in range(n_slots):
            acc = per_slot[slot]
            into = per_key[slot_sex[slot] * n_adj + (slot % 2 if use_adj else 0)]
            for j in range(n_run):
                into[j] += acc[j]
        n_al = n_codes - 2
        for key in range(3 * n_adj):
            sx = key // n_adj
            passed = use_adj and key % 2 == 1
            if sx == _FEMALE and cls == _CHR_Y:
                continue
            for ia in range(n_codes):
                for ib in range(n_codes):
                    c = per_key[key, ia * _CODE_BASE + ib]
                    if c == 0:
                        continue
                    # A two-slot call a/b; -2 pads a haploid call.
                    a = ia - 2
                    b = ib - 2
                    slots = 0 if a == -2 else (1 if b == -2 else 2)
                    k = 0
                    if slots >= 1 and a >= 0:
                        calls[k] = a
                        k += 1
                    if slots == 2 and b >= 0:
                        calls[k] = b
                        k += 1
                    k, hom = _add_site(calls, k, slots, sx, passed, cls, c, row, width,
                                       n_groups)
                    # How a call of this code counts in its group's counts.
                    code = ia * _CODE_BASE + ib
                    an_weight[sx, code] = k
                    for al in range(n_al):
                        ac_weight[sx, al, code] = 0
                        hom_weight[sx, al, code] = 0
                    for i in range(k):
                        ac_weight[sx, calls[i], code] += 1
                    if hom:
                        hom_weight[sx, calls[0], code] = 1
        # Then each group's counts: dot products of its histogram with those weights
        # (the stale weights of codes the variant does not have meet zero counts).
        ac_grp, nhom_grp, an_grp, _, _ = _group_offsets(width, n_groups)
        for slot in range(n_slots):
            g = slot_group[slot]
            sx = slot_sex[slot]
            if g < 0 or (sx == _FEMALE and cls == _CHR_Y):
                continue
            acc = per_slot[slot]
            weights = an_weight[sx]
            an = 0
            for j in range(n_run):
                an += weights[j] * acc[j]
            row[an_grp + g] += an
            for al in range(n_al):
                ac_w = ac_weight[sx, al]
                hom_w = hom_weight[sx, al]
                ac = 0
                nhom = 0
                for j in range(n_run):
                    ac += ac_w[j] * acc[j]
                    nhom += hom_w[j] * acc[j]
                row[ac_grp + g * width + al] += ac
                row[nhom_grp + g * width + al] += nhom
    return bad


@jit
def _tally(pairs, codes, base, passed, use_adj, tally):
    """Histogram one variant's calls; returns how many have no code."""
    n_odd = 0
    if use_adj:
        for s in range(pairs.shape[0]):
            n_odd += _tally_call(codes[pairs[s]],
                                 base[s] + np.uint32(passed[s]) * np.uint32(_CODES), tally)
    else:
        for s in range(pairs.shape[0]):
            n_odd += _tally_call(codes[pairs[s]], base[s], tally)
    return n_odd


@jit
def _tally_skipping_zeros(pairs, codes, base, tally):
    """_tally without the adj filter, skipping runs of _LANES all-zero calls (one per
    lane), which are left out of the histogram; returns how many calls have no code."""
    n = pairs.shape[0]
    n_odd = 0
    s = 0
    while s + _LANES <= n:
        any_set = pairs[s]
        for t in range(s + 1, s + _LANES):
            any_set |= pairs[t]
        if any_set:
            for t in range(s, s + _LANES):
                n_odd += _tally_call(codes[pairs[t]], base[t], tally)
        s += _LANES
    for t in range(s, n):
        n_odd += _tally_call(codes[pairs[t]], base[t], tally)
    return n_odd


@jit(inline="always")
def _tally_call(code, at, tally):
    """Count a call of histogram ``code`` at ``tally[at + code]``; 1 if it has no code."""
    if code == _ODD:
        return 1
    tally[at + code] += 1
    return 0


@jit
def _first_bad(gt, v, na):
    """The first sample with an allele index not below ``na`` at variant ``v``, or -1."""
    for s in range(gt.shape[1]):
        for p in range(gt.shape[2]):
            if gt[v, s, p] >= na:
                return s
    return -1


@jit(inline="always")
def _group_offsets(width, n_groups):
    """Where the group and sex counts start in a variant's row (see _row_layout):
    ac_grp, nhom_grp, an_grp, ac_sex, an_sex."""
    ac_grp = _N_R * width + _N_S
    nhom_grp = ac_grp + n_groups * width
    an_grp = nhom_grp + n_groups * width
    ac_sex = an_grp + n_groups
    return ac_grp, nhom_grp, an_grp, ac_sex, ac_sex + 2 * width


@jit(inline="always")
def _one_call(gt, v, s, na, cls, sx, g, passed, calls, row, width, n_groups):
    """Add sample ``s``'s call at variant ``v``; False if an allele is not below ``na``."""
    if sx == _FEMALE and cls == _CHR_Y:
        return True
    k, slots, bad = decode_call(gt, v, s, na, calls)
    if bad:
        return False
    _add(calls, k, slots, sx, g, passed, cls, 1, row, width, n_groups)
    return True


@jit(inline="always")
def _add(calls, k, slots, sx, g, passed, cls, c, row, width, n_groups):
    """Add ``c`` samples of sex ``sx`` and group ``g`` whose call has ``slots`` ploidy
    slots, ``k`` of them called with the alleles ``calls[:k]``, to a variant's row."""
    k, hom = _add_site(calls, k, slots, sx, passed, cls, c, row, width, n_groups)
    if k and g >= 0:
        _add_group(calls, k, hom, g, c, row, width, n_groups)


@jit(inline="always")
def _add_site(calls, k, slots, sx, passed, cls, c, row, width, n_groups):
    """The counts of _add but the group ones. Returns (alleles the call counts with,
    0 when it counts as missing; whether it is homozygous), for _add_group."""
    w = width
    site = _N_R * w
    _, _, _, ac_sex, an_sex = _group_offsets(w, n_groups)
    row[site + _S_ELIGIBLE] += c
    if k == 0:
        row[site + _S_MISSING] += c
        return 0, False
    distinct = n_distinct(calls, k)
    hemizygous = sx == _MALE and (cls == _X_NONPAR or cls == _CHR_Y)
    if hemizygous:
        if distinct > 1:
            # A heterozygous call on a haploid chromosome is an error call.
            row[site + _S_MALE_HET] += c
            row[site + _S_MISSING] += c
            return 0, False
        k = 1
    elif k < slots:
        row[site + _S_MISSING] += c
    row[site + _S_CALLED] += c
    row[site + _S_AN] += k * c
    if sx != 0:
        row[an_sex + sx - 1] += k * c
    if passed:
        row[site + _S_AN_ADJ] += k * c
    for i in range(k):
        a = calls[i]
        row[_R_AC * w + a] += c
        if sx != 0:
            row[ac_sex + (sx - 1) * w + a] += c
        if passed:
            row[_R_ADJ * w + a] += c
    if hemizygous or slots == 1 or k < slots:
        for i in range(k):
            row[_R_HEMI * w + calls[i]] += c
        return k, False
    if distinct == 1:
        a = calls[0]
        row[_R_HOM * w + a] += k * c
        row[_R_NHOM * w + a] += c
        if k == 2:
            row[_R_HWE_HOM * w + a] += c
            row[site + _S_DIPLOID] += c
        return k, True
    for i in range(k):
        if first_time(calls, i):
            row[_R_HET * w + calls[i]] += c
    if k == 2:
        row[_R_HWE_HET * w + calls[0]] += c
        row[_R_HWE_HET * w + calls[1]] += c
        row[site + _S_DIPLOID] += c
    return k, False


@jit(inline="always")
def _add_group(calls, k, hom, g, c, row, width, n_groups):
    """Group ``g``'s counts of ``c`` samples whose call counts with the alleles
    ``calls[:k]`` (from _add_site)."""
    ac_grp, nhom_grp, an_grp, _, _ = _group_offsets(width, n_groups)
    row[an_grp + g] += k * c
    for i in range(k):
        row[ac_grp + g * width + calls[i]] += c
    if hom:
        row[nhom_grp + g * width + calls[0]] += c


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
        probs = buf
        mid = (n_rare * (n_a + n_b - n_rare)) // (n_a + n_b)
        if (n_rare & 1) != (mid & 1):
            mid += 1
        # Probabilities relative to the mode's, from the mode outwards. Each side
        # stops once past the observed count and below _HWE_NEGLIGIBLE times the
        # observed probability: what is left changes no sum beyond the last bits.
        probs[mid] = 1.0
        if het > mid:
            hi = _hwe_up(probs, mid, het, n_rare, n_gt, 0.0)
            lo = _hwe_down(probs, mid, het, n_rare, n_gt, probs[het] * _HWE_NEGLIGIBLE)
        else:
            lo = _hwe_down(probs, mid, het, n_rare, n_gt,
                           _HWE_NEGLIGIBLE if het == mid else 0.0)
            hi = _hwe_up(probs, mid, het, n_rare, n_gt, probs[het] * _HWE_NEGLIGIBLE)
        total = 0.0
        for h in range(lo, hi + 1, 2):
            total += probs[h]
        # Outcomes as likely as the observed one, to a relative 1e-9: exact ties can
        # differ in the last bits after the recurrence.
        limit = probs[het] * (1.0 + 1e-9)
        floor = probs[het] * (1.0 - 1e-9)
        exc = 0.0
        for h in range(het, hi + 1, 2):
            exc += probs[h]
        two_sided = 0.0
        tied = 0.0
        for h in range(lo, hi + 1, 2):
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
def _hwe_down(probs, mid, het, n_rare, n_gt, floor_p):
    """Fill probs[mid - 2], probs[mid - 4], ... (Wigginton's recurrence) until past
    ``het`` and below ``floor_p``; a zero ``floor_p`` is set on reaching ``het``.
    Returns the lowest count filled."""
    hom_r = (n_rare - mid) // 2
    hom_c = n_gt - mid - hom_r
    h = mid
    while h > 1:
        # The ratio first: the division is then off the chain of products.
        q = probs[h] * (h * (h - 1.0) / (4.0 * (hom_r + 1.0) * (hom_c + 1.0)))
        h -= 2
        probs[h] = q
        hom_r += 1
        hom_c += 1
        if h == het and floor_p == 0.0:
            floor_p = q * _HWE_NEGLIGIBLE
        elif h < het and q < floor_p:
            break
    return h


@jit
def _hwe_up(probs, mid, het, n_rare, n_gt, floor_p):
    """As _hwe_down, upwards; returns the highest count filled."""
    hom_r = (n_rare - mid) // 2
    hom_c = n_gt - mid - hom_r
    h = mid
    while h <= n_rare - 2:
        q = probs[h] * (4.0 * hom_r * hom_c / ((h + 2.0) * (h + 1.0)))
        h += 2
        probs[h] = q
        hom_r -= 1
        hom_c -= 1
        if h == het and floor_p == 0.0:
            floor_p = q * _HWE_NEGLIGIBLE
        elif h > het and q < floor_p:
            break
    return h


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
