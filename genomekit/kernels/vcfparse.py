"""Decode VCF data lines straight from decompressed bytes.

The kernels read a uint8 buffer holding complete lines (each ends with
``\\n``; one ``\\r`` before it is ignored, as htslib does) and fill the arrays of
a genotype chunk: sgkit's encoding, ``gt[v, s, p]`` int8 allele index, ``-1``
missing, ``-2`` padding for calls of lower ploidy than the chunk's widest.

They accept a strict subset of the syntax htslib accepts, a subset on which
they give the same numbers htslib (through cyvcf2) gives. Every record gets a
status: ``OK``; a fallback code (``1 <= status < FIRST_ERROR``) when the record
is outside the subset but may still be valid, so that the caller decodes it
with htslib; or an error code (``>= FIRST_ERROR``) when htslib is known to
reject the record. ``detail`` then holds the sample column at fault (or -1).
"""

from __future__ import annotations

import numpy as np

from genomekit.kernels._jit import jit

OK = 0
# Fallback: the record may be valid but is outside the decoded subset.
FB_CHROM = 1
FB_POS = 2
FB_ID = 3
FB_REF = 4
FB_ALT = 5
FB_MANY_ALLELES = 6
FB_QUAL = 7
FB_FILTER = 8
FB_INFO = 9
FB_FORMAT = 10
FB_NO_SAMPLES = 11
FB_GT = 12
FB_FIELD = 13
FB_PLOIDY = 14
# Errors: htslib rejects the record.
FIRST_ERROR = 100
ERR_COLUMNS = 100
ERR_POS = 101
ERR_SAMPLES = 102
ERR_GT = 103
ERR_SUBFIELDS = 104
ERR_INTEGER = 105
ERR_NO_GT = 106

# Type codes of FORMAT keys, as the caller encodes the header for parse_samples.
T_INTEGER = 1
T_FLOAT = 2
T_STRING = 3
T_UNSUPPORTED = 4
# What parse_samples does with a FORMAT key besides checking it.
ROLE_NONE = 0
ROLE_GQ = 2
ROLE_DP = 3
ROLE_AD = 4

# Columns of the ``offs`` array filled by scan_sites.
O_CHROM, O_ID, O_REF, O_ALT, O_FORMAT = 0, 2, 4, 6, 8
O_SAMPLES = 10  # first byte of the sample columns, -1 when there are none
O_END = 11  # end of the line's text (its '\n', or the '\r' before it)
N_OFFS = 12

MAX_ALLELE = 127  # int8 genotypes
MAX_PLOIDY = 64
MAX_FORMAT_KEYS = 64
INT32_MISSING = -1
# hts_str2int results outside [BCF_MIN_BT_INT32, INT32_MAX] become missing.
_MIN_INT32 = -2147483640
_MAX_INT32 = 2147483647

_TAB, _NL, _CR, _COLON, _COMMA, _SEMI, _DOT = 9, 10, 13, 58, 44, 59, 46
_SLASH, _PIPE, _PLUS, _MINUS, _EQ, _HASH = 47, 124, 43, 45, 61, 35


@jit
def line_starts(buf, start, stop, max_lines, out):
    """Find where the lines of ``buf[start:stop]`` begin.

    Parameters
    ----------
    buf : uint8 array (n_bytes,)
        Text whose lines all end with ``\\n`` before ``stop``.
    start, stop : int
        Byte range to index; ``start`` is the first byte of a line.
    max_lines : int
        Stop after this many lines.
    out : int64 array (>= max_lines + 1,)
        Receives ``start`` followed by the byte after each line found.

    Returns
    -------
    int
        The number of lines found; line ``i`` spans ``out[i]:out[i + 1]``.
    """
    out[0] = start
    n = 0
    p = start
    while p < stop and n < max_lines:
        # Most lines of a cohort VCF are long: skip 256-byte blocks with no
        # newline. Counting over a slice (not buf[p + q]) lets the compiler
        # vectorise the loop, five times faster.
        if p + 256 <= stop:
            block = buf[p:p + 256]
            hits = 0
            for q in range(256):
                hits += block[q] == _NL
            if hits == 0:
                p += 256
                continue
        end = min(p + 256, stop)
        while p < end:
            if buf[p] == _NL:
                n += 1
                out[n] = p + 1
                if n == max_lines:
                    return n
            p += 1
    return n


@jit
def last_newline(buf, start, stop):
    """Index of the last ``\\n`` in ``buf[start:stop]`` (uint8), or -1."""
    p = stop - 1
    while p >= start:
        if buf[p] == _NL:
            return p
        p -= 1
    return -1


@jit
def first_newline(buf, start, stop):
    """Index of the first ``\\n`` in ``buf[start:stop]`` (uint8), or -1."""
    for p in range(start, stop):
        if buf[p] == _NL:
            return p
    return -1


@jit
def _is_key_char(c):
    # Names htslib can add to the header as a dummy definition.
    return ((c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122)
            or c == 95 or c == _DOT or c == _PLUS or c == _MINUS)


@jit
def _plain_field(buf, p, e):
    # Printable ASCII other than space; returns the end of the column.
    ok = True
    while p < e:
        c = buf[p]
        if c == _TAB:
            break
        if c < 33 or c > 126:
            ok = False
        p += 1
    return p, ok


@jit
def scan_sites(buf, starts, row0, pos, n_alleles, offs, status, detail):
    """Decode the fixed columns of each line and locate the rest.

    Parameters
    ----------
    buf : uint8 array (n_bytes,)
    starts : int64 array (n_lines + 1,)
        Line boundaries from ``line_starts``.
    row0 : int
        Row of the chunk arrays that receives the first line.
    pos : int64 array (n_rows,)
        POS, 1-based.
    n_alleles : int32 array (n_rows,)
        REF plus ALT alleles; ALT '.' counts as no ALT allele.
    offs : int64 array (n_rows, N_OFFS)
        Byte ranges of CHROM, ID, REF, ALT and FORMAT (start, end pairs;
        FORMAT -1, -1 when absent), the first byte of the sample columns
        (-1 when there are none) and the end of the line's text.
    status, detail : int32 array (n_rows,), int64 array (n_rows,)
        Set for every line: OK, a fallback code or an error code.
    """
    n = starts.size - 1
    for i in range(n):
        r = row0 + i
        s = starts[i]
        e = starts[i + 1] - 1
        if e > s and buf[e - 1] == _CR:
            e -= 1
        offs[r, O_END] = e
        for f in range(O_FORMAT):
            offs[r, f] = s  # fields not reached stay empty: gather_text reads them all
        offs[r, O_FORMAT] = -1
        offs[r, O_FORMAT + 1] = -1
        offs[r, O_SAMPLES] = -1
        detail[r] = -1
        pos[r] = 0
        n_alleles[r] = 1
        code = OK

        # CHROM
        p, ok = _plain_field(buf, s, e)
        offs[r, O_CHROM] = s
        offs[r, O_CHROM + 1] = p
        if p == e:
            status[r] = ERR_COLUMNS
            continue
        if not ok or p == s or buf[s] == _HASH:
            code = FB_CHROM
        p += 1

        # POS: htslib reads an unsigned number and accepts a leading '+'.
        q = p
        value = 0
        while p < e and buf[p] >= 48 and buf[p] <= 57:
            if p - q < 18:
                value = value * 10 + (buf[p] - 48)
            p += 1
        if p < e and buf[p] != _TAB:
            status[r] = FB_POS if buf[q] == _PLUS else ERR_POS
            continue
        if p == q and code == OK:
            code = FB_POS  # htslib reads an empty POS as 0
        if (p - q > 18 or value > 2147483647) and code == OK:
            code = FB_POS  # cyvcf2 gives POS as int32: leave the wrap-around to it
        pos[r] = value
        if p == e:
            status[r] = ERR_COLUMNS
            continue
        p += 1

        # ID
        q = p
        p, ok = _plain_field(buf, p, e)
        offs[r, O_ID] = q
        offs[r, O_ID + 1] = p
        if (not ok or p == q) and code == OK:
            code = FB_ID
        if p == e:
            status[r] = ERR_COLUMNS
            continue
        p += 1

        # REF
        q = p
        p, ok = _plain_field(buf, p, e)
        offs[r, O_REF] = q
        offs[r, O_REF + 1] = p
        if (not ok or p == q) and code == OK:
            code = FB_REF
        if p == e:
            status[r] = ERR_COLUMNS
            continue
        p += 1

        # ALT: '.' alone means no ALT allele; empty alleles are left to htslib.
        q = p
        count = 1
        allele_len = 0
        ok = True
        while p < e:
            c = buf[p]
            if c == _TAB:
                break
            if c == _COMMA:
                if allele_len == 0:
                    ok = False
                count += 1
                allele_len = 0
            else:
                if c < 33 or c > 126:
                    ok = False
                allele_len += 1
            p += 1
        if allele_len == 0:
            ok = False
        offs[r, O_ALT] = q
        offs[r, O_ALT + 1] = p
        if p - q == 1 and buf[q] == _DOT:
            n_alleles[r] = 1
        else:
            n_alleles[r] = min(count + 1, 32767)
            if not ok and code == OK:
                code = FB_ALT
            if count + 1 > MAX_ALLELE and code == OK:
                code = FB_MANY_ALLELES
        if p == e:
            status[r] = ERR_COLUMNS
            continue
        p += 1

        # QUAL: htslib uses atof, which never fails.
        q = p
        p, ok = _plain_field(buf, p, e)
        if (not ok or p == q) and code == OK:
            code = FB_QUAL
        if p == e:
            status[r] = ERR_COLUMNS
            continue
        p += 1

        # FILTER: undefined names get a dummy header line, which htslib can
        # only write for plain names.
        q = p
        ok = True
        token = 0
        while p < e:
            c = buf[p]
            if c == _TAB:
                break
            if c == _SEMI:
                if token == 0:
                    ok = False
                token = 0
            elif _is_key_char(c):
                token += 1
            else:
                ok = False
            p += 1
        if token == 0:
            ok = False
        if not ok and code == OK:
            code = FB_FILTER
        if p == e:
            status[r] = ERR_COLUMNS  # no INFO column
            continue
        p += 1

        # INFO
        q = p
        while p < e and buf[p] != _TAB:
            p += 1
        info_code = _check_info(buf, q, p)
        if info_code != OK and code == OK:
            code = info_code
        if p < e:
            # FORMAT and the sample columns.
            p += 1
            q = p
            while p < e and buf[p] != _TAB:
                p += 1
            offs[r, O_FORMAT] = q
            offs[r, O_FORMAT + 1] = p
            if p < e:
                offs[r, O_SAMPLES] = p + 1
        status[r] = code


@jit
def _check_info(buf, q, p):
    # INFO values are never rejected by htslib; undefined keys get a dummy
    # header line, which only works for plain names.
    if p - q == 1 and buf[q] == _DOT:
        return OK
    if p == q:
        return FB_INFO
    in_key = True
    key_len = 0
    k = q
    while k < p:
        c = buf[k]
        if c == _SEMI:
            if in_key and key_len == 0:
                return FB_INFO
            in_key = True
            key_len = 0
        elif in_key:
            if c == _EQ:
                if key_len == 0:
                    return FB_INFO
                in_key = False
            elif _is_key_char(c):
                key_len += 1
            else:
                return FB_INFO
        elif c < 32:
            return FB_INFO
        k += 1
    if in_key and key_len == 0:
        return FB_INFO
    return OK


@jit
def _format_layout(buf, fs, fe, keys, key_off, key_type, key_role, ftype, frole):
    # Fill ftype/frole for the keys of one FORMAT column; returns
    # (number of keys, index of GT or -1, ok). ok is False for what htslib
    # rejects or handles specially: '.', empty or repeated keys, undefined
    # keys it could not define, Flag types, a GT that is not a String.
    n = 0
    gt_j = -1
    n_header = key_off.size - 1
    k = fs
    while True:
        ks = k
        while k < fe and buf[k] != _COLON:
            k += 1
        klen = k - ks
        if n >= MAX_FORMAT_KEYS or klen == 0:
            return n, gt_j, False
        found = -1
        for h in range(n_header):
            hs = key_off[h]
            if key_off[h + 1] - hs != klen:
                continue
            same = True
            for m in range(klen):
                if keys[hs + m] != buf[ks + m]:
                    same = False
                    break
            if same:
                found = h
                break
        if _repeated(buf, fs, ks, klen):
            return n, gt_j, False  # htslib drops the copy; leave that to it
        if found >= 0:
            t = key_type[found]
            role = key_role[found]
        else:
            # htslib defines an unknown key as Type=String on the fly.
            t = T_STRING
            role = ROLE_NONE
            if klen == 1 and buf[ks] == _DOT:
                return n, gt_j, False
            for m in range(ks, k):
                if not _is_key_char(buf[m]):
                    return n, gt_j, False
        if klen == 2 and buf[ks] == 71 and buf[ks + 1] == 84:  # GT
            if t != T_STRING:
                return n, gt_j, False
            gt_j = n
        if t == T_UNSUPPORTED:
            return n, gt_j, False
        ftype[n] = t
        frole[n] = role
        n += 1
        if k >= fe:
            break
        k += 1
    return n, gt_j, True


@jit
def _repeated(buf, fs, ks, klen):
    # Whether the key at buf[ks:ks + klen] already occurs in buf[fs:ks].
    k = fs
    while k < ks:
        s = k
        while k < ks and buf[k] != _COLON:
            k += 1
        if k - s == klen:
            same = True
            for m in range(klen):
                if buf[s + m] != buf[ks + m]:
                    same = False
                    break
            if same:
                return True
        k += 1
    return False


def _diploid_tables() -> np.ndarray:
    """Lookup table over two bytes (first + 256 * second) for _mixed_columns: the
    int8 pair (a, b) of the one-character alleles a and b ('0'-'9', '.' for -1),
    read as one uint16; (-128, -128) when either is not one."""
    alleles = {c: c - 48 for c in range(48, 58)}
    alleles[_DOT] = -1
    calls = np.full((65536, 2), -128, np.int8)
    for c0, a in alleles.items():
        for c2, b in alleles.items():
            calls[c0 | c2 << 8] = (a, b)
    return np.ascontiguousarray(calls).view(np.uint16).reshape(65536)


_DIPLOID_CALLS = _diploid_tables()
_NOT_A_CALL = int(_DIPLOID_CALLS[0])


@jit(inline="always")
def _allele_char(c):
    """(allele of the one-character allele c: 0-9 for '0'-'9', -1 for '.'; whether
    c is not one), in arithmetic that vectorises."""
    d = np.uint8(c - np.uint8(48))
    dot = c == _DOT
    return (np.int8(-1) if dot else np.int8(d)), (d > 9) & ~dot


@jit
def _diploid_columns(buf, p, n_cols, gt_flat, base):
    """Decode ``n_cols`` columns from ``buf[p]``, four bytes each: a one-character
    diploid call and a tab (the line end after the last one), into
    ``gt_flat[base:]``. False, with ``gt_flat`` partly written, when any is not.

    Arithmetic on the bytes rather than table lookups, over slices so that every
    index is a non-negative loop counter: the compiler vectorises the loop.
    """
    text = buf[p:p + 4 * n_cols]
    out = gt_flat[base:base + 2 * n_cols]
    bad = False
    for i in range(n_cols):
        a, bad_a = _allele_char(text[4 * i])
        b, bad_b = _allele_char(text[4 * i + 2])
        sep = text[4 * i + 1]
        out[2 * i] = a
        out[2 * i + 1] = b
        bad |= bad_a | bad_b | ((sep != _SLASH) & (sep != _PIPE))
    for i in range(n_cols - 1):
        bad |= text[4 * i + 3] != _TAB
    return not bad


def _haploid_tables() -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables over one byte for _mixed_columns.

    ``calls``: the int8 pair (a, -2) of the one-character allele a, read as
    one uint16 (as in _diploid_tables), else the pair that is not a call.
    ``separators``: 1 for '/' and '|'.
    """
    calls = np.full((256, 2), -128, np.int8)
    for c in range(48, 58):
        calls[c] = (c - 48, -2)
    calls[_DOT] = (-1, -2)
    separators = np.zeros(256, np.uint8)
    separators[_SLASH] = 1
    separators[_PIPE] = 1
    return np.ascontiguousarray(calls).view(np.uint16).reshape(256), separators


_HAPLOID_CALLS, _SEPARATORS = _haploid_tables()


@jit
def _mixed_columns(buf, p, e, n_cols, gt_flat, base):
    """Decode ``n_cols`` columns from ``buf[p]`` to the line end ``e``, each a
    one-character haploid call 'a' or diploid call 'a/b' / 'a|b', followed by a
    tab (the line end, or a tab, after the last), into ``gt_flat[base:]`` as
    pairs (-2 pads a haploid call). Returns the record's ploidy, 1 or 2; 0, with
    ``gt_flat`` partly written, when any column is something else.

    Males on chrX and chrY mix the two kinds from one column to the next, so
    the loop chooses between them with selects rather than branches.
    """
    pairs = _DIPLOID_CALLS
    singles = _HAPLOID_CALLS
    separators = _SEPARATORS
    out = gt_flat[base:base + 2 * n_cols].view(np.uint16)
    # Unsigned offsets: no negative-index tests on the loop's critical path,
    # which is the next column's offset, known once one byte is read.
    q = np.uint64(p)
    stop = np.uint64(e)
    bad = False
    diploid = np.uint8(0)
    for i in range(n_cols - 1):
        # A column before the last is followed by a tab and one more column,
        # so a well-formed line has the bytes read here.
        if q + np.uint64(3) > stop:
            return 0
        c0 = buf[q]
        c1 = buf[q + np.uint64(1)]
        c2 = buf[q + np.uint64(2)]
        c3 = buf[q + np.uint64(3)]
        two = np.uint8(c1 != _TAB)
        # Both lookups, then a mask picks one: no branch on the column's kind.
        mask = np.uint16(0) - np.uint16(two)
        xs = singles[c0]
        x = xs ^ ((xs ^ pairs[c0 | np.uint16(c2) << 8]) & mask)
        out[i] = x
        bad |= (x == _NOT_A_CALL) | ((two == 1) & ((separators[c1] == 0) | (c3 != _TAB)))
        diploid |= two
        q += np.uint64(2) + np.uint64(2) * np.uint64(two)
    q = np.int64(q)
    if q >= e:
        return 0
    c0 = buf[q]
    if q + 1 == e or buf[q + 1] == _TAB:
        x = singles[c0]
    elif q + 3 <= e and separators[buf[q + 1]] and (q + 3 == e or buf[q + 3] == _TAB):
        x = pairs[c0 | np.uint16(buf[q + 2]) << 8]
        diploid = np.uint8(1)
    else:
        return 0
    out[n_cols - 1] = x
    if bad or x == _NOT_A_CALL:
        return 0
    return 2 if diploid else 1


# Byte classes of a line of one-character calls, for the layouts of _mixed_columns.
_C_ALLELE, _C_SEP, _C_TAB, _C_OTHER = 0, 1, 2, 3


@jit(inline="always")
def _byte_class(c):
    """(class of byte c, its allele: 0-9 for '0'-'9', -1 for '.'), in arithmetic that
    vectorises."""
    a, not_allele = _allele_char(c)
    sep = (c == _SLASH) | (c == _PIPE)
    k = np.uint8(_C_OTHER)
    k = np.uint8(_C_ALLELE) if not not_allele else k
    k = np.uint8(_C_SEP) if sep else k
    k = np.uint8(_C_TAB) if c == _TAB else k
    return k, a


@jit
def _mixed_layout(buf, p, e, n_cols, classes, first, second):
    """The layout of a line ``buf[p:e]`` that _mixed_columns decoded: the class of
    each byte into ``classes``, and for each column the offset of its allele
    bytes, ``first`` and ``second`` (``e - p``, the padding, for a haploid call).
    Returns the line's length, or -1 when its last column does not end the line.
    """
    n = e - p
    q = 0
    for i in range(n_cols):
        first[i] = q
        if q + 1 < n and buf[p + q + 1] != _TAB:
            second[i] = q + 2
            q += 4
        else:
            second[i] = n
            q += 2
    if q != n + 1:
        return -1
    for j in range(n):
        classes[j] = _byte_class(buf[p + j])[0]
    return n


@jit
def _layout_columns(buf, p, n, classes, first, second, n_cols, alleles, gt_flat, base):
    """Decode the ``n`` bytes at ``buf[p]`` into ``gt_flat[base:]`` when every byte
    has the class it has in the layout (from _mixed_layout) of an earlier line:
    the columns are then the layout's, each a one-character haploid or diploid
    call. False, writing nothing, when any byte differs.

    Without the chain of column offsets of _mixed_columns, both loops vectorise
    or pipeline: a cohort's chrX lines share the layout of its males and females.
    """
    text = buf[p:p + n]
    cls = classes[:n]
    values = alleles[:n + 1]
    bad = False
    for j in range(n):
        k, a = _byte_class(text[j])
        values[j] = a
        bad |= k != cls[j]
    if bad:
        return False
    values[n] = -2
    out = gt_flat[base:base + 2 * n_cols]
    for i in range(n_cols):
        out[2 * i] = values[first[i]]
        out[2 * i + 1] = values[second[i]]
    return True


@jit
def parse_samples(buf, offs, row0, n_lines, col_map, last_col, write_gt, keys, key_off,
                  key_type, key_role, gt, gq, dp, ad, ploidy, status, detail):
    """Decode the sample columns of lines already passed through scan_sites.

    Parameters
    ----------
    buf : uint8 array (n_bytes,)
    offs : int64 array (n_rows, N_OFFS)
        From scan_sites.
    row0, n_lines : int
        Rows ``row0:row0 + n_lines`` of the chunk arrays hold these lines.
    col_map : int32 array (n_header_samples,)
        Output column of each sample column of the file, -1 to skip it.
    last_col : int
        Last sample column to read (htslib stops there too).
    write_gt : bool
        Store genotypes in ``gt``; otherwise they are only checked.
    keys, key_off, key_type, key_role : uint8, int64, int8, int8 arrays
        FORMAT keys of the header: concatenated names, their offsets
        (n_keys + 1,), T_* type codes and ROLE_* decode roles.
    gt : int8 array (n_rows, n_kept, P)
        Allele indices, -1 missing, -2 padding; all -1 for a record without
        GT. Alleles beyond slot P are not stored: ``ploidy`` then tells the
        caller to decode again with a larger P.
    gq, dp : int32 arrays (n_rows, n_kept, 1), or shape (0, 0, 0) when not wanted
        First value of FORMAT/GQ and FORMAT/DP; pre-filled with -1 (missing)
        by the caller.
    ad : int32 array (n_rows, n_kept, W), or shape (0, 0, 0)
        The first W values of FORMAT/AD; pre-filled with -1 (missing).
    ploidy : int32 array (n_rows,)
        Receives the largest number of alleles in a GT of the record.
    status, detail : int32 and int64 arrays (n_rows,)
        Rows with a non-OK status are skipped; others may get a fallback or
        error code, with the sample column at fault in ``detail``.

    Notes
    -----
    The subfield parsers are written out in the loop: calling a jitted helper
    that takes arrays costs reference counting on every call, which at one
    call per sample made the whole decode four times slower.
    """
    n_cols = col_map.size
    n_kept = gt.shape[1]
    width_p = gt.shape[2]
    gt_flat = gt.reshape(gt.size)
    want_gq = gq.shape[0] > 0
    want_dp = dp.shape[0] > 0
    width_ad = ad.shape[2] if ad.shape[0] > 0 else 0
    ftype = np.zeros(MAX_FORMAT_KEYS, np.int8)
    frole = np.zeros(MAX_FORMAT_KEYS, np.int8)
    plain_gt = write_gt and width_p == 2 and last_col == n_cols - 1
    for m in range(n_cols):
        if col_map[m] != m:
            plain_gt = False
    cached_fs = -1
    cached_fe = -1
    n_fmt = 0
    gt_j = -1
    layout_ok = False
    # The layout of the last mixed line decoded (see _mixed_layout); -1: none.
    mixed_n = -1
    mixed_ploidy = 0
    n_layout = 4 * n_cols if plain_gt else 0
    classes = np.empty(n_layout, np.uint8)
    alleles = np.empty(n_layout + 1, np.int8)
    first = np.empty(n_cols if plain_gt else 0, np.int64)
    second = np.empty(n_cols if plain_gt else 0, np.int64)
    for i in range(n_lines):
        r = row0 + i
        if status[r] != OK:
            continue
        e = offs[r, O_END]
        fs = offs[r, O_FORMAT]
        fe = offs[r, O_FORMAT + 1]
        if fs < 0:
            # Eight columns: no FORMAT, so the record's calls are all missing.
            if write_gt:
                for m in range((r * n_kept) * width_p, (r + 1) * n_kept * width_p):
                    gt_flat[m] = -1
            continue
        same = cached_fs >= 0 and fe - fs == cached_fe - cached_fs
        if same:
            for m in range(fe - fs):
                if buf[fs + m] != buf[cached_fs + m]:
                    same = False
                    break
        if not same:
            n_fmt, gt_j, layout_ok = _format_layout(buf, fs, fe, keys, key_off, key_type,
                                                    key_role, ftype, frole)
            cached_fs = fs
            cached_fe = fe
        if not layout_ok:
            status[r] = FB_FORMAT
            continue
        if gt_j < 0 and write_gt:
            # No GT key: the calls are missing; the columns are still checked.
            for m in range((r * n_kept) * width_p, (r + 1) * n_kept * width_p):
                gt_flat[m] = -1
        p = offs[r, O_SAMPLES]
        if p < 0:
            status[r] = FB_NO_SAMPLES
            continue
        rec_ploidy = 0
        code = OK
        col = 0
        if plain_gt and gt_j == 0 and n_fmt == 1 and e - p == 4 * n_cols - 1 \
                and _diploid_columns(buf, p, n_cols, gt_flat, r * n_kept * 2):
            # Every column is a one-digit diploid call, 'a/b' or 'a|b'.
            status[r] = OK
            ploidy[r] = 2
            continue
        if plain_gt and gt_j == 0 and n_fmt == 1:
            # One-digit haploid and diploid calls, mixed (chrX, chrY): in the
            # layout of the last such line, or column by column.
            if e - p == mixed_n and _layout_columns(buf, p, mixed_n, classes, first, second,
                                                    n_cols, alleles, gt_flat, r * n_kept * 2):
                status[r] = OK
                ploidy[r] = mixed_ploidy
                continue
            wide = _mixed_columns(buf, p, e, n_cols, gt_flat, r * n_kept * 2)
            if wide:
                status[r] = OK
                ploidy[r] = wide
                if e - p <= n_layout:
                    mixed_n = _mixed_layout(buf, p, e, n_cols, classes, first, second)
                    mixed_ploidy = wide
                continue
            # FORMAT is just GT and every column is kept in file order: the
            # common cohort layout gets a loop with nothing else in it. It
            # stops at the first call that is not 'a/b' with one-digit
            # alleles, and the general loop below resumes there.
            while True:
                if p + 1 > e:
                    break
                c0 = buf[p]
                if not ((c0 >= 48 and c0 <= 57) or c0 == _DOT):
                    break
                c1 = buf[p + 1]
                base = (r * n_kept + col) * 2
                if c1 == _SLASH or c1 == _PIPE:
                    if p + 3 > e:
                        break
                    c2 = buf[p + 2]
                    c3 = buf[p + 3]
                    if not (((c2 >= 48 and c2 <= 57) or c2 == _DOT)
                            and (c3 == _TAB or p + 3 == e)):
                        break
                    gt_flat[base] = -1 if c0 == _DOT else c0 - 48
                    gt_flat[base + 1] = -1 if c2 == _DOT else c2 - 48
                    rec_ploidy = 2
                    p += 3
                elif c1 == _TAB or p + 1 == e:
                    # Haploid calls, such as males on chrX and chrY.
                    gt_flat[base] = -1 if c0 == _DOT else c0 - 48
                    gt_flat[base + 1] = -2
                    if rec_ploidy == 0:
                        rec_ploidy = 1
                    p += 1
                else:
                    break
                col += 1
                if col == n_cols:
                    break
                if p == e:
                    code = ERR_SAMPLES
                    detail[r] = col
                    break
                p += 1
            if col == n_cols or code != OK:
                status[r] = code
                ploidy[r] = rec_ploidy
                continue
        while True:
            if p >= e:
                # Out of columns; an empty last column does not count either
                # (htslib stops at the end of the line before looking at it).
                code = ERR_SAMPLES
                detail[r] = col
                break
            k = col_map[col]
            if k < 0:
                while p < e and buf[p] != _TAB:
                    p += 1
            else:
                base = (r * n_kept + k) * width_p
                j = 0
                while True:
                    if j >= n_fmt:
                        code = ERR_SUBFIELDS
                        break
                    if j == gt_j:
                        # GT: alleles joined by '/' or '|'. Most calls are two
                        # one-digit alleles followed by a tab or ':'.
                        c1 = buf[p + 1] if p + 1 <= e else 0
                        if (p + 3 <= e and width_p >= 2 and (c1 == _SLASH or c1 == _PIPE)
                                and (buf[p + 3] == _TAB or buf[p + 3] == _COLON or p + 3 == e)
                                and ((buf[p] >= 48 and buf[p] <= 57) or buf[p] == _DOT)
                                and ((buf[p + 2] >= 48 and buf[p + 2] <= 57)
                                     or buf[p + 2] == _DOT)):
                            if write_gt:
                                c0 = buf[p]
                                c2 = buf[p + 2]
                                gt_flat[base] = -1 if c0 == _DOT else c0 - 48
                                gt_flat[base + 1] = -1 if c2 == _DOT else c2 - 48
                                for m in range(2, width_p):
                                    gt_flat[base + m] = -2
                            p += 3
                            if rec_ploidy < 2:
                                rec_ploidy = 2
                        else:
                            c = buf[p]
                            if c == _SLASH or c == _PIPE:
                                code = FB_GT  # VCF 4.4 phase prefix: htslib's call
                                break
                            n_al = 0
                            while True:
                                c = buf[p]
                                if c >= 48 and c <= 57:
                                    a = c - 48
                                    p += 1
                                    c = buf[p]
                                    while c >= 48 and c <= 57:
                                        if a <= MAX_ALLELE:
                                            a = a * 10 + (c - 48)
                                        p += 1
                                        c = buf[p]
                                    if a > MAX_ALLELE:
                                        code = FB_GT  # int16 territory: htslib's call
                                elif c == _DOT:
                                    a = -1
                                    p += 1
                                    c = buf[p]
                                elif c == _PLUS:
                                    code = FB_GT  # htslib reads '+1' as 1
                                    break
                                else:
                                    code = ERR_GT
                                    break
                                if write_gt and n_al < width_p:
                                    gt_flat[base + n_al] = a
                                n_al += 1
                                if c == _SLASH or c == _PIPE:
                                    p += 1
                                    continue
                                break
                            if code != OK:
                                break
                            if n_al > MAX_PLOIDY:
                                code = FB_PLOIDY
                                break
                            if write_gt:
                                for m in range(n_al, width_p):
                                    gt_flat[base + m] = -2
                            if n_al > rec_ploidy:
                                rec_ploidy = n_al
                    elif ftype[j] == T_INTEGER:
                        # Integers or '.' joined by ','; an empty value is
                        # missing. htslib rejects anything else up to ':'.
                        # No 'p < e' tests: buf[e] is '\n' or '\r', which
                        # matches none of the characters looked for.
                        role = frole[j]
                        if role == ROLE_AD:
                            width = width_ad
                        elif (role == ROLE_GQ and want_gq) or (role == ROLE_DP and want_dp):
                            width = 1
                        else:
                            width = 0
                        if width == 0:
                            # Only checked: a run of digits and commas is always
                            # valid, so skip it in a tight loop; anything else
                            # ('.', a sign) goes through the full parse below.
                            q = p
                            c = buf[p]
                            while (c >= 48 and c <= 57) or c == _COMMA:
                                p += 1
                                c = buf[p]
                            if c == _COLON or c == _TAB or p == e:
                                m = -1
                            else:
                                p = q
                                m = 0
                        else:
                            m = 0
                        while m >= 0:
                            c = buf[p]
                            if c >= 48 and c <= 57:
                                v = c - 48
                                p += 1
                                c = buf[p]
                                while c >= 48 and c <= 57:
                                    if v < 1_000_000_000_000:  # saturates: missing anyway
                                        v = v * 10 + (c - 48)
                                    p += 1
                                    c = buf[p]
                                # htslib stores values outside int32 as missing.
                                value = v if v <= _MAX_INT32 else INT32_MISSING
                            elif c == _DOT:
                                value = INT32_MISSING
                                p += 1
                                c = buf[p]
                            elif c == _MINUS:
                                p += 1
                                c = buf[p]
                                if not (c >= 48 and c <= 57):
                                    code = FB_FIELD  # a lone '-': htslib reads 0
                                    break
                                v = 0
                                while c >= 48 and c <= 57:
                                    if v < 1_000_000_000_000:
                                        v = v * 10 + (c - 48)
                                    p += 1
                                    c = buf[p]
                                value = -v if v <= -_MIN_INT32 else INT32_MISSING
                            elif c == _PLUS:
                                code = FB_FIELD  # htslib reads '+1' as 1
                                break
                            else:
                                value = INT32_MISSING  # empty
                            if m < width:
                                if role == ROLE_AD:
                                    ad[r, k, m] = value
                                elif role == ROLE_GQ:
                                    gq[r, k, 0] = value
                                else:
                                    dp[r, k, 0] = value
                            m += 1
                            if c == _COMMA:
                                p += 1
                                continue
                            break
                        if code != OK:
                            break
                    elif ftype[j] == T_FLOAT:
                        # Accept the plain decimal forms every C library reads
                        # alike; leave the rest (nan, hex, ...) to htslib.
                        while True:
                            c = buf[p]
                            if c == _DOT and not (buf[p + 1] >= 48 and buf[p + 1] <= 57):
                                p += 1  # missing; buf[p + 1] is at most buf[e]
                            else:
                                if c == _MINUS:
                                    p += 1
                                digits = 0
                                while buf[p] >= 48 and buf[p] <= 57:
                                    p += 1
                                    digits += 1
                                if buf[p] == _DOT:
                                    p += 1
                                    while buf[p] >= 48 and buf[p] <= 57:
                                        p += 1
                                        digits += 1
                                if digits == 0:
                                    if c == _MINUS or c == _DOT:
                                        code = FB_FIELD
                                        break
                                elif buf[p] == 101 or buf[p] == 69:
                                    p += 1
                                    if buf[p] == _PLUS or buf[p] == _MINUS:
                                        p += 1
                                    exp = 0
                                    while buf[p] >= 48 and buf[p] <= 57:
                                        p += 1
                                        exp += 1
                                    if exp == 0:
                                        code = FB_FIELD
                                        break
                            if buf[p] == _COMMA:
                                p += 1
                                continue
                            break
                        if code != OK:
                            break
                        c = buf[p]
                        if not (p == e or c == _COLON or c == _TAB):
                            code = FB_FIELD
                            break
                    else:
                        # String: htslib copies any byte; control bytes are odd
                        # enough to leave to it.
                        while True:
                            c = buf[p]
                            if c == _COLON or c == _TAB:
                                break
                            if c < 32:
                                if p == e:
                                    break
                                code = FB_FIELD
                            p += 1
                        if code != OK:
                            break
                    c = buf[p]
                    if c == _COLON and p < e:
                        p += 1
                        j += 1
                        continue
                    if c == _TAB or p == e:
                        break
                    # After GT or an Integer, htslib wants ':' or the column end.
                    code = ERR_GT if j == gt_j else ERR_INTEGER
                    break
                if code == OK and j < gt_j and write_gt:
                    # Trailing subfields dropped, GT among them: htslib stores a
                    # missing haploid call.
                    gt_flat[base] = -1
                    for m in range(1, width_p):
                        gt_flat[base + m] = -2
                if code != OK:
                    detail[r] = col
                    break
            col += 1
            if col > last_col or col >= n_cols:
                break
            if p >= e:
                code = ERR_SAMPLES
                detail[r] = col
                break
            p += 1
        if code == OK and rec_ploidy == 0 and gt_j >= 0 and write_gt:
            # FORMAT names GT but no column has it, against the VCF spec:
            # htslib stores a GT of width zero, which cyvcf2 cannot read
            # (htslib calls exit()).
            code = ERR_NO_GT
        status[r] = code
        ploidy[r] = rec_ploidy


@jit
def gather_text(buf, offs, row0, n_lines):
    """CHROM, ID, REF and ALT of each line, each followed by a tab.

    Parameters
    ----------
    buf : uint8 array (n_bytes,)
    offs : int64 array (n_rows, N_OFFS)
        From scan_sites.
    row0, n_lines : int
        Rows to gather.

    Returns
    -------
    uint8 array
        ``CHROM\\tID\\tREF\\tALT\\t`` for every line, in order.
    """
    total = 0
    for i in range(n_lines):
        r = row0 + i
        for f in range(4):
            total += offs[r, 2 * f + 1] - offs[r, 2 * f] + 1
    out = np.empty(total, np.uint8)
    o = 0
    for i in range(n_lines):
        r = row0 + i
        for f in range(4):
            s = offs[r, 2 * f]
            e = offs[r, 2 * f + 1]
            for p in range(s, e):
                out[o] = buf[p]
                o += 1
            out[o] = _TAB
            o += 1
    return out
