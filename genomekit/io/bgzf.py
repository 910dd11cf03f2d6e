"""Decompressed bytes of a VCF or BCF file (BGZF, plain gzip or uncompressed) as numpy buffers.

BGZF (SAM/BAM spec, section 4.1) is a series of gzip members of at most 64 KiB
each, whose header carries the member's size in a 'BC' extra subfield and whose
trailer carries the CRC32 and the uncompressed size (ISIZE). Knowing both sizes
up front lets every block be inflated on its own, with libdeflate (the `deflate`
package) when installed, else zlib, into one large buffer; htslib does the same
and also checks each block's CRC32, as done here. Both deflate (from 0.9) and
zlib release the GIL while inflating, so batches inflate in parallel on threads.

``ByteSource`` yields the decompressed bytes as uint8 buffers, cut anywhere;
``TextSource`` yields buffers that hold whole lines only: a line cut by a
buffer boundary is carried over to the next buffer. Both can start at a BGZF
virtual offset (``coffset << 16 | uoffset``, from a .tbi or .csi index) and stop
after a given block, to read one region of an indexed file.
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
_TRAILER = struct.Struct("<II")  # CRC32 ISIZE

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


class _Batch:
    """Compressed blocks to inflate together: (data, start, end, crc, isize, offset)."""

    __slots__ = ("blocks", "isize")

    def __init__(self):
        self.blocks: list = []
        self.isize = 0


def _inflate_batch(batch: _Batch) -> tuple[np.ndarray, str | None]:
    """Inflate a batch into one buffer; on a bad block, what came before it and why."""
    out = np.empty(batch.isize, np.uint8)
    o = 0
    for data, start, end, crc, isize, offset in batch.blocks:
        try:
            text = inflate_block(memoryview(data)[start:end], isize)
        except Exception:
            return out[:o], f"corrupt BGZF block at byte {offset} (inflate failed)"
        if _crc32(text) != crc:
            return out[:o], f"corrupt BGZF block at byte {offset} (CRC32 mismatch)"
        n = len(text)
        if o + n > out.size:
            grown = np.empty(o + n + BGZF_MAX_BLOCK, np.uint8)
            grown[:o] = out[:o]
            out = grown
        out[o:o + n] = np.frombuffer(text, np.uint8)
        o += n
    return out[:o], None


class ByteSource:
    """The decompressed bytes of a file (BGZF, plain gzip or uncompressed) as buffers.

    Iterating yields uint8 arrays, cut at arbitrary points. Damaged compressed
    data raises InputError after the buffers that precede the damage. With
    ``threads`` > 1, BGZF blocks are inflated on a thread pool, in order.

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
        batches = self._batches()
        if self.threads == 1:
            for batch in batches:
                if isinstance(batch, str):
                    yield np.zeros(0, np.uint8), batch
                    return
                yield _inflate_batch(batch)
            return
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            pending: collections.deque = collections.deque()
            try:
                for batch in batches:
                    if isinstance(batch, str):
                        pending.append(batch)
                        break
                    pending.append(pool.submit(_inflate_batch, batch))
                    if len(pending) > self.threads + 1:
                        yield pending.popleft().result()
                while pending:
                    item = pending.popleft()
                    if isinstance(item, str):
                        yield np.zeros(0, np.uint8), item
                        return
                    yield item.result()
            finally:
                for item in pending:
                    if not isinstance(item, str):
                        item.cancel()

    def _batches(self) -> Iterator[_Batch | str]:
        """Batches of blocks in file order; a string describes damage that ends the file."""
        data = b""
        o = 0
        base = self._fh.tell()  # file offset of data[0]
        # A read from inside the file (a region) starts small and doubles.
        target = self.batch_bytes if self.start is None else min(self.batch_bytes, 1 << 16)
        batch = _Batch()
        while True:
            if self.stop_block is not None and base + o > self.stop_block:
                self.hit_stop = True
                break
            size = _block_size(data, o)
            if size == 0 or (size > 0 and len(data) - o < size):
                more = self._fh.read(READ_BYTES if self.start is None else target)
                if more:
                    base += o
                    data = data[o:] + more
                    o = 0
                    continue
                if o == len(data):
                    break
                if batch.blocks:
                    yield batch
                if size == 0:
                    yield (f"truncated BGZF data: the file ends inside the block header "
                           f"at byte {base + o}")
                else:
                    yield (f"truncated BGZF block at byte {base + o}: the file ends "
                           f"{size - (len(data) - o)} bytes early")
                return
            if size < 0:
                if batch.blocks:
                    yield batch
                yield f"bad BGZF block header at byte {base + o}"
                return
            crc, isize = _TRAILER.unpack_from(data, o + size - 8)
            xlen = data[o + 10] | data[o + 11] << 8
            batch.blocks.append((data, o + 12 + xlen, o + size - 8, crc, isize, base + o))
            batch.isize += isize
            o += size
            if batch.isize >= target:
                yield batch
                batch = _Batch()
                target = min(self.batch_bytes, 2 * target)
        if batch.blocks:
            yield batch


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
