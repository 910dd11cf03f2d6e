"""Decode BCF2.2 records straight from decompressed bytes.

A BCF record (hts-specs VCFv4.3, section 6.3) is ``l_shared`` and ``l_indiv``
(uint32), then the shared part: CHROM (contig number), POS (0-based), rlen,
QUAL, n_info and n_allele (uint16 each), n_sample (24 bits) and n_fmt (8
bits), then ID, the alleles, FILTER and the INFO pairs as typed values; then
the individual part: per FORMAT key, its number (a typed integer), a type
descriptor and n_sample vectors of that type, each of the same length.

A typed value starts with a byte whose low 4 bits are the type (0 null, 1
int8, 2 int16, 3 int32, 5 float, 7 char) and high 4 bits the count; count 15
means the count follows as a typed integer. Integer vectors reserve their two
smallest values: missing and vector end (padding of shorter vectors). GT is
stored as ``(allele + 1) << 1 | phased``, 0 for a missing allele.

The kernels fill the arrays of a genotype chunk with the values htslib (through
cyvcf2) gives. As with the VCF text kernels, every record gets a status: OK;
a fallback code (``1 <= status < FIRST_ERROR``) for records outside the decoded
subset, which the caller decodes with htslib; or an error code (``>=
FIRST_ERROR``) for records htslib rejects (the checks of ``bcf_record_check``)
or would crash on, with ``detail`` giving the sample at fault or -1.
"""

from __future__ import annotations

import numpy as np

from genomekit.kernels._jit import jit

OK = 0
# Fallback: possibly valid, outside the decoded subset.
FB_STRING = 1  # ID or allele bytes other than printable ASCII, or a ',' in an allele
FB_MANY_ALLELES = 2
FB_GT_TYPE = 3  # GT stored as float, or declared with a type htslib rejects for GT
FB_GT_VALUE = 4  # an allele index past 127, or a negative value that is not a sentinel
FB_PLOIDY = 5
FB_FIELD_TYPE = 6  # an Integer FORMAT field stored as float
FB_FIELD_HEADER = 7  # a requested FORMAT field whose header type cyvcf2 refuses
# Errors.
FIRST_ERROR = 100
ERR_SHARED = 100  # shared part malformed or too short
ERR_INDIV = 101  # individual part malformed or too short
ERR_CONTIG = 102
ERR_TYPE = 103  # a value of a type that part cannot have
ERR_NO_REF = 104
ERR_UNDEFINED = 105  # a FILTER, INFO or FORMAT number not in the header
ERR_N_SAMPLE = 106  # n_sample differs from the header's sample count
ERR_GT_EMPTY = 107  # GT vectors of length 0 (cyvcf2 reads past its buffer)
ERR_VALUE_TYPE = 108  # a FORMAT field read as numbers stored as char or null (htslib exits)
ERR_LENGTH = 109  # l_shared below 24: not a record

BT_NULL, BT_INT8, BT_INT16, BT_INT32, BT_FLOAT, BT_CHAR = 0, 1, 2, 3, 5, 7
TYPE_SHIFT = np.array([0, 0, 1, 2, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], np.int64)

# FORMAT keys the decoder reads, as rows of the ``fmt`` layout array.
ROLE_GT, ROLE_GQ, ROLE_DP, ROLE_AD = 0, 1, 2, 3
N_ROLES = 4
# How a role is read, from the header (``modes`` array).
MODE_SKIP = 0  # not read (not asked for, not declared, or a type cyvcf2 skips)
MODE_READ = 1  # read as integers (GT: as genotypes)
MODE_GUARD = 2  # not read, but htslib converts it to numbers (exits on char or null)
MODE_FALLBACK = 3  # present: leave the record to htslib

MAX_ALLELE = 127
MAX_PLOIDY = 64

_INT8_MISSING, _INT8_END = -128, -127
_INT16_MISSING, _INT16_END = -32768, -32767
_INT32_MISSING, _INT32_END = -2147483648, -2147483647

@jit
def _u32(buf, p):
    return (np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) | (np.int64(buf[p + 2]) << 16)
            | (np.int64(buf[p + 3]) << 24))


@jit
def _i32(buf, p):
    v = _u32(buf, p)
    return v - 4294967296 if v >= 2147483648 else v


@jit
def _i16(buf, p):
    v = np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8)
    return v - 65536 if v >= 32768 else v


@jit
def _i8(buf, p):
    v = np.int64(buf[p])
    return v - 256 if v >= 128 else v


@jit
def _int_at(buf, p, t):
    # One integer of type t at buf[p].
    if t == BT_INT8:
        return _i8(buf, p)
    if t == BT_INT16:
        return _i16(buf, p)
    return _i32(buf, p)


@jit
def _typed_int1(buf, p, end):
    # htslib's bcf_dec_typed_int1_safe: (value, next position, ok).
    if end - p < 2:
        return 0, p, False
    t = buf[p] & 15
    p += 1
    if t == BT_INT8:
        return _i8(buf, p), p + 1, True
    if t == BT_INT16:
        if end - p < 2:
            return 0, p, False
        return _i16(buf, p), p + 2, True
    if t == BT_INT32:
        if end - p < 4:
            return 0, p, False
        return _i32(buf, p), p + 4, True
    return 0, p, False


@jit
def _size(buf, p, end):
    # htslib's bcf_dec_size_safe: (count, type, next position, ok).
    if p >= end:
        return 0, 0, p, False
    t = np.int64(buf[p] & 15)
    c = np.int64(buf[p] >> 4)
    if c != 15:
        return c, t, p + 1, True
    n, q, ok = _typed_int1(buf, p + 1, end)
    if not ok or n < 0:
        return 0, t, q, False
    return n, t, q, True


@jit
def record_starts(buf, start, stop, out):
    """Find where the complete records of ``buf[start:stop]`` begin.

    Parameters
    ----------
    buf : uint8 array (n_bytes,)
    start, stop : int
        ``start`` is the first byte of a record.
    out : int64 array (>= (stop - start) // 32 + 2,)
        Receives ``start`` followed by the byte after each complete record.

    Returns
    -------
    n : int
        Complete records found; record ``i`` spans ``out[i]:out[i + 1]``.
    rest : int
        Where the bytes not yet forming a complete record begin.
    need : int
        Length of the record that begins at ``rest`` (0 if fewer than 8 of
        its bytes are there, -1 if its l_shared is below 24: not a record).
    """
    out[0] = start
    n = 0
    p = start
    while True:
        if stop - p < 8:
            return n, p, 0
        l_shared = _u32(buf, p)
        if l_shared < 24:
            return n, p, -1
        length = 8 + l_shared + _u32(buf, p + 4)
        if stop - p < length:
            return n, p, length
        p += length
        n += 1
        out[n] = p


@jit
def scan_records(buf, starts, row0, ctg_ok, id_ok, role_id, modes, n_hdr_samples,
                 rid, pos, beg, rlen, n_alleles, id_off, fmt, status, detail):
    """Check each record as htslib does and locate its parts.

    Parameters
    ----------
    buf : uint8 array (n_bytes,)
    starts : int64 array (n_records + 1,)
        Record boundaries from ``record_starts``.
    row0 : int
        Row of the chunk arrays that receives the first record.
    ctg_ok, id_ok : uint8 arrays (n_contig_ids,), (n_string_ids,)
        1 for numbers the header dictionaries define.
    role_id : int64 array (N_ROLES,)
        Header number of GT, GQ, DP and AD (-1 when not declared).
    modes : int64 array (N_ROLES,)
        MODE_* for each role.
    n_hdr_samples : int
        Samples of the header.
    rid : int32 array (n_rows,)
    pos : int64 array (n_rows,)
        POS as cyvcf2 gives it: 1-based, wrapped to int32.
    beg : int64 array (n_rows,)
        0-based position (-1 for the telomere position 0).
    rlen : int64 array (n_rows,)
        Reference length, replaced by the REF length when negative.
    n_alleles : int32 array (n_rows,)
    id_off : int64 array (n_rows,)
        Position of the ID's type byte; the alleles follow it.
    fmt : int64 array (n_rows, N_ROLES, 3)
        Type, count and first data byte of GT, GQ, DP and AD; type -1 when
        the record lacks the key.
    status, detail : int32, int64 arrays (n_rows,)
        ``detail`` holds the role (ROLE_*) for ERR_VALUE_TYPE, else -1.
    """
    n = starts.size - 1
    n_ctg = ctg_ok.size
    max_id = id_ok.size
    for i in range(n):
        r = row0 + i
        s = starts[i]
        detail[r] = -1
        for k in range(N_ROLES):
            fmt[r, k, 0] = -1
            fmt[r, k, 1] = 0
            fmt[r, k, 2] = 0
        l_shared = _u32(buf, s)
        l_indiv = _u32(buf, s + 4)
        rid[r] = _i32(buf, s + 8)
        p0 = _u32(buf, s + 12)
        beg[r] = -1 if p0 == 4294967295 else p0
        # cyvcf2 stores POS (pos + 1) in a C int.
        one = (beg[r] + 1 + 2147483648) % 4294967296 - 2147483648
        pos[r] = one
        rlen[r] = _i32(buf, s + 16)
        n_info = np.int64(buf[s + 24]) | (np.int64(buf[s + 25]) << 8)
        n_allele = np.int64(buf[s + 26]) | (np.int64(buf[s + 27]) << 8)
        n_sample = np.int64(buf[s + 28]) | (np.int64(buf[s + 29]) << 8) | (
            np.int64(buf[s + 30]) << 16)
        n_fmt = np.int64(buf[s + 31])
        n_alleles[r] = n_allele
        if l_indiv == 0 or n_sample == 0:
            n_fmt = 0  # htslib's silent fix of old bcf_subset output
        code = OK
        p = s + 32
        end = s + 8 + l_shared
        id_off[r] = p
        if rid[r] < 0 or rid[r] >= n_ctg or ctg_ok[rid[r]] == 0:
            code = ERR_CONTIG

        # ID
        c, t, p, ok = _size(buf, p, end)
        if not ok:
            status[r] = ERR_SHARED
            continue
        if t != BT_CHAR and code == OK:
            code = ERR_TYPE
        size = c << TYPE_SHIFT[t]
        if end - p < size:
            status[r] = ERR_SHARED
            continue
        if t == BT_CHAR and code == OK and not _plain(buf, p, size, True):
            code = FB_STRING
        p += size

        # REF and ALT
        if n_allele < 1 and code == OK:
            code = ERR_NO_REF
        ref_len = 0
        bad = False
        for a in range(n_allele):
            c, t, p, ok = _size(buf, p, end)
            if not ok:
                bad = True
                break
            if t != BT_CHAR and code == OK:
                code = ERR_TYPE
            if a == 0:
                ref_len = c
            size = c << TYPE_SHIFT[t]
            if end - p < size:
                bad = True
                break
            if t == BT_CHAR and code == OK and not _plain(buf, p, size, False):
                code = FB_STRING
            p += size
        if bad:
            status[r] = ERR_SHARED
            continue

        # FILTER
        c, t, p, ok = _size(buf, p, end)
        if not ok:
            status[r] = ERR_SHARED
            continue
        if c > 0:
            size = c << TYPE_SHIFT[t]
            if t != BT_INT8 and t != BT_INT16 and t != BT_INT32:
                if code == OK:
                    code = ERR_TYPE
                if end - p < size:
                    status[r] = ERR_SHARED
                    continue
                p += size
            else:
                if end - p < size:
                    status[r] = ERR_SHARED
                    continue
                for _f in range(c):
                    key = _int_at(buf, p, t)
                    p += 1 << TYPE_SHIFT[t]
                    if (key < 0 or key >= max_id or id_ok[key] == 0) and code == OK:
                        code = ERR_UNDEFINED

        # INFO
        for _f in range(n_info):
            key, p, ok = _typed_int1(buf, p, end)
            if not ok:
                bad = True
                break
            if (key < 0 or key >= max_id or id_ok[key] == 0) and code == OK:
                code = ERR_UNDEFINED
            c, t, p, ok = _size(buf, p, end)
            if not ok:
                bad = True
                break
            if not _valid_type(t) or (t == BT_NULL and c > 0):
                if code == OK:
                    code = ERR_TYPE
            size = c << TYPE_SHIFT[t]
            if end - p < size:
                bad = True
                break
            p += size
        if bad:
            status[r] = ERR_SHARED
            continue

        # FORMAT
        p = end
        end = end + l_indiv
        for _f in range(n_fmt):
            key, p, ok = _typed_int1(buf, p, end)
            if not ok:
                bad = True
                break
            if (key < 0 or key >= max_id or id_ok[key] == 0) and code == OK:
                code = ERR_UNDEFINED
            c, t, p, ok = _size(buf, p, end)
            if not ok:
                bad = True
                break
            if not _valid_type(t) or (t == BT_NULL and c > 0):
                if code == OK:
                    code = ERR_TYPE
            size = (c << TYPE_SHIFT[t]) * n_sample
            if end - p < size:
                bad = True
                break
            for k in range(N_ROLES):
                if key == role_id[k] and fmt[r, k, 0] < 0:
                    fmt[r, k, 0] = t
                    fmt[r, k, 1] = c
                    fmt[r, k, 2] = p
            p += size
        if bad:
            status[r] = ERR_INDIV
            continue
        if code == OK and rlen[r] < 0:
            rlen[r] = ref_len
        if code >= FIRST_ERROR:
            status[r] = code
            continue

        # What cyvcf2 would do with the keys it reads.
        if n_fmt > 0 and n_sample != n_hdr_samples and n_hdr_samples > 0:
            status[r] = ERR_N_SAMPLE
            continue
        for k in range(N_ROLES):
            t = fmt[r, k, 0]
            if t < 0 or modes[k] == MODE_SKIP:
                continue
            if modes[k] == MODE_FALLBACK:
                # cyvcf2 refuses the key before looking at its values.
                if code == OK:
                    code = FB_GT_TYPE if k == ROLE_GT else FB_FIELD_HEADER
                continue
            if t == BT_CHAR or t == BT_NULL:
                code = ERR_VALUE_TYPE
                detail[r] = k
                break
            if modes[k] == MODE_READ:
                if k == ROLE_GT:
                    if fmt[r, k, 1] == 0:
                        code = ERR_GT_EMPTY
                        break
                    if code == OK:
                        if t == BT_FLOAT:
                            code = FB_GT_TYPE
                        elif fmt[r, k, 1] > MAX_PLOIDY:
                            code = FB_PLOIDY
                elif t == BT_FLOAT and code == OK:
                    code = FB_FIELD_TYPE
        if code == OK and n_allele > MAX_ALLELE:
            code = FB_MANY_ALLELES
        status[r] = code


@jit
def _valid_type(t):
    return t == BT_NULL or t == BT_INT8 or t == BT_INT16 or t == BT_INT32 or t == BT_FLOAT \
        or t == BT_CHAR


@jit
def _plain(buf, p, size, comma_ok):
    # Bytes the text gathering passes through unchanged: printable ASCII,
    # no ',' inside an allele (alleles are joined with it), no NUL padding.
    for q in range(p, p + size):
        c = buf[q]
        if c < 33 or c > 126 or (c == 44 and not comma_ok):
            return False
    return True


@jit
def gather_text(buf, id_off, n_alleles, row0, n_rows):
    """ID, REF and the ALT alleles of each record, as text.

    Parameters
    ----------
    buf : uint8 array (n_bytes,)
    id_off, n_alleles : int64 and int32 arrays (n_rows_total,)
        From scan_records, for records with status OK.
    row0, n_rows : int
        Rows to gather.

    Returns
    -------
    uint8 array
        ``ID\\tREF\\tALT,ALT,...\\t`` for every record (an empty ALT when the
        record has only REF); a string of length 0 reads '.', as in htslib.
    """
    total = 0
    for r in range(row0, row0 + n_rows):
        p = id_off[r]
        for _a in range(n_alleles[r] + 1):
            c, t, p, ok = _size(buf, p, buf.size)
            total += max(c, 1) + 1
            p += c
        total += 1
    out = np.empty(total, np.uint8)
    o = 0
    for r in range(row0, row0 + n_rows):
        p = id_off[r]
        na = n_alleles[r]
        # Items: ID (a = 0), REF (a = 1), then the ALT alleles.
        for a in range(na + 1):
            c, t, p, ok = _size(buf, p, buf.size)
            if c == 0:
                out[o] = 46  # '.'
                o += 1
            else:
                for q in range(c):
                    out[o] = buf[p + q]
                    o += 1
            p += c
            out[o] = 44 if 2 <= a < na else 9  # ',' between ALT alleles, else a tab
            o += 1
        if na == 1:
            out[o] = 9  # an empty ALT column
            o += 1
    return out[:o]


@jit
def _gt_value(v, t):
    # cyvcf2's allele for a stored GT value: -1 missing, -2 vector end, -100
    # for values outside the decoded subset.
    if t == BT_INT8:
        if v == _INT8_MISSING:
            return -1
        if v == _INT8_END:
            return -2
    elif t == BT_INT16:
        if v == _INT16_MISSING:
            return -1
        if v == _INT16_END:
            return -2
    else:
        if v == _INT32_MISSING:
            return -1
        if v == _INT32_END:
            return -2
    if v < 0 or v > 2 * (MAX_ALLELE + 1) + 1:
        return -100
    return (v >> 1) - 1


@jit
def _int_end(v, t):
    # Whether v is the vector end of its integer type.
    if t == BT_INT8:
        return v == _INT8_END
    if t == BT_INT16:
        return v == _INT16_END
    return v == _INT32_END


@jit
def _int_value(v, t):
    # An integer as cyvcf2 gives it in genomekit's chunks: -1 for missing.
    if t == BT_INT8:
        return -1 if v == _INT8_MISSING else v
    if t == BT_INT16:
        return -1 if v == _INT16_MISSING else v
    return -1 if v == _INT32_MISSING else v


@jit
def _diploid_int8(buf, p, out):
    # Alleles of out.size // 2 diploid int8 GT vectors at buf[p:]; False if a
    # value is outside the subset. Plain arithmetic over slices (indices the
    # compiler knows are not negative), which it vectorises: (v >> 1) - 1 for
    # 0 <= v <= 127, -1 for the missing value, -2 for the vector end. A vector
    # end in the first slot (a haploid call) ends the vector: the second slot
    # is then padding too, whatever it holds.
    n = out.size
    src = buf[p:p + n]
    bad = 0
    ends = 0
    for q in range(n):
        v = np.int8(src[q])
        a = (v >> 1) - 1
        a = -1 if v == _INT8_MISSING else a
        a = -2 if v == _INT8_END else a
        out[q] = a
        bad |= (v < 0) & (v != _INT8_MISSING) & (v != _INT8_END)
        ends += v == _INT8_END  # a sum, not a bitwise or: that one stops vectorisation
    if ends > 0:
        for q in range(n // 2):
            if out[2 * q] == -2:
                out[2 * q + 1] = -2
    return bad == 0


@jit
def decode_samples(buf, row0, n_rows, fmt, modes, col_map, gt, gq, dp, ad, status, detail):
    """Fill the genotype and FORMAT arrays of records scanned by scan_records.

    Parameters
    ----------
    buf : uint8 array (n_bytes,)
    row0, n_rows : int
        Rows ``row0:row0 + n_rows`` are the records of this buffer.
    fmt : int64 array (n_rows_total, N_ROLES, 3)
        From scan_records.
    modes : int64 array (N_ROLES,)
        As for scan_records; GQ, DP and AD are filled only in MODE_READ.
    col_map : int32 array (n_header_samples,)
        Output column of each sample of the file, -1 to skip it.
    gt : int8 array (n_rows_total, n_kept, P), or shape (0, 0, 1) when not wanted
        Allele indices, -1 missing, -2 padding: slots past a record's GT
        length, and from a vector end on.
    gq, dp : int32 arrays (n_rows_total, n_kept, 1), or shape (0, 0, 0)
        First value; pre-filled with -1 (missing).
    ad : int32 array (n_rows_total, n_kept, W), or shape (0, 0, 0)
        First W values; pre-filled with -1.
    status, detail : int32, int64 arrays (n_rows_total,)
        Records with a non-OK status are skipped; a GT value outside the
        subset sets FB_GT_VALUE and the sample in ``detail``.
    """
    n_cols = col_map.size
    want_gt = gt.shape[0] > 0
    width = gt.shape[2]
    identity = True
    for m in range(n_cols):
        if col_map[m] != m:
            identity = False
    for r in range(row0, row0 + n_rows):
        if status[r] != OK:
            continue
        if want_gt:
            t = fmt[r, ROLE_GT, 0]
            if t < 0:
                for k in range(gt.shape[1]):
                    for j in range(width):
                        gt[r, k, j] = -1
            else:
                m = fmt[r, ROLE_GT, 1]
                p = fmt[r, ROLE_GT, 2]
                step = m << TYPE_SHIFT[t]
                code = OK
                done = False
                if t == BT_INT8 and m == 2 and width == 2 and identity:
                    # The cohort layout: diploid int8 calls, every sample kept.
                    # Values outside the subset go through the general loop.
                    done = _diploid_int8(buf, p, gt[r].reshape(2 * n_cols))
                if not done:
                    size = 1 << TYPE_SHIFT[t]
                    for s in range(n_cols):
                        k = col_map[s]
                        if k < 0:
                            continue
                        q = p + s * step
                        ended = False
                        for j in range(width):
                            if j >= m or ended:
                                gt[r, k, j] = -2
                                continue
                            a = _gt_value(_int_at(buf, q + j * size, t), t)
                            if a == -100:
                                code = FB_GT_VALUE
                                break
                            if a == -2:
                                ended = True
                            gt[r, k, j] = a
                        if code != OK:
                            detail[r] = s
                            break
                if code != OK:
                    status[r] = code
                    continue
        for role in (ROLE_GQ, ROLE_DP, ROLE_AD):
            if role == ROLE_GQ:
                out = gq
            elif role == ROLE_DP:
                out = dp
            else:
                out = ad
            if out.shape[0] == 0 or modes[role] != MODE_READ:
                continue
            t = fmt[r, role, 0]
            if t < 0 or t == BT_FLOAT:
                continue
            m = fmt[r, role, 1]
            p = fmt[r, role, 2]
            size = 1 << TYPE_SHIFT[t]
            step = m * size
            w = min(out.shape[2], m)
            for s in range(n_cols):
                k = col_map[s]
                if k < 0:
                    continue
                q = p + s * step
                for j in range(w):
                    v = _int_at(buf, q + j * size, t)
                    if _int_end(v, t):
                        break  # the rest of the vector stays missing
                    out[r, k, j] = _int_value(v, t)


@jit
def region_codes(buf, starts, tid, beg_q, end_q, first, last, codes):
    """Which records htslib's region iterator returns and genomekit keeps.

    htslib (``hts_itr_next`` with ``bcf_readrec``) stops at the first record
    on another contig or starting at or after ``end_q``, and returns those
    overlapping [beg_q, end_q) (end = POS + rlen); genomekit then keeps those
    whose POS lies in [first, last].

    Parameters
    ----------
    buf : uint8 array
    starts : int64 array (n_records + 1,)
    tid, beg_q, end_q : int
        Contig number and 0-based half-open range of the query.
    first, last : int
        1-based inclusive POS bounds.
    codes : int8 array (n_records,)
        Receives 1 keep, 0 skip, 2 stop (and every later record stops too).

    Returns
    -------
    int
        The number of records before the first stop.
    """
    n = starts.size - 1
    for i in range(n):
        s = starts[i]
        r = _i32(buf, s + 8)
        p0 = _u32(buf, s + 12)
        b = -1 if p0 == 4294967295 else p0
        length = _i32(buf, s + 16)
        if length < 0:
            # htslib uses the REF length instead.
            end = s + 8 + _u32(buf, s)
            c, t, p, ok = _size(buf, s + 32, end)
            p += c << TYPE_SHIFT[t]
            c, t, p, ok = _size(buf, p, end)
            n_allele = np.int64(buf[s + 26]) | (np.int64(buf[s + 27]) << 8)
            length = c if ok and n_allele > 0 else 0
        e = b + length
        if r != tid or b >= end_q:
            for j in range(i, n):
                codes[j] = 2
            return i
        one = (b + 1 + 2147483648) % 4294967296 - 2147483648
        if e > beg_q and end_q > b and one >= first and one <= last:
            codes[i] = 1
        else:
            codes[i] = 0
    return n
