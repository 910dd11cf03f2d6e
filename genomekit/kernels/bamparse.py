"""Decode BAM alignment records straight from decompressed bytes.

A BAM record (SAM/BAM spec, section 4.2) is ``block_size`` (int32) followed by that many
bytes: refID, pos (int32), l_read_name (uint8), mapq (uint8), bin (uint16), n_cigar_op
(uint16), flag (uint16), l_seq (int32), next_refID, next_pos, tlen (int32), then
read_name (NUL-terminated), cigar (uint32 per operation: length << 4 | op), seq, qual
and the tags. All integers are little-endian.

``decode`` reads the fields the QC kernels need from one record; CIGARs and read names
stay in the buffer, addressed by offset.
"""

from __future__ import annotations

import numpy as np

from genomekit.kernels._jit import jit

# Status codes of decode.
OK = 0
ERR_BLOCK_SIZE = 1  # block_size too small for the record's own fields
ERR_TID = 2         # refID or next_refID outside the header's references
ERR_NAME = 3        # read name empty or not NUL-terminated
ERR_CIGAR_OP = 4    # CIGAR operation code above 8
ERR_LONG_CIGAR = 5  # placeholder CIGAR of a read whose real CIGAR is in the CG tag
ERR_POS = 6         # position below -1
MORE = 7            # decode: the record continues past the end of the buffer

# CIGAR operations (BAM codes): M I D N S H P = X.
OP_M, OP_I, OP_D, OP_N, OP_S, OP_H, OP_P, OP_EQ, OP_X = range(9)
# Bit i set when operation i consumes the reference (M D N = X) / the query (M I S = X).
CONSUMES_REF = (1 << OP_M) | (1 << OP_D) | (1 << OP_N) | (1 << OP_EQ) | (1 << OP_X)
CONSUMES_QUERY = (1 << OP_M) | (1 << OP_I) | (1 << OP_S) | (1 << OP_EQ) | (1 << OP_X)

FLAG_UNMAP = 0x4
# The smallest record: block_size plus 32 bytes of fixed fields.
MIN_RECORD = 36


@jit
def i32(buf, o):
    return np.int64(np.int32(np.uint32(buf[o]) | (np.uint32(buf[o + 1]) << 8)
                             | (np.uint32(buf[o + 2]) << 16) | (np.uint32(buf[o + 3]) << 24)))


@jit
def u32(buf, o):
    return np.int64(buf[o]) | (np.int64(buf[o + 1]) << 8) | (np.int64(buf[o + 2]) << 16) \
        | (np.int64(buf[o + 3]) << 24)


@jit
def u16(buf, o):
    return np.int64(buf[o]) | (np.int64(buf[o + 1]) << 8)


@jit
def decode(buf, o, end, n_ref):
    """Decode the record whose block_size is at ``buf[o]``.

    Returns (status, size, tid, pos, mapq, flag, n_cigar, cigar, name, name_len, mtid,
    mpos, end_pos, l_seq), int64: status OK, MORE when the record does not end before
    ``end``, or an ERR_* code (the fields are then not all set); size, the record's bytes
    including block_size; refID (-1 for none), 0-based position (-1 for none), MAPQ,
    flag, number of CIGAR operations, offsets of the first CIGAR operation and of the
    read name, the name's length without its NUL, the mate's refID and position,
    htslib's bam_endpos (position + reference length, or position + 1 when unmapped or
    when the CIGAR consumes no reference), and the sequence length.
    """
    if o + 4 > end:
        return MORE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    size = i32(buf, o)
    if size < 32:
        return ERR_BLOCK_SIZE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    if o + 4 + size > end:
        return MORE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    b = o + 4
    tid = i32(buf, b)
    pos = i32(buf, b + 4)
    l_name = np.int64(buf[b + 8])
    mapq = np.int64(buf[b + 9])
    n_cigar = u16(buf, b + 12)
    flag = u16(buf, b + 14)
    l_seq = i32(buf, b + 16)
    mtid = i32(buf, b + 20)
    mpos = i32(buf, b + 24)
    status = OK
    if l_seq < 0 or 32 + l_name + 4 * n_cigar + (l_seq + 1) // 2 + l_seq > size:
        status = ERR_BLOCK_SIZE
    elif tid < -1 or tid >= n_ref or mtid < -1 or mtid >= n_ref:
        status = ERR_TID
    elif pos < -1:
        status = ERR_POS
    name = b + 32
    if status == OK and (l_name < 2 or buf[name + l_name - 1] != 0):
        status = ERR_NAME
    cig = name + l_name
    rlen = 0
    if status == OK:
        for k in range(n_cigar):
            v = u32(buf, cig + 4 * k)
            op = v & 0xF
            if op > OP_X:
                status = ERR_CIGAR_OP
                break
            if (CONSUMES_REF >> op) & 1:
                rlen += v >> 4
    if status == OK and n_cigar == 2 and l_seq > 0:
        v0 = u32(buf, cig)
        v1 = u32(buf, cig + 4)
        if v0 & 0xF == OP_S and v0 >> 4 == l_seq and v1 & 0xF == OP_N:
            status = ERR_LONG_CIGAR
    if flag & FLAG_UNMAP:
        rlen = 0
    return (status, 4 + size, tid, pos, mapq, flag, n_cigar, cig, name, l_name - 1, mtid,
            mpos, pos + (rlen if rlen > 0 else 1), l_seq)
