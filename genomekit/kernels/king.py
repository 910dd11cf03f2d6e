"""KING-robust kinship counts from bit-packed biallelic genotypes.

Packed encoding: the genotypes kept for KING are stored as ``packed``, uint64,
shape (n_words, n_samples, 2), word-major so that the matrix grows by whole rows
while the VCF is streamed. Variant ``k`` is bit ``k % 64`` of word ``k // 64``.
Plane 0 (``ALT_PLANE``) has the bit set when the call carries an ALT copy,
plane 1 (``REF_PLANE``) when it carries a REF copy:

    hom-ref 0/0 -> ALT 0, REF 1        het 0/1 -> ALT 1, REF 1
    hom-alt 1/1 -> ALT 1, REF 0        missing -> ALT 0, REF 0

Missing is all-zero, so the unused bits of the last word (and zero-filled spare
words) read as missing and count in no pair. Only complete diploid calls are
packed; haploid, half-missing (``./1``) and polyploid calls are missing.

Per pair of samples (r, c), over the variants called in both:

    NSNP    popcount(called_r & called_c)             called = ALT | REF
    HETHET  popcount(het_r & het_c)                   het = ALT & REF
    IBS0    popcount(called_r & called_c & ~((ALT_r & ALT_c) | (REF_r & REF_c)))
    HET1    popcount(het_r & called_c)                het calls of r in those variants
    HET2    popcount(het_c & called_r)

and the KING-robust between-family kinship (Manichaikul et al. 2010, as plink2
computes it) is

    0.5 - (4 IBS0 + HET1 + HET2 - 2 HETHET) / (4 min(HET1, HET2)).
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import intrinsic

from genomekit.kernels._jit import jit

ALT_PLANE = 0
REF_PLANE = 1
WORD_BITS = 64
# Rows of the count array king_tile returns.
NSNP, HETHET, IBS0, HET1, HET2 = 0, 1, 2, 3, 4
N_COUNTS = 5
# Words of each sample copied to a tile's scratch at a time: 2 planes x 64 words x
# 8 bytes = 1 KiB per sample, so a 64 x 256 tile's scratch (320 KiB) stays in L2.
WORD_BLOCK = 64


@intrinsic
def _popcount(typingctx, x):
    """Number of set bits of a uint64 (LLVM ctpop: one POPCNT instruction on x86-64)."""
    if not (isinstance(x, types.Integer) and x.bitwidth == 64 and not x.signed):
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


@jit
def diploid_counts(gt, variants):
    """Called diploid genotypes and ALT copies at biallelic variants of a chunk.

    Parameters
    ----------
    gt : int8 or int16 array (n_var, n_samples, ploidy)
        Allele indices; -1 missing, -2 padding for calls of lower ploidy.
    variants : int64 array (k,)
        Indices into ``gt`` of the biallelic records to count.

    Returns
    -------
    n_called : int64 array (k,)
        Samples with a complete diploid call: two called alleles and no third
        slot (haploid, half-missing and polyploid calls count as missing).
    n_alt : int64 array (k,)
        ALT copies in those calls (0 to 2 * n_called).
    bad : int64 array (2,)
        (variant, sample) of the first allele index above 1 in ``variants``
        order, or (-1, -1).
    """
    k = variants.shape[0]
    n_smp = gt.shape[1]
    ploidy = gt.shape[2]
    n_called = np.zeros(k, np.int64)
    n_alt = np.zeros(k, np.int64)
    bad = np.full(2, -1, np.int64)
    for i in range(k):
        v = variants[i]
        top = 0
        for s in range(n_smp):
            for p in range(ploidy):
                top = max(top, gt[v, s, p])
        if top > 1:
            for s in range(n_smp):
                for p in range(ploidy):
                    if gt[v, s, p] > 1 and bad[0] < 0:
                        bad[0] = v
                        bad[1] = s
            return n_called, n_alt, bad
        if ploidy < 2:
            continue
        called = 0
        alt = 0
        # Branch-free: the VCF's missing and ploidy patterns are unpredictable.
        for s in range(n_smp):
            a = np.int64(gt[v, s, 0])
            b = np.int64(gt[v, s, 1])
            ok = (a >= 0) & (b >= 0)
            if ploidy > 2:
                ok &= gt[v, s, 2] == -2
            called += ok
            alt += (a + b) * ok
        n_called[i] = called
        n_alt[i] = alt
    return n_called, n_alt, bad


@jit
def pack_calls(gt, variants, packed, first_bit, n_called):
    """OR the calls of ``gt[variants]`` into ``packed``, from bit ``first_bit`` on.

    Parameters
    ----------
    gt : int8 or int16 array (n_var, n_samples, ploidy)
        Allele indices of biallelic records (validated by ``diploid_counts``);
        -1 missing, -2 padding.
    variants : int64 array (k,)
        Records to pack, in order; record ``variants[i]`` becomes packed
        variant ``first_bit + i``.
    packed : uint64 array (n_words, n_samples, 2)
        The packed matrix (module docstring); the bits written must be zero.
        Modified in place.
    first_bit : int
    n_called : int64 array (n_samples,)
        Incremented in place by each sample's complete diploid calls.
    """
    n_smp = gt.shape[1]
    ploidy = gt.shape[2]
    if ploidy < 2:
        return
    for i in range(variants.shape[0]):
        v = variants[i]
        bit = first_bit + i
        w = bit // WORD_BITS
        shift = np.uint64(bit % WORD_BITS)
        for s in range(n_smp):
            a = np.int64(gt[v, s, 0])
            b = np.int64(gt[v, s, 1])
            ok = (a >= 0) & (b >= 0)
            if ploidy > 2:
                ok &= gt[v, s, 2] == -2
            d = a + b
            packed[w, s, ALT_PLANE] |= np.uint64(ok & (d > 0)) << shift
            packed[w, s, REF_PLANE] |= np.uint64(ok & (d < 2)) << shift
            n_called[s] += ok


@jit
def king_tile(packed, r0, r1, c0, c1):
    """KING counts of the pairs (row sample r, column sample c) with c < r in a tile.

    Parameters
    ----------
    packed : uint64 array (n_words, n_samples, 2)
        Packed genotypes (module docstring).
    r0, r1 : int
        Row samples ``r0 <= r < r1``.
    c0, c1 : int
        Column samples ``c0 <= c < c1``.

    Returns
    -------
    counts : int32 array (5, r1 - r0, c1 - c0)
        ``counts[k, r - r0, c - c0]`` with k = NSNP, HETHET, IBS0, HET1 (hets of
        r where c is called), HET2 (hets of c where r is called); zero where
        c >= r.

    Notes
    -----
    Both sample blocks are copied to sample-major scratch ``WORD_BLOCK`` words
    at a time, so the pair loop reads contiguous memory that stays in cache
    however many samples the matrix has. ``tests/naive.py:king_counts`` is the
    same count, genotype by genotype.
    """
    n_words = packed.shape[0]
    nr = max(r1 - r0, 0)
    nc = max(c1 - c0, 0)
    out = np.zeros((N_COUNTS, nr, nc), np.int32)
    if nr == 0 or nc == 0:
        return out
    row_alt = np.empty((nr, WORD_BLOCK), np.uint64)
    row_ref = np.empty((nr, WORD_BLOCK), np.uint64)
    col_alt = np.empty((nc, WORD_BLOCK), np.uint64)
    col_ref = np.empty((nc, WORD_BLOCK), np.uint64)
    for w0 in range(0, n_words, WORD_BLOCK):
        nw = min(WORD_BLOCK, n_words - w0)
        for w in range(nw):
            for i in range(nr):
                row_alt[i, w] = packed[w0 + w, r0 + i, ALT_PLANE]
                row_ref[i, w] = packed[w0 + w, r0 + i, REF_PLANE]
            for j in range(nc):
                col_alt[j, w] = packed[w0 + w, c0 + j, ALT_PLANE]
                col_ref[j, w] = packed[w0 + w, c0 + j, REF_PLANE]
        for i in range(nr):
            n_cols = min(nc, r0 + i - c0)  # only c < r
            for j in range(n_cols):
                nsnp = np.uint64(0)
                hethet = np.uint64(0)
                ibs0 = np.uint64(0)
                het1 = np.uint64(0)
                het2 = np.uint64(0)
                for w in range(nw):
                    ra = row_alt[i, w]
                    rr = row_ref[i, w]
                    ca = col_alt[j, w]
                    cr = col_ref[j, w]
                    r_called = ra | rr
                    c_called = ca | cr
                    r_het = ra & rr
                    c_het = ca & cr
                    both = r_called & c_called
                    nsnp += _popcount(both)
                    hethet += _popcount(r_het & c_het)
                    # Opposite homozygotes share neither an ALT nor a REF copy.
                    ibs0 += _popcount(both & ~((ra & ca) | (rr & cr)))
                    het1 += _popcount(r_het & c_called)
                    het2 += _popcount(c_het & r_called)
                out[NSNP, i, j] += np.int32(nsnp)
                out[HETHET, i, j] += np.int32(hethet)
                out[IBS0, i, j] += np.int32(ibs0)
                out[HET1, i, j] += np.int32(het1)
                out[HET2, i, j] += np.int32(het2)
    return out


@jit
def kinship(counts):
    """KING-robust between-family kinship from ``king_tile`` counts.

    Parameters
    ----------
    counts : int32 array (5, nr, nc)

    Returns
    -------
    float64 array (nr, nc)
        ``0.5 - (4 IBS0 + HET1 + HET2 - 2 HETHET) / (4 min(HET1, HET2))``, with
        the operations in plink2's order so the doubles are the same; NaN where
        min(HET1, HET2) is 0 (no heterozygous call to scale by).
    """
    nr = counts.shape[1]
    nc = counts.shape[2]
    out = np.empty((nr, nc), np.float64)
    for i in range(nr):
        for j in range(nc):
            het1 = np.int64(counts[HET1, i, j])
            het2 = np.int64(counts[HET2, i, j])
            smaller = min(het1, het2)
            if smaller == 0:
                out[i, j] = np.nan
                continue
            # het1 - hethet and het2 - hethet are plink2's HET1_HOM2 and HET2_HOM1.
            hethet = np.int64(counts[HETHET, i, j])
            num = 4 * np.int64(counts[IBS0, i, j]) + het1 + het2 - 2 * hethet
            out[i, j] = 0.5 - np.float64(num) / np.float64(4 * smaller)
    return out

