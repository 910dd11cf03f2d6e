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
    bad = _accumulate(gt, n_alleles, allele_class, site_class, sex, x_exp_het,
                      empty if dp is None else dp, empty if gq is None else gq,
                      width, counts, x_exp)
    return counts, x_exp, (int(bad[0]), int(bad[1]))


@jit
def _decode(gt, v, s, n_allele, calls):
    """Called alleles of one call into ``calls``: (number called, slots, bad allele)."""
    slots = 0
    k = 0
    for p in range(gt.shape[2]):
        a = gt[v, s, p]
        if a == -2:
            break
        slots += 1
        if a < 0:
            continue
        if a >= n_allele:
            return k, slots, True
        calls[k] = a
        k += 1
    return k, slots, False


@jit
def _n_distinct(calls, k):
    """Number of different alleles among the first ``k`` entries of ``calls``."""
    distinct = 0
    for i in range(k):
        new = True
        for j in range(i):
            if calls[j] == calls[i]:
                new = False
                break
        if new:
            distinct += 1
    return distinct


@jit
def _accumulate(gt, n_alleles, allele_class, site_class, sex, x_exp_het, dp, gq, width,
                counts, x_exp):
    n_var, n_smp, ploidy = gt.shape
    use_dp = dp.shape[0] > 0
    use_gq = gq.shape[0] > 0
    calls = np.empty(max(ploidy, 1), np.int64)
    carriers = np.zeros(width, np.int32)
    bad = np.full(2, -1, np.int64)
    for v in range(n_var):
        na = n_alleles[v]
        cls = site_class[v]
        e = x_exp_het[v]
        x_site = e > 0.0  # False for NaN as well
        carriers[:na] = 0
        n_nonref = 0
        last_nonref = -1
        # Diploid 0/0 calls at autosomal (and PAR) sites, most of a cohort's calls, only
        # add to n_called, n_hom_ref and the DP/GQ sums.
        plain = cls == 0 and not x_site and ploidy >= 2
        for s in range(n_smp):
            if plain and gt[v, s, 0] == 0 and gt[v, s, 1] == 0 \
                    and (ploidy == 2 or gt[v, s, 2] == -2):
                if use_dp and dp[v, s] >= 0:
                    counts[s, SUM_DP] += dp[v, s]
                    counts[s, N_DP] += 1
                if use_gq and gq[v, s] >= 0:
                    counts[s, SUM_GQ] += gq[v, s]
                    counts[s, N_GQ] += 1
                counts[s, N_CALLED] += 1
                counts[s, N_HOM_REF] += 1
                continue
            k, slots, out_of_range = _decode(gt, v, s, na, calls)
            if out_of_range:
                bad[0] = v
                bad[1] = s
                return bad
            complete = k > 0 and k == slots
            distinct = _n_distinct(calls, k)
            # Sex check: the calls as written, whatever the declared sex.
            if cls == _CHR_Y:
                counts[s, N_Y_SITES] += 1
                if complete and distinct == 1:
                    counts[s, N_Y_CALLED] += 1
            if x_site and complete:
                counts[s, N_X_SITES] += 1
                x_exp[s] += e
                if distinct > 1:
                    counts[s, N_X_HET] += 1
            sx = sex[s]
            if sx == _FEMALE and cls == _CHR_Y:
                continue
            if use_dp and dp[v, s] >= 0:
                counts[s, SUM_DP] += dp[v, s]
                counts[s, N_DP] += 1
            if use_gq and gq[v, s] >= 0:
                counts[s, SUM_GQ] += gq[v, s]
                counts[s, N_GQ] += 1
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
            n_nonref += 1
            last_nonref = s
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
        if n_nonref == 1:
            counts[last_nonref, N_SINGLETON] += 1
        private = False
        for a in range(1, na):
            if carriers[a] == 1:
                private = True
                break
        if not private:
            continue
        # Second pass, only at sites with a private allele: find its carrier.
        for s in range(n_smp):
            sx = sex[s]
            if sx == _FEMALE and cls == _CHR_Y:
                continue
            k, slots, _ = _decode(gt, v, s, na, calls)
            if k == 0 or k != slots:
                continue
            hemizygous = sx == _MALE and (cls == _X_NONPAR or cls == _CHR_Y)
            if hemizygous and _n_distinct(calls, k) > 1:
                continue
            for i in range(k):
                a = calls[i]
                if a == 0 or carriers[a] != 1:
                    continue
                first = True
                for j in range(i):
                    if calls[j] == a:
                        first = False
                        break
                if first:
                    counts[s, N_PRIVATE] += 1
    return bad
