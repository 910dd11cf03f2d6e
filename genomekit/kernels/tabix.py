"""Which VCF lines htslib's tabix region iterator returns.

htslib reads a region of an indexed VCF.gz line by line from the offset its
index gives (``hts_itr_next`` with ``tbx_readrec``), takes each line's
interval as ``tbx_parse1`` computes it for the VCF preset, stops at the first
line on another contig, starting at or after the region's end, or whose POS
it cannot read, and returns the lines whose interval overlaps the region.
genomekit then keeps those whose POS (as cyvcf2 gives it) lies in the region.
"""

from __future__ import annotations

from genomekit.kernels._jit import jit

KEEP, SKIP, STOP = 1, 0, 2
_TAB, _PLUS, _MINUS = 9, 43, 45
_LLONG_MAX = 9223372036854775807


@jit
def _digit(c, base):
    if c >= 48 and c <= 57:
        d = c - 48
    elif c >= 97 and c <= 122:
        d = c - 87
    elif c >= 65 and c <= 90:
        d = c - 55
    else:
        return -1
    return d if d < base else -1


@jit
def strtoll(buf, p, e):
    """C's ``strtoll(s, &end, 0)`` on ``buf[p:e]`` (a NUL or tab ends the text).

    Returns (value, ok); ok is False when no digits were read. Values past
    the int64 range are clamped, as strtoll does.
    """
    while p < e and (buf[p] == 32 or (buf[p] >= 10 and buf[p] <= 13)):
        p += 1
    neg = False
    if p < e and (buf[p] == _PLUS or buf[p] == _MINUS):
        neg = buf[p] == _MINUS
        p += 1
    base = 10
    if p < e and buf[p] == 48:
        base = 8
        if p + 2 < e and (buf[p + 1] == 120 or buf[p + 1] == 88) and _digit(buf[p + 2], 16) >= 0:
            base = 16  # '0x' followed by a hex digit
            p += 2
    value = 0
    over = False
    start = p
    while p < e:
        d = _digit(buf[p], base)
        if d < 0:
            break
        if value > (_LLONG_MAX - d) // base:
            over = True
        else:
            value = value * base + d
        p += 1
    if p == start:
        return 0, False
    if over:
        return (-_LLONG_MAX - 1 if neg else _LLONG_MAX), True
    return (-value if neg else value), True


@jit
def _find(buf, q, e, word):
    # First occurrence of ``word`` (uint8) in buf[q:e], or -1.
    n = word.size
    for p in range(q, e - n + 1):
        same = True
        for k in range(n):
            if buf[p + k] != word[k]:
                same = False
                break
        if same:
            return p
    return -1


@jit
def region_codes(buf, starts, name, beg_q, end_q, first, last, end_word, semi_end_word,
                 codes):
    """Which lines of a region read to keep.

    Parameters
    ----------
    buf : uint8 array
        Whole lines, each ending with ``\\n``.
    starts : int64 array (n_lines + 1,)
        Line boundaries.
    name : uint8 array
        The region's contig name.
    beg_q, end_q : int
        0-based half-open range htslib queries.
    first, last : int
        1-based inclusive POS bounds genomekit applies.
    end_word, semi_end_word : uint8 arrays
        ``END=`` and ``;END=``.
    codes : int8 array (n_lines,)
        Receives KEEP, SKIP or STOP (from the first STOP on, every line).

    Returns
    -------
    int
        The number of lines before the first STOP.
    """
    n = starts.size - 1
    for i in range(n):
        s = starts[i]
        e = starts[i + 1] - 1  # the '\n'
        if e > s and buf[e - 1] == 13:
            e -= 1
        # Column boundaries (htslib splits at tabs; a NUL ends a column too,
        # which no line that reaches here holds).
        col = 0
        cs = s
        chrom_e = -1
        pos_s = -1
        pos_e = -1
        ref_len = -1
        info_s = -1
        info_e = -1
        p = s
        while True:
            if p == e or buf[p] == _TAB:
                if col == 0:
                    chrom_e = p
                elif col == 1:
                    pos_s, pos_e = cs, p
                elif col == 3:
                    ref_len = p - cs
                elif col == 7:
                    info_s, info_e = cs, p
                col += 1
                cs = p + 1
                if p == e:
                    break
            p += 1
        stop = pos_s < 0
        b = 0
        if not stop:
            value, ok = strtoll(buf, pos_s, pos_e)
            stop = not ok
            b = value - 1 if value > -_LLONG_MAX else value
        if not stop:
            same = chrom_e - s == name.size
            if same:
                for k in range(name.size):
                    if buf[s + k] != name[k]:
                        same = False
                        break
            stop = not same
        if not stop:
            if b < 0:
                b = 0
            end = 1
            if ref_len > 0:
                end = b + ref_len
            if info_s >= 0:
                at = _find(buf, info_s, info_e, end_word)
                if at == info_s:
                    at += 4
                elif at >= 0:
                    at = _find(buf, info_s, info_e, semi_end_word)
                    if at >= 0:
                        at += 5
                if at >= 0 and not (at < info_e and buf[at] == 46):
                    value, ok = strtoll(buf, at, info_e)
                    if value > b:
                        end = value
            stop = b >= end_q
        if stop:
            for j in range(i, n):
                codes[j] = STOP
            return i
        if end > beg_q and end_q > b:
            # POS as vcf_parse reads it: an optional '+' then digits, nothing
            # else; cyvcf2 gives it as a C int. Other POS texts are kept, for
            # the decoder to reject or to read as htslib does.
            q = pos_s
            if q < pos_e and buf[q] == _PLUS:
                q += 1
            value = 0
            clean = pos_e - q <= 18
            while q < pos_e and clean:
                c = buf[q]
                if c < 48 or c > 57:
                    clean = False
                value = value * 10 + (c - 48)
                q += 1
            if clean:
                one = (value + 2147483648) % 4294967296 - 2147483648
                codes[i] = KEEP if first <= one and one <= last else SKIP
            else:
                codes[i] = KEEP
        else:
            codes[i] = SKIP
    return n
