"""Decompressed bytes of BGZF (VCF, BCF, BAM), plain gzip or uncompressed files as numpy buffers.

BGZF (SAM/BAM spec, section 4.1) is a series of gzip members of at most 64 KiB
each, whose header carries the member's size in a 'BC' extra subfield and whose
trailer carries the CRC32 and the uncompressed size (ISIZE). Knowing both sizes
up front lets every block be inflated on its own into one large buffer.
``BgzfBlocks`` reads compressed bytes a megabyte at a time, lists the blocks with
a Numba kernel (kernels.bgzf) and inflates each batch of blocks in one kernel
call that calls libdeflate (from the `deflate` package) through ctypes and checks
each block's CRC32, as htslib does; batches inflate on worker threads beside the
reader (one with ``threads=1``, so that inflating overlaps decoding; in parallel
with more: the kernels release the GIL) and buffers are recycled. Without the ctypes binding,
blocks are inflated one by one with the `deflate` package or zlib.

``ByteSource`` yields the decompressed bytes as uint8 buffers, cut anywhere;
``TextSource`` yields buffers that hold whole lines only: a line cut by a
buffer boundary is carried over to the next buffer. Both can start at a BGZF
virtual offset (``coffset << 16 | uoffset``, from a .tbi or .csi index) and stop
after a given block, to read one region of an indexed file. io.bam reads BAM
with ``BgzfBlocks`` too.
"""

from __future__ import annotations

import collections
import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from genomekit.errors import InputError

try:
    import deflate as _libdeflate
except ImportError:  # optional: zlib gives the same bytes, more slowly
    _libdeflate = None

BGZF_MAX_BLOCK = 65536
# Uncompressed bytes per buffer: large enough that per-buffer overheads vanish,
# small enough that a few in flight per thread stay cheap.
BATCH_BYTES = 8 * 1024 * 1024
READ_BYTES = 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b"
_HEADER = struct.Struct("<BBBBIBBH")  # ID1 ID2 CM FLG MTIME XFL OS XLEN

_crc32 = _libdeflate.crc32 if _libdeflate is not None else zlib.crc32


def sniff(path: str) -> str:
    """'bgzf', 'gzip' or 'plain' for VCF text, 'bcf' for BCF (compressed or not)."""
    with open(path, "rb") as fh:
        head = fh.read(READ_BYTES)
    if not head.startswith(_GZIP_MAGIC):
        return "bcf" if head.startswith(b"BCF") else "plain"
    kind = "bgzf" if _block_size(head, 0) > 0 else "gzip"
    try:
        start = zlib.decompressobj(31).decompress(head, 16)
    except zlib.error:
        start = b""
    return "bcf" if start.startswith(b"BCF") else kind


def container(path: str) -> str:
    """The compression of ``path`` whatever it holds: 'bgzf', 'gzip' or 'plain'."""
    with open(path, "rb") as fh:
        head = fh.read(READ_BYTES)
    if not head.startswith(_GZIP_MAGIC):
        return "plain"
    return "bgzf" if _block_size(head, 0) > 0 else "gzip"


def _block_size(data, o: int) -> int:
    """Size of the BGZF block at ``data[o:]`` from its header: 0 if more bytes are
    needed to tell, -1 if the bytes there are not a BGZF block header."""
    avail = len(data) - o
    if avail < 12:
        return 0 if data[o:o + 4] == b"\x1f\x8b\x08\x04"[:avail] else -1
    id1, id2, cm, flg, _mtime, _xfl, _os, xlen = _HEADER.unpack_from(data, o)
    if id1 != 31 or id2 != 139 or cm != 8 or not flg & 4:
        return -1
    if avail < 12 + xlen:
        return 0
    x, end = o + 12, o + 12 + xlen
    while x + 4 <= end:
        si1, si2, slen = data[x], data[x + 1], data[x + 2] | data[x + 3] << 8
        if si1 == 66 and si2 == 67 and slen == 2 and x + 6 <= end:
            size = (data[x + 4] | data[x + 5] << 8) + 1
            return size if size >= 12 + xlen + 8 else -1
        x += 4 + slen
    return -1


def inflate_block(cdata, isize: int) -> bytes:
    """Raw-deflate data of one BGZF block; ``isize`` is the size its trailer announces."""
    if _libdeflate is not None:
        try:
            return _libdeflate.deflate_decompress(cdata, isize)
        except _libdeflate.DeflateError:
            if isize >= BGZF_MAX_BLOCK:
                raise
            # htslib ignores ISIZE and inflates into a 64 KiB buffer: do the same
            # before calling the block bad.
            return _libdeflate.deflate_decompress(cdata, BGZF_MAX_BLOCK)
    d = zlib.decompressobj(-15)
    out = d.decompress(cdata, BGZF_MAX_BLOCK)
    if not d.eof:
        raise zlib.error("incomplete or truncated block")
    return out


class _Libdeflate:
    """libdeflate's decompressor and CRC32, as exported by the ``deflate`` package's
    extension module, bound with ctypes so that Numba kernels can call them (pointer
    arguments declared size_t)."""

    def __init__(self):
        import ctypes

        import deflate._deflate

        lib = ctypes.CDLL(deflate._deflate.__file__)
        size_t = ctypes.c_size_t
        self.decompress = ctypes.CFUNCTYPE(ctypes.c_int, size_t, size_t, size_t, size_t,
                                           size_t, size_t)(("libdeflate_deflate_decompress",
                                                            lib))
        self.crc32 = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_uint32, size_t, size_t)(
            ("libdeflate_crc32", lib))
        self.alloc = lib.libdeflate_alloc_decompressor
        self.alloc.restype = size_t
        self.alloc.argtypes = []
        self.free = lib.libdeflate_free_decompressor
        self.free.restype = None
        self.free.argtypes = [size_t]


# The binding once made: [] before the first use, [None] when it cannot be made.
_LIBDEFLATE: list = []


def libdeflate_binding() -> _Libdeflate | None:
    """The ctypes binding, or None when ``deflate`` is missing or lacks the symbols."""
    if _libdeflate is None:
        return None
    if not _LIBDEFLATE:
        try:
            _LIBDEFLATE.append(_Libdeflate())
        except (ImportError, OSError, AttributeError):
            _LIBDEFLATE.append(None)
    return _LIBDEFLATE[0]


def _inflate(batch, out: np.ndarray, strict: bool) -> tuple[np.ndarray, int, str | None]:
    """Inflate a batch of blocks into ``out`` (holding the sum of their ISIZE): (the
    bytes, compressed size, None), or on a bad block (the bytes before it, 0, why).

    ``strict``: a block must inflate to its ISIZE. Otherwise ISIZE is only a size hint,
    as in htslib, and the bytes may be a new, larger array."""
    from genomekit.kernels.bgzf import B_END, B_ISIZE, B_OFFSET, BGZF_CRC, bgzf_inflate

    data, blocks, base, _last = batch
    size = int(blocks[-1, B_END] + 8 - blocks[0, B_OFFSET])
    o = 0  # bytes inflated
    first = 0  # blocks inflated
    lib = libdeflate_binding()
    if lib is not None:
        dec = lib.alloc()
        if not dec:
            raise MemoryError("libdeflate_alloc_decompressor failed")
        try:
            bad, status = bgzf_inflate(data, blocks, blocks.shape[0], out, lib.decompress,
                                       lib.crc32, dec)
        finally:
            lib.free(dec)
        if bad < 0:
            return out[:int(blocks[:, B_ISIZE].sum())], size, None
        o = int(blocks[:bad, B_ISIZE].sum())
        if strict or status == BGZF_CRC:
            why = "CRC32 mismatch" if status == BGZF_CRC else "inflate failed"
            return out[:o], 0, (f"corrupt BGZF block at byte "
                                f"{base + int(blocks[bad, B_OFFSET])} ({why})")
        first = bad  # a size other than ISIZE: inflated below
    view = memoryview(data)
    for start, end, isize, crc, offset in blocks[first:].tolist():
        try:
            text = inflate_block(view[start:end], isize)
        except Exception:
            text = None
        if text is None or (strict and len(text) != isize):
            return out[:o], 0, f"corrupt BGZF block at byte {base + offset} (inflate failed)"
        if _crc32(text) != crc:
            return out[:o], 0, f"corrupt BGZF block at byte {base + offset} (CRC32 mismatch)"
        n = len(text)
        if o + n > out.size:
            grown = np.empty(o + n + BGZF_MAX_BLOCK, np.uint8)
            grown[:o] = out[:o]
            out = grown
        out[o:o + n] = np.frombuffer(text, np.uint8)
        o += n
    return out[:o], size, None


class BgzfBlocks:
    """The decompressed bytes of a BGZF stream, as arrays in order.

    Iterating yields (bytes, compressed size, problem): a uint8 array of whole blocks
    inflated, the compressed bytes they came from, and None; or, once, the bytes that
    precede damage, 0, and a description of the damage (the last item).

    ``fh`` is read from where it stands, ``base`` being that file offset; ``read_bytes``
    compressed bytes at a time, cut into batches of at most ``batch_bytes`` (at least
    one block), inflated on ``threads`` worker threads (one when ``threads`` is 1: beside
    the reader, not in its thread). ``grow_from``: reads and batches begin
    at that size and double up to ``batch_bytes``, so that a short region costs little.
    ``stop_block``: the bytes end after the block that begins at that file offset
    (``hit_stop`` is then set). ``check_eof``: the stream must end with the empty
    end-of-file block.

    Buffers are recycled: compressed ones once their batch is inflated, inflated ones
    once the reader calls ``release``, so that memory is allocated (and paged in) once.

    In ``strict`` mode (BAM), a block must inflate to its ISIZE, which is at most 64 KiB;
    otherwise ISIZE is only a size hint, as htslib reads it. Subclasses may word the
    damage their own way (``_bad_header``, ``_truncated``).
    """

    strict = False

    def __init__(self, fh, *, threads: int = 1, read_bytes: int = READ_BYTES,
                 batch_bytes: int = BATCH_BYTES, grow_from: int | None = None,
                 stop_block: int | None = None, check_eof: bool = False, base: int = 0):
        self.fh = fh
        self.threads = max(1, threads)
        self.read_bytes = read_bytes
        self.batch_bytes = batch_bytes
        self.grow_from = grow_from
        self.stop_block = stop_block
        self.check_eof = check_eof
        self.base = base
        # Set when the bytes ended at stop_block rather than at the end of the stream.
        self.hit_stop = False
        self._free_in: list[np.ndarray] = []
        self._free_out: list[np.ndarray] = []

    def release(self, buf: np.ndarray) -> None:
        """Give back an inflated buffer (or a view of one) that is no longer used."""
        base = buf.base if isinstance(buf.base, np.ndarray) else buf
        if len(self._free_out) < 2 * self.threads + 4:
            self._free_out.append(base)

    def _bad_header(self, offset: int) -> str:
        return f"bad BGZF block header at byte {offset}"

    def _truncated(self, offset: int, left: np.ndarray) -> str:
        """The stream ends inside the block at ``offset``, of which ``left`` is present."""
        size = _block_size(left.tobytes(), 0)
        if size < 0:
            return self._bad_header(offset)
        if size == 0:
            return (f"truncated BGZF data: the file ends inside the block header "
                    f"at byte {offset}")
        return (f"truncated BGZF block at byte {offset}: the file ends "
                f"{size - left.size} bytes early")

    @staticmethod
    def _take(pool: list, size: int) -> np.ndarray:
        for k, buf in enumerate(pool):
            if buf.size >= size:
                return pool.pop(k)
        return np.empty(size, np.uint8)

    def _batches(self) -> Iterator[tuple | str]:
        """(compressed bytes, block table, file offset of the bytes, whether it is the
        last batch of those bytes) in order; a string describes damage that ends the
        stream."""
        from genomekit.kernels.bgzf import B_ISIZE, B_OFFSET, BGZF_BAD_SIZE, BGZF_OK, bgzf_scan

        max_isize = BGZF_MAX_BLOCK if self.strict else 0xFFFFFFFF
        target = self.grow_from or self.batch_bytes
        # The smallest BGZF block (the empty end-of-file block) is 28 bytes.
        most = self.batch_bytes if self.grow_from else self.read_bytes
        table = np.zeros((most // 28 + 2, 5), np.int64)
        left = np.zeros(0, np.uint8)  # an incomplete block carried to the next read
        base = self.base  # file offset of the buffer's first byte
        stop = self.stop_block
        last_isize = None
        while True:
            if stop is not None and base > stop:
                self.hit_stop = True
                return
            want = target if self.grow_from else self.read_bytes
            buf = self._take(self._free_in, left.size + want)
            buf[:left.size] = left
            got = self.fh.readinto(memoryview(buf)[left.size:left.size + want]) or 0
            end = left.size + got
            o = 0
            while True:
                n, o2, status = bgzf_scan(buf, o, end, table, max_isize)
                ended = False
                if stop is not None and base + o2 > stop:
                    # The blocks past stop_block are not read, whatever they hold.
                    n = int(np.searchsorted(table[:n, B_OFFSET], stop - base, side="right"))
                    ended = True
                if n:
                    last_isize = int(table[n - 1, B_ISIZE])
                    sizes = np.cumsum(table[:n, B_ISIZE])
                    first = 0
                    while first < n:
                        before = int(sizes[first - 1]) if first else 0
                        end_k = max(first + 1, int(np.searchsorted(sizes, before + target,
                                                                   side="right")))
                        last = end_k >= n and o2 == end and status == BGZF_OK
                        yield buf, table[first:end_k].copy(), base, last
                        first = end_k
                        if self.grow_from:
                            target = min(self.batch_bytes, 2 * target)
                if ended:
                    self.hit_stop = True
                    return
                if status != BGZF_OK:
                    yield (f"bad BGZF block at byte {base + o2} (size over 64 KiB)"
                           if status == BGZF_BAD_SIZE else self._bad_header(base + o2))
                    return
                o = o2
                if n < table.shape[0]:
                    break
            left = buf[o:end].copy()
            base += o
            if not got:
                break
        if left.size:
            yield self._truncated(base, left)
            return
        if self.check_eof and last_isize != 0:
            yield ("no BGZF end-of-file block: the file is truncated" if last_isize else
                   "empty file")

    def _job(self, batch):
        from genomekit.kernels.bgzf import B_ISIZE

        return batch, self._take(self._free_out, int(batch[1][:, B_ISIZE].sum())), self.strict

    def _done(self, batch) -> None:
        if batch[3] and len(self._free_in) < 2 * self.threads + 4:
            self._free_in.append(batch[0])

    def __iter__(self) -> Iterator[tuple[np.ndarray, int, str | None]]:
        # Even with one thread, batches inflate on a worker beside the reader, so that
        # inflating overlaps whatever the reader does with the bytes.
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            pending: collections.deque = collections.deque()
            try:
                for batch in self._batches():
                    if isinstance(batch, str):
                        pending.append(batch)
                        break
                    pending.append((batch, pool.submit(_inflate, *self._job(batch))))
                    if len(pending) > self.threads + 1:
                        done, future = pending.popleft()
                        result = future.result()
                        self._done(done)
                        yield result
                        if result[2] is not None:
                            return
                while pending:
                    item = pending.popleft()
                    if isinstance(item, str):
                        yield np.zeros(0, np.uint8), 0, item
                        return
                    result = item[1].result()
                    self._done(item[0])
                    yield result
                    if result[2] is not None:
                        return
            finally:
                for item in pending:
                    if not isinstance(item, str):
                        item[1].cancel()


class ByteSource:
    """The decompressed bytes of a file (BGZF, plain gzip or uncompressed) as buffers.

    Iterating yields uint8 arrays, cut at arbitrary points. Damaged compressed
    data raises InputError after the buffers that precede the damage. BGZF blocks
    are inflated on ``threads`` worker threads (one at least), in order.

    ``start`` (a BGZF virtual offset) begins the bytes there, and ``stop_block``
    (a compressed offset) ends them after the block that begins at that offset;
    both need a BGZF file. A read that starts inside the file begins with small
    buffers that grow, so that a short region costs little.
    """

    def __init__(self, path: str, *, threads: int = 1, batch_bytes: int | None = None,
                 start: int | None = None, stop_block: int | None = None):
        self.path = path
        self.threads = max(1, threads)
        self.batch_bytes = batch_bytes or BATCH_BYTES
        self.compression = container(path)
        if (start is not None or stop_block is not None) and self.compression != "bgzf":
            raise ValueError("virtual offsets need a BGZF file")
        self.start = start
        self.stop_block = stop_block
        # Set when the bytes ended at stop_block rather than at the end of the file.
        self.hit_stop = False
        self._fh = open(path, "rb")

    def close(self) -> None:
        self._fh.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        for raw, error in self._raw_buffers():
            if raw.size:
                yield raw
            if error is not None:
                raise self._damage(error)

    def _damage(self, error: str) -> InputError:
        return InputError(error, file=self.path,
                          hint="the file is damaged; recompress it from a good copy")

    def _raw_buffers(self) -> Iterator[tuple[np.ndarray, str | None]]:
        if self.compression == "plain":
            yield from self._plain()
        elif self.compression == "gzip":
            yield from self._gzip()
        else:
            skip = 0
            if self.start is not None:
                self._fh.seek(self.start >> 16)
                skip = self.start & 0xFFFF
            for raw, error in self._bgzf():
                if skip:
                    if raw.size < skip and error is None:
                        raw, error = raw[:0], (f"index offset {self.start} points past the "
                                               "end of its BGZF block")
                    raw = raw[skip:]
                    skip = 0
                yield raw, error
                if error is not None:
                    return

    def _plain(self):
        while True:
            buf = np.empty(self.batch_bytes, np.uint8)
            n = self._fh.readinto(memoryview(buf))
            if not n:
                return
            yield buf[:n], None

    def _gzip(self):
        # Concatenated gzip members, as gzip(1) and htslib read them.
        d = zlib.decompressobj(31)
        started = False  # whether d has been given any input
        pending = b""
        parts: list[bytes] = []
        size = 0
        while True:
            data = pending or self._fh.read(READ_BYTES)
            pending = b""
            if not data:
                break
            started = True
            try:
                out = d.decompress(data)
            except zlib.error as e:
                yield _join(parts), f"corrupt gzip data ({e})"
                return
            parts.append(out)
            size += len(out)
            if d.eof:
                pending = d.unused_data
                if pending and not pending.startswith(_GZIP_MAGIC[:len(pending)]):
                    yield _join(parts), "data after the end of the gzip stream"
                    return
                d = zlib.decompressobj(31)
                started = False
            if size >= self.batch_bytes:
                yield _join(parts), None
                parts, size = [], 0
        if started and not d.eof:
            yield _join(parts), "truncated gzip data: the file ends inside a gzip member"
            return
        yield _join(parts), None

    def _bgzf(self):
        blocks = BgzfBlocks(self._fh, threads=self.threads, batch_bytes=self.batch_bytes,
                            grow_from=None if self.start is None else
                            min(self.batch_bytes, 1 << 16),
                            stop_block=self.stop_block, base=self._fh.tell())
        for raw, _size, error in blocks:
            yield raw, error
        self.hit_stop = blocks.hit_stop


class TextSource(ByteSource):
    """The text of a VCF, VCF.gz (BGZF or plain gzip) file as buffers of whole lines.

    Iterating yields uint8 arrays, each holding one or more complete lines,
    every line ending with ``\\n`` (one is added after a last line that lacks
    it, unless the bytes end at ``stop_block``, where a line cut by the end
    belongs to blocks not read). Other arguments are ``ByteSource``'s.
    """

    def __init__(self, path: str, *, threads: int = 1, batch_bytes: int | None = None,
                 start: int | None = None, stop_block: int | None = None):
        self.kind = sniff(path)
        if self.kind == "bcf":
            raise InputError("BCF input is not VCF text", file=path,
                             hint="read it with the cyvcf2 engine")
        super().__init__(path, threads=threads, batch_bytes=batch_bytes, start=start,
                         stop_block=stop_block)

    def __iter__(self) -> Iterator[np.ndarray]:
        from genomekit.kernels.vcfparse import first_newline, last_newline

        carry: list[np.ndarray] = []
        for raw, error in self._raw_buffers():
            if raw.size:
                cut = last_newline(raw, 0, raw.size)
                if cut < 0:
                    carry.append(raw)
                else:
                    begin = 0
                    if carry:
                        # The line cut by the previous boundary, made whole.
                        head = first_newline(raw, 0, raw.size)
                        carry.append(raw[:head + 1])
                        yield np.concatenate(carry)
                        carry = []
                        begin = head + 1
                    if cut + 1 > begin:
                        yield raw[begin:cut + 1]
                    if cut + 1 < raw.size:
                        carry.append(raw[cut + 1:])
            if error is not None:
                raise self._damage(error)
        if carry and not self.hit_stop:
            carry.append(np.array([10], np.uint8))
            yield np.concatenate(carry)


def _join(parts: list[bytes]) -> np.ndarray:
    # A writable array: the parse kernels are compiled for writable buffers only.
    out = np.empty(sum(len(p) for p in parts), np.uint8)
    o = 0
    for part in parts:
        out[o:o + len(part)] = np.frombuffer(part, np.uint8)
        o += len(part)
    return out
