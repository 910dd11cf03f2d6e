"""Find and inflate BGZF blocks (SAM/BAM spec, section 4.1) in Numba.

A BGZF block is a gzip member of at most 64 KiB whose header carries the member's size
in a 'BC' extra subfield and whose trailer carries the CRC32 and the uncompressed size
(ISIZE). ``bgzf_scan`` lists the complete blocks of a buffer of compressed bytes;
``bgzf_inflate`` inflates them with libdeflate, called through ctypes function pointers,
and checks each block's CRC32 as htslib does.
"""

from __future__ import annotations

import numpy as np

from genomekit.kernels._jit import jit

# Status codes of bgzf_scan and bgzf_inflate.
BGZF_OK = 0
BGZF_BAD_HEADER = 1   # the bytes at the offset are not a BGZF block header
BGZF_BAD_SIZE = 2     # a block announces more uncompressed bytes than allowed
BGZF_INFLATE = 3      # a block's data does not inflate to its announced size
BGZF_CRC = 4          # a block's CRC32 does not match its data
BGZF_MAX_BLOCK = 65536
# Columns of the block table filled by bgzf_scan.
B_START, B_END, B_ISIZE, B_CRC, B_OFFSET = range(5)


@jit
def _u16(buf, o):
    return np.int64(buf[o]) | (np.int64(buf[o + 1]) << 8)


@jit
def _u32(buf, o):
    return np.int64(buf[o]) | (np.int64(buf[o + 1]) << 8) | (np.int64(buf[o + 2]) << 16) \
        | (np.int64(buf[o + 3]) << 24)


@jit
def bgzf_scan(data, start, end, blocks, max_isize):
    """Find the complete BGZF blocks of ``data[start:end]``.

    Parameters
    ----------
    data : uint8 array of compressed bytes.
    blocks : int64 array (max_blocks, 5): filled with each block's deflate data start and
        end offsets, uncompressed size, CRC32 and offset (columns B_*).
    max_isize : the largest uncompressed size (ISIZE) a block may announce.

    Returns
    -------
    (n, offset, status) : blocks found; offset of the first byte after them (an
        incomplete block starts there, or the table is full, or a bad block); BGZF_OK, or
        BGZF_BAD_HEADER / BGZF_BAD_SIZE for the block at ``offset``.
    """
    n = 0
    o = start
    cap = blocks.shape[0]
    while n < cap and o < end:
        avail = end - o
        if avail < 18:
            # Too short to know: only a prefix of a valid header may wait for more bytes.
            for k in range(min(avail, 4)):
                if data[o + k] != (31, 139, 8, 4)[k]:
                    return n, o, BGZF_BAD_HEADER
            break
        if data[o] != 31 or data[o + 1] != 139 or data[o + 2] != 8 or not data[o + 3] & 4:
            return n, o, BGZF_BAD_HEADER
        xlen = _u16(data, o + 10)
        if avail < 12 + xlen:
            break
        x = o + 12
        xend = x + xlen
        size = -1
        while x + 4 <= xend:
            slen = _u16(data, x + 2)
            if data[x] == 66 and data[x + 1] == 67 and slen == 2 and x + 6 <= xend:
                size = _u16(data, x + 4) + 1
                break
            x += 4 + slen
        if size < 12 + xlen + 8:
            return n, o, BGZF_BAD_HEADER
        if avail < size:
            break
        isize = _u32(data, o + size - 4)
        if isize > max_isize:
            return n, o, BGZF_BAD_SIZE
        blocks[n, B_START] = o + 12 + xlen
        blocks[n, B_END] = o + size - 8
        blocks[n, B_ISIZE] = isize
        blocks[n, B_CRC] = _u32(data, o + size - 8)
        blocks[n, B_OFFSET] = o
        n += 1
        o += size
    return n, o, BGZF_OK


@jit
def bgzf_inflate(data, blocks, n, out, decompress, crc32, decompressor):
    """Inflate ``blocks[:n]`` (from bgzf_scan) one after the other into ``out``.

    ``decompress`` and ``crc32`` are libdeflate's libdeflate_deflate_decompress and
    libdeflate_crc32 as ctypes functions whose pointer arguments are declared size_t;
    ``decompressor`` is a libdeflate decompressor (its address). ``out`` holds at least
    the sum of the blocks' ISIZE; each block must inflate to exactly its ISIZE.

    Returns (index of the first bad block or -1, BGZF_OK / BGZF_INFLATE / BGZF_CRC).
    """
    o = 0
    src = data.ctypes.data
    dst = out.ctypes.data
    for k in range(n):
        isize = blocks[k, B_ISIZE]
        s = blocks[k, B_START]
        if decompress(decompressor, src + s, blocks[k, B_END] - s, dst + o, isize, 0) != 0:
            return k, BGZF_INFLATE
        if crc32(0, dst + o, isize) != blocks[k, B_CRC]:
            return k, BGZF_CRC
        o += isize
    return -1, BGZF_OK
