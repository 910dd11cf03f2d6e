"""Tabix (.tbi) and coordinate-sorted (.csi) indexes, read as htslib reads them.

Both formats (hts-specs: tabix.pdf and CSIv1.pdf) map each reference sequence
to bins of a hierarchical binning scheme; each bin lists chunks, pairs of BGZF
virtual offsets (``coffset << 16 | uoffset``) between which its records lie.
A .tbi also keeps a linear index (the smallest offset of a record overlapping
each 16 kb window); a .csi keeps that offset per bin instead. A .tbi always
carries the sequence names, a .csi carries them when it indexes VCF text
(tabix metadata in its auxiliary data) but not when it indexes BCF, whose
records name their contig by its number in the header.

``Index.query`` follows htslib's ``hts_itr_query`` and returns where its
iterator starts reading and the last chunk end, so that a reader that reads
forward from there and applies htslib's overlap test (``hts_itr_next``) sees
the records htslib's region iterator returns. ``parse_region`` resolves a
``Region`` as ``hts_parse_region`` resolves the string ``str(region)``.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from genomekit.errors import InputError

HTS_POS_MAX = (0x7FFFFFFF << 32) | 0x7FFFFFFF
# tabix settings of VCF files (tbx_conf_vcf): the preset, then the 1-based
# columns of the sequence name and the start, and no end column.
TABIX_VCF = (2, 1, 2, 0)
_HINT = "re-create it with 'bcftools index' (or 'tabix -p vcf')"


def find_index(path: str, *, text: bool) -> str | None:
    """The index file htslib would load for ``path``.

    It tries PATH.csi, then PATH with its last extension replaced by .csi, and
    for VCF text (``text``) the same with .tbi (``hts_idx_check_local``).
    """
    exts = (".csi", ".tbi") if text else (".csi",)
    for ext in exts:
        candidates = [path + ext]
        base = os.path.basename(path)
        dot = base.rfind(".")
        if dot > 0:
            candidates.append(path[:len(path) - len(base) + dot] + ext)
        for candidate in candidates:
            if os.path.exists(candidate):
                return candidate
    return None


def _bin_first(level: int) -> int:
    return ((1 << (3 * level)) - 1) // 7


def _bin_parent(b: int) -> int:
    return (b - 1) >> 3


def _bin_level(b: int) -> int:
    level = 0
    while b:
        level += 1
        b = _bin_parent(b)
    return level


def _bin_bot(b: int, n_lvls: int) -> int:
    level = _bin_level(b)
    return (b - _bin_first(level)) << (n_lvls - level) * 3


@dataclass
class _Bin:
    loff: int
    chunks: np.ndarray  # uint64 (n, 2): begin and end virtual offsets


class Index:
    """A .tbi or .csi index.

    Attributes
    ----------
    path : str
    kind : str
        'tbi' or 'csi'.
    min_shift, n_lvls : int
        Size of the smallest bin (2**min_shift) and depth of the binning.
    names : list of str or None
        Sequence names in index order (None for a BCF .csi, which has none).
    tabix : tuple of int or None
        The tabix settings (preset, column of the sequence name, of the start,
        of the end) when the index has them.
    bins : list of dict
        Per reference: bin number -> _Bin.
    linear : list of uint64 arrays or None
        Per reference (.tbi only): the linear index.
    """

    def __init__(self, path: str):
        self.path = path
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
            data = _gunzip(raw)
            self._parse(data)
        except (OSError, zlib.error, struct.error, ValueError, IndexError) as e:
            raise InputError(f"unreadable index ({e})", file=path, hint=_HINT) from None
        self.n_bins = ((1 << (3 * self.n_lvls + 3)) - 1) // 7
        self.meta_bin = self.n_bins + 1

    def _parse(self, data: bytes) -> None:
        magic = data[:4]
        o = 4
        self.names = None
        self.tabix = None
        if magic == b"CSI\x01":
            self.kind = "csi"
            self.min_shift, self.n_lvls, l_aux = struct.unpack_from("<iiI", data, o)
            o += 12
            aux = data[o:o + l_aux]
            o += l_aux
            if l_aux >= 28:
                self.tabix = struct.unpack_from("<iiii", aux, 0)
                self.names = _names(aux[28:28 + struct.unpack_from("<I", aux, 24)[0]])
        elif magic == b"TBI\x01":
            self.kind = "tbi"
            self.min_shift, self.n_lvls = 14, 5
            # n_ref, format, col_seq, col_beg, col_end, meta, skip, l_nm, names
            self.tabix = struct.unpack_from("<iiii", data, 8)
            (l_nm,) = struct.unpack_from("<I", data, 32)
            self.names = _names(data[36:36 + l_nm])
            o = 36 + l_nm
        else:
            raise ValueError("not a TBI or CSI index")
        if self.kind == "tbi":
            (n_ref,) = struct.unpack_from("<i", data, 4)
        else:
            (n_ref,) = struct.unpack_from("<i", data, o)
            o += 4
        if n_ref < 0:
            raise ValueError("negative number of references")
        self.bins: list[dict[int, _Bin]] = []
        self.linear: list[np.ndarray | None] = []
        for _ in range(n_ref):
            (n_bin,) = struct.unpack_from("<i", data, o)
            o += 4
            if n_bin < 0:
                raise ValueError("negative number of bins")
            bins: dict[int, _Bin] = {}
            for _ in range(n_bin):
                (number,) = struct.unpack_from("<I", data, o)
                o += 4
                loff = 0
                if self.kind == "csi":
                    (loff,) = struct.unpack_from("<Q", data, o)
                    o += 8
                (n_chunk,) = struct.unpack_from("<i", data, o)
                o += 4
                if n_chunk < 0 or o + 16 * n_chunk > len(data):
                    raise ValueError("truncated chunk list")
                chunks = np.frombuffer(data, "<u8", 2 * n_chunk, o).reshape(n_chunk, 2)
                o += 16 * n_chunk
                if number in bins:
                    raise ValueError(f"bin {number} listed twice")
                bins[number] = _Bin(loff, chunks.astype(np.uint64))
            linear = None
            if self.kind == "tbi":
                (n_intv,) = struct.unpack_from("<i", data, o)
                o += 4
                if n_intv < 0 or o + 8 * n_intv > len(data):
                    raise ValueError("truncated linear index")
                linear = np.frombuffer(data, "<u8", n_intv, o).astype(np.uint64)
                o += 8 * n_intv
                _fill_linear(linear)
                n_lvls = self.n_lvls
                n_bins = ((1 << (3 * n_lvls + 3)) - 1) // 7
                # htslib's update_loff: each bin's offset from the linear index.
                for number, b in bins.items():
                    if number < n_bins:
                        bot = _bin_bot(number, n_lvls)
                        b.loff = int(linear[bot]) if bot < linear.size else 0
                    else:
                        b.loff = 0
            self.bins.append(bins)
            self.linear.append(linear)

    @property
    def n_refs(self) -> int:
        return len(self.bins)

    def query(self, tid: int, beg: int, end: int) -> tuple[int, int] | None:
        """Where htslib's iterator for [beg, end) on reference ``tid`` reads.

        Returns (first virtual offset, last chunk end) or None when the
        iterator has nothing to read (``hts_itr_query``).
        """
        if tid < 0 or tid >= len(self.bins):
            return None
        bins = self.bins[tid]
        if beg < 0:
            beg = 0
        if end < beg or not bins:
            return None
        meta = bins.get(self.meta_bin)
        unmapped = int(meta.chunks[1, 1]) if meta is not None and len(meta.chunks) > 1 else 1
        if meta is not None and len(meta.chunks) <= 1:
            unmapped = 0
        min_shift, n_lvls = self.min_shift, self.n_lvls
        rel_off = beg >> min_shift

        # The smallest offset a record overlapping beg can have.
        b = _bin_first(n_lvls) + rel_off
        while True:
            if b in bins:
                break
            first = (_bin_parent(b) << 3) + 1
            if b > first:
                b -= 1
            else:
                b = _bin_parent(b)
            if b == 0:
                break
        found = bins.get(b)
        min_off = found.loff if found is not None else 0
        linear = self.linear[tid]
        if linear is not None and linear.size and rel_off < linear.size:
            if min_off < int(linear[rel_off]):
                min_off = int(linear[rel_off])
            if unmapped:
                tmp = rel_off - 1
                while tmp >= 0:
                    if int(linear[tmp]) < min_off:
                        min_off = int(linear[tmp])
                        break
                    tmp -= 1
                if found is not None and (min_off < found.loff or tmp < 0):
                    min_off = found.loff
        elif unmapped and found is not None:
            min_off = found.loff

        # A virtual offset from a bin to the right of end.
        max_off = (1 << 64) - 1
        if end < 1 << (min_shift + 3 * n_lvls):
            b = _bin_first(n_lvls) + ((end - 1) >> min_shift) + 1
            if b >= self.n_bins:
                b = 0
            while True:
                while b % 8 == 1:
                    b = _bin_parent(b)
                if b == 0:
                    break
                hit = bins.get(b)
                if hit is not None and len(hit.chunks) > 0:
                    max_off = int(hit.chunks[0, 0])
                    break
                b += 1

        first = None
        last = None
        for number in _reg2bins(beg, end, min_shift, n_lvls):
            hit = bins.get(number)
            if hit is None:
                continue
            for u, v in hit.chunks.tolist():
                if v > min_off and u < max_off:
                    u = max(u, min_off)
                    v = min(v, max_off)
                    first = u if first is None else min(first, u)
                    last = v if last is None else max(last, v)
        if first is None:
            return None
        return first, last


def _reg2bins(beg: int, end: int, min_shift: int, n_lvls: int):
    """Bin numbers that may hold records overlapping [beg, end) (htslib's reg2bins)."""
    s = min_shift + 3 * n_lvls
    if end >= 1 << s:
        end = 1 << s
    if beg >= end:
        return
    end -= 1
    t = 0
    for level in range(n_lvls + 1):
        b, e = t + (beg >> s), t + (end >> s)
        yield from range(b, e + 1)
        s -= 3
        t += 1 << (3 * level)


def _fill_linear(linear: np.ndarray) -> None:
    """htslib's repair of linear indexes from older writers: empty windows
    take the next window's offset."""
    n = linear.size
    k = 0
    while k < n and linear[k] == 0:
        k += 1
    for j in range(n - 1, k, -1):
        if linear[j - 1] == 0:
            linear[j - 1] = linear[j]
    top = np.uint64((1 << 64) - 1)
    for j in range(n - 2, -1, -1):
        if linear[j] == top:
            linear[j] = linear[j + 1]


def _names(blob: bytes) -> list[str]:
    return [n.decode("latin-1") for n in blob.split(b"\0") if n]


def _gunzip(raw: bytes) -> bytes:
    """The contents of a BGZF (or gzip) file: every member, in order."""
    out = []
    while raw:
        d = zlib.decompressobj(31)
        out.append(d.decompress(raw))
        if not d.eof:
            raise zlib.error("truncated index file")
        raw = d.unused_data
    return b"".join(out)


def load_index(path: str, *, text: bool) -> Index:
    """The index htslib uses for ``path`` (VCF text when ``text``, else BCF).

    Raises InputError when there is none, or when it cannot be read.
    """
    found = find_index(path, text=text)
    if found is None:
        raise InputError("region queries need an index, and none was found", file=path,
                         hint=f"run 'bcftools index {path}', or drop -r/-R")
    return Index(found)


def parse_region(region, name2id) -> tuple[int, int, int] | None:
    """(tid, beg, end) of ``str(region)`` as ``hts_parse_region`` reads it.

    ``name2id`` maps a contig name to its number (-1 when unknown). beg is
    0-based, end exclusive (HTS_POS_MAX for an open end). Returns None where
    htslib finds no iterator: an unknown contig, or an ambiguous name.
    """
    text = str(region)
    colon = text.rfind(":")
    if colon < 0:
        tid = name2id(text)
        return (tid, 0, HTS_POS_MAX) if tid >= 0 else None
    # The whole string may itself be a contig name.
    tid = name2id(text)
    if tid >= 0:
        if name2id(text[:colon]) >= 0:
            return None  # ambiguous: htslib refuses
        return tid, 0, HTS_POS_MAX
    tid = name2id(text[:colon])
    if tid < 0:
        return None
    beg = (region.start if region.start is not None else 1) - 1
    end = region.end if region.end is not None else HTS_POS_MAX
    if end == 0:
        end = HTS_POS_MAX
    if beg >= end:
        return None
    return tid, beg, end
