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

import os
import queue
import re
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from dataclasses import dataclass

import numpy as np

from genomekit.errors import InputError, UsageError
from genomekit.io.bgzf import BgzfBlocks

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


# Largest inflated batch: a read of highly compressible blocks is split into batches of
# at most this many bytes.
MAX_BATCH_BYTES = 32 * 1024 * 1024


class _Bgzf(BgzfBlocks):
    """The decompressed bytes of a BGZF stream, as BAM files are read (see BamReader):
    a block must inflate to its ISIZE, and BAM files end with the end-of-file block."""

    strict = True

    def __init__(self, fh, name: str, threads: int, check_eof: bool, base: int = 0):
        super().__init__(fh, threads=threads, read_bytes=READ_BYTES,
                         batch_bytes=MAX_BATCH_BYTES, check_eof=check_eof, base=base)
        self.name = name

    def _bad_header(self, offset: int) -> str:
        return f"not BGZF data at byte {offset}"

    def _truncated(self, offset: int, left: np.ndarray) -> str:
        return (f"truncated BGZF data at byte {offset}: the file ends inside a block "
                f"({left.size} bytes of it present)")


class _Prefetch:
    """The items of an iterator, produced up to ``depth`` ahead on a thread of its own.

    An exception of the iterator is raised to the consumer in its place; ``close`` stops
    the thread (and closes the iterator) when the consumer stops early."""

    _END = object()

    def __init__(self, items, depth: int):
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    break
            else:
                self._put(self._END)
        except BaseException as e:  # handed to the consumer
            self._put(e)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is self._END:
            self._queue.put(item)  # later calls end too
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                pass
        self._thread.join()


# Converts CRAM to uncompressed BAM on stdout with pysam's bundled samtools.
_CRAM_TO_BAM = "import pysam, sys; pysam.samtools.view(*sys.argv[1:], catch_stdout=False)"


class BamReader:
    """The header and the records of a BAM (or, with a reference, CRAM) file.

    ``scan(consume)`` passes the decompressed records (not the header) to a consumer,
    buffer by buffer; ``compressed_done()`` tells how far into the file it is. Damaged
    or truncated input raises InputError after the buffers that precede the damage.
    BGZF blocks are inflated on ``threads`` threads. No index is needed; ``start``, a
    BGZF virtual offset (from the index) of a BAM record, begins the records there.
    """

    def __init__(self, path: str, *, threads: int = 1, reference: str | None = None,
                 start: int | None = None):
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
        # With threads, blocks are read and handed to the inflating threads on a thread
        # of their own, so that inflation never waits for the records to be counted.
        self._stream = (_Prefetch(iter(self._bgzf), 2 * threads) if threads > 1
                        else iter(self._bgzf))
        self._done = 0  # compressed bytes consumed
        self._pending = np.zeros(0, np.uint8)
        self.header = self._read_header()
        if start is not None and self.kind == "bam":
            self._restart(start, threads)

    def _restart(self, voffset: int, threads: int) -> None:
        """Read the records from a virtual offset (coffset << 16 | uoffset) on."""
        if isinstance(self._stream, _Prefetch):
            self._stream.close()
        coffset, uoffset = voffset >> 16, voffset & 0xFFFF
        self._fh.seek(coffset)
        self._bgzf = _Bgzf(self._fh, self.path, threads, check_eof=True, base=coffset)
        self._stream = (_Prefetch(iter(self._bgzf), 2 * threads) if threads > 1
                        else iter(self._bgzf))
        self._done = 0
        self._pending = np.zeros(0, np.uint8)
        self._take(uoffset)

    def close(self) -> None:
        if isinstance(self._stream, _Prefetch):
            self._stream.close()
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


def find_bai(path: str) -> str | None:
    """PATH.bai, or PATH with .bam replaced by .bai, when it exists and is not older than
    the BAM (htslib warns about an older index; here it is not used)."""
    candidates = [path + ".bai"]
    if path.endswith(".bam"):
        candidates.append(path[:-4] + ".bai")
    for candidate in candidates:
        if os.path.isfile(candidate):
            if os.path.getmtime(candidate) < os.path.getmtime(path):
                return None
            return candidate
    return None


def read_bai_linear(path: str, n_ref: int) -> list[np.ndarray] | None:
    """The linear index of each reference of a .bai (SAM/BAM spec, section 5.2): the
    smallest virtual offset of a record overlapping each 16 kb window, 0 for none; None
    when the file is not a BAI for ``n_ref`` references."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    if data[:4] != b"BAI\x01" or len(data) < 8:
        return None
    (n,) = struct.unpack_from("<i", data, 4)
    if n != n_ref:
        return None
    o = 8
    out = []
    try:
        for _ in range(n):
            (n_bin,) = struct.unpack_from("<i", data, o)
            o += 4
            for _ in range(n_bin):
                _bin, n_chunk = struct.unpack_from("<Ii", data, o)
                o += 8 + 16 * n_chunk
            (n_intv,) = struct.unpack_from("<i", data, o)
            o += 4
            out.append(np.frombuffer(data, "<u8", count=n_intv, offset=o).astype(np.int64))
            o += 8 * n_intv
    except (struct.error, ValueError):
        return None
    return out


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
