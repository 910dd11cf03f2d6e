"""Standardized-genotype products for PCA, on 2-bit-packed ALT dosages.

Packed encoding: ``codes``, uint8, shape (n_variants, ceil(n_samples / 4)),
variant-major so that the matrix grows by whole rows while the VCF is streamed
and a block of variants is a contiguous slice. Sample ``s`` of variant ``v`` is
the two bits ``2 * (s % 4)`` and ``2 * (s % 4) + 1`` of byte ``codes[v, s // 4]``:

    0, 1, 2   ALT copies of a complete diploid call (0/0, 0/1 or 1/0, 1/1)
    3         anything else: missing, half-missing (./1), haploid, polyploid

The spare bits of the last byte of a row hold 3; kernels never read past
``n_samples``.

Standardization: ``table``, float64 (n_variants, 4), gives the value of each
code, so the samples x variants matrix is

    X[s, v] = table[v, code(v, s)].

For PCA, ``standard_table`` makes ``table[v, c] = (c - 2 p_v) / sqrt(2 p_v (1 - p_v))``
for c = 0, 1, 2 and ``table[v, 3] = 0`` (missing calls mean-imputed), with
p_v the ALT frequency; the kernels accept any table.

``xt_dot`` and ``x_dot`` are X[:, v0:v1].T @ y and X[:, v0:v1] @ z for one
block of variants; ``tests/naive.py`` computes both from the dense matrix.
"""

from __future__ import annotations

import numpy as np

from genomekit.kernels._jit import jit

MISSING = 3
CODES_PER_BYTE = 4


def n_bytes(n_samples: int) -> int:
    """Bytes per packed row: four samples per byte."""
    return (n_samples + CODES_PER_BYTE - 1) // CODES_PER_BYTE


@jit
def pack_dosages(gt, variants):
    """Pack the ALT dosages of biallelic records, and count each code.

    Parameters
    ----------
    gt : int8 or int16 array (n_var, n_samples, ploidy)
        Allele indices; -1 missing, -2 padding for calls of lower ploidy.
    variants : int64 array (k,)
        Indices into ``gt`` of the biallelic records to pack, in order.

    Returns
    -------
    codes : uint8 array (k, ceil(n_samples / 4))
        Row ``i`` holds record ``variants[i]`` (module docstring).
    counts : int64 array (k, 4)
        Samples with code 0, 1, 2 and 3 (hom-ref, het, hom-alt, other).
    bad : int64 array (2,)
        (record, sample) of the first allele index above 1, in ``variants``
        order; (-1, -1) when there is none. Packing stops there.
    """
    k = variants.shape[0]
    n_smp = gt.shape[1]
    ploidy = gt.shape[2]
    nb = (n_smp + 3) // 4
    codes = np.full((k, nb), 0xFF, np.uint8)
    counts = np.zeros((k, 4), np.int64)
    bad = np.full(2, -1, np.int64)
    for i in range(k):
        v = variants[i]
        for s in range(n_smp):
            for p in range(ploidy):
                if gt[v, s, p] > 1:
                    bad[0] = v
                    bad[1] = s
                    return codes, counts, bad
        for b in range(nb):
            byte = 0
            for j in range(4):
                s = 4 * b + j
                c = MISSING
                if s < n_smp and ploidy >= 2:
                    a0 = np.int64(gt[v, s, 0])
                    a1 = np.int64(gt[v, s, 1])
                    ok = a0 >= 0 and a1 >= 0
                    if ploidy > 2 and gt[v, s, 2] != -2:
                        ok = False
                    if ok:
                        c = a0 + a1
                if s < n_smp:
                    counts[i, c] += 1
                byte |= c << (2 * j)
            codes[i, b] = np.uint8(byte)
    return codes, counts, bad


@jit
def standard_table(alt_freq):
    """Code values of variance-standardized ALT dosages, missing mean-imputed.

    Parameters
    ----------
    alt_freq : float64 array (m,)
        ALT allele frequency p of each variant, 0 < p < 1.

    Returns
    -------
    table : float64 array (m, 4)
        ``(c - 2p) / sqrt(2p(1 - p))`` for codes c = 0, 1, 2, and 0 for code 3.
    """
    m = alt_freq.shape[0]
    table = np.zeros((m, 4), np.float64)
    for v in range(m):
        p = alt_freq[v]
        sd = np.sqrt(2.0 * p * (1.0 - p))
        for c in range(3):
            table[v, c] = (c - 2.0 * p) / sd
    return table


@jit
def xt_dot(codes, table, v0, v1, y):
    """X[:, v0:v1].T @ y for the standardized matrix X of packed variants.

    Parameters
    ----------
    codes : uint8 array (n_variants, ceil(n_samples / 4))
        Packed dosage codes (module docstring).
    table : float64 array (n_variants, 4)
        Value of each code, per variant.
    v0, v1 : int
        The block of variants ``v0 <= v < v1``.
    y : float64 array (n_samples, l)

    Returns
    -------
    float64 array (v1 - v0, l)

    Notes
    -----
    Sums the rows of ``y`` per code (codes 1, 2, 3 explicitly, code 0 as the
    total minus the others), then weighs the four sums by the table. Only
    non-hom-ref calls cost an addition, and a byte of four hom-ref calls is
    skipped whole; the common genotype at a PCA variant is hom-ref.
    """
    n_smp = y.shape[0]
    width = y.shape[1]
    nb = (n_smp + 3) // 4
    out = np.zeros((max(v1 - v0, 0), width), np.float64)
    total = np.zeros(width, np.float64)
    for s in range(n_smp):
        for t in range(width):
            total[t] += y[s, t]
    acc = np.empty((4, width), np.float64)
    for v in range(v0, v1):
        acc[:, :] = 0.0
        for b in range(nb):
            byte = np.int64(codes[v, b])
            if byte == 0:
                continue
            for j in range(4):
                s = 4 * b + j
                if s >= n_smp:
                    break
                c = (byte >> (2 * j)) & 3
                if c != 0:
                    for t in range(width):
                        acc[c, t] += y[s, t]
        t0 = table[v, 0]
        t1 = table[v, 1]
        t2 = table[v, 2]
        t3 = table[v, 3]
        for t in range(width):
            a0 = total[t] - acc[1, t] - acc[2, t] - acc[3, t]
            out[v - v0, t] = t0 * a0 + t1 * acc[1, t] + t2 * acc[2, t] + t3 * acc[3, t]
    return out


@jit
def x_dot(codes, table, v0, v1, z, n_samples):
    """X[:, v0:v1] @ z for the standardized matrix X of packed variants.

    Parameters
    ----------
    codes : uint8 array (n_variants, ceil(n_samples / 4))
        Packed dosage codes (module docstring).
    table : float64 array (n_variants, 4)
        Value of each code, per variant.
    v0, v1 : int
        The block of variants ``v0 <= v < v1``.
    z : float64 array (v1 - v0, l)
        Row ``v - v0`` weighs variant ``v``.
    n_samples : int

    Returns
    -------
    float64 array (n_samples, l)

    Notes
    -----
    Every sample first gets the hom-ref value of every variant,
    ``sum_v table[v, 0] z[v]``; a sample with code c != 0 then adds
    ``(table[v, c] - table[v, 0]) z[v]``, so hom-ref calls cost nothing.
    """
    width = z.shape[1]
    nb = (n_samples + 3) // 4
    out = np.zeros((n_samples, width), np.float64)
    base = np.zeros(width, np.float64)
    delta = np.zeros((4, width), np.float64)
    for v in range(v0, v1):
        t0 = table[v, 0]
        for t in range(width):
            zt = z[v - v0, t]
            base[t] += t0 * zt
            for c in range(1, 4):
                delta[c, t] = (table[v, c] - t0) * zt
        for b in range(nb):
            byte = np.int64(codes[v, b])
            if byte == 0:
                continue
            for j in range(4):
                s = 4 * b + j
                if s >= n_samples:
                    break
                c = (byte >> (2 * j)) & 3
                if c != 0:
                    for t in range(width):
                        out[s, t] += delta[c, t]
    for s in range(n_samples):
        for t in range(width):
            out[s, t] += base[t]
    return out


@jit
def ld_r2(a, b, n_samples):
    """Squared correlation of the ALT dosages of two packed variants.

    Parameters
    ----------
    a, b : uint8 arrays (ceil(n_samples / 4),)
        Packed rows.
    n_samples : int

    Returns
    -------
    float
        Pearson r² over the samples with a complete diploid call at both
        (pairwise-complete, plink's ``--r2`` on unphased genotypes); 0 when
        either variant does not vary among those samples.
    """
    n = np.int64(0)
    sx = np.int64(0)
    sy = np.int64(0)
    sxx = np.int64(0)
    syy = np.int64(0)
    sxy = np.int64(0)
    nb = (n_samples + 3) // 4
    for i in range(nb):
        ba = np.int64(a[i])
        bb = np.int64(b[i])
        for j in range(4):
            if 4 * i + j >= n_samples:
                break
            x = (ba >> (2 * j)) & 3
            y = (bb >> (2 * j)) & 3
            if x != MISSING and y != MISSING:
                n += 1
                sx += x
                sy += y
                sxx += x * x
                syy += y * y
                sxy += x * y
    var_x = np.float64(n * sxx - sx * sx)
    var_y = np.float64(n * syy - sy * sy)
    if var_x <= 0.0 or var_y <= 0.0:
        return 0.0
    cov = np.float64(n * sxy - sx * sy)
    return cov * cov / (var_x * var_y)


@jit
def thin_append(codes, pos, n_rows, window_start, cand, cand_pos, window, r2_max, n_samples):
    """Append candidate variants of one contig, dropping those in LD with a kept one.

    Greedy, in order: candidate i is kept unless its r² (``ld_r2``) with a
    row already kept (earlier rows of the matrix, or candidates kept before
    it) at a position ``>= cand_pos[i] - window`` exceeds ``r2_max``. A kept
    candidate is copied to row ``n_rows`` and ``n_rows`` grows by one.

    Parameters
    ----------
    codes : uint8 array (capacity, ceil(n_samples / 4))
        The packed matrix; rows ``[0, n_rows)`` are kept variants and the
        capacity must hold ``n_rows + len(cand)`` rows. Modified in place.
    pos : int64 array (capacity,)
        Position of each row; written for appended rows.
    n_rows : int
        Rows in use.
    window_start : int
        First row on the candidates' contig with ``pos >= cand_pos[0] - window``.
    cand : uint8 array (k, ceil(n_samples / 4))
        Packed candidates, in position order, all on one contig.
    cand_pos : int64 array (k,)
        Their positions, non-decreasing and not below the contig's rows.
    window : int
        Window in bp; a negative window compares with nothing (no thinning).
    r2_max : float
    n_samples : int

    Returns
    -------
    n_rows : int
        Rows in use after appending.
    keep : bool array (k,)
        Which candidates were appended.
    """
    k = cand.shape[0]
    keep = np.zeros(k, np.bool_)
    w0 = window_start
    for i in range(k):
        p = cand_pos[i]
        kept = True
        if window >= 0:
            while w0 < n_rows and pos[w0] < p - window:
                w0 += 1
            # Nearest first: a variant in LD is most often in LD with its neighbour.
            for r in range(n_rows - 1, w0 - 1, -1):
                if ld_r2(codes[r], cand[i], n_samples) > r2_max:
                    kept = False
                    break
        if kept:
            codes[n_rows, :] = cand[i, :]
            pos[n_rows] = p
            n_rows += 1
            keep[i] = True
    return n_rows, keep
