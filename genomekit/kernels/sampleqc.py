"""Per-sample genotype counts over a chunk of variants, for `genomekit sample-qc`.

Genotype encoding (sgkit's): ``gt[v, s, p]`` is the allele index of ploidy slot
``p`` of sample ``s`` at variant ``v``; ``-1`` is a missing allele and ``-2``
pads calls of lower ploidy than the chunk's widest call.

Every output is a sum over variants, so the counts of chunks (and of region
shards of the same samples) add up to the counts of the whole file.
"""

from __future__ import annotations

import numpy as np

from genomekit.kernels._jit import jit
from genomekit.kernels.calls import decode_call, n_distinct

# Site classes and sex codes, mirrored from genomekit.genome (kernels import numpy/numba only).
_X_NONPAR = 1
_CHR_Y = 2
_MALE = 1
_FEMALE = 2

# Allele classes (per ALT allele; index 0, the REF allele, is REF_LIKE).
REF_LIKE = 0      # same as REF, '.', '<*>', '<NON_REF>', 'X', '<X>': not a variant
TRANSITION = 1    # SNV A<->G or C<->T
TRANSVERSION = 2  # any other SNV between A, C, G and T
SNV_OTHER = 3     # SNV with a base outside ACGT (N, IUPAC codes)
INSERTION = 4
DELETION = 5
MNP = 6
OVERLAP = 7       # '*', an allele spanned by an upstream deletion
OTHER = 8         # symbolic alleles, breakends, complex replacements

# Columns of the counts matrix returned by sample_counts, in order.
COUNT_NAMES = (
    "n_called", "n_missing", "n_hom_ref", "n_het", "n_hom_alt", "n_hap_ref", "n_hap_alt",
    "n_male_het", "n_het_snv", "n_hom_alt_snv", "n_transitions", "n_transversions",
    "n_indel", "n_insertion", "n_deletion", "n_singleton", "n_private",
    "sum_dp", "n_dp", "sum_gq", "n_gq", "n_x_sites", "n_x_het", "n_y_sites", "n_y_called",
)
(N_CALLED, N_MISSING, N_HOM_REF, N_HET, N_HOM_ALT, N_HAP_REF, N_HAP_ALT, N_MALE_HET,
 N_HET_SNV, N_HOM_ALT_SNV, N_TRANSITIONS, N_TRANSVERSIONS, N_INDEL, N_INSERTION, N_DELETION,
 N_SINGLETON, N_PRIVATE, SUM_DP, N_DP, SUM_GQ, N_GQ, N_X_SITES, N_X_HET, N_Y_SITES,
 N_Y_CALLED) = range(len(COUNT_NAMES))
N_COUNTS = len(COUNT_NAMES)


def sample_counts(gt, n_alleles, allele_class, site_class, sex, x_exp_het, dp=None, gq=None):
    """Accumulate per-sample genotype counts over the variants of a chunk.

    Parameters
    ----------
    gt : int8 or int16 array (n_var, n_samples, ploidy)
        Allele indices; -1 missing, -2 padding.
    n_alleles : int32 array (n_var,)
        Number of alleles (REF + ALTs) of each variant.
    allele_class : int8 array (n_var, A), A >= max(n_alleles)
        Class of each allele (module constants REF_LIKE ... OTHER); column 0 is
        the REF allele and is ignored.
    site_class : int8 array (n_var,)
        0 as written, 1 chrX outside the PARs, 2 chrY (genomekit.genome).
    sex : int8 array (n_samples,)
        Declared sex: 0 unknown, 1 male, 2 female.
    x_exp_het : float64 array (n_var,)
        Expected heterozygosity ``1 - sum(p_a**2)`` of the site from the cohort
        allele frequencies, for the sites that enter the chrX F statistic (chrX
        outside the PARs, at least two alleles observed); <= 0 or NaN elsewhere.
    dp, gq : int32 arrays (n_var, n_samples), optional
        FORMAT/DP and FORMAT/GQ; negative values are missing.

    Returns
    -------
    counts : int64 array (n_samples, N_COUNTS)
        Columns named by COUNT_NAMES. A call is complete when no allele is
        missing; any missing allele (half calls such as ``./1`` included) makes
        it missing. Declared females contribute nothing on chrY; declared males
        are hemizygous on chrY and on chrX outside the PARs, where a homozygous
        call is haploid whatever its written ploidy and a heterozygous one is
        missing (``n_male_het``). Calls of one allele are haploid (``n_hap_ref``,
        ``n_hap_alt``) and enter no other genotype class. Of the calls of two or
        more alleles: ``n_hom_ref`` all REF; ``n_het`` two or more distinct
        alleles; ``n_hom_alt`` one ALT allele. ``n_het_snv``/``n_hom_alt_snv``
        those carrying an SNV allele; ``n_transitions``/``n_transversions`` the
        non-REF calls whose lowest-numbered ALT allele is an SNV of that kind;
        ``n_indel`` calls carrying an insertion or deletion, ``n_insertion`` and
        ``n_deletion`` by kind (a call carrying both counts in both);
        ``n_singleton`` sites where the sample is the only one with a non-REF
        call of two or more alleles; ``n_private`` ALT alleles that this sample
        alone carries among all complete calls (haploid ones included);
        ``sum_dp``/``n_dp`` and ``sum_gq``/``n_gq`` sums and counts of the
        non-missing values. The sex-check columns read the calls as written,
        ignoring the declared sex: ``n_x_sites``/``n_x_het`` complete calls and
        heterozygous calls at sites with ``x_exp_het > 0``; ``n_y_sites`` chrY
        sites; ``n_y_called`` complete, non-heterozygous calls on chrY.
    x_exp : float64 array (n_samples,)
        Sum of ``x_exp_het`` over the sites counted in ``n_x_sites``.
    bad : tuple (int, int)
        (variant, sample) of the first allele index outside [0, n_alleles), or
        (-1, -1).
    """
    n_var, n_smp = gt.shape[0], gt.shape[1]
    counts = np.zeros((n_smp, N_COUNTS), np.int64)
    x_exp = np.zeros(n_smp, np.float64)
    width = max(2, int(n_alleles.max()) if n_var else 2)
    empty = np.zeros((0, 0), np.int32)
    bad = _accumulate(gt, _pairs(gt), n_alleles, allele_class, site_class, sex, x_exp_het,
                      empty if dp is None else dp, empty if gq is None else gq,
                      width, counts, x_exp)
    return counts, x_exp, (int(bad[0]), int(bad[1]))


def _pairs(gt):
    """The calls of an int8 chunk of ploidy 2 as one uint16 each, first allele in the low
    byte: shape (n_var, n_samples); an empty array for any other chunk. A chunk of
    ploidy 1 (chrY, male chrX) reads as pairs (a, -2), as its calls would in a chunk of
    ploidy 2."""
    if gt.dtype != np.int8 or gt.shape[2] not in (1, 2) or not np.little_endian:
        return np.zeros((0, 0), np.uint16)
    if gt.shape[2] == 1:
        padded = np.full(gt.shape[:2] + (2,), -2, np.int8)
        padded[:, :, 0] = gt[:, :, 0]
        gt = padded
    return np.ascontiguousarray(gt).reshape(gt.shape[0], 2 * gt.shape[1]).view(np.uint16)


# Samples per block: a block's tallies stay in cache while the chunk's sites stream by,
# and each block's counts are written by one thread only.
BLOCK_SAMPLES = 512
# Sites read as pair codes (ploidy 2, int8, at most _MAX_PAIR_ALLELES alleles) are split
# into one entry per ALT allele k, and the entries grouped by (site class, chrX F site,
# class of allele k): a group's calls 0/k, k/k and haploid k add up to three tallies per
# sample (_A_*), and the calls 0/0 and haploid 0 of the sites of a (site class, chrX F
# site) base to two more (_B_*), which _fold_alt and _fold_base turn into counts once per
# chunk. The few calls of two different ALT alleles (and allele indices beyond the
# site's) are added one at a time by _two_alt_calls, and the other sites by _calls.
_MAX_PAIR_ALLELES = 16
_N_SITE_CLASSES = 3
_N_ALLELE_CLASSES = 9
_N_BASES = _N_SITE_CLASSES * 2
_N_GROUPS = _N_BASES * _N_ALLELE_CLASSES
_A_HET, _A_HOM, _A_HAP = range(3)
_B_HOM_REF, _B_HAP_REF, _B_OTHER, _B_ALT_COMPLETE = range(4)


@jit
def _accumulate(gt, pairs, n_alleles, allele_class, site_class, sex, x_exp_het, dp, gq,
                width, counts, x_exp):
    """Blocks of samples, then the owners of singletons and private alleles."""
    n_var, n_smp = gt.shape[0], gt.shape[1]
    bad = np.full(2, -1, np.int64)
    if n_var == 0 or n_smp == 0:
        return bad
    entry_v, entry_k, start, general = _plan(pairs.shape[0] > 0, n_alleles, allele_class,
                                             site_class, x_exp_het)
    n_blocks = (n_smp + BLOCK_SAMPLES - 1) // BLOCK_SAMPLES
    # Per site, over the samples of a block: calls of two or more alleles carrying an ALT
    # allele, carriers of each allele, whether a call names an allele beyond the site's.
    # Their sums over the blocks, and the last block where each was not 0: where the one
    # owner of a singleton or a private allele is.
    nonref = np.zeros(n_var, np.int32)
    carriers = np.zeros((n_var, width), np.int32)
    over = np.zeros(n_var, np.bool_)
    nonref_sum = np.zeros(n_var, np.int64)
    carriers_sum = np.zeros((n_var, width), np.int64)
    nonref_block = np.zeros(n_var, np.int64)
    carriers_block = np.zeros((n_var, width), np.int64)
    for b in range(n_blocks):
        s0 = b * BLOCK_SAMPLES
        s1 = min(n_smp, s0 + BLOCK_SAMPLES)
        nonref[:] = 0
        carriers[:] = 0
        _block(gt, pairs, n_alleles, allele_class, site_class, sex, x_exp_het, dp, gq, s0,
               s1, entry_v, entry_k, start, general, counts, x_exp, nonref, carriers, over)
        for v in range(n_var):
            if nonref[v]:
                nonref_sum[v] += nonref[v]
                nonref_block[v] = b
            for a in range(1, n_alleles[v]):
                if carriers[v, a]:
                    carriers_sum[v, a] += carriers[v, a]
                    carriers_block[v, a] = b
    for v in range(n_var):
        if over[v]:
            bad[0] = v
            bad[1] = _first_bad(gt, v, n_alleles[v])
            return bad
    calls = np.empty(max(gt.shape[2], 1), np.int64)
    for v in range(n_var):
        na = n_alleles[v]
        cls = site_class[v]
        if nonref_sum[v] == 1:
            s = _find_carrier(gt, v, nonref_block[v], na, cls, sex, -1, calls)
            counts[s, N_SINGLETON] += 1
        for a in range(1, na):
            if carriers_sum[v, a] == 1:
                s = _find_carrier(gt, v, carriers_block[v, a], na, cls, sex, a, calls)
                counts[s, N_PRIVATE] += 1
    return bad


@jit
def _plan(use_pairs, n_alleles, allele_class, site_class, x_exp_het):
    """The (site, ALT allele) entries read through ``pairs`` sorted by group (group ``g`` is
    ``entry_v[start[g]:start[g + 1]]``, with ``entry_k``), and the other sites."""
    n_var = n_alleles.shape[0]
    base = np.full(n_var, -1, np.int64)
    n_general = 0
    n_entries = 0
    for v in range(n_var):
        na = n_alleles[v]
        cls = site_class[v]
        ok = use_pairs and 2 <= na <= _MAX_PAIR_ALLELES and 0 <= cls < _N_SITE_CLASSES
        for k in range(1, na if ok else 0):
            ok = ok and 0 <= allele_class[v, k] < _N_ALLELE_CLASSES
        if ok:
            base[v] = cls * 2 + (1 if x_exp_het[v] > 0.0 else 0)  # 0 for NaN as well
            n_entries += na - 1
        else:
            n_general += 1
    start = np.zeros(_N_GROUPS + 1, np.int64)
    for v in range(n_var):
        if base[v] >= 0:
            for k in range(1, n_alleles[v]):
                start[base[v] * _N_ALLELE_CLASSES + allele_class[v, k] + 1] += 1
    for g in range(_N_GROUPS):
        start[g + 1] += start[g]
    fill = start[:_N_GROUPS].copy()
    entry_v = np.empty(n_entries, np.int64)
    entry_k = np.empty(n_entries, np.int64)
    general = np.empty(n_general, np.int64)
    n_general = 0
    for v in range(n_var):
        if base[v] < 0:
            general[n_general] = v
            n_general += 1
            continue
        for k in range(1, n_alleles[v]):
            g = base[v] * _N_ALLELE_CLASSES + allele_class[v, k]
            entry_v[fill[g]] = v
            entry_k[fill[g]] = k
            fill[g] += 1
    return entry_v, entry_k, start, general


@jit
def _block(gt, pairs, n_alleles, allele_class, site_class, sex, x_exp_het, dp, gq, s0, s1,
           entry_v, entry_k, start, general, counts, x_exp, nonref, carriers, over):
    """Counts of samples ``s0:s1`` over every site, and the block's per-site sums."""
    n = s1 - s0
    # Per site class and sample: diploid calls read as diploid (wd), hemizygous (wh: males
    # on chrX outside the PARs and on chrY), calls counted at all (wi: not females' chrY).
    wd = np.zeros((_N_SITE_CLASSES, n), np.int32)
    wh = np.zeros((_N_SITE_CLASSES, n), np.int32)
    wi = np.zeros((_N_SITE_CLASSES, n), np.int32)
    for j in range(n):
        sx = sex[s0 + j]
        for cls in range(_N_SITE_CLASSES):
            excluded = sx == _FEMALE and cls == _CHR_Y
            hemizygous = sx == _MALE and cls != 0
            wi[cls, j] = 0 if excluded else 1
            wh[cls, j] = 1 if hemizygous else 0
            wd[cls, j] = 0 if excluded or hemizygous else 1
    base = np.zeros((4, n), np.int32)
    alt = np.zeros((3, n), np.int32)
    odd = np.zeros(nonref.shape[0], np.bool_)
    for bg in range(_N_BASES):
        first = start[bg * _N_ALLELE_CLASSES]
        last = start[(bg + 1) * _N_ALLELE_CLASSES]
        if first == last:
            continue
        cls = bg // 2
        x_site = bg % 2 == 1
        base[:] = 0
        n_sites = 0
        for c in range(_N_ALLELE_CLASSES):
            lo = start[bg * _N_ALLELE_CLASSES + c]
            hi = start[bg * _N_ALLELE_CLASSES + c + 1]
            if lo == hi:
                continue
            alt[:] = 0
            n_sites += _tally_group(pairs, entry_v, entry_k, lo, hi, s0, s1, n_alleles, base,
                                    alt, wd[cls], wh[cls], wi[cls], x_site, x_exp_het, x_exp,
                                    nonref, carriers, odd)
            _fold_alt(alt, cls, x_site, c, sex, s0, counts, base[_B_ALT_COMPLETE])
        for i in range(first, last):
            v = entry_v[i]
            if entry_k[i] == 1 and odd[v]:
                more = _two_alt_calls(pairs, v, s0, s1, n_alleles[v], allele_class, cls, sex,
                                      x_exp_het[v], counts, x_exp, base[_B_OTHER],
                                      carriers[v])
                if more < 0:
                    over[v] = True
                nonref[v] += max(more, 0)
        _fold_base(base, n_sites, cls, x_site, sex, s0, counts)
    for i in range(general.size):
        v = general[i]
        more = _calls(gt, v, s0, s1, n_alleles[v], allele_class, site_class[v], sex,
                      x_exp_het[v], counts, x_exp, carriers[v])
        if more < 0:
            over[v] = True
        nonref[v] = max(more, 0)
    if dp.shape[0] > 0:
        _add_field(dp, site_class, wi[_CHR_Y], s0, n, counts, SUM_DP, N_DP)
    if gq.shape[0] > 0:
        _add_field(gq, site_class, wi[_CHR_Y], s0, n, counts, SUM_GQ, N_GQ)


@jit
def _left(x, na):
    """1 for the pair codes _tally_group leaves to _two_alt_calls, else 0: a call of two
    different ALT alleles, or naming an allele beyond the site's ``na`` (bytes after a -2
    are padding). Branch-free, for vectorized loops."""
    first = x & 0xFF
    second = x >> 8
    # As bytes: an allele index in [lo, 127] is (byte - lo) mod 256 < 128 - lo.
    return (np.int32(((first - na) & 0xFF) < 128 - na)
            | (np.int32(((second - na) & 0xFF) < 128 - na) & np.int32(first != 0xFE))
            | (np.int32(((first - 1) & 0xFF) < 127) & np.int32(((second - 1) & 0xFF) < 127)
               & np.int32(first != second)))


@jit
def _two_alt_calls(pairs, v, s0, s1, na, allele_class, cls, sex, e, counts, x_exp, other,
                   carriers):
    """Add the calls of samples ``s0:s1`` at site ``v`` that _tally_group leaves: those of
    two different ALT alleles (each counted in ``other``), DP and GQ aside.

    Adds their alleles to ``carriers``. Returns the number of them counted as diploid
    non-REF calls, or -1 when a call names an allele beyond the site's ``na``.
    """
    n = s1 - s0
    # The calls left, found without a branch per call.
    found = np.empty(n, np.int64)
    n_found = 0
    for j in range(n):
        found[n_found] = j
        n_found += _left(np.int32(pairs[v, s0 + j]), na)
    n_nonref = 0
    for i in range(n_found):
        s = s0 + found[i]
        x = np.int32(pairs[v, s])
        a = x & 0xFF
        b = x >> 8
        if a >= na or b >= na:
            return -1
        # A heterozygous diploid call: a, b >= 1 and a != b.
        other[s - s0] += 1
        if cls == _CHR_Y:
            counts[s, N_Y_SITES] += 1
        if e > 0.0:  # False for NaN as well
            counts[s, N_X_SITES] += 1
            counts[s, N_X_HET] += 1
            x_exp[s] += e
        sx = sex[s]
        if sx == _FEMALE and cls == _CHR_Y:
            continue
        if sx == _MALE and cls != 0:
            counts[s, N_MALE_HET] += 1
            counts[s, N_MISSING] += 1
            continue
        ca = allele_class[v, a]
        cb = allele_class[v, b]
        carriers[a] += 1
        carriers[b] += 1
        n_nonref += 1
        counts[s, N_CALLED] += 1
        counts[s, N_HET] += 1
        if ca == TRANSITION or ca == TRANSVERSION or ca == SNV_OTHER \
                or cb == TRANSITION or cb == TRANSVERSION or cb == SNV_OTHER:
            counts[s, N_HET_SNV] += 1
        c = ca if a < b else cb
        if c == TRANSITION:
            counts[s, N_TRANSITIONS] += 1
        elif c == TRANSVERSION:
            counts[s, N_TRANSVERSIONS] += 1
        ins = ca == INSERTION or cb == INSERTION
        dele = ca == DELETION or cb == DELETION
        if ins or dele:
            counts[s, N_INDEL] += 1
        if ins:
            counts[s, N_INSERTION] += 1
        if dele:
            counts[s, N_DELETION] += 1
    return n_nonref


@jit
def _tally_group(pairs, entry_v, entry_k, lo, hi, s0, s1, n_alleles, base, alt, wd, wh, wi,
                 x_site, x_exp_het, x_exp, nonref, carriers, odd):
    """Tally the calls of samples ``s0:s1`` for the entries ``lo:hi`` of one group.

    Entry (v, k): the calls 0/k, k/k and haploid k of site v go to ``alt``; for k = 1 also
    the calls 0/0 and haploid 0 to ``base``. Every other call matches no code here: calls
    with a missing allele are the base's missing ones, the rest (_left) are left to
    _two_alt_calls, at the sites marked in ``odd``. Adds the diploid calls carrying allele
    k to ``nonref[v]`` and its carriers to ``carriers[v, k]``; at chrX F sites, adds
    ``x_exp_het[v]`` of the complete calls to ``x_exp``. Returns the number of sites (k =
    1 entries). The inner loops are branch-free so that they vectorize.
    """
    n = s1 - s0
    hom_ref = base[_B_HOM_REF]
    hap_ref = base[_B_HAP_REF]
    het = alt[_A_HET]
    hom = alt[_A_HOM]
    hap = alt[_A_HAP]
    xs = x_exp[s0:s1]
    n_sites = 0
    for i in range(lo, hi):
        v = entry_v[i]
        k = entry_k[i]
        row = pairs[v, s0:s1]
        # Pair codes of this allele: k/0, 0/k, k/k, haploid k.
        c_het_a = k
        c_het_b = k << 8
        c_hom = k | (k << 8)
        c_hap = 0xFE00 | k
        nr = 0
        car = 0
        if k == 1:
            # With the calls 0/0 and haploid 0, and the check for calls left over.
            n_sites += 1
            na = n_alleles[v]
            other = 0
            for j in range(n):
                x = np.int32(row[j])
                r1 = np.int32(x == c_het_a) | np.int32(x == c_het_b)
                r2 = np.int32(x == c_hom)
                h1 = np.int32(x == c_hap)
                het[j] += r1
                hom[j] += r2
                hap[j] += h1
                hom_ref[j] += np.int32(x == 0)
                hap_ref[j] += np.int32(x == 0xFE00)
                a = (r1 | r2) & wd[j]
                nr += a
                car += a | (r2 & wh[j]) | (h1 & wi[j])
                other |= _left(x, na)
            odd[v] = other != 0
        else:
            for j in range(n):
                x = np.int32(row[j])
                r1 = np.int32(x == c_het_a) | np.int32(x == c_het_b)
                r2 = np.int32(x == c_hom)
                h1 = np.int32(x == c_hap)
                het[j] += r1
                hom[j] += r2
                hap[j] += h1
                a = (r1 | r2) & wd[j]
                nr += a
                car += a | (r2 & wh[j]) | (h1 & wi[j])
        nonref[v] += nr
        carriers[v, k] += car
        if x_site:
            e = x_exp_het[v]  # finite, as an expected heterozygosity is
            lo_ok = np.uint16(1 if k == 1 else 0)  # 0/0 and haploid 0, once per site
            for j in range(n):
                x = row[j]
                complete = (x == np.uint16(c_het_a)) | (x == np.uint16(c_het_b)) \
                    | (x == np.uint16(c_hom)) | (x == np.uint16(c_hap)) \
                    | (((x == np.uint16(0)) | (x == np.uint16(0xFE00))) & (lo_ok != 0))
                xs[j] += e * complete
    return n_sites


@jit
def _fold_alt(alt, cls, x_site, allele, sex, s0, counts, alt_complete):
    """Add a group's 0/k, k/k and haploid k tallies to the counts, by the rules of its site
    class and the sex; their number to ``alt_complete``."""
    snv = allele == TRANSITION or allele == TRANSVERSION or allele == SNV_OTHER
    for j in range(alt.shape[1]):
        s = s0 + j
        het = alt[_A_HET, j]
        hom = alt[_A_HOM, j]
        hap = alt[_A_HAP, j]
        complete = het + hom + hap
        alt_complete[j] += complete
        if cls == _CHR_Y:
            counts[s, N_Y_CALLED] += hom + hap
        if x_site:
            counts[s, N_X_SITES] += complete
            counts[s, N_X_HET] += het
        sx = sex[s]
        if sx == _FEMALE and cls == _CHR_Y:
            continue
        if sx == _MALE and cls != 0:
            counts[s, N_MALE_HET] += het
            counts[s, N_MISSING] += het
            counts[s, N_CALLED] += hom + hap
            counts[s, N_HAP_ALT] += hom + hap
            continue
        counts[s, N_CALLED] += complete
        counts[s, N_HET] += het
        counts[s, N_HOM_ALT] += hom
        counts[s, N_HAP_ALT] += hap
        if snv:
            counts[s, N_HET_SNV] += het
            counts[s, N_HOM_ALT_SNV] += hom
        if allele == TRANSITION:
            counts[s, N_TRANSITIONS] += het + hom
        elif allele == TRANSVERSION:
            counts[s, N_TRANSVERSIONS] += het + hom
        elif allele == INSERTION:
            counts[s, N_INDEL] += het + hom
            counts[s, N_INSERTION] += het + hom
        elif allele == DELETION:
            counts[s, N_INDEL] += het + hom
            counts[s, N_DELETION] += het + hom


@jit
def _fold_base(base, n_sites, cls, x_site, sex, s0, counts):
    """Add a base's 0/0 and haploid 0 tallies to the counts, and its missing calls: those
    neither tallied nor left to _two_alt_calls."""
    for j in range(base.shape[1]):
        s = s0 + j
        ref = base[_B_HOM_REF, j] + base[_B_HAP_REF, j]
        n_calls = n_sites - base[_B_OTHER, j]
        if cls == _CHR_Y:
            counts[s, N_Y_SITES] += n_calls
            counts[s, N_Y_CALLED] += ref
        if x_site:
            counts[s, N_X_SITES] += ref
        sx = sex[s]
        if sx == _FEMALE and cls == _CHR_Y:
            continue
        counts[s, N_MISSING] += n_calls - ref - base[_B_ALT_COMPLETE, j]
        counts[s, N_CALLED] += ref
        if sx == _MALE and cls != 0:
            counts[s, N_HAP_REF] += ref
        else:
            counts[s, N_HOM_REF] += base[_B_HOM_REF, j]
            counts[s, N_HAP_REF] += base[_B_HAP_REF, j]


@jit
def _add_field(field, site_class, counted_y, s0, n, counts, sum_col, n_col):
    """Sums and numbers of the non-negative values of DP or GQ (not females' on chrY)."""
    total = np.zeros(n, np.int64)
    present = np.zeros(n, np.int64)
    for v in range(field.shape[0]):
        row = field[v, s0:s0 + n]
        if site_class[v] == _CHR_Y:
            for j in range(n):
                x = np.int64(row[j])
                ok = np.int64(x >= 0) & np.int64(counted_y[j])
                total[j] += x * ok
                present[j] += ok
        else:
            for j in range(n):
                x = np.int64(row[j])
                ok = np.int64(x >= 0)
                total[j] += x * ok
                present[j] += ok
    for j in range(n):
        counts[s0 + j, sum_col] += total[j]
        counts[s0 + j, n_col] += present[j]


@jit
def _first_bad(gt, v, n_allele):
    """First sample of variant ``v`` with an allele index beyond its alleles."""
    calls = np.empty(max(gt.shape[2], 1), np.int64)
    for s in range(gt.shape[1]):
        if decode_call(gt, v, s, n_allele, calls)[2]:
            return s
    return -1


@jit
def _calls(gt, v, s0, s1, na, allele_class, cls, sex, e, counts, x_exp, carriers):
    """Add the calls of samples ``s0:s1`` at site ``v`` to the counts, DP and GQ aside; any
    ploidy and number of alleles.

    Adds their ALT alleles to ``carriers``. Returns the number of calls of two or more
    alleles carrying an ALT allele, or -1 at an allele index beyond the site's.
    """
    ploidy = gt.shape[2]
    calls = np.empty(max(ploidy, 1), np.int64)
    n_nonref = 0
    for s in range(s0, s1):
        k, slots, out_of_range = decode_call(gt, v, s, na, calls)
        if out_of_range:
            return -1
        complete = k > 0 and k == slots
        distinct = n_distinct(calls, k)
        # Sex check: the calls as written, whatever the declared sex.
        if cls == _CHR_Y:
            counts[s, N_Y_SITES] += 1
            if complete and distinct == 1:
                counts[s, N_Y_CALLED] += 1
        if e > 0.0 and complete:  # False for NaN as well
            counts[s, N_X_SITES] += 1
            x_exp[s] += e
            if distinct > 1:
                counts[s, N_X_HET] += 1
        sx = sex[s]
        if sx == _FEMALE and cls == _CHR_Y:
            continue
        if not complete:
            counts[s, N_MISSING] += 1
            continue
        hemizygous = sx == _MALE and (cls == _X_NONPAR or cls == _CHR_Y)
        if hemizygous and distinct > 1:
            # A heterozygous call on a haploid chromosome is an error call.
            counts[s, N_MALE_HET] += 1
            counts[s, N_MISSING] += 1
            continue
        counts[s, N_CALLED] += 1
        if hemizygous or k == 1:
            a = calls[0]
            if a == 0:
                counts[s, N_HAP_REF] += 1
            else:
                counts[s, N_HAP_ALT] += 1
                carriers[a] += 1
            continue
        # Diploid (or polyploid) calls: the distinct ALT alleles carried.
        lowest = 0
        snv = False
        ins = False
        dele = False
        for i in range(k):
            a = calls[i]
            if a == 0:
                continue
            first = True
            for j in range(i):
                if calls[j] == a:
                    first = False
                    break
            if not first:
                continue
            carriers[a] += 1
            if lowest == 0 or a < lowest:
                lowest = a
            c = allele_class[v, a]
            if c == TRANSITION or c == TRANSVERSION or c == SNV_OTHER:
                snv = True
            elif c == INSERTION:
                ins = True
            elif c == DELETION:
                dele = True
        if lowest == 0:
            counts[s, N_HOM_REF] += 1
            continue
        if distinct > 1:
            counts[s, N_HET] += 1
            if snv:
                counts[s, N_HET_SNV] += 1
        else:
            counts[s, N_HOM_ALT] += 1
            if snv:
                counts[s, N_HOM_ALT_SNV] += 1
        c = allele_class[v, lowest]
        if c == TRANSITION:
            counts[s, N_TRANSITIONS] += 1
        elif c == TRANSVERSION:
            counts[s, N_TRANSVERSIONS] += 1
        if ins or dele:
            counts[s, N_INDEL] += 1
        if ins:
            counts[s, N_INSERTION] += 1
        if dele:
            counts[s, N_DELETION] += 1
        n_nonref += 1
    return n_nonref


@jit
def _counted_call(gt, v, s, na, cls, sx, calls):
    """A call as the counts read it: (kind, number of its alleles placed in ``calls``).

    Kind 0: not counted (missing, a male's heterozygous call on a haploid chromosome, a
    female's chrY call); 1: haploid; 2: two or more alleles.
    """
    if sx == _FEMALE and cls == _CHR_Y:
        return 0, 0
    k, slots, _ = decode_call(gt, v, s, na, calls)
    if k == 0 or k != slots:
        return 0, k
    hemizygous = sx == _MALE and (cls == _X_NONPAR or cls == _CHR_Y)
    if hemizygous and n_distinct(calls, k) > 1:
        return 0, k
    return (1 if hemizygous or k == 1 else 2), k


@jit
def _find_carrier(gt, v, b, na, cls, sex, allele, calls):
    """The sample of block ``b`` whose counted call carries ``allele`` (-1: whose counted
    call of two or more alleles carries an ALT allele)."""
    for s in range(b * BLOCK_SAMPLES, min(gt.shape[1], (b + 1) * BLOCK_SAMPLES)):
        kind, k = _counted_call(gt, v, s, na, cls, sex[s], calls)
        if kind == 0 or (allele < 0 and kind != 2):
            continue
        for i in range(k):
            if (calls[i] != 0) if allele < 0 else (calls[i] == allele):
                return s
    return -1
