"""Per-base depth of coverage and flag counts from decoded BAM records
(kernels.bamparse), with the counting rules of mosdepth 0.3 and samtools flagstat.

Depth (mosdepth's default mode):

* A record counts when its refID is set, MAPQ >= min_mapq, no bit of exclude_flag is
  set in its flag (mosdepth's default, 1796, leaves out unmapped, secondary, QC-failed
  and duplicate records; supplementary records count) and, when include_flag is not
  0, some bit of include_flag is set.
* It covers the reference bases of its M, = and X operations; deletions (D) and
  skips (N) leave gaps.
* Overlapping mates count once, as mosdepth corrects them: a properly paired
  (0x2), non-supplementary record on its mate's contig that ends after its mate's
  start, and starts before it (or at the same position, its mate not yet seen), is
  remembered by read name; when its mate comes, one is subtracted where both cover
  a base. When both records have a single CIGAR operation, mosdepth subtracts over
  [later record's start, earlier record's end) instead, also where only the earlier
  one covers; this is reproduced.
* fast mode (mosdepth -x): a record covers [pos, bam_endpos), deletions and skips
  included, and mates are not corrected.

Depth is accumulated as +1/-1 events in a ring buffer (a power-of-two number of
int32 slots) that holds the positions from the first one not yet final to the end of
the current record's events: records come sorted, so positions before a record's
start are final. Final positions are folded into a depth histogram (capped as
mosdepth caps it), the depth sum, and the per-region sums and histograms; memory
does not grow with the contig length.

The caller drives ``accumulate`` with the records of each buffer and reacts to its
status (a new contig, a ring or mate table too small), calling ``finish_contig``
when a contig's records end.
"""

from __future__ import annotations

import numpy as np

from genomekit.kernels._jit import jit
from genomekit.kernels.bamparse import CONSUMES_QUERY, CONSUMES_REF, MORE, OK, decode, u32

# Flag bits.
PAIRED, PROPER, UNMAP, MUNMAP = 0x1, 0x2, 0x4, 0x8
READ1, READ2, SECONDARY, QCFAIL, DUP, SUPPLEMENTARY = 0x40, 0x80, 0x100, 0x200, 0x400, 0x800

# Depth histogram: mosdepth counts a depth above 400000 as 399990.
HIST_MAX = 400_000
HIST_CLAMP = 399_990
HIST_SIZE = HIST_MAX + 1

# Scalars of the state array ``st``.
S_TID = 0        # contig being accumulated; -1 before the first and for unplaced records
S_WS = 1         # first position of the contig not yet final
S_DEPTH = 2      # depth at S_WS - 1
S_LENGTH = 3     # length of the contig
S_PREV_TID = 4   # sort key of the last record: refID (unplaced: after every contig) ...
S_PREV_POS = 5   # ... and position
S_SUM = 6        # sum of the depth over the final positions below S_LENGTH
S_MAXD = 7       # largest histogram bin used on the contig
S_RMAXD = 8      # largest region histogram bin used on the contig
S_REG_I = 9      # regions before this index end before S_WS
S_FOUND = 10     # 1 when the contig has a record (of any kind)
S_MAXEV = 11     # largest position given an event on the contig
S_SKIPPED = 12   # events before S_WS (only from mate fields that contradict the records)
M_ENTRIES = 13   # mate table: entries used
M_LIVE = 14      # entries reachable from the hash table
M_USED = 15      # hash slots in use (live or deleted)
M_NAMES = 16     # name pool bytes used
M_CIGARS = 17    # CIGAR pool operations used
S_ERROR = 18     # decode status of a damaged record (ERR_RECORD)
S_NEED_NAME = 19   # GROW_MATES: name bytes and CIGAR operations of the record to store
S_NEED_CIGAR = 20
S_SPAN_BAD = 21  # a record before the stop's look-back reaches past the stop
N_STATE = 22
UNPLACED = 1 << 40  # sort key of records without a refID
NO_STOP = UNPLACED + 1  # a stop key after every record

# Options ``opt``.
O_MIN_MAPQ, O_EXCLUDE, O_INCLUDE, O_FAST = range(4)
N_OPT = 4

# Limits ``lim`` of a shard of the file, as (sort key, position) pairs (the sort key is
# the refID, UNPLACED for records without one): records before LOOK are ignored; records
# from LOOK to START only add their depth beyond START (they are counted by the shard
# before); the shard's own records run from START to STOP, where it stops. On the STOP
# contig, a record that starts before CHECK (STOP minus the look-back) and reaches past
# STOP sets S_SPAN_BAD: the next shard's look-back missed it.
L_LOOK_KEY, L_LOOK_POS, L_START_KEY, L_START_POS, L_STOP_KEY, L_STOP_POS, L_CHECK_POS = \
    range(7)
N_LIM = 7

# Status of accumulate: DONE, or the record index it stopped at and why.
DONE = 0
NEW_CONTIG = 1    # the record starts another contig (or the unplaced records)
GROW_RING = 2     # the record's events reach past the ring
GROW_MATES = 3    # the mate table or its pools are full
ERR_UNSORTED = 4  # the record comes before the previous one
ERR_RECORD = 5    # the record is damaged (see S_ERROR)
STOP = 6          # the record lies at or past the shard's stop

# Columns of the flag counts (samtools flagstat's lines); one row for QC-passed
# records, one for QC-failed (0x200).
FLAGSTAT_NAMES = (
    "total", "primary", "secondary", "supplementary", "duplicates", "primary_duplicates",
    "mapped", "primary_mapped", "paired", "read1", "read2", "properly_paired",
    "both_mapped", "singletons", "mate_other_chr", "mate_other_chr_mapq5",
)
(C_TOTAL, C_PRIMARY, C_SECONDARY, C_SUPP, C_DUP, C_PDUP, C_MAPPED, C_PMAPPED, C_PAIRED,
 C_READ1, C_READ2, C_PROPER, C_BOTH_MAPPED, C_SINGLETON, C_DIFFCHR, C_DIFFCHR_MQ5) = range(16)
C_SUM_MAPQ = 16  # MAPQ summed over primary mapped records
N_COUNTS = 17

# Columns of the mate entries table ``ents``.
E_START, E_END, E_NCIGAR, E_CIGAR, E_NAME, E_NAMELEN, E_QKEY = range(7)
N_ENTRY = 7
EMPTY = -1


def new_state() -> np.ndarray:
    st = np.zeros(N_STATE, np.int64)
    st[S_TID] = -1
    st[S_PREV_TID] = -1
    st[S_PREV_POS] = -1
    return st


@jit
def count_flags(counts, flag, tid, mtid, mapq):
    """Add one record to the flag counts, as samtools flagstat counts it."""
    w = 1 if flag & QCFAIL else 0
    counts[w, C_TOTAL] += 1
    if flag & SECONDARY:
        counts[w, C_SECONDARY] += 1
    elif flag & SUPPLEMENTARY:
        counts[w, C_SUPP] += 1
    else:
        counts[w, C_PRIMARY] += 1
        if flag & PAIRED:
            counts[w, C_PAIRED] += 1
            if flag & PROPER and not flag & UNMAP:
                counts[w, C_PROPER] += 1
            if flag & READ1:
                counts[w, C_READ1] += 1
            if flag & READ2:
                counts[w, C_READ2] += 1
            if flag & MUNMAP and not flag & UNMAP:
                counts[w, C_SINGLETON] += 1
            if not flag & UNMAP and not flag & MUNMAP:
                counts[w, C_BOTH_MAPPED] += 1
                if mtid != tid:
                    counts[w, C_DIFFCHR] += 1
                    if mapq >= 5:
                        counts[w, C_DIFFCHR_MQ5] += 1
        if not flag & UNMAP:
            counts[w, C_PMAPPED] += 1
            counts[w, C_SUM_MAPQ] += mapq
        if flag & DUP:
            counts[w, C_PDUP] += 1
    if not flag & UNMAP:
        counts[w, C_MAPPED] += 1
    if flag & DUP:
        counts[w, C_DUP] += 1


@jit
def _finalize(st, ring, dep, hist, rhist, rs, re, rkind, rprefmax, rsum, upto):
    """Fold the positions [S_WS, upto) into the histograms and sums."""
    cap = ring.size
    mask = cap - 1
    length = st[S_LENGTH]
    ws = st[S_WS]
    d = st[S_DEPTH]
    total = st[S_SUM]
    maxd = st[S_MAXD]
    rmaxd = st[S_RMAXD]
    nreg = rs.size
    while ws < upto:
        m = min(upto - ws, cap)
        hi = ws + m
        lim = max(0, min(m, length - ws))
        ri = st[S_REG_I]
        while ri < nreg and rprefmax[ri] <= ws:
            ri += 1
        st[S_REG_I] = ri
        if ri >= nreg or rs[ri] >= hi:
            # No region here: fold the depth straight into the histogram.
            for k in range(lim):
                idx = (ws + k) & mask
                d += ring[idx]
                ring[idx] = 0
                total += d
                if d >= 0:
                    b = d if d <= HIST_MAX else HIST_CLAMP
                    hist[b] += 1
                    if b > maxd:
                        maxd = b
            for k in range(lim, m):
                idx = (ws + k) & mask
                d += ring[idx]
                ring[idx] = 0
            ws = hi
            continue
        for k in range(m):
            idx = (ws + k) & mask
            d += ring[idx]
            ring[idx] = 0
            dep[k] = d
        for k in range(lim):
            v = dep[k]
            total += v
            if v >= 0:
                b = v if v <= HIST_MAX else HIST_CLAMP
                hist[b] += 1
                if b > maxd:
                    maxd = b
        j = ri
        while j < nreg and rs[j] < hi:
            if re[j] > ws:
                a = max(rs[j], ws)
                b2 = min(re[j], hi)
                acc = 0
                if rkind[j]:
                    for p in range(a - ws, b2 - ws):
                        v = dep[p]
                        acc += v
                        if v >= 0:
                            b = v if v <= HIST_MAX else HIST_CLAMP
                            rhist[b] += 1
                            if b > rmaxd:
                                rmaxd = b
                else:
                    for p in range(a - ws, b2 - ws):
                        acc += dep[p]
                rsum[j] += acc
            j += 1
        ws = hi
    st[S_WS] = ws
    st[S_DEPTH] = d
    st[S_SUM] = total
    st[S_MAXD] = maxd
    st[S_RMAXD] = rmaxd


@jit
def finish_contig(st, ring, dep, hist, rhist, rs, re, rkind, rprefmax, rsum):
    """Fold the rest of the contig (up to its length) and clear the ring for the next."""
    _finalize(st, ring, dep, hist, rhist, rs, re, rkind, rprefmax, rsum, st[S_LENGTH])
    mask = ring.size - 1
    ws = st[S_WS]
    for p in range(ws, min(st[S_MAXEV] + 1, ws + ring.size)):
        ring[p & mask] = 0


@jit
def _add(ring, mask, ws, p, v, clamp):
    """Add v at position p of the ring; 1 when p is already final (not added), else 0.
    With ``clamp``, an event before ws is added at ws: it changes the depth from there on."""
    if p >= ws:
        ring[p & mask] += v
        return 0
    if clamp:
        ring[ws & mask] += v
        return 0
    return 1


@jit
def _before(key1, pos1, key2, pos2):
    return key1 < key2 or (key1 == key2 and pos1 < pos2)


@jit
def _segments(cig, c0, n, pos, seg_s, seg_e):
    """The reference intervals a record covers, as mosdepth's gen_start_ends makes them:
    M/=/X blocks, adjacent ones merged; D and N are gaps. ``cig[c0:c0+n]`` holds the
    CIGAR operations. Returns the number of intervals."""
    k = 0
    p = pos
    last_stop = -1
    for j in range(c0, c0 + n):
        v = cig[j]
        op = v & 0xF
        ln = v >> 4
        if not (CONSUMES_REF >> op) & 1:
            continue
        if (CONSUMES_QUERY >> op) & 1:
            if p != last_stop:
                seg_s[k] = p
                seg_e[k] = p + ln
                k += 1
            else:
                seg_e[k - 1] = p + ln
            last_stop = p + ln
        p += ln
    return k


@jit
def _segments_buf(buf, off, n, pos, seg_s, seg_e):
    """_segments of a CIGAR still in the record buffer (n operations at ``off``)."""
    k = 0
    p = pos
    last_stop = -1
    for j in range(n):
        v = u32(buf, off + 4 * j)
        op = v & 0xF
        ln = v >> 4
        if not (CONSUMES_REF >> op) & 1:
            continue
        if (CONSUMES_QUERY >> op) & 1:
            if p != last_stop:
                seg_s[k] = p
                seg_e[k] = p + ln
                k += 1
            else:
                seg_e[k - 1] = p + ln
            last_stop = p + ln
        p += ln
    return k


@jit
def _name_hash(buf, off, n):
    """A 63-bit hash of buf[off:off+n], eight bytes at a time."""
    h = np.uint64(14695981039346656037) ^ np.uint64(n)
    mul = np.uint64(0x9E3779B97F4A7C15)
    j = 0
    while j + 8 <= n:
        o = off + j
        w = (np.uint64(buf[o]) | (np.uint64(buf[o + 1]) << np.uint64(8))
             | (np.uint64(buf[o + 2]) << np.uint64(16)) | (np.uint64(buf[o + 3]) << np.uint64(24))
             | (np.uint64(buf[o + 4]) << np.uint64(32)) | (np.uint64(buf[o + 5]) << np.uint64(40))
             | (np.uint64(buf[o + 6]) << np.uint64(48)) | (np.uint64(buf[o + 7]) << np.uint64(56)))
        h = (h ^ w) * mul
        h ^= h >> np.uint64(29)
        j += 8
    w = np.uint64(0)
    k = np.uint64(0)
    while j < n:
        w |= np.uint64(buf[off + j]) << k
        k += np.uint64(8)
        j += 1
    h = (h ^ w) * mul
    h ^= h >> np.uint64(32)
    return np.int64(h >> np.uint64(1))


@jit
def _quick_key(buf, off, n, mask):
    """A cheap key of a read name (its length and last eight bytes): the counter of the
    key, in ``bloom``, is the number of remembered names with that key, so a zero
    counter proves a name absent without hashing it."""
    w = np.uint64(n)
    for j in range(max(0, n - 8), n):
        w = (w << np.uint64(8)) | np.uint64(buf[off + j])
    w *= np.uint64(0x9E3779B97F4A7C15)
    return np.int64(w >> np.uint64(40)) & mask


@jit
def _find(h, buf, off, n, hkey, hslot, ents, npool):
    """Hash slot holding the entry named buf[off:off+n], or -1."""
    mask = hkey.size - 1
    i = h & mask
    while True:
        s = hslot[i]
        if s == EMPTY:
            return -1
        if s >= 0 and hkey[i] == h and ents[s, E_NAMELEN] == n:
            o = ents[s, E_NAME]
            same = True
            for j in range(n):
                if npool[o + j] != buf[off + j]:
                    same = False
                    break
            if same:
                return i
        i = (i + 1) & mask


@jit
def _store(st, h, qk, buf, name, n, pos, end, cig, ncig, hkey, hslot, ents, npool, cpool,
           bloom):
    """Remember a record (its name at buf[name:name+n], position, end and CIGAR) under its
    name, replacing an entry of the same name. The pools must have room (_room)."""
    e = st[M_ENTRIES]
    st[M_ENTRIES] = e + 1
    ents[e, E_START] = pos
    ents[e, E_END] = end
    ents[e, E_NCIGAR] = ncig
    ents[e, E_CIGAR] = st[M_CIGARS]
    ents[e, E_NAME] = st[M_NAMES]
    ents[e, E_NAMELEN] = n
    ents[e, E_QKEY] = qk
    c = st[M_CIGARS]
    for j in range(ncig):
        cpool[c + j] = u32(buf, cig + 4 * j)
    st[M_CIGARS] = c + ncig
    o = st[M_NAMES]
    for j in range(n):
        npool[o + j] = buf[name + j]
    st[M_NAMES] = o + n
    slot = _find(h, buf, name, n, hkey, hslot, ents, npool)
    if slot >= 0:
        hslot[slot] = e
        return
    mask = hkey.size - 1
    k = h & mask
    while hslot[k] != EMPTY:
        k = (k + 1) & mask
    hkey[k] = h
    hslot[k] = e
    bloom[qk] += 1
    st[M_LIVE] += 1
    st[M_USED] += 1


@jit
def _delete(st, slot, hkey, hslot, ents, bloom):
    """Remove the entry at a hash slot, shifting the entries after it back (linear
    probing without tombstones)."""
    bloom[ents[hslot[slot], E_QKEY]] -= 1
    mask = hkey.size - 1
    i = slot
    j = slot
    while True:
        j = (j + 1) & mask
        if hslot[j] == EMPTY:
            break
        home = hkey[j] & mask
        # The entry at j may move to i unless its home lies cyclically in (i, j].
        if (i < home <= j) if i <= j else (home > i or home <= j):
            continue
        hkey[i] = hkey[j]
        hslot[i] = hslot[j]
        i = j
    hslot[i] = EMPTY
    st[M_LIVE] -= 1
    st[M_USED] -= 1


@jit
def _room(st, namelen, ncig, hkey, ents, npool, cpool):
    return (st[M_ENTRIES] < ents.shape[0] and st[M_NAMES] + namelen <= npool.size
            and st[M_CIGARS] + ncig <= cpool.size and 2 * (st[M_USED] + 1) <= hkey.size)


@jit
def _compact(st, hslot, ents, npool, cpool):
    """Move the live entries, their names and CIGARs to the front of the pools."""
    slots = np.flatnonzero(hslot >= 0)
    order = np.argsort(hslot[slots])
    e2 = 0
    o2 = 0
    c2 = 0
    # Entries and their pool data lie in the pools in entry order, so copying the live
    # ones down in that order never overwrites one not yet copied.
    for k in order:
        slot = slots[k]
        e = hslot[slot]
        n = ents[e, E_NAMELEN]
        o = ents[e, E_NAME]
        for j in range(n):
            npool[o2 + j] = npool[o + j]
        m = ents[e, E_NCIGAR]
        c = ents[e, E_CIGAR]
        for j in range(m):
            cpool[c2 + j] = cpool[c + j]
        for col in range(N_ENTRY):
            ents[e2, col] = ents[e, col]
        ents[e2, E_NAME] = o2
        ents[e2, E_CIGAR] = c2
        hslot[slot] = e2
        o2 += n
        c2 += m
        e2 += 1
    st[M_ENTRIES] = e2
    st[M_NAMES] = o2
    st[M_CIGARS] = c2


@jit
def accumulate(buf, start, stop, n_ref, st, opt, lim, counts, ring, dep, hist, rhist, rs,
               re, rkind, rprefmax, rsum, hkey, hslot, ents, npool, cpool, bloom):
    """Add the records of ``buf[start:stop]`` to the flag counts and the depth of their
    contig, decoding them with kernels.bamparse.decode.

    Parameters
    ----------
    buf : uint8 array, decompressed BAM records; ``start`` is the offset of one.
    n_ref : int, the number of references in the header.
    st : int64 array (N_STATE,), the running state (see S_* and M_*).
    opt : int64 array (N_OPT,), min_mapq, exclude_flag, include_flag, fast mode (0/1).
    lim : int64 array (N_LIM,), the shard's limits (L_*); (-1, -1) for LOOK and START and
        (NO_STOP, 0) for STOP read the whole file.
    counts : int64 array (2, N_COUNTS), flag counts of QC-passed / QC-failed records.
    ring, dep : int32 arrays of a power-of-two size: depth events and scratch.
    hist, rhist : int64 arrays (HIST_SIZE,): bases per depth on the contig, over the
        whole contig and over its regions of rkind 1.
    rs, re, rkind, rprefmax, rsum : int64 arrays (n_regions,): the contig's regions
        (0-based half-open, sorted by start, within the contig), whether each enters
        rhist, the running maximum of ``re``, and the depth summed over each.
    hkey, hslot : int64 arrays of a power-of-two size: the mate hash table;
        ents (n_entries, N_ENTRY), npool uint8, cpool int64: the mate entries, their
        names and CIGARs; bloom int32 array of a power-of-two size: remembered names
        per quick key (_quick_key).

    Returns
    -------
    (status, offset) : DONE and the offset of the first record not complete in the
        buffer (``stop`` when all are), or the status and the offset of the record to
        resume at (nothing of it has been counted yet); ERR_RECORD when the record at
        the offset is damaged, its decode status in st[S_ERROR].
    """
    cap = ring.size
    seg = np.empty((4, 64), np.int64)  # scratch: the covered intervals of two mates
    min_mapq = opt[O_MIN_MAPQ]
    exclude = opt[O_EXCLUDE]
    include = opt[O_INCLUDE]
    fast = opt[O_FAST] != 0
    # Hot state kept in locals (the kernel's arrays may alias as far as the compiler
    # knows, so reading them back after each store costs): the first position not yet
    # final, and the events that fell before it.
    mask = cap - 1
    ws = st[S_WS]
    skipped = 0
    o = start
    while True:
        (status, size, tid, pos, mapq, flag, ncig, cig, name, nlen, mtid, mpos, end,
         _lseq) = decode(buf, o, stop, n_ref)
        if status == MORE:
            st[S_SKIPPED] += skipped
            return DONE, o
        if status != OK:
            st[S_SKIPPED] += skipped
            st[S_ERROR] = status
            return ERR_RECORD, o
        i = o
        o += size
        key = tid if tid >= 0 else UNPLACED
        if key < st[S_PREV_TID] or (key == st[S_PREV_TID] and tid >= 0
                                    and pos < st[S_PREV_POS]):
            st[S_SKIPPED] += skipped
            return ERR_UNSORTED, i
        st[S_PREV_TID] = key
        st[S_PREV_POS] = pos
        if _before(key, pos, lim[L_LOOK_KEY], lim[L_LOOK_POS]):
            continue
        if not _before(key, pos, lim[L_STOP_KEY], lim[L_STOP_POS]):
            st[S_SKIPPED] += skipped
            return STOP, i
        look = _before(key, pos, lim[L_START_KEY], lim[L_START_POS])
        if tid != st[S_TID]:
            st[S_SKIPPED] += skipped
            return NEW_CONTIG, i
        cover = (tid >= 0 and pos >= 0 and mapq >= min_mapq and not flag & exclude
                 and (include == 0 or flag & include))
        action = 0  # 1: remember the record for its mate; 2: correct the pair's overlap
        h = 0
        qk = 0
        slot = -1
        maxev = end
        if cover and not fast and flag & PROPER and not flag & SUPPLEMENTARY:
            qk = _quick_key(buf, name, nlen, bloom.size - 1)
            maybe = bloom[qk] > 0  # else no remembered read has this name
            if maybe:
                h = _name_hash(buf, name, nlen)
                slot = _find(h, buf, name, nlen, hkey, hslot, ents, npool)
            if (tid == mtid and end > mpos
                    and (pos < mpos or (pos == mpos and slot < 0))):
                action = 1
                if not maybe:
                    h = _name_hash(buf, name, nlen)
            elif slot >= 0:
                action = 2
                e = hslot[slot]
                if ncig == 1 and ents[e, E_NCIGAR] == 1:
                    maxev = max(maxev, ents[e, E_END])
        if cover:
            if maxev - ws >= cap:
                _finalize(st, ring, dep, hist, rhist, rs, re, rkind, rprefmax, rsum, pos)
                ws = st[S_WS]
                if maxev - ws >= cap:
                    st[S_SKIPPED] += skipped
                    return GROW_RING, i
            if action == 1 and not _room(st, nlen, ncig, hkey, ents, npool, cpool):
                _compact(st, hslot, ents, npool, cpool)
                if not _room(st, nlen, ncig, hkey, ents, npool, cpool):
                    st[S_NEED_NAME] = nlen
                    st[S_NEED_CIGAR] = ncig
                    st[S_SKIPPED] += skipped
                    return GROW_MATES, i
        if not look:
            count_flags(counts, flag, tid, mtid, mapq)
        if tid < 0:
            continue
        st[S_FOUND] = 1
        if not cover:
            continue
        if maxev > st[S_MAXEV]:
            st[S_MAXEV] = maxev
        if key == lim[L_STOP_KEY] and pos < lim[L_CHECK_POS] and maxev > lim[L_STOP_POS]:
            st[S_SPAN_BAD] = 1
        if fast:
            skipped += _add(ring, mask, ws, pos, 1, look)
            skipped += _add(ring, mask, ws, end, -1, look)
            continue
        if action == 2:
            e = hslot[slot]
            if ncig == 1 and ents[e, E_NCIGAR] == 1:
                skipped += _add(ring, mask, ws, pos, -1, look)
                skipped += _add(ring, mask, ws, ents[e, E_END], 1, look)
            else:
                mn = ents[e, E_NCIGAR]
                if max(ncig, mn) > seg.shape[1]:
                    seg = np.empty((4, max(ncig, mn)), np.int64)
                na = _segments_buf(buf, cig, ncig, pos, seg[0], seg[1])
                nb = _segments(cpool, ents[e, E_CIGAR], mn, ents[e, E_START], seg[2], seg[3])
                a_s, a_e, b_s, b_e = seg[0], seg[1], seg[2], seg[3]
                ia = 0
                ib = 0
                while ia < na and ib < nb:
                    lo = max(a_s[ia], b_s[ib])
                    hi = min(a_e[ia], b_e[ib])
                    if lo < hi:
                        skipped += _add(ring, mask, ws, lo, -1, look)
                        skipped += _add(ring, mask, ws, hi, 1, look)
                    if a_e[ia] < b_e[ib]:
                        ia += 1
                    else:
                        ib += 1
            _delete(st, slot, hkey, hslot, ents, bloom)
        elif action == 1:
            _store(st, h, qk, buf, name, nlen, pos, end, cig, ncig, hkey, hslot, ents, npool,
                   cpool, bloom)
        # The record's own coverage.
        if ncig == 1:
            v = u32(buf, cig)
            op = v & 0xF
            if (CONSUMES_REF >> op) & 1 and (CONSUMES_QUERY >> op) & 1:
                skipped += _add(ring, mask, ws, pos, 1, look)
                skipped += _add(ring, mask, ws, pos + (v >> 4), -1, look)
            continue
        p = pos
        last_stop = -1
        for j in range(ncig):
            v = u32(buf, cig + 4 * j)
            op = v & 0xF
            ln = v >> 4
            if not (CONSUMES_REF >> op) & 1:
                continue
            if (CONSUMES_QUERY >> op) & 1:
                if p != last_stop:
                    skipped += _add(ring, mask, ws, p, 1, look)
                    if last_stop != -1:
                        skipped += _add(ring, mask, ws, last_stop, -1, look)
                last_stop = p + ln
            p += ln
        if last_stop != -1:
            skipped += _add(ring, mask, ws, last_stop, -1, look)


@jit
def mates_live(hslot, ents):
    """Live entries of the mate table, their name bytes and CIGAR operations."""
    n = 0
    names = 0
    cigars = 0
    for i in range(hslot.size):
        s = hslot[i]
        if s >= 0:
            n += 1
            names += ents[s, E_NAMELEN]
            cigars += ents[s, E_NCIGAR]
    return n, names, cigars


@jit
def mates_rebuild(st, hkey, hslot, ents, npool, cpool, hkey2, hslot2, ents2, npool2,
                  cpool2):
    """Copy the live entries of a mate table into new (larger) arrays, without the
    deleted ones; the ``2`` arrays must be empty (hslot2 all EMPTY)."""
    mask = hkey2.size - 1
    e2 = 0
    o2 = 0
    c2 = 0
    for i in range(hslot.size):
        s = hslot[i]
        if s < 0:
            continue
        for k in range(N_ENTRY):
            ents2[e2, k] = ents[s, k]
        n = ents[s, E_NAMELEN]
        o = ents[s, E_NAME]
        for j in range(n):
            npool2[o2 + j] = npool[o + j]
        ents2[e2, E_NAME] = o2
        o2 += n
        m = ents[s, E_NCIGAR]
        c = ents[s, E_CIGAR]
        for j in range(m):
            cpool2[c2 + j] = cpool[c + j]
        ents2[e2, E_CIGAR] = c2
        c2 += m
        h = hkey[i]
        k = h & mask
        while hslot2[k] != EMPTY:
            k = (k + 1) & mask
        hkey2[k] = h
        hslot2[k] = e2
        e2 += 1
    st[M_ENTRIES] = e2
    st[M_LIVE] = e2
    st[M_USED] = e2
    st[M_NAMES] = o2
    st[M_CIGARS] = c2
