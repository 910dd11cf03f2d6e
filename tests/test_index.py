"""Region reads through .tbi and .csi indexes: the fast readers select VcfReader's records."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pysam
import pysam.bcftools
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from genomekit.errors import InputError, UsageError
from genomekit.io import bgzf
from genomekit.io.fastbcf import FastBcfReader
from genomekit.io.fastvcf import FastVcfReader
from genomekit.io.index import HTS_POS_MAX, Index, find_index, load_index, parse_region
from genomekit.io.readers import open_reader
from genomekit.io.vcf import Region, VcfReader, read_bed
from genomekit.io.vcf import parse_region as parse_text
from tests.conftest import run_freq
from tests.test_fast_decoder import FIELDS, assert_same

# cyvcf2 warns when htslib finds no iterator for a region (a contig the index lacks).
pytestmark = pytest.mark.filterwarnings("ignore:no intervals found:UserWarning")

# Files ------------------------------------------------------------------------------

SPANS_HEADER = """##fileformat=VCFv4.2
##contig=<ID=1,length=2000000>
##contig=<ID=2,length=2000000>
##contig=<ID=3,length=2000000>
##INFO=<ID=END,Number=1,Type=Integer,Description="End">
##INFO=<ID=SVEND,Number=1,Type=Integer,Description="Not an end">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3
"""

# Records that start before a region and reach into it, by REF length or by
# INFO/END, and decoys htslib does not read as ends.
SPANS = [
    ("1", 1, "first", "A", "C", "."),
    ("1", 100, "del20", "ACGTACGTACGTACGTACGT", "A", "."),
    ("1", 105, ".", "A", "G", "."),
    ("1", 110, "sv_end", "N", "<DEL>", "END=5000"),
    ("1", 120, ".", "A", "G", "."),
    ("1", 200, "sv_decoy", "N", "<DEL>", "SVEND=9;END=300"),
    ("1", 250, "end_before_pos", "N", "<DUP>", "END=100"),
    ("1", 260, "end_dot", "N", "<DUP>", "END=."),
    ("1", 270, "svend_only", "N", "<DUP>", "SVEND=90000"),
    ("1", 16384, ".", "A", "G", "."),
    ("1", 16385, ".", "A", "G", "."),
    ("1", 40000, "del100", "A" * 100, "A", "."),
    ("1", 40050, ".", "A", "G", "."),
    ("1", 1500000, "sv_long", "N", "<DEL>", "END=1900000"),
]


def _spans_body(rng) -> str:
    records = list(SPANS)
    # Filler: enough records for many BGZF blocks, some of them deletions.
    for chrom, n in (("1", 8000), ("2", 4000)):
        for pos in np.sort(rng.choice(np.arange(2, 1_990_000), size=n, replace=False)):
            ref = "A" * int(rng.choice([1, 1, 1, 2, 30, 300]))
            records.append((chrom, int(pos), ".", ref, "C", "."))
    records.sort(key=lambda r: (r[0], r[1]))
    lines = []
    for chrom, pos, id_, ref, alt, info in records:
        gts = "\t".join(rng.choice(["0/0", "0/1", "1/1", "./.", "0|1"], size=3))
        lines.append(f"{chrom}\t{pos}\t{id_}\t{ref}\t{alt}\t.\t.\t{info}\tGT\t{gts}")
    return "\n".join(lines) + "\n"


def _index_pair(plain: str, name: str, folder) -> dict:
    """bgzipped copies of ``plain``: one with a .tbi, one with a .csi, and a BCF with .csi."""
    out = {}
    tbi = pysam.tabix_index(str(shutil.copy(plain, folder / f"{name}_tbi.vcf")), preset="vcf",
                            force=True)
    out["tbi"] = tbi
    csi = pysam.tabix_index(str(shutil.copy(plain, folder / f"{name}_csi.vcf")), preset="vcf",
                            force=True, csi=True)
    out["csi"] = csi
    bcf = str(folder / f"{name}.bcf")
    pysam.bcftools.view("-Ob", "-o", bcf, "--write-index", tbi, catch_stdout=False)
    out["bcf"] = bcf
    return out


@pytest.fixture(scope="module")
def spans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spans")
    plain = folder / "spans.vcf"
    plain.write_text(SPANS_HEADER + _spans_body(np.random.default_rng(4)))
    return _index_pair(str(plain), "spans", folder)


@pytest.fixture(scope="module")
def cohort_files(make_cohort, tmp_path_factory):
    paths = make_cohort("regions", bcf=True, n_samples=60, n_sites=3000, seed=17,
                        fields=("GT", "AD", "DP", "GQ"), many_allele_sites=4, indel_rate=0.3)
    folder = tmp_path_factory.mktemp("regions_csi")
    csi = shutil.copy(paths["vcf"], folder / "cohort_csi.vcf.gz")
    pysam.tabix_index(str(csi), preset="vcf", force=True, csi=True)
    return {"tbi": paths["vcf"], "csi": str(csi), "bcf": paths["bcf"]}


def reader_for(path, **kwargs):
    cls = FastBcfReader if bgzf.sniff(path) == "bcf" else FastVcfReader
    return cls(path, **kwargs)


def compare(path, regions, chunk_variants=17, threads=1, **kwargs):
    """Fast and VcfReader chunks for ``regions``; returns the number of records."""
    fast = reader_for(path, regions=regions, threads=threads, **kwargs)
    ref = VcfReader(path, regions=regions, **kwargs)
    got = list(fast.chunks(chunk_variants))
    want = list(ref.chunks(chunk_variants))
    assert_same(got, want)
    assert (fast.last_chrom, fast.last_pos, fast.records_read) == \
        (ref.last_chrom, ref.last_pos, ref.records_read)
    assert fast.expected_records() is None and fast.contigs() == ref.contigs()
    return sum(c.n_variants for c in got)


KINDS = ["tbi", "csi", "bcf"]

# The index -------------------------------------------------------------------------


def test_index_files_and_names(cohort_files, spans):
    import cyvcf2

    tbi = Index(cohort_files["tbi"] + ".tbi")
    assert tbi.kind == "tbi" and (tbi.min_shift, tbi.n_lvls) == (14, 5)
    names = list(cyvcf2.VCF(cohort_files["tbi"]).seqnames)
    assert tbi.names == names
    csi = load_index(cohort_files["csi"], text=True)
    assert csi.kind == "csi" and csi.names == names and csi.tabix == tbi.tabix
    bcf = load_index(cohort_files["bcf"], text=False)
    assert bcf.kind == "csi" and bcf.names is None and bcf.n_refs == len(names)
    # htslib's order: PATH.csi, then PATH with its extension replaced, then .tbi.
    assert find_index(spans["tbi"], text=True) == spans["tbi"] + ".tbi"
    assert find_index(spans["tbi"], text=False) is None


def test_find_index_order(tmp_path):
    path = tmp_path / "x.vcf.gz"
    path.write_bytes(b"")
    (tmp_path / "x.vcf.gz.tbi").write_bytes(b"")
    assert find_index(str(path), text=True) == str(path) + ".tbi"
    (tmp_path / "x.vcf.csi").write_bytes(b"")
    assert find_index(str(path), text=True) == str(tmp_path / "x.vcf.csi")
    (tmp_path / "x.vcf.gz.csi").write_bytes(b"")
    assert find_index(str(path), text=True) == str(path) + ".csi"


def test_damaged_index(tmp_path, cohort_files):
    bad = tmp_path / "bad.vcf.gz"
    shutil.copy(cohort_files["tbi"], bad)
    data = open(cohort_files["tbi"] + ".tbi", "rb").read()
    (tmp_path / "bad.vcf.gz.tbi").write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match="unreadable index"):
        FastVcfReader(str(bad), regions=[Region("chr1", 1, 1000)])


def test_parse_region_as_htslib():
    ids = {"1": 0, "chr2": 1, "HLA:1": 2, "HLA": 3}.get

    def name2id(name):
        return -1 if ids(name) is None else ids(name)

    assert parse_region(parse_text("1"), name2id) == (0, 0, HTS_POS_MAX)
    assert parse_region(parse_text("1:100-200"), name2id) == (0, 99, 200)
    assert parse_region(parse_text("chr2:5"), name2id) == (1, 4, 5)
    assert parse_region(parse_text("chr2:5-"), name2id) == (1, 4, HTS_POS_MAX)
    assert parse_region(parse_text("chrZ:5-9"), name2id) is None
    assert parse_region(Region("HLA:1"), name2id) is None  # ambiguous for htslib


# Record sets -----------------------------------------------------------------------

SPAN_REGIONS = [
    "1", "1:1-1", "1:100-100", "1:101-200", "1:106-115", "1:111-119", "1:121-260", "1:251-299",
    "1:301-16384", "1:16384-16385", "1:40001-40049", "1:40050-", "1:1000000-1600000",
    "1:1600000-1999999", "2", "2:1-10", "3", "chrZ", "1:3000000-4000000",
    "1:600000000-600000010",
]


@pytest.mark.parametrize("kind", KINDS)
def test_regions_spanning_records(spans, kind):
    counts = [compare(spans[kind], [parse_text(r)]) for r in SPAN_REGIONS]
    assert sum(counts) > 500 and counts[SPAN_REGIONS.index("3")] == 0
    # Every region at once, across contigs and back, as -R gives them.
    compare(spans[kind], [parse_text(r) for r in SPAN_REGIONS], chunk_variants=100)


@pytest.mark.parametrize("kind", KINDS)
def test_regions_on_a_cohort(cohort_files, kind):
    path = cohort_files[kind]
    regions = ["chr1", "chr1:1-200000", "chr1:200001-", "chr2:100000-300000", "chrX", "chrY",
               "chrX:1-2781479", "chrX:2781480-", "chr3", "chrY:1-10"]
    for text in regions:
        compare(path, [parse_text(text)], format_fields=FIELDS)
    compare(path, [parse_text(t) for t in regions], format_fields=FIELDS,
            samples=VcfReader(path).samples[10:30])


@pytest.mark.parametrize("kind", KINDS)
def test_regions_from_a_bed_file(spans, tmp_path, kind):
    bed = tmp_path / "r.bed"
    bed.write_text("2\t0\t50000\n1\t99\t120\n1\t110\t400\n1\t16000\t17000\n2\t40000\t90000\n"
                   "1\t1400000\t1600000\n3\t0\t100\nchrZ\t0\t10\n")
    regions = read_bed(str(bed))
    assert compare(spans[kind], regions, chunk_variants=7) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_region_reads_do_not_depend_on_threads(cohort_files, kind, monkeypatch):
    monkeypatch.setattr(bgzf, "BATCH_BYTES", 30_000)
    regions = [parse_text(t) for t in ("chr1:1-300000", "chr2", "chrX:1000000-")]
    want = list(VcfReader(cohort_files[kind], regions=regions, format_fields=FIELDS).chunks(9))
    for threads in (1, 2, 4):
        got = reader_for(cohort_files[kind], regions=regions, format_fields=FIELDS,
                         threads=threads).chunks(9)
        assert_same(got, want)


@st.composite
def region_lists(draw):
    out = []
    for _ in range(draw(st.integers(1, 4))):
        chrom = draw(st.sampled_from(["1", "1", "2", "3", "chrZ"]))
        if draw(st.integers(0, 9)) == 0:
            out.append(Region(chrom))
            continue
        start = draw(st.one_of(st.integers(1, 2_000_000), st.sampled_from(
            [1, 100, 101, 110, 111, 200, 16384, 16385, 40000, 40001])))
        end = draw(st.one_of(st.none(), st.integers(start, start + draw(
            st.sampled_from([0, 10, 1000, 100_000, 3_000_000])))))
        out.append(Region(chrom, start, end))
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(region_lists(), st.sampled_from(KINDS), st.integers(1, 50))
def test_random_regions(spans, regions, kind, chunk_variants):
    compare(spans[kind], regions, chunk_variants)


# Engines and commands ---------------------------------------------------------------


def test_region_needs_an_index(spans, tmp_path):
    bare = tmp_path / "bare.vcf.gz"
    shutil.copy(spans["tbi"], bare)
    region = [Region("1", 1, 100)]
    for engine in ("auto", "fast", "cyvcf2"):
        with pytest.raises(InputError, match="need an index"):
            open_reader(str(bare), engine=engine, regions=region)
    bare_bcf = tmp_path / "bare.bcf"
    shutil.copy(spans["bcf"], bare_bcf)
    with pytest.raises(InputError, match="need an index"):
        FastBcfReader(str(bare_bcf), regions=region)
    # A BCF named otherwise: cyvcf2 would read it as text, so htslib keeps it.
    odd = tmp_path / "odd.vcf.gz"
    shutil.copy(spans["bcf"], odd)
    shutil.copy(spans["bcf"] + ".csi", str(odd) + ".csi")
    assert isinstance(open_reader(str(odd), regions=region), VcfReader)
    with pytest.raises(UsageError):
        open_reader(str(odd), regions=region, engine="fast")


def test_damage_inside_a_region(spans, tmp_path):
    for kind in ("tbi", "bcf"):
        path = spans[kind]
        cut = tmp_path / os.path.basename(path)
        data = open(path, "rb").read()
        cut.write_bytes(data[:len(data) * 3 // 4])
        ext = ".tbi" if kind == "tbi" else ".csi"
        shutil.copy(path + ext, str(cut) + ext)
        reader = reader_for(str(cut), regions=[Region("2")])
        with pytest.raises(InputError, match="truncated") as err:
            list(reader.chunks(50))
        assert err.value.file == str(cut)
        # A region before the damage reads as from the whole file.
        assert compare(str(cut), [Region("1", 1, 100000)]) > 0


def test_freq_regions_engines_identical(cohort, tmp_path):
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t300000\nchrX\t2000000\t3000000\nchr2\t100000\t200000\n")
    for path in (cohort["vcf"], cohort["bcf"]):
        for kwargs in ({"region": "chr1:100000-400000"}, {"regions_file": str(bed)},
                       {"region": "chrX"}):
            fast = run_freq(path, tmp_path, "fast", pops_file=str(cohort["pops"]),
                            engine="fast", threads=2, **kwargs)
            slow = run_freq(path, tmp_path, "slow", pops_file=str(cohort["pops"]),
                            engine="cyvcf2", **kwargs)
            assert fast.height > 0
            assert_frame_equal(fast, slow)


def test_shards_read_by_the_fast_engine_add_up(cohort, tmp_path):
    from genomekit.commands import merge, shards

    plan = shards.run(cohort["bcf"], str(tmp_path / "plan.bed"), size=300_000)
    whole = run_freq(cohort["bcf"], tmp_path, "whole", pops_file=cohort["pops"], engine="fast")
    tables = []
    for i, region in enumerate(plan):
        run_freq(cohort["bcf"], tmp_path, f"s{i}", pops_file=cohort["pops"], engine="fast",
                 region=str(region))
        tables.append(str(tmp_path / f"s{i}.freq.parquet"))
    merge.run(tables, str(tmp_path / "merged"))
    import polars as pl

    assert_frame_equal(whole, pl.read_parquet(tmp_path / "merged.freq.parquet"))
    assert os.path.exists(tmp_path / "merged.freq.parquet")
