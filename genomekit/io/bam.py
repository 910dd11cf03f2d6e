"""BAM (and CRAM) input: the header, and the alignment records as buffers of bytes.

A BAM file is BGZF (see io.bgzf): gzip members of at most 64 KiB whose header gives
the compressed size and whose trailer gives the CRC32 and the uncompressed size, so
that blocks are inflated independently, in batches on a thread pool, in file order.
The decompressed stream is ``BAM\\1``, the header text, the references, then the
records (SAM/BAM spec, section 4.2), which ``BamReader.records`` yields as uint8
arrays holding whole records only. CRAM files are decoded to uncompressed BAM by
pysam's bundled samtools in a child process, and read the same way.
"""

from __future__ import annotations

import collections
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from genomekit.errors import InputError, UsageError
from genomekit.io.bgzf import inflate_block

try:
    from deflate import crc32 as _crc32
except ImportError:  # optional: zlib gives the same checksum, more slowly
    _crc32 = zlib.crc32

# Compressed bytes read (and inflated as one batch) at a time.
READ_BYTES = 1024 * 1024
# The 28-byte empty block that ends every complete BGZF file.
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_CRAM_MAGIC = b"CRAM"


@dataclass(frozen=True)
class BamHeader:
    """The header of a BAM/CRAM file."""

    text: str
    names: tuple[str, ...]
    lengths: tuple[int, ...]
    read_groups: tuple[tuple[str, str | None], ...]  # (ID, SM) of each @RG line
    sort_order: str | None

    def samples(self) -> list[str]:
        """Distinct SM values of the read groups, in order."""
        return list(dict.fromkeys(sm for _, sm in self.read_groups if sm))


def parse_header_text(text: str) -> tuple[tuple[tuple[str, str | None], ...], str | None]:
    """Read groups (ID, SM) and @HD SO of a SAM header text."""
    groups = []
    sort_order = None
    for line in text.splitlines():
        if line.startswith("@RG"):
            fields = dict(f.split(":", 1) for f in line.split("\t")[1:] if ":" in f)
            groups.append((fields.get("ID", ""), fields.get("SM") or None))
        elif line.startswith("@HD"):
            m = re.search(r"\tSO:([^\t]+)", line)
            sort_order = m.group(1) if m else None
    return tuple(groups), sort_order


def sniff(path: str) -> str:
    """'bam', 'cram', or 'other' from the first bytes of the file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from None
    if head.startswith(_CRAM_MAGIC):
        return "cram"
    if head[:4] == b"\x1f\x8b\x08\x04" and len(head) >= 12:
        xlen = head[10] | head[11] << 8
        try:
            start = zlib.decompressobj(-15).decompress(head[12 + xlen:], 4)
        except zlib.error:
            return "other"
        return "bam" if start.startswith(b"BAM\x01") else "other"
    return "other"


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


_LIBDEFLATE: list = []


def _libdeflate() -> _Libdeflate | None:
    """The ctypes binding, or None when the installed ``deflate`` lacks the symbols."""
    if not _LIBDEFLATE:
        try:
            _LIBDEFLATE.append(_Libdeflate())
        except (ImportError, OSError, AttributeError):
            _LIBDEFLATE.append(None)
    return _LIBDEFLATE[0]


def _inflate(batch, out: np.ndarray) -> tuple[np.ndarray, int, str | None]:
    """Inflate a batch of blocks into ``out`` (large enough): (the bytes, compressed
    size, problem)."""
    from genomekit.kernels.bamparse import B_END, B_ISIZE, B_OFFSET, BGZF_CRC, bgzf_inflate

    data, blocks, base, _last = batch
    total = int(blocks[:, B_ISIZE].sum())
    size = int(blocks[-1, B_END] + 8 - blocks[0, B_OFFSET])
    lib = _libdeflate()
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
            return out[:total], size, None
        done = int(blocks[:bad, B_ISIZE].sum())
        why = "CRC32 mismatch" if status == BGZF_CRC else "inflate failed"
        return out[:done], 0, (f"corrupt BGZF block at byte {base + int(blocks[bad, B_OFFSET])}"
                               f" ({why})")
    o = 0
    view = memoryview(data)
    for start, end, isize, crc, offset in blocks.tolist():
        try:
            text = inflate_block(view[start:end], isize)
        except Exception:
            text = None
        if text is None or len(text) != isize or _crc32(text) != crc:
            why = "inflate failed" if text is None or len(text) != isize else "CRC32 mismatch"
            return out[:o], 0, f"corrupt BGZF block at byte {base + offset} ({why})"
        out[o:o + isize] = np.frombuffer(text, np.uint8)
        o += isize
    return out[:total], size, None


# Largest inflated batch: a read of highly compressible blocks is split into batches of
# at most this many bytes.
MAX_BATCH_BYTES = 32 * 1024 * 1024


class _Bgzf:
    """The decompressed bytes of a BGZF stream, as arrays in order (see BamReader).

    Buffers are recycled: compressed ones once their batch is inflated, inflated ones
    once the reader calls ``release``, so that memory is allocated (and paged in) once.
    """

    def __init__(self, fh, name: str, threads: int, check_eof: bool):
        self.fh = fh
        self.name = name
        self.threads = max(1, threads)
        self.check_eof = check_eof
        self._free_in: list[np.ndarray] = []
        self._free_out: list[np.ndarray] = []

    def release(self, buf: np.ndarray) -> None:
        """Give back an inflated buffer (or a view of one) that is no longer used."""
        base = buf.base if isinstance(buf.base, np.ndarray) else buf
        if len(self._free_out) < 2 * self.threads + 4:
            self._free_out.append(base)

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
        from genomekit.kernels.bamparse import (
            B_ISIZE,
            BGZF_BAD_SIZE,
            BGZF_OK,
            bgzf_scan,
        )

        # The smallest BGZF block (the empty end-of-file block) is 28 bytes.
        table = np.zeros((READ_BYTES // 28 + 2, 5), np.int64)
        left = np.zeros(0, np.uint8)  # an incomplete block carried to the next read
        base = 0  # file offset of the buffer's first byte
        last_isize = None
        while True:
            buf = self._take(self._free_in, left.size + READ_BYTES)
            buf[:left.size] = left
            got = self.fh.readinto(memoryview(buf)[left.size:left.size + READ_BYTES]) or 0
            end = left.size + got
            o = 0
            while True:
                n, o2, status = bgzf_scan(buf, o, end, table)
                if n:
                    last_isize = int(table[n - 1, B_ISIZE])
                    sizes = np.cumsum(table[:n, B_ISIZE])
                    first = 0
                    while first < n:
                        stop = max(first + 1, int(np.searchsorted(
                            sizes, (sizes[first - 1] if first else 0) + MAX_BATCH_BYTES,
                            side="right")))
                        last = stop >= n and o2 == end and status == BGZF_OK
                        yield buf, table[first:stop].copy(), base, last
                        first = stop
                if status != BGZF_OK:
                    yield (f"bad BGZF block at byte {base + o2} (size over 64 KiB)"
                           if status == BGZF_BAD_SIZE else
                           f"not BGZF data at byte {base + o2}")
                    return
                o = o2
                if n < table.shape[0]:
                    break
            left = buf[o:end].copy()
            base += o
            if not got:
                break
        if left.size:
            yield (f"truncated BGZF data at byte {base}: the file ends inside a block "
                   f"({left.size} bytes of it present)")
            return
        if self.check_eof and last_isize != 0:
            yield ("no BGZF end-of-file block: the file is truncated" if last_isize else
                   "empty file")

    def _job(self, batch):
        from genomekit.kernels.bamparse import B_ISIZE

        return batch, self._take(self._free_out, int(batch[1][:, B_ISIZE].sum()))

    def _done(self, batch) -> None:
        if batch[3] and len(self._free_in) < 2 * self.threads + 4:
            self._free_in.append(batch[0])

    def __iter__(self) -> Iterator[tuple[np.ndarray, int, str | None]]:
        if self.threads == 1:
            for batch in self._batches():
                if isinstance(batch, str):
                    yield np.zeros(0, np.uint8), 0, batch
                    return
                result = _inflate(*self._job(batch))
                self._done(batch)
                yield result
            return
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
                while pending:
                    item = pending.popleft()
                    if isinstance(item, str):
                        yield np.zeros(0, np.uint8), 0, item
                        return
                    result = item[1].result()
                    self._done(item[0])
                    yield result
            finally:
                for item in pending:
                    if not isinstance(item, str):
                        item[1].cancel()


# Converts CRAM to uncompressed BAM on stdout with pysam's bundled samtools.
_CRAM_TO_BAM = "import pysam, sys; pysam.samtools.view(*sys.argv[1:], catch_stdout=False)"


class BamReader:
    """The header and the records of a BAM (or, with a reference, CRAM) file.

    ``scan(consume)`` passes the decompressed records (not the header) to a consumer,
    buffer by buffer; ``compressed_done()`` tells how far into the file it is. Damaged
    or truncated input raises InputError after the buffers that precede the damage.
    BGZF blocks are inflated on ``threads`` threads. No index is needed.
    """

    def __init__(self, path: str, *, threads: int = 1, reference: str | None = None):
        self.path = path
        self.kind = sniff(path)
        self.size = os.path.getsize(path)
        self._proc = None
        if self.kind == "other":
            raise InputError("not a BAM or CRAM file", file=path,
                             hint="give coordinate-sorted BAM or CRAM files")
        if self.kind == "cram":
            if reference is None:
                raise UsageError("CRAM input needs the reference it was written with",
                                 file=path, hint="give it with --reference FASTA")
            cmd = [sys.executable, "-c", _CRAM_TO_BAM, "-u", "--no-PG", "-T", reference,
                   "-@", str(max(1, threads)), path]
            self._err = tempfile.TemporaryFile()
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._err,
                                          stdin=subprocess.DEVNULL)
            self._fh = self._proc.stdout
        else:
            self._fh = open(path, "rb")
        self._bgzf = _Bgzf(self._fh, path, threads, check_eof=self.kind == "bam")
        self._stream = iter(self._bgzf)
        self._done = 0  # compressed bytes consumed
        self._pending = np.zeros(0, np.uint8)
        self.header = self._read_header()

    def close(self) -> None:
        self._fh.close()
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._err.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _next_raw(self) -> np.ndarray | None:
        try:
            buf, size, problem = next(self._stream)
        except StopIteration:
            return None
        if problem is not None:
            self._fail(problem)
        self._done += size
        return buf

    def _fail(self, problem: str):
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._err.seek(0)
            err = self._err.read().decode(errors="replace").strip().splitlines()
            detail = err[-1] if err else problem
            raise InputError(f"cannot decode the CRAM file: {detail}", file=self.path,
                             hint="check the file and that --reference is the FASTA it was "
                                  "written with")
        raise InputError(problem, file=self.path,
                         hint="the file is damaged or incomplete; copy or write it again")

    def _take(self, n: int) -> bytes:
        """The next n decompressed bytes (header parsing)."""
        parts = []
        while n > 0:
            if not self._pending.size:
                raw = self._next_raw()
                if raw is None:
                    if self._proc is not None:
                        self._fail("no data")
                    raise InputError("the file ends inside the BAM header", file=self.path,
                                     hint="the file is damaged or incomplete")
                self._pending = raw
                continue
            k = min(n, self._pending.size)
            parts.append(self._pending[:k].tobytes())
            self._pending = self._pending[k:]
            n -= k
        return b"".join(parts)

    def _read_header(self) -> BamHeader:
        if self._take(4) != b"BAM\x01":
            raise InputError("not a BAM file (no BAM magic)", file=self.path,
                             hint="give coordinate-sorted BAM or CRAM files")
        (l_text,) = struct.unpack("<i", self._take(4))
        if l_text < 0:
            raise InputError("bad BAM header (negative text length)", file=self.path)
        text = self._take(l_text).split(b"\0", 1)[0].decode(errors="replace")
        (n_ref,) = struct.unpack("<i", self._take(4))
        if n_ref < 0:
            raise InputError("bad BAM header (negative reference count)", file=self.path)
        names, lengths = [], []
        for _ in range(n_ref):
            (l_name,) = struct.unpack("<i", self._take(4))
            if l_name < 1:
                raise InputError("bad BAM header (empty reference name)", file=self.path)
            names.append(self._take(l_name)[:-1].decode(errors="replace"))
            (length,) = struct.unpack("<i", self._take(4))
            lengths.append(length)
        groups, sort_order = parse_header_text(text)
        return BamHeader(text, tuple(names), tuple(lengths), groups, sort_order)

    def compressed_done(self) -> int:
        return self._done

    def scan(self, consume) -> None:
        """Pass the records, in file order, to ``consume(buf, start)``: it handles the
        complete records of ``buf`` from offset ``start`` and returns the offset of the
        first one that is not complete (``buf.size`` when all are). A record cut by a
        buffer boundary is completed from the next buffer and passed on its own. A
        buffer's memory is reused once ``consume`` returns."""
        carry = np.zeros(0, np.uint8)  # the start of a record cut by a buffer boundary
        raw = self._pending
        self._pending = np.zeros(0, np.uint8)
        first = True
        while raw is not None:
            whole = raw
            if carry.size:
                need = _record_size(carry) - carry.size
                while need > 0 and raw.size:
                    take = min(need, raw.size)
                    carry = np.concatenate([carry, raw[:take]])
                    raw = raw[take:]
                    need = _record_size(carry) - carry.size
                if need <= 0:
                    consume(carry, 0)
                    carry = np.zeros(0, np.uint8)
            if not carry.size and raw.size:
                carry = raw[consume(raw, 0):].copy()
            if not first:  # the header's buffer may still be referenced
                self._bgzf.release(whole)
            first = False
            raw = self._next_raw()
        if self._proc is not None:
            rc = self._proc.wait()
            if rc != 0:
                self._fail(f"samtools exit status {rc}")
        if carry.size:
            raise InputError(f"the file ends inside an alignment record ({carry.size} bytes "
                             "of it present)", file=self.path,
                             hint="the file is damaged or incomplete; copy or write it again")


def _record_size(buf: np.ndarray) -> int:
    """Bytes of the record starting at buf[0] (4 if its size is not known yet)."""
    if buf.size < 4:
        return 4
    size = int(buf[:4].view("<i4")[0])
    return 4 + max(size, 0)


@dataclass(frozen=True)
class BedRegion:
    chrom: str
    start: int  # 0-based
    end: int  # half-open
    name: str | None
    line: int


def read_bed_regions(path: str) -> list[BedRegion]:
    """Every interval of a BED file, as mosdepth --by reads it: one region per line (not
    merged), the 4th column as its name; 'track', 'browser' and '#' lines skipped."""
    out = []
    try:
        fh = open(path)
    except OSError as e:
        raise UsageError(f"cannot read BED file: {e.strerror}", file=path) from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            cols = line.rstrip("\r\n").split("\t")
            try:
                chrom, start, end = cols[0], int(cols[1]), int(cols[2])
            except (IndexError, ValueError):
                raise InputError(f"line {lineno}: expected CHROM<TAB>START<TAB>END",
                                 file=path, hint="give a BED file") from None
            if start < 0 or end < start:
                raise InputError(f"line {lineno}: START must be >= 0 and END >= START",
                                 file=path, hint="fix the BED interval")
            name = cols[3].strip() if len(cols) > 3 and cols[3].strip() else None
            out.append(BedRegion(chrom, start, end, name, lineno))
    return out
