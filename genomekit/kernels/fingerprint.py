"""Fingerprinting: one BAM's reads at biallelic SNPs against every sample's VCF genotypes.

Per site ``i`` the BAM gives ``ref[i]`` and ``alt[i]``, the reads showing the REF and the
ALT base (reads showing another base do not enter the likelihoods). With a per-base error
rate ``e``, the log10-likelihood of the reads given genotype ``g`` (ALT copies 0, 1, 2) is

    L_i(g) = ref·log10 P(REF | g) + alt·log10 P(ALT | g),
    P(ALT | 0) = e,  P(ALT | 1) = 1/2,  P(ALT | 2) = 1 − e,  P(REF | g) = 1 − P(ALT | g).

A VCF sample ``s`` whose call at the site is ``d`` (ALT copies, −1 when not a complete
diploid call) is scored as Picard CrosscheckFingerprints scores a pair: the log10 odds that
the reads come from ``s`` rather than from an unrelated member of the cohort, whose genotype
follows Hardy-Weinberg proportions of the cohort ALT frequency ``p_i``:

    pop_i  = log10 Σ_g HWE(g; p_i) · 10^L_i(g)
    same_i = log10((1 − δ) · 10^L_i(d) + δ · 10^pop_i)      (δ: genotype error of the VCF)
    LOD_s  = Σ_i (same_i − pop_i)   over the sites with reads and a call for ``s``.

Concordance on hard calls, as bcftools gtcheck counts discordance: the BAM is called at a site
when it has at least ``min_depth`` REF+ALT reads and its best genotype is at least
``min_margin`` log10 units above the second best; per sample, the sites where both are called
and those where the calls differ.
"""

from __future__ import annotations

import math

import numpy as np

from genomekit.kernels._jit import jit


@jit
def genotype_loglik(ref: np.ndarray, alt: np.ndarray, error: float) -> np.ndarray:
    """log10 P(reads | g) for g = 0, 1, 2 ALT copies.

    Parameters
    ----------
    ref, alt : int32 or int64 (n_sites,)
        Reads showing the REF and the ALT base.
    error : float
        Per-base error rate, 0 < error < 0.5.

    Returns
    -------
    float64 (n_sites, 3)
    """
    n = ref.shape[0]
    out = np.empty((n, 3), dtype=np.float64)
    right = math.log10(1.0 - error)
    wrong = math.log10(error)
    half = math.log10(0.5)
    for i in range(n):
        r = float(ref[i])
        a = float(alt[i])
        out[i, 0] = r * right + a * wrong
        out[i, 1] = (r + a) * half
        out[i, 2] = r * wrong + a * right
    return out


@jit
def call_genotypes(gl: np.ndarray, depth: np.ndarray, min_depth: int,
                   min_margin: float) -> np.ndarray:
    """Hard calls of the BAM: ALT copies of the best genotype, −1 where not confident.

    Parameters
    ----------
    gl : float64 (n_sites, 3)
        From ``genotype_loglik``.
    depth : int (n_sites,)
        REF + ALT reads.
    min_depth : int
    min_margin : float
        log10 units the best genotype must lead the second by.

    Returns
    -------
    int8 (n_sites,)
        0, 1, 2 or −1. Ties go to the lower genotype and are never confident.
    """
    n = gl.shape[0]
    out = np.full(n, -1, dtype=np.int8)
    for i in range(n):
        if depth[i] < min_depth:
            continue
        best = 0
        for g in range(1, 3):
            if gl[i, g] > gl[i, best]:
                best = g
        second = -np.inf
        for g in range(3):
            if g != best and gl[i, g] > second:
                second = gl[i, g]
        if gl[i, best] - second >= min_margin:
            out[i] = best
    return out


@jit
def _log10_sum_exp(a: float, b: float) -> float:
    m = max(a, b)
    if m == -np.inf:
        return -np.inf
    return m + math.log10(10.0 ** (a - m) + 10.0 ** (b - m))


@jit
def population_loglik(gl: np.ndarray, alt_freq: np.ndarray) -> np.ndarray:
    """log10 P(reads | an unrelated member of the cohort), per site (float64 (n_sites,)).

    ``alt_freq``: float64 (n_sites,), the cohort ALT frequency; genotypes in Hardy-Weinberg
    proportions.
    """
    n = gl.shape[0]
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        p = alt_freq[i]
        w0, w1, w2 = (1.0 - p) * (1.0 - p), 2.0 * p * (1.0 - p), p * p
        m = max(gl[i, 0], max(gl[i, 1], gl[i, 2]))
        total = (w0 * 10.0 ** (gl[i, 0] - m) + w1 * 10.0 ** (gl[i, 1] - m)
                 + w2 * 10.0 ** (gl[i, 2] - m))
        out[i] = m + math.log10(total)
    return out


@jit
def compare_samples(gl: np.ndarray, depth: np.ndarray, calls: np.ndarray, dosage: np.ndarray,
                    alt_freq: np.ndarray, geno_error: float):
    """Score one BAM against every VCF sample.

    Parameters
    ----------
    gl : float64 (n_sites, 3)
        The BAM's genotype log10-likelihoods (``genotype_loglik``).
    depth : int (n_sites,)
        REF + ALT reads; sites without reads do not count.
    calls : int8 (n_sites,)
        The BAM's hard calls (``call_genotypes``), −1 missing.
    dosage : int8 (n_sites, n_samples)
        ALT copies of each sample's VCF call, −1 missing.
    alt_freq : float64 (n_sites,)
        Cohort ALT frequency, 0 < p < 1.
    geno_error : float
        δ, the chance that a VCF call is wrong, 0 < δ < 1.

    Returns
    -------
    lod : float64 (n_samples,)
    n_lod : int32 (n_samples,)
        Sites in the LOD (reads and a VCF call).
    n_compared, n_discordant : int32 (n_samples,)
        Sites where the BAM and the sample are both called, and where the calls differ.
    """
    n_sites, n_samples = dosage.shape
    pop = population_loglik(gl, alt_freq)
    log_keep = math.log10(1.0 - geno_error)
    log_err = math.log10(geno_error)
    lod = np.zeros(n_samples, dtype=np.float64)
    n_lod = np.zeros(n_samples, dtype=np.int32)
    n_compared = np.zeros(n_samples, dtype=np.int32)
    n_discordant = np.zeros(n_samples, dtype=np.int32)
    # Per site and genotype, the LOD term, computed once for all samples.
    term = np.empty((n_sites, 3), dtype=np.float64)
    for i in range(n_sites):
        for g in range(3):
            term[i, g] = _log10_sum_exp(log_keep + gl[i, g], log_err + pop[i]) - pop[i]
    for i in range(n_sites):
        has_reads = depth[i] > 0
        c = calls[i]
        for s in range(n_samples):
            d = dosage[i, s]
            if d < 0:
                continue
            if has_reads:
                lod[s] += term[i, d]
                n_lod[s] += 1
            if c >= 0:
                n_compared[s] += 1
                if c != d:
                    n_discordant[s] += 1
    return lod, n_lod, n_compared, n_discordant


@jit
def contamination(ref: np.ndarray, alt: np.ndarray, other: np.ndarray, dosage: np.ndarray,
                  alt_freq: np.ndarray):
    """Share of reads from another person, from allele balance at homozygous sites.

    At a site where the sample is homozygous, reads of the other allele come from
    sequencing errors or from a contaminant, whose read shows that allele with the cohort's
    frequency q of it (p at REF/REF sites, 1 − p at ALT/ALT sites). With c the contaminant's
    share of reads and e3 the error rate into one given base,
    E[other-allele reads] = n·(c·q + e3), so over the sites

        c = (Σ x − e3 · Σ n) / Σ n·q,

    with n the REF+ALT reads, x the reads of the allele the sample lacks, and e3 estimated
    from the reads showing neither allele: e3 = Σ other / (2 · Σ (n + other)).

    Parameters
    ----------
    ref, alt, other : int (n_sites,)
        Reads showing REF, ALT, and another base.
    dosage : int8 (n_sites,)
        The sample's ALT copies (−1 missing); sites with 1 or −1 are not used.
    alt_freq : float64 (n_sites,)

    Returns
    -------
    estimate : float
        Clipped to [0, 1]; NaN when no homozygous site has reads.
    n_sites : int
        Homozygous sites with reads.
    """
    sum_x = 0.0
    sum_n = 0.0
    sum_nq = 0.0
    sum_other = 0.0
    sum_all = 0.0
    used = 0
    for i in range(ref.shape[0]):
        d = dosage[i]
        n = float(ref[i] + alt[i])
        if (d != 0 and d != 2) or n == 0:
            continue
        q = alt_freq[i] if d == 0 else 1.0 - alt_freq[i]
        x = float(alt[i]) if d == 0 else float(ref[i])
        sum_x += x
        sum_n += n
        sum_nq += n * q
        sum_other += float(other[i])
        sum_all += n + float(other[i])
        used += 1
    if used == 0 or sum_nq == 0.0:
        return np.nan, used
    e3 = sum_other / (2.0 * sum_all)
    c = (sum_x - e3 * sum_n) / sum_nq
    return min(max(c, 0.0), 1.0), used
