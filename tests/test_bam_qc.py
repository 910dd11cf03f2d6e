"""`genomekit bam-qc`: the BAM record decoder and the depth kernel against tests/naive.py
(a line-by-line port of mosdepth 0.3.3's counting), the command against samtools 1.16
``flagstat`` and mosdepth 0.3.3 on simulated BAMs with every kind of noise, CRAM input,
thread independence, the karyotype by depth and the one-line errors.

Peer conventions relied on below:

* samtools flagstat counts every record; its first column is the QC-passed records, the
  n_* columns of the table (n_records and n_qcfail count all and the QC-failed ones).
* mosdepth counts depth with ``-F 1796`` by default (supplementary records count), reads'
  M/=/X blocks (not deletions), and corrects overlapping proper mates; its summary and
  distribution leave out contigs without records; with ``--by`` and ``-n`` it computes
  only the contigs that have BED regions, so its ``total_region`` row and region
  distribution are the ones compared with a --by run. ``MOSDEPTH_PRECISION=10`` makes it
  print ten decimals.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from genomekit.commands import bam_qc as command
from genomekit.kernels import bamparse as kb
from genomekit.kernels import coverage as kc
from genomekit.tables.bam_qc import infer_karyotype
from tests import naive
from tests.conftest import assert_one_error_line, cli, need_tool

MALE, FEMALE, FEMALE2 = "KOR00001", "KOR00003", "KOR00005"
NOISY = dict(duplicate_rate=0.1, qcfail_rate=0.03, unmapped_mate_rate=0.03,
             unmapped_pair_rate=0.01, other_contig_rate=0.02, secondary_rate=0.03,
             supplementary_rate=0.03, low_mapq_rate=0.1, softclip_rate=0.15, indel_rate=0.15,
             trim_rate=0.15, read_through_rate=0.05)


# ----------------------------------------------------------------------------- test files, peers


def write_bam(path: Path, contigs, records, sample="S1", index=True, sort_order="coordinate"):
    """A BAM of ``records`` (dicts: name, flag, tid, pos, mapq, cigar, mtid, mpos; cigar a
    list of (op, length) or None), in the given order."""
    import pysam

    header = {"HD": {"VN": "1.6", "SO": sort_order},
              "SQ": [{"SN": n, "LN": ln} for n, ln in contigs]}
    if sample is not None:
        header["RG"] = [{"ID": "rg1", "SM": sample}]
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for r in records:
            a = pysam.AlignedSegment(out.header)
            a.query_name = r["name"]
            a.flag = r["flag"]
            a.reference_id = r["tid"]
            a.reference_start = r["pos"]
            a.mapping_quality = r.get("mapq", 60)
            qlen = 10
            if r.get("cigar"):
                a.cigartuples = r["cigar"]
                qlen = sum(n for op, n in r["cigar"] if op in naive.BAM_CONSUMES_QUERY)
            a.next_reference_id = r.get("mtid", -1)
            a.next_reference_start = r.get("mpos", -1)
            a.query_sequence = "A" * qlen
            a.query_qualities = pysam.qualitystring_to_array("I" * qlen)
            if sample is not None:
                a.set_tag("RG", "rg1")
            out.write(a)
    if index:
        pysam.index(str(path))
    return path


def record_bytes(path: Path) -> tuple[bytes, int]:
    """The decompressed records of a BAM (after its header) and its number of contigs."""
    data = gzip.decompress(path.read_bytes())
    (l_text,) = struct.unpack_from("<i", data, 4)
    o = 8 + l_text
    (n_ref,) = struct.unpack_from("<i", data, o)
    o += 4
    for _ in range(n_ref):
        (l_name,) = struct.unpack_from("<i", data, o)
        o += 4 + l_name + 4
    return data[o:], n_ref


def random_records(rng: random.Random, contigs, n_pairs: int) -> list[dict]:
    """Sorted records with everything that matters to the depth rules: proper pairs that
    overlap (partly, fully, at the same start, contained, single-M or not), CIGARs with
    I, D, N, S, H, = and X, supplementary records marked proper, duplicates, QC-failed,
    secondary and unmapped records, low MAPQs, and unplaced reads at the end."""

    def cigar(span_hint):
        if rng.random() < 0.4:
            return [(0, span_hint)]
        ops = []
        if rng.random() < 0.3:
            ops.append((rng.choice([4, 5]), rng.randint(1, 10)))
        for _ in range(rng.randint(1, 4)):
            ops.append((rng.choice([0, 0, 7, 8]), rng.randint(0, 40)))
            if rng.random() < 0.6:
                ops.append((rng.choice([1, 2, 2, 3, 6]), rng.randint(1, 30)))
        ops.append((0, rng.randint(1, 40)))
        if rng.random() < 0.3:
            ops.append((4, rng.randint(1, 10)))
        return ops

    def span(c):
        return sum(n for op, n in c if op in naive.BAM_CONSUMES_REF)

    recs = []
    for i in range(n_pairs):
        tid = rng.randrange(len(contigs) - 1)  # the last contig never gets reads
        length = contigs[tid][1]
        a_cig = cigar(rng.randint(20, 120))
        b_cig = [(0, rng.randint(5, 150))] if rng.random() < 0.5 and len(a_cig) == 1 \
            else cigar(rng.randint(20, 120))
        a_pos = rng.randrange(0, length - 400)
        b_pos = a_pos if rng.random() < 0.15 else a_pos + rng.randint(0, 200)
        flag_common = 0x1 | (0x2 if rng.random() < 0.8 else 0)
        for bit, p in ((0x400, 0.08), (0x200, 0.05)):
            if rng.random() < p:
                flag_common |= bit
        name = f"p{i}"
        a = {"name": name, "tid": tid, "pos": a_pos, "mapq": rng.choice([0, 5, 30, 60, 60]),
             "cigar": a_cig, "mtid": tid, "mpos": b_pos, "flag": flag_common | 0x40 | 0x20}
        b = {"name": name, "tid": tid, "pos": b_pos, "mapq": rng.choice([0, 5, 30, 60, 60]),
             "cigar": b_cig, "mtid": tid, "mpos": a_pos, "flag": flag_common | 0x80 | 0x10}
        if rng.random() < 0.05:  # mate unmapped, placed at its mate's position
            b.update(flag=(b["flag"] & ~0x2) | 0x4, cigar=None, pos=a_pos, mpos=a_pos)
            a.update(flag=(a["flag"] & ~0x2) | 0x8, mpos=a_pos)
        recs += [a, b]
        if rng.random() < 0.08:  # supplementary piece near the pair, keeping 0x2
            c = cigar(rng.randint(10, 60))
            recs.append({"name": name, "tid": tid, "pos": a_pos + rng.randint(0, 100),
                         "mapq": 20, "cigar": [(5, 30)] + c, "mtid": tid, "mpos": b_pos,
                         "flag": (a["flag"] | 0x800)})
        if rng.random() < 0.05:
            recs.append({"name": name, "tid": tid, "pos": rng.randrange(0, length - 200),
                         "mapq": 0, "cigar": [(0, 50)], "mtid": tid, "mpos": b_pos,
                         "flag": 0x1 | 0x100 | 0x40})
    for r in recs:
        if r["cigar"] and r["pos"] + span(r["cigar"]) > contigs[r["tid"]][1]:
            r["cigar"] = [(0, 10)]
    recs.sort(key=lambda r: (r["tid"], r["pos"]))
    recs += [{"name": f"u{i}", "tid": -1, "pos": -1, "mapq": 0, "cigar": None, "mtid": -1,
              "mpos": -1, "flag": 0x1 | 0x4 | 0x8 | 0x40} for i in range(3)]
    return recs


def scan(path: Path, options=None, bed=None, bed_path="regions.bed"):
    job = command._ScanJob(options or command.Options(), bed, bed_path, None, 1,
                           lambda n, w: None, True)
    return job(str(path))


def mosdepth(tmp_path: Path, bam, name="md", extra=()) -> dict:
    """Run mosdepth -n and read its summary, global distribution and, with -b, regions."""
    exe = need_tool("mosdepth")
    prefix = tmp_path / name
    env = dict(os.environ, MOSDEPTH_PRECISION="10")
    subprocess.run([exe, "-n", "-t", "1", *extra, str(prefix), str(bam)], check=True,
                   env=env, capture_output=True)
    out = {"summary": {}, "dist": {}, "region_dist": {}, "regions": []}
    for line in Path(f"{prefix}.mosdepth.summary.txt").read_text().splitlines()[1:]:
        chrom, length, bases, mean, lo, hi = line.split("\t")
        out["summary"][chrom] = (int(length), int(bases), float(mean))
    for key, suffix in (("dist", "global"), ("region_dist", "region")):
        p = Path(f"{prefix}.mosdepth.{suffix}.dist.txt")
        if p.exists():
            for line in p.read_text().splitlines():
                chrom, depth, frac = line.split("\t")
                out[key][(chrom, int(depth))] = float(frac)
    p = Path(f"{prefix}.regions.bed.gz")
    if p.exists():
        for line in gzip.open(p, "rt"):
            cols = line.rstrip("\n").split("\t")
            out["regions"].append((cols[0], int(cols[1]), int(cols[2]),
                                   cols[3] if len(cols) == 5 else None, float(cols[-1])))
    return out


def run_qc(tmp_path: Path, bams, name="qc", **kwargs) -> dict:
    prefix = str(tmp_path / name)
    kwargs.setdefault("quiet", True)
    kwargs.setdefault("force", True)
    summary = command.run([str(b) for b in bams], prefix, **kwargs)
    fmt = kwargs.get("fmt", "parquet")

    def read(kind):
        path = f"{prefix}.{kind}.{fmt}"
        if fmt == "tsv":
            return pl.read_csv(path, separator="\t", null_values="NA", infer_schema_length=None)
        return pl.read_parquet(path)

    out = {"summary": summary, "table": read("bam_qc"), "dist": read("coverage_dist")}
    if kwargs.get("by"):
        out["regions"] = read("regions")
    return out


def cumulative(dist: pl.DataFrame, sample: str, chrom: str) -> dict[int, float]:
    """mosdepth's distribution (share of bases with depth >= d) from our rows."""
    rows = dist.filter((pl.col("sample") == sample) & (pl.col("chrom") == chrom))
    hist = dict(zip(rows["depth"].to_list(), rows["n_bases"].to_list()))
    total = sum(hist.values())
    out, acc = {}, 0
    for d in range(max(hist), -1, -1):
        acc += hist.get(d, 0)
        out[d] = acc / total
    return out


def assert_dist_equal(ours: dict, theirs: dict, suffix: str = ""):
    """Every line mosdepth printed equals ours (it skips shares below 8e-5)."""
    assert theirs
    for (chrom, depth), frac in theirs.items():
        mine = ours[chrom + suffix if chrom != "total" else "total" + suffix]
        assert abs(mine.get(depth, 0.0) - frac) < 2e-10, (chrom, depth)


# ----------------------------------------------------------------------------- kernels


def test_decode_matches_naive(tmp_path):
    rng = random.Random(5)
    contigs = [("c1", 4000), ("c2", 3000), ("c3", 500)]
    recs = random_records(rng, contigs, 300)
    bam = write_bam(tmp_path / "r.bam", contigs, recs, index=False)
    data, n_ref = record_bytes(bam)
    expect = naive.bam_records(data)
    buf = np.frombuffer(data, np.uint8).copy()
    assert len(expect) == len(recs)
    o = 0
    for e in expect:
        (status, size, tid, pos, mapq, flag, ncig, cig, name, nlen, mtid, mpos, end,
         lseq) = kb.decode(buf, o, buf.size, n_ref)
        assert status == kb.OK and o == e["offset"]
        assert (tid, pos, mapq, flag, mtid, mpos, end, lseq) == \
            (e["tid"], e["pos"], e["mapq"], e["flag"], e["mtid"], e["mpos"], e["end"],
             e["l_seq"])
        assert bytes(buf[name:name + nlen]).decode() == e["name"]
        assert [(int(v) & 0xF, int(v) >> 4) for v in buf[cig:cig + 4 * ncig].view("<u4")] \
            == e["cigar"]
        o += size
    assert o == buf.size
    assert kb.decode(buf, o, buf.size, n_ref)[0] == kb.MORE
    # A record cut anywhere is not decoded.
    for e, nxt in zip(expect, [x["offset"] for x in expect[1:]] + [buf.size]):
        cut = rng.randrange(e["offset"], nxt)
        assert kb.decode(buf, e["offset"], cut, n_ref)[0] == kb.MORE


def test_decode_rejects_damage(tmp_path):
    contigs = [("c1", 1000)]
    recs = [{"name": "a", "flag": 0, "tid": 0, "pos": 5, "cigar": [(0, 10)]}]
    data, n_ref = record_bytes(write_bam(tmp_path / "r.bam", contigs, recs, index=False))

    def status(mutate):
        buf = bytearray(data)
        mutate(buf)
        return kb.decode(np.frombuffer(bytes(buf), np.uint8).copy(), 0, len(buf), n_ref)[0]

    assert status(lambda b: None) == kb.OK
    assert status(lambda b: struct.pack_into("<i", b, 0, 20)) == kb.ERR_BLOCK_SIZE
    assert status(lambda b: struct.pack_into("<i", b, 4, 3)) == kb.ERR_TID
    assert status(lambda b: struct.pack_into("<i", b, 24, 7)) == kb.ERR_TID
    assert status(lambda b: struct.pack_into("<i", b, 8, -5)) == kb.ERR_POS
    name = 36
    assert status(lambda b: b.__setitem__(name + 1, 65)) == kb.ERR_NAME
    cig = name + 2
    assert status(lambda b: struct.pack_into("<I", b, cig, 10 << 4 | 9)) == kb.ERR_CIGAR_OP
    long_cigar = [{"name": "a", "flag": 0, "tid": 0, "pos": 5,
                   "cigar": [(4, 10), (3, 500)]}]
    data, _ = record_bytes(write_bam(tmp_path / "l.bam", contigs, long_cigar, index=False))
    assert status(lambda b: None) == kb.ERR_LONG_CIGAR


def test_bgzf_kernels_match_naive(tmp_path):
    import zlib

    from genomekit.io.bgzf import libdeflate_binding
    from genomekit.kernels import bgzf as kz

    rng = random.Random(2)
    contigs = [("c1", 4000), ("c2", 3000), ("c3", 500)]
    bam = write_bam(tmp_path / "r.bam", contigs, random_records(rng, contigs, 3000),
                    index=False)
    raw = bam.read_bytes()
    data = np.frombuffer(raw, np.uint8).copy()
    expect = naive.bgzf_blocks(raw)
    assert len(expect) > 3
    table = np.zeros((len(expect) + 5, 5), np.int64)
    n, off, status = kz.bgzf_scan(data, 0, data.size, table, 65536)
    assert (n, off, status) == (len(expect), data.size, kz.BGZF_OK)
    assert [tuple(r) for r in table[:n].tolist()] == expect
    for cut in rng.sample(range(1, data.size), 30):  # incomplete blocks wait for bytes
        n, off, status = kz.bgzf_scan(data, 0, cut, table, 65536)
        whole = [b for b in expect if b[1] + 8 <= cut]
        assert (n, off, status) == (len(whole), whole[-1][1] + 8 if whole else 0, kz.BGZF_OK)
    small = np.zeros((2, 5), np.int64)  # a full table stops the scan
    assert kz.bgzf_scan(data, 0, data.size, small, 65536)[:2] == (2, expect[2][4])
    bad = data.copy()
    bad[expect[1][4]] = 0
    assert kz.bgzf_scan(bad, 0, bad.size, table, 65536) == (1, expect[1][4], kz.BGZF_BAD_HEADER)
    most = expect[1][2] - 1  # a block announcing more than max_isize stops the scan
    over = next(i for i, b in enumerate(expect) if b[2] > most)
    assert kz.bgzf_scan(data, 0, data.size, table, most) == \
        (over, expect[over][4], kz.BGZF_BAD_SIZE)
    lib = libdeflate_binding()
    assert lib is not None
    n = len(expect)
    blocks = np.array(expect, np.int64)
    out = np.zeros(int(blocks[:, 2].sum()), np.uint8)
    dec = lib.alloc()
    try:
        assert kz.bgzf_inflate(data, blocks, n, out, lib.decompress, lib.crc32, dec) == \
            (-1, kz.BGZF_OK)
        assert out.tobytes() == b"".join(zlib.decompress(raw[s:e], -15) for s, e, *_ in expect)
        wrong = blocks.copy()
        wrong[2, 3] ^= 1
        assert kz.bgzf_inflate(data, wrong, n, out, lib.decompress, lib.crc32, dec) == \
            (2, kz.BGZF_CRC)
        wrong = blocks.copy()
        wrong[1, 2] += 1
        assert kz.bgzf_inflate(data, wrong, n, out, lib.decompress, lib.crc32, dec)[0] == 1
    finally:
        lib.free(dec)


def test_inflate_without_the_libdeflate_binding(tmp_path, monkeypatch):
    """The zlib/deflate-package path (when the binding is unavailable) reads the same."""
    import genomekit.io.bam as iobam
    import genomekit.io.bgzf as iobgzf

    rng = random.Random(4)
    contigs = [("c1", 4000), ("c2", 3000), ("c3", 500)]
    bam = write_bam(tmp_path / "r.bam", contigs, random_records(rng, contigs, 500))
    fast = scan(bam)
    monkeypatch.setattr(iobgzf, "_LIBDEFLATE", [None])
    slow = scan(bam)
    assert (fast.counts == slow.counts).all() and (fast.sums == slow.sums).all()
    data = bytearray(bam.read_bytes())
    data[len(data) // 2] ^= 0x55
    (tmp_path / "bad.bam").write_bytes(bytes(data))
    for binding in ([None], []):
        monkeypatch.setattr(iobgzf, "_LIBDEFLATE", binding)
        with pytest.raises(iobam.InputError, match="corrupt BGZF block"):
            scan(tmp_path / "bad.bam")


@pytest.mark.parametrize("binding", ["ctypes", "python"])
def test_bgzf_damage_named_by_block(tmp_path, monkeypatch, binding):
    """Each kind of damage names the offset of its block (found by the naive block
    reader), after the bytes of the blocks before it; a block must inflate to its ISIZE."""
    import genomekit.io.bam as iobam
    import genomekit.io.bgzf as iobgzf

    if binding == "python":
        monkeypatch.setattr(iobgzf, "_LIBDEFLATE", [None])
    monkeypatch.setattr(iobam, "READ_BYTES", 5000)
    rng = random.Random(5)
    contigs = [("c1", 4000), ("c2", 3000)]
    good = write_bam(tmp_path / "r.bam", contigs, random_records(rng, contigs, 3000),
                     index=False).read_bytes()
    blocks = naive.bgzf_blocks(good)
    k = len(blocks) // 2
    _s, _e, isize, _crc, off = blocks[k]
    text = [zlib.decompress(good[b[0]:b[1]], -15) for b in blocks]
    path = tmp_path / "x.bam"

    def read(data, threads):
        path.write_bytes(data)
        got, problem = [], None
        with open(path, "rb") as fh:
            for raw, _size, why in iobam._Bgzf(fh, str(path), threads, check_eof=True):
                got.append(raw.tobytes())
                problem = why
        return b"".join(got), problem

    damaged = naive.bgzf_damaged(good, k)
    cases = [
        (damaged["crc"], f"corrupt BGZF block at byte {off} (CRC32 mismatch)"),
        (damaged["deflate"], f"corrupt BGZF block at byte {off} (inflate failed)"),
        (naive.bgzf_with_isize(good, k, isize + 5),
         f"corrupt BGZF block at byte {off} (inflate failed)"),
        (naive.bgzf_with_isize(good, k, isize - 1),
         f"corrupt BGZF block at byte {off} (inflate failed)"),
        (naive.bgzf_with_isize(good, k, 70_000),
         f"bad BGZF block at byte {off} (size over 64 KiB)"),
        (damaged["header"], f"not BGZF data at byte {off}"),
        (damaged["cut_block"], f"truncated BGZF data at byte {off}: the file ends inside a "
                               "block (30 bytes of it present)"),
    ]
    for threads in (1, 2):
        for data, message in cases:
            assert read(data, threads) == (b"".join(text[:k]), message)
        assert read(good[:-28], threads) == \
            (b"".join(text), "no BGZF end-of-file block: the file is truncated")
        assert read(good, threads) == (b"".join(text), None)


OPTION_SETS = [
    command.Options(),
    command.Options(min_mapq=20),
    command.Options(fast_mode=True),
    command.Options(exclude_flag=0, include_flag=0x2),
    command.Options(exclude_flag=0x4 | 0x100),
]


@pytest.mark.parametrize("options", OPTION_SETS, ids=["default", "mapq20", "fast", "F0-i2",
                                                      "dups-counted"])
def test_depth_kernel_matches_naive(tmp_path, monkeypatch, options):
    """Random records, read in tiny batches, with a tiny ring and mate table (so they
    grow), give mosdepth's per-base depth (naive port), per contig and per region."""
    import genomekit.io.bam as iobam
    from genomekit.io.bam import BedRegion

    monkeypatch.setattr(command, "RING_SIZE", 8)
    monkeypatch.setattr(command, "MATE_SLOTS", 2)
    monkeypatch.setattr(iobam, "READ_BYTES", 333)
    rng = random.Random(11)
    contigs = [("c1", 5000), ("chrX", 3_000_000), ("c3", 800)]
    recs = random_records(rng, contigs, 600)
    # Reads across the end of PAR1 on chrX.
    recs += [{"name": f"x{i}", "tid": 1, "pos": 2_781_000 + 37 * i, "mapq": 60,
              "cigar": [(0, 100)], "mtid": -1, "mpos": -1, "flag": 3} for i in range(100)]
    recs.sort(key=lambda r: (r["tid"] < 0, r["tid"], r["pos"]))
    bam = write_bam(tmp_path / "r.bam", contigs, recs, index=False)
    bed = [BedRegion("c1", 0, 5000, "all", 1), BedRegion("c1", 100, 900, None, 2),
           BedRegion("c1", 400, 450, "nested", 3), BedRegion("c1", 700, 700, "empty", 4),
           BedRegion("chrX", 2_780_000, 2_790_000, "par-edge", 5),
           BedRegion("c3", 10, 200, "no-reads", 6)]
    cov = scan(bam, options, bed)
    records = naive.bam_records(record_bytes(bam)[0])
    assert cov.counts[:, :16].tolist() == naive.flagstat(records)
    assert cov.counts[0, kc.C_SUM_MAPQ] == sum(
        r["mapq"] for r in records if not r["flag"] & (0x4 | 0x100 | 0x800 | 0x200))
    depth = {}
    for tid, (_, length) in enumerate(contigs):
        d = naive.mosdepth_depth(records, tid, length, options.min_mapq,
                                 options.exclude_flag, options.include_flag,
                                 options.fast_mode)
        assert cov.found[tid] == (d is not None)
        if d is None:
            continue
        depth[tid] = d
        assert cov.sums[tid] == sum(d)
        hist = naive.depth_histogram(d)
        got = {i: int(v) for i, v in enumerate(cov.hists[tid]) if v}
        assert got == hist
    region_hist: dict[int, dict] = {}
    for k, (tid, r) in enumerate(cov.regions):
        d = depth.get(tid)
        assert cov.region_sums[k] == (sum(d[r.start:r.end]) if d else 0)
        if d:
            h = region_hist.setdefault(tid, {})
            for v, c in naive.depth_histogram(d[r.start:r.end]).items():
                h[v] = h.get(v, 0) + c
    for tid, h in region_hist.items():
        assert {i: int(v) for i, v in enumerate(cov.region_hists[tid]) if v} == h
    # chrX outside PAR1 (which ends at 2,781,479) within the BED regions: the depth the
    # karyotype uses.
    s, n = cov.nonpar["X"]
    assert n == 2_790_000 - 2_781_479 and s > 0
    assert s == sum(depth.get(1, [0] * 3_000_000)[2_781_479:2_790_000])


def test_depth_kernel_ring_and_batches_do_not_change_results(tmp_path, monkeypatch):
    import genomekit.io.bam as iobam

    rng = random.Random(3)
    contigs = [("c1", 20000), ("c2", 9000), ("c3", 100)]
    bam = write_bam(tmp_path / "r.bam", contigs, random_records(rng, contigs, 1500),
                    index=False)
    big = scan(bam)
    monkeypatch.setattr(command, "RING_SIZE", 4)
    monkeypatch.setattr(command, "MATE_SLOTS", 2)
    monkeypatch.setattr(iobam, "READ_BYTES", 1000)
    small = scan(bam)
    assert (big.counts == small.counts).all() and (big.sums == small.sums).all()
    assert all((big.hists[t] == small.hists[t]).all() for t in big.hists)


# ----------------------------------------------------------------------------- peers


@pytest.fixture(scope="module")
def noisy(make_bams):
    """A male and a female with raised rates of every kind of noise."""
    return make_bams("noisy", [MALE, FEMALE], **NOISY)


def spans_bed(sim, path: Path, extra=()) -> Path:
    lines = [f"{c}\t{a}\t{b}\tspan_{c}" for c, (a, b) in sim.spans.items()]
    lines += list(extra)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_flag_counts_equal_samtools_flagstat(tmp_path, noisy):
    samtools = need_tool("samtools")
    res = run_qc(tmp_path, [noisy.bams[MALE], noisy.bams[FEMALE]])
    names = {"n_total": "total", "n_primary": "primary", "n_secondary": "secondary",
             "n_supplementary": "supplementary", "n_duplicates": "duplicates",
             "n_primary_duplicates": "primary duplicates", "n_mapped": "mapped",
             "n_primary_mapped": "primary mapped", "n_paired": "paired in sequencing",
             "n_read1": "read1", "n_read2": "read2", "n_properly_paired": "properly paired",
             "n_both_mapped": "with itself and mate mapped", "n_singletons": "singletons",
             "n_mate_other_chr": "with mate mapped to a different chr",
             "n_mate_other_chr_mapq5": "with mate mapped to a different chr (mapQ >= 5)"}
    for row in res["table"].iter_rows(named=True):
        fs = json.loads(subprocess.run([samtools, "flagstat", "-O", "json", row["bam"]],
                                       check=True, capture_output=True, text=True).stdout)
        passed, failed = fs["QC-passed reads"], fs["QC-failed reads"]
        for col, key in names.items():
            assert row[col] == passed[key], col
        assert row["n_qcfail"] == failed["total"]
        assert row["n_records"] == passed["total"] + failed["total"]
        for col, key in (("pct_mapped", "mapped %"), ("pct_primary_mapped", "primary mapped %"),
                         ("pct_properly_paired", "properly paired %"),
                         ("pct_singletons", "singletons %")):
            assert abs(row[col] - passed[key]) <= 0.0051, col
        # Every kind of noise is present.
        for col in ("n_qcfail", "n_secondary", "n_supplementary", "n_duplicates",
                    "n_singletons", "n_mate_other_chr"):
            assert row[col] > 0, col
        assert row["n_mapped"] < row["n_total"]
        assert row["mean_mapq"] < 60


@pytest.mark.parametrize("flags", [(), ("-Q", "20"), ("-x",), ("-F", "0"),
                                   ("-F", "1284", "-i", "2")],
                         ids=["default", "Q20", "fast", "F0", "F1284-i2"])
def test_depth_equals_mosdepth(tmp_path, noisy, flags):
    options = {"-Q": "min_mapq", "-F": "exclude_flag", "-i": "include_flag"}
    kwargs: dict = {"thresholds": "0,1,5,10,20,30"}
    it = iter(flags)
    for f in it:
        if f == "-x":
            kwargs["fast_mode"] = True
        else:
            kwargs[options[f]] = int(next(it))
    res = run_qc(tmp_path, [noisy.bams[MALE], noisy.bams[FEMALE]], **kwargs)
    for row in res["table"].iter_rows(named=True):
        md = mosdepth(tmp_path, row["bam"], row["sample"], flags)
        length, bases, mean = md["summary"]["total"]
        assert (row["genome_bases"], row["sum_depth"]) == (length, bases)
        assert abs(row["mean_depth"] - mean) < 1e-9
        ours = {}
        for chrom in md["summary"]:
            if chrom == "total":
                continue
            ours[chrom] = cumulative(res["dist"], row["sample"], chrom)
            c_len, c_bases, c_mean = md["summary"][chrom]
            assert abs(row[f"mean_depth_{chrom}"] - c_mean) < 1e-9
            rows = res["dist"].filter((pl.col("sample") == row["sample"])
                                      & (pl.col("chrom") == chrom))
            assert rows["n_bases"].sum() == c_len
            assert (rows["depth"].cast(pl.Int64) * rows["n_bases"]).sum() == c_bases
        ours["total"] = cumulative(res["dist"], row["sample"], "total")
        assert_dist_equal(ours, md["dist"])
        for t in (0, 1, 5, 10, 20, 30):
            theirs = md["dist"].get(("total", t))
            mine = row[f"frac_ge_{t}x"]
            assert abs(mine - theirs) < 2e-10 if theirs is not None else mine < 8e-5
        # Contigs without records are left out of the genome, as mosdepth does.
        assert "chrUn_KI270302v1" not in md["summary"]
        if row["sample"] == FEMALE:
            assert "chrY" not in md["summary"] and row["mean_depth_chrY"] == 0


def test_regions_equal_mosdepth_by(tmp_path, noisy):
    sim = noisy
    bed = spans_bed(sim, tmp_path / "by.bed", extra=[
        "chr1\t99500\t99800\tnested", "chr1\t120000\t120000\tempty", "chr2\t110000\t110500",
        "chr1\t100000\t100400\tdup_start", "chrUn_KI270302v1\t0\t2000\tno_reads",
        "chrX\t2781000\t2782000"])
    res = run_qc(tmp_path, [sim.bams[MALE], sim.bams[FEMALE]], by=str(bed), thresholds="1,10")
    for row in res["table"].iter_rows(named=True):
        md = mosdepth(tmp_path, row["bam"], "by_" + row["sample"], ("-b", str(bed)))
        regs = res["regions"].filter(pl.col("sample") == row["sample"])
        assert regs.height == len(md["regions"])
        for ours, theirs in zip(regs.iter_rows(), md["regions"]):
            assert ours[1:5] == theirs[:4]
            assert abs(ours[5] - theirs[4]) < 1e-8
        length, bases, mean = md["summary"]["total_region"]
        assert (row["genome_bases"], row["sum_depth"]) == (length, bases)
        assert abs(row["mean_depth"] - mean) < 1e-9
        ours = {}
        for chrom in md["summary"]:
            if chrom.endswith("_region") and chrom != "total_region":
                base = chrom[:-len("_region")]
                assert abs(row[f"mean_depth_{base}"] - md["summary"][chrom][2]) < 1e-9
                ours[chrom] = cumulative(res["dist"], row["sample"], chrom)
        ours["total_region"] = cumulative(res["dist"], row["sample"], "total_region")
        assert_dist_equal(ours, md["region_dist"], "_region")
        assert abs(row["frac_ge_10x"] - md["region_dist"][("total", 10)]) < 2e-10


def test_edge_cases_equal_mosdepth(tmp_path):
    """Hand-made records: N and =/X operations, zero-length operations, single-M mates
    where the later one ends first (mosdepth subtracts up to the earlier one's end),
    mates at the same start, a supplementary record marked proper, a contig whose only
    record is a duplicate, a contig without records."""
    M, INS, D, N, S, H, EQ, X = 0, 1, 2, 3, 4, 5, 7, 8
    contigs = [("a", 2000), ("b", 1000), ("c", 500), ("d", 300)]
    P = 0x1 | 0x2

    def pair(name, tid, p1, c1, p2, c2, extra=0):
        return [{"name": name, "tid": tid, "pos": p1, "cigar": c1, "mtid": tid, "mpos": p2,
                 "flag": P | 0x40 | 0x20 | extra},
                {"name": name, "tid": tid, "pos": p2, "cigar": c2, "mtid": tid, "mpos": p1,
                 "flag": P | 0x80 | 0x10 | extra}]

    recs = (pair("contained", 0, 10, [(M, 150)], 30, [(M, 60)])
            + pair("same", 0, 100, [(M, 80)], 100, [(M, 50)])
            + pair("same2", 0, 100, [(M, 40)], 100, [(M, 90)])
            + pair("n_op", 0, 300, [(M, 20), (N, 100), (M, 20)], 310,
                   [(S, 5), (EQ, 10), (X, 1), (EQ, 9), (D, 4), (M, 30)])
            + pair("zero", 0, 600, [(M, 10), (D, 0), (M, 10), (INS, 3), (M, 0), (M, 5)], 605,
                   [(M, 20)])
            + pair("disjoint", 0, 800, [(M, 30), (D, 50), (M, 30)], 840, [(M, 20)])
            + pair("dup", 1, 50, [(M, 30)], 60, [(M, 30)], 0x400))
    recs.append({"name": "supp", "tid": 0, "pos": 20, "cigar": [(H, 10), (M, 40)],
                 "mtid": 0, "mpos": 30, "flag": P | 0x800 | 0x40})
    recs.append({"name": "contained", "tid": 0, "pos": 25, "cigar": [(M, 10)], "mtid": 0,
                 "mpos": 30, "flag": P | 0x800 | 0x40})
    recs.append({"name": "only_dup", "tid": 2, "pos": 5, "cigar": [(M, 10)], "mtid": -1,
                 "mpos": -1, "flag": 0x400})
    recs.sort(key=lambda r: (r["tid"], r["pos"]))
    bam = write_bam(tmp_path / "edge.bam", contigs, recs)
    res = run_qc(tmp_path, [bam], thresholds="1,2")
    row = res["table"].row(0, named=True)
    md = mosdepth(tmp_path, bam)
    assert set(md["summary"]) == {"a", "b", "c", "total"}
    assert (row["genome_bases"], row["sum_depth"]) == md["summary"]["total"][:2]
    records = naive.bam_records(record_bytes(bam)[0])
    for tid, (name, length) in enumerate(contigs[:3]):
        d = naive.mosdepth_depth(records, tid, length)
        assert md["summary"][name][:2] == (length, sum(d))
    ours = {"total": cumulative(res["dist"], "S1", "total")}
    assert_dist_equal(ours, {k: v for k, v in md["dist"].items() if k[0] == "total"})
    # The contained pair [10, 160) + [30, 90): mosdepth subtracts over [30, 160), so
    # [90, 160) has depth 0 though one read covers it.
    d = naive.mosdepth_depth(records, 0, 2000)
    assert d[65] == 1 and d[95] == 0 and d[12] == 1


# ----------------------------------------------------------------------------- command


def test_threads_and_formats_do_not_change_results(tmp_path, make_bams):
    sim = make_bams("trio", [MALE, FEMALE, FEMALE2])
    bams = [sim.bams[s] for s in (MALE, FEMALE, FEMALE2)]
    one = run_qc(tmp_path, bams, "t1", threads=1)
    two = run_qc(tmp_path, bams, "t2", threads=2)
    three = run_qc(tmp_path, bams[:1], "t3", threads=2, fmt="tsv")
    assert one["table"].drop("bam").equals(two["table"].drop("bam"))
    assert one["dist"].equals(two["dist"])
    assert one["table"]["sample"].to_list() == [MALE, FEMALE, FEMALE2]
    tsv = three["table"].row(0, named=True)
    par = one["table"].row(0, named=True)
    for col in ("n_records", "sum_depth", "genome_bases", "karyotype"):
        assert tsv[col] == par[col]
    assert abs(tsv["mean_depth"] - par["mean_depth"]) < 1e-12
    assert one["summary"]["samples"] == [MALE, FEMALE, FEMALE2]


def test_karyotype_by_depth(tmp_path, make_bams, bam_cohort):
    """Over the simulated spans (--by), males have half the chrX depth and chrY reads; with
    the BAMs of a male and a female swapped, each file shows the other's karyotype."""
    sim = make_bams("sexes", [MALE, FEMALE, FEMALE2], swap=(MALE, FEMALE2))
    bed = spans_bed(sim, tmp_path / "spans.bed")
    res = run_qc(tmp_path, [sim.bams[s] for s in (MALE, FEMALE, FEMALE2)], by=str(bed))
    rows = {r["sample"]: r for r in res["table"].iter_rows(named=True)}
    assert rows[FEMALE]["karyotype"] == "XX"
    assert 0.85 < rows[FEMALE]["x_depth_ratio"] < 1.15 and rows[FEMALE]["y_depth_ratio"] == 0
    # MALE's file carries FEMALE2's reads and the other way round.
    assert rows[MALE]["karyotype"] == "XX"
    assert rows[FEMALE2]["karyotype"] == "XY"
    assert 0.4 < rows[FEMALE2]["x_depth_ratio"] < 0.6
    assert 0.4 < rows[FEMALE2]["y_depth_ratio"] < 0.6
    assert res["summary"]["karyotypes"] == {"XX": 2, "XY": 1}


@pytest.mark.parametrize("x,y,expect", [
    (1.0, 0.0, "XX"), (0.5, 0.5, "XY"), (0.7, 0.0, "ambiguous"), (1.0, 0.5, "ambiguous"),
    (0.5, 0.0, "ambiguous"), (1.0, 0.07, "ambiguous"), (0.5, None, "XY"), (None, 0.5, None)])
def test_infer_karyotype(x, y, expect):
    karyotype, reason = infer_karyotype(x, y)
    assert karyotype == expect
    assert (reason is None) == (expect in ("XX", "XY"))


def test_cram_equals_bam(tmp_path, make_bams):
    import pysam

    sim = make_bams("trio", [MALE, FEMALE, FEMALE2])
    cram = tmp_path / "m.cram"
    pysam.samtools.view("-C", "-T", sim.reference, "-o", str(cram), sim.bams[MALE],
                        catch_stdout=False)
    bam = run_qc(tmp_path, [sim.bams[MALE]], "b")["table"].drop("bam")
    got = run_qc(tmp_path, [cram], "c", reference=sim.reference)["table"].drop("bam")
    assert got.equals(bam)
    assert_one_error_line(tmp_path, ["bam-qc", str(cram), "-o", "{tmp}/x"], 2, "--reference")


def test_cli_subprocess(tmp_path, make_bams):
    sim = make_bams("trio", [MALE, FEMALE, FEMALE2])
    r = cli("bam-qc", sim.bams[FEMALE], "-o", str(tmp_path / "run"), "--format", "tsv",
            "-t", "2")
    assert r.returncode == 0, r.stderr
    assert "genomekit bam-qc: 1 BAM(s)" in r.stderr
    table = pl.read_csv(tmp_path / "run.bam_qc.tsv", separator="\t", null_values="NA")
    assert table["sample"].to_list() == [FEMALE]
    summary = json.loads((tmp_path / "run.bam_qc.json").read_text())
    assert summary["command"] == "bam-qc" and summary["n_bams"] == 1
    r = cli("bam-qc", sim.bams[FEMALE], "-o", str(tmp_path / "run"))
    assert r.returncode == 2 and "exists" in r.stderr


# ----------------------------------------------------------------------------- errors


@pytest.fixture(scope="module")
def small(make_bams):
    return make_bams("small", [FEMALE], span=20_000, depth=4.0)


def test_error_not_a_bam(tmp_path):
    (tmp_path / "in.txt").write_text("not a bam\n")
    assert_one_error_line(tmp_path, ["bam-qc", str(tmp_path / "in.txt"), "-o", "{tmp}/x"], 1,
                          "not a BAM or CRAM file")


def test_error_truncated_bam(tmp_path, small):
    data = Path(small.bams[FEMALE]).read_bytes()
    cut = tmp_path / "cut.bam"
    cut.write_bytes(data[: len(data) // 2])
    assert_one_error_line(tmp_path, ["bam-qc", str(cut), "-o", "{tmp}/x"], 1, "truncated")
    no_eof = tmp_path / "noeof.bam"
    no_eof.write_bytes(data[:-28])
    assert_one_error_line(tmp_path, ["bam-qc", str(no_eof), "-o", "{tmp}/x"], 1,
                          "no BGZF end-of-file block")
    corrupt = tmp_path / "corrupt.bam"
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(bad))
    r = cli("bam-qc", str(corrupt), "-o", str(tmp_path / "x"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "genomekit: error:" in r.stderr
    # With threads, blocks are read ahead on a thread of their own: the damage still stops
    # the run with the same line.
    assert_one_error_line(tmp_path, ["bam-qc", str(cut), "-o", "{tmp}/x", "-t", "2"], 1,
                          "truncated")


def test_reading_ahead_stops_when_the_reader_stops(tmp_path, small, monkeypatch):
    """A run that fails early (a record out of order) leaves no reading thread behind."""
    import threading

    import genomekit.io.bam as iobam

    monkeypatch.setattr(iobam, "READ_BYTES", 4096)  # many small batches
    recs = [{"name": f"r{i}", "flag": 0, "tid": 0, "pos": 10 * (i % 500), "cigar": [(0, 50)]}
            for i in range(3000)]
    bam = write_bam(tmp_path / "u.bam", [("chr1", 10000)], recs, index=False)
    before = threading.active_count()
    with pytest.raises(iobam.InputError, match="not sorted"):
        command._ScanJob(command.Options(), None, None, None, 2, lambda n, w: None, True)(
            str(bam))
    assert threading.active_count() == before


def test_error_unsorted(tmp_path):
    recs = [{"name": "a", "flag": 0, "tid": 0, "pos": 50, "cigar": [(0, 10)]},
            {"name": "b", "flag": 0, "tid": 0, "pos": 20, "cigar": [(0, 10)]}]
    bam = write_bam(tmp_path / "u.bam", [("chr1", 1000)], recs, index=False)
    assert_one_error_line(tmp_path, ["bam-qc", str(bam), "-o", "{tmp}/x"], 1,
                          "u.bam:chr1:21: the records are not sorted by coordinate")
    by_name = write_bam(tmp_path / "n.bam", [("chr1", 1000)], recs[:1], index=False,
                        sort_order="queryname")
    assert_one_error_line(tmp_path, ["bam-qc", str(by_name), "-o", "{tmp}/x"], 1,
                          "sorted by queryname")


def test_error_sample_names(tmp_path):
    recs = [{"name": "a", "flag": 0, "tid": 0, "pos": 50, "cigar": [(0, 10)]}]
    bam = write_bam(tmp_path / "nosm.bam", [("chr1", 1000)], recs, sample=None, index=False)
    assert_one_error_line(tmp_path, ["bam-qc", str(bam), "-o", "{tmp}/x"], 1, "no sample name")
    import pysam

    two = tmp_path / "two.bam"
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": 100}],
              "RG": [{"ID": "a", "SM": "S1"}, {"ID": "b", "SM": "S2"}]}
    with pysam.AlignmentFile(str(two), "wb", header=header):
        pass
    assert_one_error_line(tmp_path, ["bam-qc", str(two), "-o", "{tmp}/x"], 1,
                          "read groups of several samples")


def test_error_bed(tmp_path, small):
    bed = tmp_path / "long.bed"
    bed.write_text("chr1\t0\t999999999\n")
    assert_one_error_line(tmp_path, ["bam-qc", small.bams[FEMALE], "-o", "{tmp}/x", "--by",
                                     str(bed)], 1, "ends after the end of chr1")
    bed.write_text("chr1\tzero\t10\n")
    assert_one_error_line(tmp_path, ["bam-qc", small.bams[FEMALE], "-o", "{tmp}/x", "--by",
                                     str(bed)], 1, "long.bed: line 1")


@pytest.mark.parametrize("args,text", [
    (["--thresholds", "1,x"], "--thresholds"),
    (["--x-ratio", "0.9,0.5"], "--x-ratio"),
    (["--min-mapq", "-1"], "--min-mapq"),
    (["--threads", "0"], "--threads"),
])
def test_error_usage(tmp_path, small, args, text):
    assert_one_error_line(tmp_path, ["bam-qc", small.bams[FEMALE], "-o", "{tmp}/x", *args], 2,
                          text)


def test_no_output_left_on_failure(tmp_path, small):
    (tmp_path / "bad.txt").write_text("nope")
    r = cli("bam-qc", small.bams[FEMALE], str(tmp_path / "bad.txt"), "-o",
            str(tmp_path / "x"))
    assert r.returncode == 1
    assert "bad.txt: not a BAM or CRAM file" in r.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("x", ".x"))]


# ----------------------------------------------------------------------------- shards


def _same_coverage(a, b):
    assert (a.counts == b.counts).all() and (a.sums == b.sums).all()
    assert (a.found == b.found).all()
    assert a.hists.keys() == b.hists.keys()
    for tid in a.hists:
        n = max(a.hists[tid].size, b.hists[tid].size)
        assert (np.pad(a.hists[tid], (0, n - a.hists[tid].size))
                == np.pad(b.hists[tid], (0, n - b.hists[tid].size))).all()
    assert (a.region_sums == b.region_sums).all() and a.nonpar == b.nonpar


@pytest.mark.parametrize("shards", [2, 3, 5])
def test_shards_add_up_to_one_pass(tmp_path, noisy, shards):
    """Read in shards from the index's virtual offsets, each looking back over the reads
    that cross its start, the counts equal those of one pass, regions included."""
    from genomekit.io.bam import BamReader, BedRegion

    path = noisy.bams[MALE]
    with BamReader(path) as reader:
        header = reader.header
    bed = [BedRegion(c, a, b, None, k) for k, (c, (a, b)) in enumerate(noisy.spans.items())]
    plan = command._shard_plan(path, header, shards)
    assert plan is not None and len(plan) >= 2
    for options in OPTION_SETS:
        job = command._ScanJob(options, bed, "spans.bed", None, shards, lambda n, w: None,
                               True)
        sharded = job._sharded(path, MALE, header, plan, lambda n, w: None)
        _same_coverage(sharded, job._one_pass(path))


def test_shards_fall_back_when_a_read_crosses_the_look_back(tmp_path, noisy, monkeypatch):
    """With a look-back shorter than the reads, a shard misses reads that cross its start:
    that is detected and the file is read in one pass, with the same result."""
    from genomekit.io.bam import BamReader

    path = noisy.bams[FEMALE]
    with BamReader(path) as reader:
        header = reader.header
    job = command._ScanJob(command.Options(), None, None, None, 2, lambda n, w: None, True)
    monkeypatch.setattr(command, "LOOKBACK", 16)
    plan = command._shard_plan(path, header, 2)
    with pytest.raises(command._ShardsFailed):
        job._sharded(path, FEMALE, header, plan, lambda n, w: None)
    _same_coverage(job(path), job._one_pass(path))


def test_no_shards_without_a_current_index(tmp_path, noisy):
    import shutil

    from genomekit.io.bam import BamReader, find_bai

    bam = tmp_path / "copy.bam"
    shutil.copy(noisy.bams[MALE], bam)
    assert find_bai(str(bam)) is None
    shutil.copy(noisy.bams[MALE] + ".bai", str(bam) + ".bai")
    assert find_bai(str(bam)) == str(bam) + ".bai"
    os.utime(str(bam) + ".bai", (1, 1))  # older than the BAM: not used
    assert find_bai(str(bam)) is None
    with BamReader(str(bam)) as reader:
        assert command._shard_plan(str(bam), reader.header, 2) is None
