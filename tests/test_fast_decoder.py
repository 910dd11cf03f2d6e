"""FastVcfReader against VcfReader (cyvcf2/htslib as the oracle): same chunks, same errors."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pysam
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genomekit.errors import GenomekitError, InputError, UsageError
from genomekit.io import bgzf
from genomekit.io.fastvcf import FastVcfReader
from genomekit.io.readers import open_reader
from genomekit.io.vcf import Region, VcfReader
from tests import fast_readers
from tests.fast_readers import assert_files_match_vcfreader, assert_same

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

HEADER = """##fileformat=VCFv4.2
##contig=<ID=1,length=100000>
##contig=<ID=X,length=100000>
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">
##FILTER=<ID=q10,Description="Low quality">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=HQ,Number=2,Type=Float,Description="Haplotype qualities">
##FORMAT=<ID=FT,Number=1,Type=String,Description="Genotype filter">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3
"""
FIELDS = ["GQ", "DP", "AD"]


# Helpers -----------------------------------------------------------------------


def read_both(path, chunk_variants=None, threads=1, **kwargs):
    return fast_readers.read_both(FastVcfReader, path, chunk_variants, threads, **kwargs)


def write_vcf(folder, body: str, header: str = HEADER, name: str = "t.vcf",
              compress: str | None = None) -> str:
    path = os.path.join(folder, name)
    data = (header + body).encode("utf-8")
    if compress == "gzip":
        path += ".gz"
        with gzip.open(path, "wb") as fh:
            fh.write(data)
        return path
    with open(path, "wb") as fh:
        fh.write(data)
    if compress == "bgzf":
        pysam.tabix_compress(path, path + ".gz", force=True)
        os.unlink(path)
        path += ".gz"
    return path


def rows(*records: str) -> str:
    """Records written with spaces between columns; '~' stands for a literal space."""
    return "".join(r.replace(" ", "\t").replace("~", " ") + "\n" for r in records)


# Generated cohorts ---------------------------------------------------------------

COHORTS = {
    "gt": dict(n_samples=120, n_sites=400, seed=11),
    "gt_ad_dp_gq": dict(n_samples=90, n_sites=300, seed=12, fields=("GT", "AD", "DP", "GQ"),
                        many_allele_sites=3),
    "half_calls": dict(n_samples=80, n_sites=300, seed=13, half_call_rate=0.1),
    "phased": dict(n_samples=80, n_sites=300, seed=14, phased_rate=0.6),
    "diploid_males": dict(n_samples=80, n_sites=300, seed=15, male_x="diploid",
                          male_het_rate=0.05),
    "many_alleles": dict(n_samples=70, n_sites=300, seed=16, many_allele_sites=3),
}


@pytest.mark.parametrize("name", sorted(COHORTS))
def test_generated_cohorts(make_cohort, name):
    paths = make_cohort("fast_" + name, **COHORTS[name])
    fields = FIELDS if name == "gt_ad_dp_gq" else []
    for chunk_variants in (None, 37):
        got, want = read_both(paths["vcf"], chunk_variants, format_fields=fields)
        assert_same(got, want)


def test_without_index_and_as_plain_vcf(make_cohort, tmp_path):
    paths = make_cohort("fast_gt", **COHORTS["gt"])
    bare = tmp_path / "bare.vcf.gz"
    shutil.copy(paths["vcf"], bare)  # no .tbi next to it
    assert_same(*read_both(bare, 50))
    plain = tmp_path / "plain.vcf"
    with gzip.open(paths["vcf"], "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert_same(*read_both(plain, 50))
    regz = tmp_path / "plain_gzip.vcf.gz"  # gzip, not BGZF
    with open(plain, "rb") as src, gzip.open(regz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert bgzf.sniff(str(regz)) == "gzip"
    assert_same(*read_both(regz, 50))


def test_sample_selection(make_cohort):
    paths = make_cohort("fast_gt_ad_dp_gq", **COHORTS["gt_ad_dp_gq"])
    names = VcfReader(paths["vcf"]).samples
    subset = names[5:40:3]
    assert_same(*read_both(paths["vcf"], 64, samples=subset, format_fields=FIELDS))
    assert_same(*read_both(paths["vcf"], 64, exclude=names[:10], format_fields=FIELDS))
    assert_same(*read_both(paths["vcf"], 64, samples=[]))
    # Another order than the file's: both readers keep the order asked for.
    shuffled = [names[i] for i in np.random.default_rng(1).permutation(len(names))[:30]]
    got, want = read_both(paths["vcf"], 64, samples=shuffled, format_fields=FIELDS)
    assert_same(got, want)
    by_file = sorted(shuffled, key=names.index)
    in_file_order = next(iter(VcfReader(paths["vcf"], samples=by_file).chunks(64)))
    first = next(iter(VcfReader(paths["vcf"], samples=shuffled).chunks(64)))
    assert (first.gt == in_file_order.gt[:, [by_file.index(s) for s in shuffled]]).all()


def test_thread_counts_give_identical_chunks(make_cohort, monkeypatch):
    monkeypatch.setattr(bgzf, "BATCH_BYTES", 20_000)  # many buffers, lines across them
    paths = make_cohort("fast_gt_ad_dp_gq", **COHORTS["gt_ad_dp_gq"])
    want = list(VcfReader(paths["vcf"], format_fields=FIELDS).chunks(23))
    for threads in (1, 2, 4):
        reader = FastVcfReader(paths["vcf"], threads=threads, format_fields=FIELDS)
        assert_same(reader.chunks(23), want)
        reader.close()


# Hand-written edge cases ----------------------------------------------------------

EDGE_CASES = {
    "missing": rows("1 100 . A C . . . GT . ./. .|.",
                    "1 101 . A C . . . GT 0/. .|1 ./0"),
    "haploid_and_mixed_ploidy": rows("X 100 rs1 A C 50 PASS AC=1 GT 0 1/1 .",
                                     "X 101 . A C . . . GT 1 0 .",
                                     "X 102 . A C,G . q10 . GT 0/1/2 0|1 2"),
    "multi_digit_alleles": rows(
        "1 100 . A C,G,T,AA,AC,AG,AT,CA,CC,CG,CT . . . GT 10/11 0|10 11",
        "1 101 . A C . . . GT 00/01 1 0"),
    "gt_not_first": rows("1 100 . A C . . . DP:GT:GQ 5:0/1:30 .:1|1:. 7:./.:2"),
    "no_gt_key": rows("1 100 . A C . . . GT 0/1 1/1 0",
                      "1 101 . A C . . . DP 5 6 7",
                      "1 102 . A C . . ."),
    "dropped_trailing_fields": rows("1 100 . A C . . . GT:DP:GQ 0/1 1/1:3 .:.:9",
                                    "1 101 . A C . . . DP:GT 5:0/1/1 6 7:1"),
    "format_values": rows(
        "1 100 . A C,G . . . GT:AD:DP:GQ:HQ:FT 0/1:3,4,0:7:30:1.5,2e3:PASS "
        "1/2:.:.:.:.,.:. 0/0:1,,2:-5::-.5,1.:a~b",
        "1 101 . A C . . . GT:AD:DP 0/1:3,4,5:99999999999:1 1:0:0 ./.:.:."),
    "undefined_keys_and_contig": rows(
        "chrUn_1 100 . A C . nofilter XX=1;YY GT:ZZ 0/1:x 1/1:y 0/0:z",
        "chrUn_1 200 . A C . PASS . GT 0/1 1/1 0/0"),
    "alt_forms": rows("1 100 rs1;rs2 A . . . . GT 0 0 0",
                      "1 101 . A <DEL>,* 10.5 . . GT 0/1 1/2 2/2",
                      "1 102 . acgt a . . . GT 0/1 1/1 0/0"),
    "pos_zero_and_large": rows("1 0 . A C . . . GT 0/1 1/1 0/0",
                               "1 2147483647 . A C . . . GT 0/1 1/1 0/0",
                               "1 4294967400 . A C . . . GT 0/1 1/1 0/0"),
    "allele_over_127": rows("1 100 . A C . . . GT 0/200 1/1 0/0",
                            "1 101 . A C . . . GT 0/255 256 1"),
    "extra_sample_columns": rows("1 100 . A C . . . GT 0/1 1/1 0/0 1/1 junk"),
    "empty_fields": rows("1 100 . A C,  . . . GT 0/1 1/1 0/0",
                         "1 101  A C . . . GT 0/1 1/1 0/0"),
    "vcf44_phase_prefix": rows("1 100 . A C . . . GT |0/1 /1 0"),
    "plus_signs": rows("1 100 . A C . . . GT:DP 0/+1:+3 1/1:- 0/0:1"),
    "non_ascii": rows("1 100 . A C . . AC=1;NOTE=caf\u00e9 GT 0/1 1/1 0/0"),
    "hash_chrom": rows("1 100 . A C . . . GT 0/1 1/1 0/0",
                       "#x 100 . A C . . . GT 0/1 1/1 0/0"),
    "float_forms": rows("1 100 . A C . . . GT:HQ 0/1:nan,inf 1/1:0x1p3,1e 0/0:+1,-"),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
@pytest.mark.parametrize("compress", [None, "bgzf"])
def test_edge_cases(tmp_path, name, compress):
    fast_readers.assert_edge_case(FastVcfReader, write_vcf(tmp_path, EDGE_CASES[name],
                                                           compress=compress), FIELDS)


def test_many_alleles_give_int16(tmp_path):
    alts = ",".join(f"<A{i}>" for i in range(200))
    path = write_vcf(tmp_path, rows(f"1 100 . A {alts} . . . GT 0/150 199|1 .",
                                    "1 101 . A C . . . GT 0/1 1/1 0/0"))
    got, want = read_both(path)
    assert got[0].gt.dtype == np.int16
    assert_same(got, want)


def test_line_endings_and_long_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(bgzf, "BATCH_BYTES", 1000)
    n = 600
    names = "\t".join(f"S{i}" for i in range(n))
    header = HEADER.split("#CHROM")[0] + \
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + names + "\n"
    rng = np.random.default_rng(3)
    body = ""
    for i in range(12):
        calls = rng.choice(["0/0", "0/1", "1|1", ".", "1", "./."], size=n)
        body += f"1\t{100 + i}\t.\tA\tC\t.\t.\t.\tGT\t" + "\t".join(calls) + "\n"
    for compress in (None, "bgzf"):
        path = write_vcf(tmp_path, body, header=header, name=f"long{compress}.vcf",
                         compress=compress)
        assert_same(*read_both(path, 5))
    crlf = write_vcf(tmp_path, body.replace("\n", "\r\n"),
                     header=header.replace("\n", "\r\n"), name="crlf.vcf")
    assert_same(*read_both(crlf, 5))
    no_newline = write_vcf(tmp_path, body.rstrip("\n"), header=header, name="nonl.vcf")
    assert_same(*read_both(no_newline, 5))


def test_sites_only_and_header_only(tmp_path):
    sites_header = HEADER.split("\tFORMAT")[0] + "\n"
    sites = write_vcf(tmp_path, rows("1 100 . A C . . AC=1", "1 101 . A C,G . . ."),
                      header=sites_header, name="sites.vcf")
    got, want = read_both(sites)
    assert got[0].gt.shape == (2, 0, 1)
    assert_same(got, want)
    # FORMAT and sample columns in the records of a sites-only header are ignored.
    extra = write_vcf(tmp_path, rows("1 100 . A C . . . GT 0/x"), header=sites_header,
                      name="sites_extra.vcf")
    assert_same(*read_both(extra))
    empty = write_vcf(tmp_path, "", name="empty.vcf")
    got, want = read_both(empty)
    assert got == [] and want == []
    empty_gz = write_vcf(tmp_path, "", name="empty2.vcf", compress="bgzf")
    assert list(FastVcfReader(empty_gz).chunks()) == []


def test_gt_key_in_no_column(tmp_path):
    # FORMAT names GT but every column drops it, against the VCF spec. cyvcf2
    # makes htslib call exit(1) on such a record (so the oracle is not run
    # here); the fast reader raises, whether the record is otherwise plain or
    # also needs htslib.
    for record in ("1 101 . A C . . . DP:GT 5 6 7", "1 101 . A C . . . :DP:GT 5 6 7"):
        path = write_vcf(tmp_path, rows("1 100 . A C . . . GT 0/1 1/1 0|0", record))
        with pytest.raises(InputError) as err:
            list(FastVcfReader(path).chunks())
        assert (err.value.chrom, err.value.pos) == ("1", 101)
        assert "no sample column has a GT value" in err.value.what
    # Without genotypes to read (no sample kept), cyvcf2 reads it: so do we.
    assert_same(*read_both(path, samples=[]))


def test_blank_lines_in_header(tmp_path):
    header = HEADER.replace("##FILTER", "\n##FILTER")
    header = header.replace("##FORMAT=<ID=DP", "\r\n##FORMAT=<ID=DP")
    path = write_vcf(tmp_path, rows("1 100 . A C . . . GT 0/1 1/1 0/0"), header=header)
    assert_same(*read_both(path))


def test_no_gt_in_header(tmp_path):
    header = "".join(line + "\n" for line in HEADER.splitlines() if "ID=GT," not in line)
    path = write_vcf(tmp_path, rows("1 100 . A C . . . DP 5 6 7", "1 101 . A C . . . DP 1 2 3"),
                     header=header)
    got, want = read_both(path, format_fields=FIELDS)
    assert got[0].gt.shape == (2, 3, 1)
    assert_same(got, want)


# Malformed input -----------------------------------------------------------------

MALFORMED = {
    "bad_gt": ("1 101 . A C . . . GT 0/1 0/x 1/1", "1", 101, "GT '0/x'"),
    "bad_gt_end": ("1 101 . A C . . . GT 0/1 0/1x 1/1", "1", 101, "GT"),
    "empty_sample": ("1 101 . A C . . . GT 0/1  1/1", "1", 101, "GT ''"),
    "few_columns": ("1 101 . A C . . . GT 0/1 1/1", "1", 101, "sample column"),
    "non_numeric_pos": ("1 10x . A C . . . GT 0/1 1/1 0/0", "1", None, "POS '10x'"),
    "seven_columns": ("1 101 . A C . .", "1", 101, "column"),
    "too_many_subfields": ("1 101 . A C . . . GT 0/1:5 1/1 0/0", "1", 101, "more fields"),
    "bad_integer": ("1 101 . A C . . . GT:DP 0/1:abc 1/1:1 0/0:2", "1", 101, "Integer"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_records_raise_input_error(tmp_path, name):
    record, chrom, pos, words = MALFORMED[name]
    body = rows("1 100 . A C . . . GT 0/1 1/1 0/0", record, "1 102 . A C . . . GT 0/1 1/1 0/0")
    for compress in (None, "bgzf"):
        path = write_vcf(tmp_path, body, name=f"{name}.vcf", compress=compress)
        with pytest.raises(InputError):  # the oracle rejects the file too
            list(VcfReader(path).chunks())
        for threads in (1, 2):
            reader = FastVcfReader(path, threads=threads)
            with pytest.raises(InputError) as err:
                list(reader.chunks(1))
            e = err.value
            assert e.file == path and e.chrom == chrom and e.pos == pos, e.message()
            assert words in e.what
            assert reader.records_read == 1  # the chunk before it came out


def test_malformed_lines_htslib_crashes_on(tmp_path):
    # cyvcf2 crashes the interpreter on these (a half-parsed record with an
    # undefined contig): the fast reader must raise, not hand them to htslib.
    for body in ("1 100 . A C . . . GT 0/1 1/1 0/0\n\n",
                 "chrNew 10x . A C . . . GT 0/1 1/1 0/0\n",
                 "##late=header\n1 100 . A C . . . GT 0/1 1/1 0/0\n"):
        path = write_vcf(tmp_path, body.replace(" ", "\t"))
        with pytest.raises(InputError) as err:
            list(FastVcfReader(path).chunks())
        assert err.value.file == path


def _bgzf_file(tmp_path, n_records=30000):
    body = "".join(f"1\t{100 + i}\t.\tA\tC\t.\t.\t.\tGT\t0/1\t1/1\t0/0\n"
                   for i in range(n_records))
    return write_vcf(tmp_path, body, name="big.vcf", compress="bgzf")


def test_truncated_bgzf(tmp_path):
    path = _bgzf_file(tmp_path)
    data = Path(path).read_bytes()
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError):
        list(VcfReader(str(cut)).chunks())
    for threads in (1, 2):
        reader = FastVcfReader(str(cut), threads=threads)
        with pytest.raises(InputError) as err:
            for _ in reader.chunks(100):
                pass
        e = err.value
        assert e.file == str(cut) and e.chrom == "1" and isinstance(e.pos, int)
        assert "truncated" in e.what and "after this record" in e.what
        assert reader.records_read > 0


def test_corrupt_bgzf_block(tmp_path):
    path = _bgzf_file(tmp_path)
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.vcf.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        list(FastVcfReader(str(bad)).chunks(100))
    assert "corrupt BGZF block" in err.value.what


def test_zlib_when_libdeflate_is_missing(make_cohort, tmp_path, monkeypatch):
    paths = make_cohort("fast_gt", **COHORTS["gt"])
    want = list(VcfReader(paths["vcf"]).chunks(64))
    monkeypatch.setattr(bgzf, "_libdeflate", None)
    monkeypatch.setattr(bgzf, "_crc32", zlib.crc32)
    assert_same(FastVcfReader(paths["vcf"], threads=2).chunks(64), want)
    path = _bgzf_file(tmp_path)
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.vcf.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt BGZF block"):
        list(FastVcfReader(str(bad)).chunks(100))


def _read_bytes(path, threads):
    """The decompressed bytes ByteSource gives before any damage, and the damage."""
    got = []
    try:
        for raw in bgzf.ByteSource(path, threads=threads):
            got.append(raw.tobytes())
    except InputError as e:
        return b"".join(got), e.what
    return b"".join(got), None


@pytest.mark.parametrize("binding", ["ctypes", "python"])
def test_bgzf_damage_named_by_block(tmp_path, monkeypatch, binding):
    """Each kind of damage names the offset of its block (found by the naive block
    reader), after the bytes of the blocks before it; ISIZE is only a size hint, as
    in htslib."""
    from tests import naive

    if binding == "python":
        monkeypatch.setattr(bgzf, "_LIBDEFLATE", [None])
    monkeypatch.setattr(bgzf, "BATCH_BYTES", 100_000)
    good = Path(_bgzf_file(tmp_path)).read_bytes()
    blocks = naive.bgzf_blocks(good)
    k = len(blocks) // 2
    _s, e, isize, _crc, off = blocks[k]
    text = [zlib.decompress(good[b[0]:b[1]], -15) for b in blocks]
    messages = {
        "crc": f"corrupt BGZF block at byte {off} (CRC32 mismatch)",
        "deflate": f"corrupt BGZF block at byte {off} (inflate failed)",
        "header": f"bad BGZF block header at byte {off}",
        "cut_block": f"truncated BGZF block at byte {off}: the file ends "
                     f"{e + 8 - off - 30} bytes early",
        "cut_header": f"truncated BGZF data: the file ends inside the block header at byte {off}",
    }
    damaged = naive.bgzf_damaged(good, k)
    path = tmp_path / "damaged.vcf.gz"
    for threads in (1, 2):
        for name, message in messages.items():
            path.write_bytes(damaged[name])
            assert _read_bytes(str(path), threads) == (b"".join(text[:k]), message)
        for wrong in (isize - 1, isize + 5, 100_000):
            path.write_bytes(naive.bgzf_with_isize(good, k, wrong))
            assert _read_bytes(str(path), threads) == (b"".join(text), None)


def test_truncated_plain_gzip(tmp_path):
    body = "".join(f"1\t{100 + i}\t.\tA\tC\t.\t.\t.\tGT\t0/1\t1/1\t0/0\n"
                   for i in range(20000))
    path = write_vcf(tmp_path, body, compress="gzip")
    assert bgzf.sniff(path) == "gzip"
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:len(data) - 100])
    with pytest.raises(InputError, match="truncated gzip"):
        list(FastVcfReader(path).chunks(100))


# Engines ---------------------------------------------------------------------------


def test_open_reader_engines(make_cohort, tmp_path):
    from genomekit.io.fastbcf import FastBcfReader

    paths = make_cohort("fast_bcf", n_samples=20, n_sites=50, seed=3, bcf=True)
    vcf, bcf = paths["vcf"], paths["bcf"]
    assert isinstance(open_reader(vcf), FastVcfReader)
    assert isinstance(open_reader(vcf, engine="fast"), FastVcfReader)
    assert isinstance(open_reader(vcf, engine="cyvcf2"), VcfReader)
    assert isinstance(open_reader(bcf), FastBcfReader)
    region = [Region("chr1", 1, 10**9)]
    assert isinstance(open_reader(vcf, regions=region), FastVcfReader)
    assert isinstance(open_reader(bcf, regions=region, engine="fast"), FastBcfReader)
    # Regions on text that is not BGZF: htslib's business (it asks for an index).
    plain = tmp_path / "plain.vcf"
    with gzip.open(vcf, "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    with pytest.raises(InputError, match="need an index"):
        open_reader(str(plain), regions=region)
    with pytest.raises(UsageError):
        open_reader(str(plain), engine="fast", regions=region)
    with pytest.raises(UsageError):
        open_reader(vcf, engine="turbo")
    with pytest.raises(InputError):
        open_reader(str(tmp_path / "absent.vcf.gz"))
    with pytest.raises(UsageError):
        FastVcfReader(bcf)


def test_reader_surface(make_cohort):
    paths = make_cohort("fast_gt_ad_dp_gq", **COHORTS["gt_ad_dp_gq"])
    fast = FastVcfReader(paths["vcf"], format_fields=["GQ", "XX"])
    ref = VcfReader(paths["vcf"], format_fields=["GQ", "XX"])
    assert fast.path == ref.path
    assert fast.header == ref.header
    assert fast.missing_format_fields == ["XX"] and fast.format_fields == ["GQ"]
    assert fast.expected_records() == ref.expected_records()
    assert (fast.last_chrom, fast.last_pos, fast.records_read) == (None, None, 0)
    for kwargs in ({"samples": ["nope"]}, {"samples": ["KOR00001", "KOR00001"]}):
        with pytest.raises(GenomekitError) as a:
            VcfReader(paths["vcf"], **kwargs)
        with pytest.raises(GenomekitError) as b:
            FastVcfReader(paths["vcf"], **kwargs)
        assert type(a.value) is type(b.value) and a.value.what == b.value.what
    fast.close()
    ref.close()


# Property tests: random VCF text ---------------------------------------------------


@st.composite
def vcf_texts(draw, mutate=False):
    n_samples = draw(st.integers(0 if not mutate else 1, 4))
    names = [f"S{i}" for i in range(n_samples)]
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if names:
        columns += ["FORMAT"] + names
    header = HEADER.split("#CHROM")[0] + "\t".join(columns) + "\n"
    lines = []
    for i in range(draw(st.integers(1, 6))):
        n_alt = draw(st.integers(0, 13))
        alt = "." if n_alt == 0 else ",".join(f"<A{j}>" for j in range(n_alt))
        keys = draw(st.sampled_from(["GT", "GT:DP", "DP:GT", "GT:AD:DP", "GT:GQ:FT", "AD"]))
        cols = [draw(st.sampled_from(["1", "X"])), str(100 + i), ".", "A", alt, ".", ".", ".",
                keys]
        for _ in names:
            parts = []
            for key in keys.split(":"):
                if key == "GT":
                    ploidy = draw(st.integers(1, 4))
                    alleles = draw(st.lists(st.one_of(st.none(), st.integers(0, n_alt + 1)),
                                            min_size=ploidy, max_size=ploidy))
                    seps = draw(st.lists(st.sampled_from("/|"), min_size=ploidy,
                                         max_size=ploidy))
                    text = "".join(("." if a is None else str(a)) + s
                                   for a, s in zip(alleles, seps, strict=True))[:-1]
                    parts.append(text)
                elif key == "FT":
                    parts.append(draw(st.sampled_from(["PASS", "q;10", "."])))
                else:
                    values = draw(st.lists(st.one_of(st.just("."), st.just(""),
                                                     st.integers(-5, 2**31).map(str)),
                                           min_size=1, max_size=3))
                    parts.append(",".join(values))
            # Trailing fields may be dropped, but not GT: when no column has
            # it, cyvcf2 makes htslib call exit() (see test_gt_key_in_no_column).
            keep = keys.split(":").index("GT") + 1 if "GT" in keys else 1
            while len(parts) > keep and draw(st.booleans()):
                parts.pop()
            cols.append(":".join(parts))
        lines.append("\t".join(cols if names else cols[:8]))
    if mutate:
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        nine = [j for j, c in enumerate(line) if c == "\t"][8]
        at = draw(st.integers(nine + 1, len(line)))
        char = draw(st.sampled_from(list("0123456789./|:\t,x-+ ") + [""]))
        lines[i] = line[:at] + char + line[at + draw(st.integers(0, 1)):]
    return header, "\n".join(lines) + "\n"


def _gt_in_no_column(header, body):
    """Whether a record names GT in FORMAT while no sample column has it."""
    n = len(header.splitlines()[-1].split("\t")) - 9
    for line in body.splitlines():
        cols = line.split("\t")
        keys = cols[8].split(":") if len(cols) > 8 else []
        if "GT" in keys and n > 0:
            gi = keys.index("GT")
            if not any(len(c.split(":")) > gi for c in cols[9:9 + n]):
                return True
    return False


def _compare_text(header, body, chunk_variants, threads=1):
    with tempfile.TemporaryDirectory() as folder:
        path = write_vcf(folder, body, header=header)
        if _gt_in_no_column(header, body):
            # cyvcf2 would take the test process down (htslib calls exit()).
            with contextlib.suppress(InputError):
                list(FastVcfReader(path, threads=threads).chunks(chunk_variants))
            return
        try:
            want = list(VcfReader(path, format_fields=FIELDS).chunks(chunk_variants))
        except InputError:
            want = None
        reader = FastVcfReader(path, threads=threads, format_fields=FIELDS)
        if want is None:
            with pytest.raises(InputError):
                list(reader.chunks(chunk_variants))
        else:
            assert_same(reader.chunks(chunk_variants), want)
        reader.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vcf_texts(), st.integers(1, 4))
def test_random_vcf_text_matches_cyvcf2(text, chunk_variants):
    _compare_text(*text, chunk_variants)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vcf_texts(mutate=True), st.integers(1, 4))
def test_random_damage_in_sample_columns(text, chunk_variants):
    # The contig stays defined, so cyvcf2 raises rather than crashing.
    _compare_text(*text, chunk_variants)


# The shared corpus ---------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{}, {"format_fields": FIELDS}])
def test_corpus(tmp_path, kwargs):
    if not CORPUS.is_dir():
        pytest.skip("no ../shared/corpus")
    files = sorted(str(p) for p in CORPUS.rglob("*") if p.is_file()
                   and p.suffix not in (".md", ".tbi", ".csi") and bgzf.sniff(str(p)) != "bcf")
    assert_files_match_vcfreader(FastVcfReader, files, kwargs, str(tmp_path))


# Larger inputs ---------------------------------------------------------------------


@pytest.mark.slow
def test_large_cohort_all_thread_counts(make_cohort):
    paths = make_cohort("fast_large", n_samples=2000, n_sites=3000, seed=21,
                        fields=("GT", "AD", "DP", "GQ"), half_call_rate=0.02, phased_rate=0.3,
                        many_allele_sites=5)
    want = list(VcfReader(paths["vcf"], format_fields=FIELDS).chunks())
    for threads in (1, 2, 4):
        reader = FastVcfReader(paths["vcf"], threads=threads, format_fields=FIELDS)
        assert_same(reader.chunks(), want)
        reader.close()
