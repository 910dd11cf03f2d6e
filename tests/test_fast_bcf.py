"""FastBcfReader against VcfReader (cyvcf2/htslib) and a byte-by-byte Python decoder."""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pysam
import pysam.bcftools
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from genomekit.errors import GenomekitError, InputError, UsageError
from genomekit.io import bgzf
from genomekit.io.fastbcf import FastBcfReader
from genomekit.io.readers import open_reader
from genomekit.io.vcf import VcfReader
from tests import fast_readers, naive
from tests.conftest import assert_one_error_line, run_freq
from tests.fast_readers import assert_files_match_vcfreader
from tests.test_fast_decoder import (
    COHORTS,
    CORPUS,
    EDGE_CASES,
    FIELDS,
    HEADER,
    _gt_in_no_column,
    assert_same,
    rows,
    vcf_texts,
    write_vcf,
)

# Helpers -----------------------------------------------------------------------


def to_bcf(vcf_path, out: str | None = None, compressed: bool = True) -> str | None:
    """bcftools' BCF of ``vcf_path`` (None when bcftools refuses the input)."""
    out = out or str(vcf_path).removesuffix(".gz").removesuffix(".vcf") + ".bcf"
    try:
        pysam.bcftools.view("-Ob" if compressed else "-Ou", "-o", out, str(vcf_path),
                            catch_stdout=False)
    except pysam.utils.SamtoolsError:
        return None
    return out if os.path.exists(out) and os.path.getsize(out) else None


def read_both(path, chunk_variants=None, threads=1, **kwargs):
    return fast_readers.read_both(FastBcfReader, path, chunk_variants, threads,
                                  check_header=True, **kwargs)


def bcf_bytes(path) -> bytes:
    data = Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def assert_matches_naive(path, chunks, samples=None, fields=()):
    """Every record of ``chunks`` equals tests/naive.py's decoding of the file."""
    names, records = naive.bcf_records(bcf_bytes(path))
    cols = [names.index(s) for s in (samples if samples is not None else names)]
    flat = [(c, v) for c in chunks for v in range(c.n_variants)]
    assert len(flat) == len(records)
    for (c, v), rec in zip(flat, records, strict=True):
        assert (c.chrom[v], int(c.pos[v]), c.ids[v], c.ref[v], c.alts[v]) == \
            (rec["chrom"], rec["pos"], rec["id"], rec["ref"], rec["alts"])
        assert c.n_alleles[v] == len(rec["alts"]) + 1
        gt = rec["fmt"].get("GT")
        for k, col in enumerate(cols):
            got = c.gt[v, k].tolist()
            if gt is None:
                assert got == [-1] * len(got)
            else:
                want = gt[col]
                assert got[:len(want)] == want and set(got[len(want):]) <= {-2}
        for name in fields:
            arr = getattr(c, name.lower())
            values = rec["fmt"].get(name)
            for k, col in enumerate(cols):
                got = arr[v, k].tolist() if arr.ndim == 3 else [int(arr[v, k])]
                want = [] if values is None else [-1 if x is None else x for x in values[col]]
                want = (want + [-1] * len(got))[:len(got)]
                assert got == want, (name, v, k)


# Generated cohorts ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COHORTS))
def test_generated_cohorts(make_cohort, name):
    paths = make_cohort("fast_" + name, bcf=True, **COHORTS[name])
    fields = FIELDS if name == "gt_ad_dp_gq" else []
    for chunk_variants in (None, 37):
        got, want = read_both(paths["bcf"], chunk_variants, format_fields=fields)
        assert_same(got, want)
    assert_matches_naive(paths["bcf"], got, fields=fields)


def test_bcf_and_vcf_give_the_same_chunks(make_cohort):
    paths = make_cohort("fast_gt_ad_dp_gq", bcf=True, **COHORTS["gt_ad_dp_gq"])
    bcf = list(FastBcfReader(paths["bcf"], format_fields=FIELDS).chunks(50))
    vcf = list(open_reader(paths["vcf"], engine="fast", format_fields=FIELDS).chunks(50))
    assert_same(bcf, vcf)


def test_sample_selection(make_cohort):
    paths = make_cohort("fast_gt_ad_dp_gq", bcf=True, **COHORTS["gt_ad_dp_gq"])
    names = VcfReader(paths["bcf"]).samples
    shuffled = [names[i] for i in np.random.default_rng(2).permutation(len(names))[:30]]
    for kwargs in ({"samples": names[5:40:3]}, {"exclude": names[:10]}, {"samples": shuffled}):
        got, want = read_both(paths["bcf"], 64, format_fields=FIELDS, **kwargs)
        assert_same(got, want)
    assert_matches_naive(paths["bcf"], got, samples=shuffled, fields=FIELDS)
    assert_same(*read_both(paths["bcf"], 64, samples=[]))
    # No sample and FORMAT fields asked for: cyvcf2 crashes reading a BCF so
    # (it looks for FORMAT data it never unpacked); the text reader is the oracle.
    got = list(FastBcfReader(paths["bcf"], samples=[], format_fields=FIELDS).chunks(64))
    text = open_reader(paths["vcf"], engine="fast", samples=[], format_fields=FIELDS)
    assert_same(got, text.chunks(64))
    assert got[0].gt.shape == (64, 0, 1) and got[0].ad.shape[:2] == (64, 0)


def test_thread_counts_and_records_across_buffers(make_cohort, monkeypatch):
    # Buffers of 20 kB: records straddle them, some span several.
    monkeypatch.setattr(bgzf, "BATCH_BYTES", 20_000)
    paths = make_cohort("fast_large_bcf", bcf=True, n_samples=3000, n_sites=200, seed=5,
                        fields=("GT", "AD", "DP", "GQ"), half_call_rate=0.02, phased_rate=0.3)
    want = list(VcfReader(paths["bcf"], format_fields=FIELDS).chunks(23))
    for threads in (1, 2, 4):
        reader = FastBcfReader(paths["bcf"], threads=threads, format_fields=FIELDS)
        assert_same(reader.chunks(23), want)
        reader.close()


def test_without_index(make_cohort, tmp_path):
    paths = make_cohort("fast_half_calls", bcf=True, **COHORTS["half_calls"])
    bare = tmp_path / "bare.bcf"
    bare.write_bytes(Path(paths["bcf"]).read_bytes())  # no .csi next to it
    got, want = read_both(bare, 33)
    assert_same(got, want)
    assert FastBcfReader(str(bare)).expected_records() is None


def test_uncompressed_bcf(make_cohort, tmp_path):
    paths = make_cohort("fast_phased", bcf=True, **COHORTS["phased"])
    level0 = to_bcf(paths["vcf"], str(tmp_path / "level0.bcf"), compressed=False)
    assert_same(*read_both(level0, 40))  # BGZF blocks stored without compression
    plain = tmp_path / "plain.bcf"  # no BGZF at all
    plain.write_bytes(bcf_bytes(paths["bcf"]))
    assert bgzf.container(str(plain)) == "plain" and bgzf.sniff(str(plain)) == "bcf"
    assert_same(*read_both(plain, 40))


# Hand-written edge cases (as bcftools writes them) ----------------------------------


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases(tmp_path, name):
    vcf = write_vcf(tmp_path, EDGE_CASES[name])
    bcf = to_bcf(vcf, str(tmp_path / "t.bcf"))
    if bcf is None:
        pytest.skip("bcftools does not convert this case")
    fast_readers.assert_edge_case(FastBcfReader, bcf, FIELDS, check_header=True)


def test_many_alleles_int16_and_wide_gt(tmp_path):
    # 200 alleles: GT stored as int16, chunk genotypes int16 (through htslib);
    # 80 alleles: int16 GT values the decoder reads itself, into int8.
    alts200 = ",".join(f"<A{i}>" for i in range(200))
    alts80 = ",".join(f"<A{i}>" for i in range(80))
    vcf = write_vcf(tmp_path, rows(f"1 100 . A {alts200} . . . GT 0/150 199|1 .",
                                   f"1 101 . A {alts80} . . . GT 0/75 79|1 ./.",
                                   "1 102 . A C . . . GT 0/1 1/1 0/0"))
    bcf = to_bcf(vcf)
    got, want = read_both(bcf)
    assert got[0].gt.dtype == np.int16
    assert_same(got, want)
    got, want = read_both(bcf, 1)
    assert [c.gt.dtype for c in got] == [np.int16, np.int8, np.int8]
    assert_same(got, want)
    assert_matches_naive(bcf, got)


def test_mixed_ploidy_and_missing(tmp_path):
    body = rows("X 100 . A C,G . . . GT 0 1/1 .",
                "X 101 . A C . . . GT ./. . 1",
                "X 102 . A C . . . GT 0/1/1 0|1 .",
                "X 103 . A C . . . GT:DP .:3 ./.:. 1/.:4",
                "X 104 . A C . . . DP 1 2 3")
    bcf = to_bcf(write_vcf(tmp_path, body))
    for chunk_variants in (1, 2, 6):
        got, want = read_both(bcf, chunk_variants, format_fields=FIELDS)
        assert_same(got, want)
    assert_matches_naive(bcf, got, fields=("DP",))


def test_long_records_and_many_format_fields(tmp_path, monkeypatch):
    monkeypatch.setattr(bgzf, "BATCH_BYTES", 1000)
    n = 600
    names = "\t".join(f"S{i}" for i in range(n))
    header = HEADER.replace("##FORMAT=<ID=FT", '##FORMAT=<ID=PL,Number=G,Type=Integer,'
                            'Description="PL">\n##FORMAT=<ID=FT')
    header = header.split("#CHROM")[0] + \
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + names + "\n"
    rng = np.random.default_rng(3)
    body = ""
    for i in range(12):
        keys = ["GT", "AD", "DP", "GQ", "PL"] if i % 2 else ["AD", "DP", "GT", "GQ", "PL"]
        cells = []
        for call in rng.choice(["0/0", "0/1", "1|1", ".", "1", "./."], size=n):
            a, b, c = rng.integers(0, 255, size=3)
            values = {"GT": call, "AD": f"{a % 30},{b % 30}", "DP": str(a % 60),
                      "GQ": str(b % 99), "PL": f"{a},0,{c}"}
            cells.append(":".join(values[k] for k in keys))
        body += f"1\t{100 + i}\t.\tA\tC\t.\t.\t.\t{':'.join(keys)}\t" + "\t".join(cells) + "\n"
    bcf = to_bcf(write_vcf(tmp_path, body, header=header))
    got, want = read_both(bcf, 5, format_fields=FIELDS)
    assert_same(got, want)
    assert_matches_naive(bcf, got, fields=FIELDS)


# Records written byte by byte ------------------------------------------------------

KEYS = ["GT", "DP", "GQ", "AD", "XX", "FT"]
KEY_LINES = {
    "GT": '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype"',
    "DP": '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth"',
    "GQ": '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Quality"',
    "AD": '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Depths"',
    "XX": '##FORMAT=<ID=XX,Number=.,Type=Integer,Description="Other"',
    "FT": '##FORMAT=<ID=FT,Number=1,Type=String,Description="Filter"',
}
INT_TYPES = {1: ("b", -128), 2: ("h", -32768), 3: ("i", -2147483648)}


def typed(t: int, n: int) -> bytes:
    if n < 15:
        return bytes([n << 4 | t])
    return bytes([0xF0 | t]) + typed_int(n)


def typed_int(v: int) -> bytes:
    if -120 <= v <= 127:
        return b"\x11" + struct.pack("<b", v)
    if -32760 <= v <= 32767:
        return b"\x12" + struct.pack("<h", v)
    return b"\x13" + struct.pack("<i", v)


def typed_str(b: bytes) -> bytes:
    return typed(7, len(b)) + b


def bcf_header(samples, idx=None, contigs=("1", "2")) -> bytes:
    """The header block of a BCF file; ``idx`` gives IDX= numbers to the keys."""
    lines = ["##fileformat=VCFv4.2", '##FILTER=<ID=PASS,Description="All filters passed">']
    for c in contigs:
        lines.append(f"##contig=<ID={c}>")
    for k in KEYS:
        lines.append(KEY_LINES[k] + (f",IDX={idx[k]}>" if idx else ">"))
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                            "FORMAT", *samples]))
    text = ("\n".join(lines) + "\n").encode() + b"\0"
    return b"BCF\x02\x02" + struct.pack("<I", len(text)) + text


def bcf_record(rid, pos, ref, alts, fmt, n_sample, *, id_=b"", rlen=None, n_sample_field=None,
               raw_indiv=None) -> bytes:
    """One record; ``fmt`` is a list of (key number, type, width, per-sample value lists)."""
    alleles = [ref] + alts
    shared = struct.pack("<iiif", rid, pos, len(ref) if rlen is None else rlen, 0.0)
    shared += struct.pack("<HH", 0, len(alleles))
    n_fmt = len(fmt)
    ns = n_sample if n_sample_field is None else n_sample_field
    shared += struct.pack("<I", ns | n_fmt << 24)
    shared += typed_str(id_) + b"".join(typed_str(a) for a in alleles) + typed(1, 0)
    indiv = b""
    for key, t, width, values in fmt:
        indiv += typed_int(key) + typed(t, width)
        code = INT_TYPES[t][0] if t in INT_TYPES else "B"
        for v in values:
            indiv += struct.pack(f"<{width}{code}", *v) if width else b""
    if raw_indiv is not None:
        indiv = raw_indiv
    return struct.pack("<II", len(shared), len(indiv)) + shared + indiv


def write_bcf(folder, header: bytes, records: list[bytes], name="t.bcf", compress=True) -> str:
    path = os.path.join(folder, name)
    data = header + b"".join(records)
    if not compress:
        Path(path).write_bytes(data)
        return path
    Path(path + ".raw").write_bytes(data)
    pysam.tabix_compress(path + ".raw", path, force=True)
    os.unlink(path + ".raw")
    return path


@st.composite
def gt_vectors(draw, n_alleles, width, t):
    """(stored values, what they mean) of one sample's GT vector."""
    missing = INT_TYPES[t][1]
    if draw(st.integers(0, 15)) == 0:
        return [missing] + [missing + 1] * (width - 1)  # no call at all
    ploidy = draw(st.integers(1, width))
    top = min(n_alleles - 1, (127 if t == 1 else 2 ** 15 - 1) // 2 - 1)
    values = []
    for _ in range(ploidy):
        allele = draw(st.integers(-1, top))
        values.append((allele + 1) << 1 | draw(st.integers(0, 1)))
    return values + [missing + 1] * (width - ploidy)


@st.composite
def int_vectors(draw, width, t):
    missing = INT_TYPES[t][1]
    limit = 100 if t == 1 else 30000 if t == 2 else 2 ** 31 - 1
    values = [draw(st.one_of(st.just(missing), st.integers(-5, limit))) for _ in range(width)]
    cut = draw(st.integers(0, width))
    return values[:cut] + [missing + 1] * (width - cut)


@st.composite
def bcf_files(draw):
    n_sample = draw(st.integers(1, 5))
    samples = [f"S{i}" for i in range(n_sample)]
    idx = None
    if draw(st.booleans()):
        numbers = draw(st.permutations(list(range(1, len(KEYS) + 3))))
        idx = dict(zip(KEYS, numbers, strict=False))
    number = idx or {k: i + 1 for i, k in enumerate(KEYS)}
    records = []
    pos = 100
    for _ in range(draw(st.integers(1, 6))):
        n_alleles = draw(st.sampled_from([1, 2, 3, 4, 12, 70, 130]))
        alts = [f"<A{i}>".encode() for i in range(n_alleles - 1)]
        keys = draw(st.lists(st.sampled_from(["GT", "DP", "GQ", "AD", "XX"]), unique=True,
                             max_size=4))
        fmt = []
        for key in keys:
            if key == "GT":
                t = draw(st.sampled_from([1, 2, 3] if n_alleles < 62 else [2, 3]))
                width = draw(st.integers(1, 3))
                values = [draw(gt_vectors(n_alleles, width, t)) for _ in range(n_sample)]
            else:
                t = draw(st.sampled_from([1, 2, 3]))
                width = n_alleles if key == "AD" else draw(st.integers(0, 2))
                values = [draw(int_vectors(width, t)) for _ in range(n_sample)]
            fmt.append((number[key], t, width, values))
        pos += draw(st.integers(0, 3))
        id_ = draw(st.sampled_from([b"", b"rs1", b"rs2;x"]))
        records.append(bcf_record(draw(st.integers(0, 1)), pos, b"A", alts, fmt, n_sample,
                                  id_=id_))
    return bcf_header(samples, idx), records, samples


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bcf_files(), st.integers(1, 4), st.booleans(), st.data())
def test_random_records_match_cyvcf2_and_naive(spec, chunk_variants, compress, data):
    header, records, samples = spec
    chosen = data.draw(st.one_of(st.none(), st.permutations(samples).map(lambda s: s[:2])))
    with tempfile.TemporaryDirectory() as folder:
        path = write_bcf(folder, header, records, compress=compress)
        got, want = read_both(path, chunk_variants, format_fields=FIELDS, samples=chosen)
        assert_same(got, want)
        assert_matches_naive(path, got, samples=chosen, fields=FIELDS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vcf_texts(), st.integers(1, 4))
def test_random_vcf_text_as_bcf(text, chunk_variants):
    header, body = text
    if _gt_in_no_column(header, body):
        return  # cyvcf2 would take the test process down on GT vectors of length 0
    with tempfile.TemporaryDirectory() as folder:
        bcf = to_bcf(write_vcf(folder, body, header=header), os.path.join(folder, "t.bcf"))
        if bcf is None:
            return  # bcftools refuses the text
        try:
            want = list(VcfReader(bcf, format_fields=FIELDS).chunks(chunk_variants))
        except InputError:
            with pytest.raises(InputError):
                list(FastBcfReader(bcf, format_fields=FIELDS).chunks(chunk_variants))
            return
        assert_same(FastBcfReader(bcf, format_fields=FIELDS).chunks(chunk_variants), want)


# Malformed BCF ----------------------------------------------------------------------

GOOD = [(1, 1, 2, [[2, 4], [4, 4], [2, 3]])]  # GT 0/1 1/1 0|0 for S0..S2


def _malformed_cases():
    h = bcf_header(["S0", "S1", "S2"])
    good = bcf_record(0, 99, b"A", [b"C"], GOOD, 3)
    cases = {
        "n_sample_mismatch": bcf_record(0, 100, b"A", [b"C"], GOOD, 3, n_sample_field=2),
        "bad_typed_value": bcf_record(0, 100, b"A", [b"C"], [(1, 4, 2, [[0, 0]] * 3)], 3),
        "undefined_contig": bcf_record(7, 100, b"A", [b"C"], GOOD, 3),
        "undefined_key": bcf_record(0, 100, b"A", [b"C"], [(40, 1, 2, [[2, 4]] * 3)], 3),
        "no_alleles": _no_alleles(bcf_record(0, 100, b"A", [b"C"], GOOD, 3)),
        "gt_as_text": bcf_record(0, 100, b"A", [b"C"], [(1, 7, 3, [[48, 47, 49]] * 3)], 3),
        "gt_empty": bcf_record(0, 100, b"A", [b"C"], [(1, 1, 0, [[]] * 3)], 3),
        "indiv_too_short": bcf_record(0, 100, b"A", [b"C"], GOOD, 3,
                                      raw_indiv=b"\x11\x01\x21\x02\x04"),
        "l_shared_below_24": struct.pack("<II", 10, 0) + b"\0" * 10,
    }
    return h, good, cases


def _no_alleles(record: bytes) -> bytes:
    # n_allele: bytes 26-27 of a record (the 8 length bytes, then rid, pos,
    # rlen, qual and n_info).
    return record[:26] + b"\x00\x00" + record[28:]


@pytest.mark.parametrize("name", sorted(_malformed_cases()[2]))
def test_malformed_records_raise_one_input_error(tmp_path, name):
    header, good, cases = _malformed_cases()
    path = write_bcf(str(tmp_path), header, [good, good, cases[name], good])
    for threads in (1, 2):
        reader = FastBcfReader(path, threads=threads)
        with pytest.raises(InputError) as err:
            list(reader.chunks(1))
        e = err.value
        assert e.file == path and e.chrom is not None, e.message()
        assert reader.records_read == 2  # the chunks before it came out
        assert "\n" not in e.message()
    if name in ("n_sample_mismatch", "bad_typed_value", "gt_as_text"):
        # The command line too: one line, exit 1, no output left behind.
        assert_one_error_line(tmp_path, ["freq", path, "-o", "{tmp}/x", "--engine", "fast"],
                              1, path)


def test_truncated_and_corrupt_bcf(tmp_path):
    body = "".join(f"1\t{100 + i}\t.\tA\tC\t.\t.\t.\tGT\t0/1\t1/1\t0/0\n"
                   for i in range(30000))
    bcf = to_bcf(write_vcf(tmp_path, body, name="big.vcf"))
    data = Path(bcf).read_bytes()
    cut = tmp_path / "cut.bcf"
    cut.write_bytes(data[:len(data) // 2])
    for threads in (1, 2):
        reader = FastBcfReader(str(cut), threads=threads)
        with pytest.raises(InputError) as err:
            for _ in reader.chunks(10):
                pass
        e = err.value
        assert e.file == str(cut) and e.chrom == "1" and isinstance(e.pos, int)
        assert "truncated" in e.what and reader.records_read > 0
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    (tmp_path / "bad.bcf").write_bytes(bytes(bad))
    with pytest.raises(InputError, match="corrupt BGZF block"):
        list(FastBcfReader(str(tmp_path / "bad.bcf")).chunks(10))
    # Uncompressed BCF cut inside a record.
    raw = gzip.decompress(data)
    (tmp_path / "cut_plain.bcf").write_bytes(raw[:len(raw) - 100])
    with pytest.raises(InputError, match="truncated BCF record"):
        list(FastBcfReader(str(tmp_path / "cut_plain.bcf")).chunks(10))
    assert_one_error_line(tmp_path, ["freq", str(cut), "-o", "{tmp}/x", "--engine", "fast"], 1,
                          "truncated")


# Engines ---------------------------------------------------------------------------


def test_open_reader_picks_the_bcf_decoder(make_cohort, tmp_path):
    paths = make_cohort("fast_gt", bcf=True, **COHORTS["gt"])
    assert isinstance(open_reader(paths["bcf"]), FastBcfReader)
    assert isinstance(open_reader(paths["bcf"], engine="fast"), FastBcfReader)
    assert isinstance(open_reader(paths["bcf"], engine="cyvcf2"), VcfReader)
    # Other BCF versions are left to htslib (which refuses this one).
    raw = bytearray(gzip.decompress(Path(paths["bcf"]).read_bytes()))
    raw[4] = 1
    old = tmp_path / "old.bcf"
    old.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="cannot read as VCF/BCF"):
        open_reader(str(old))
    with pytest.raises(UsageError):
        open_reader(str(old), engine="fast")
    with pytest.raises(UsageError):
        FastBcfReader(paths["vcf"])


def test_reader_surface(make_cohort):
    paths = make_cohort("fast_gt_ad_dp_gq", bcf=True, **COHORTS["gt_ad_dp_gq"])
    fast = FastBcfReader(paths["bcf"], format_fields=["GQ", "XX"])
    ref = VcfReader(paths["bcf"], format_fields=["GQ", "XX"])
    assert fast.path == ref.path and fast.header == ref.header
    assert fast.missing_format_fields == ["XX"] and fast.format_fields == ["GQ"]
    assert fast.expected_records() == ref.expected_records() is not None
    for kwargs in ({"samples": ["nope"]}, {"samples": ["KOR00001", "KOR00001"]}):
        with pytest.raises(GenomekitError) as a:
            VcfReader(paths["bcf"], **kwargs)
        with pytest.raises(GenomekitError) as b:
            FastBcfReader(paths["bcf"], **kwargs)
        assert type(a.value) is type(b.value) and a.value.what == b.value.what
    fast.close()
    ref.close()


def test_freq_engines_identical_on_bcf(cohort, tmp_path):
    fast = run_freq(cohort["bcf"], tmp_path, "fast", pops_file=str(cohort["pops"]),
                    engine="fast", threads=2)
    slow = run_freq(cohort["bcf"], tmp_path, "slow", pops_file=str(cohort["pops"]),
                    engine="cyvcf2")
    text = run_freq(cohort["vcf"], tmp_path, "text", pops_file=str(cohort["pops"]),
                    engine="fast")
    assert fast.height > 0
    assert_frame_equal(fast, slow)
    assert_frame_equal(fast, text)


# The shared corpus, converted to BCF -------------------------------------------------

@pytest.fixture(scope="module")
def corpus_bcfs(tmp_path_factory):
    """Every corpus file bcftools converts, as BCF (and the corpus's own BCF files)."""
    if not CORPUS.is_dir():
        pytest.skip("no ../shared/corpus")
    folder = tmp_path_factory.mktemp("corpus_bcf")
    out = []
    for i, p in enumerate(sorted(CORPUS.rglob("*"))):
        if not p.is_file() or p.suffix in (".md", ".tbi", ".csi"):
            continue
        if bgzf.sniff(str(p)) == "bcf":
            out.append(str(p))
            continue
        bcf = to_bcf(str(p), str(folder / f"{i}_{p.name}.bcf"))
        if bcf is not None:
            out.append(bcf)
    return out


@pytest.mark.parametrize("kwargs", [{}, {"format_fields": FIELDS}])
def test_corpus_as_bcf(corpus_bcfs, tmp_path, kwargs):
    # Files not in BCF 2.2 are refused (UsageError): the auto engine gives them to htslib.
    assert_files_match_vcfreader(FastBcfReader, corpus_bcfs, kwargs, str(tmp_path),
                                 refused=UsageError)
