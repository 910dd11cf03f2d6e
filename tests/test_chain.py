"""io/chain.py: several files read as one stream equal the file `bcftools concat` makes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from genomekit.errors import InputError
from genomekit.io.chain import header_samples, open_chain, sample_difference
from genomekit.io.readers import open_reader
from tests.conftest import need_tool

PARTS = {"chr1": "p1.bcf", "chr2": "p2.vcf.gz", "chrX": "x.bcf", "chrY": "y.vcf.gz"}


@pytest.fixture(scope="module")
def split(cohort, tmp_path_factory):
    """The shared cohort (GT:AD:DP:GQ, many-allele sites) cut into one file per contig,
    and those files joined again by bcftools concat."""
    bcftools = need_tool("bcftools")
    folder = tmp_path_factory.mktemp("chain")
    paths = []
    for contig, name in PARTS.items():
        path = str(folder / name)
        fmt = "b" if name.endswith(".bcf") else "z"
        subprocess.run([bcftools, "view", "-r", contig, f"-O{fmt}", "-o", path,
                        cohort["vcf"]], check=True)
        paths.append(path)
    joined = str(folder / "concat.vcf.gz")
    subprocess.run([bcftools, "concat", "-Oz", "-o", joined, *paths], check=True,
                   capture_output=True)
    return paths, joined


def padded(a: np.ndarray, width: int, fill: int) -> np.ndarray:
    out = np.full((*a.shape[:-1], width), fill, dtype=np.int32)
    out[..., :a.shape[-1]] = a
    return out


@pytest.mark.parametrize("engine", ["auto", "cyvcf2"])
@pytest.mark.parametrize("chunk_variants", [37, 400, None])
def test_chunks_equal_those_of_the_concatenated_file(split, engine, chunk_variants):
    paths, joined = split
    fields = ("GQ", "DP", "AD")
    reader = open_chain(paths, lambda p, first: open_reader(p, engine=engine,
                                                            format_fields=fields))
    single = open_reader(joined, engine=engine, format_fields=fields)
    got, want = list(reader.chunks(chunk_variants)), list(single.chunks(chunk_variants))
    assert reader.samples == single.samples
    assert [c.n_variants for c in got] == [c.n_variants for c in want]
    assert [c.index for c in got] == list(range(len(want)))
    assert sum(len(set(c.chrom)) > 1 for c in got) >= (1 if chunk_variants else 0)
    for a, b in zip(got, want):
        assert (a.chrom, a.ids, a.ref, a.alts) == (b.chrom, b.ids, b.ref, b.alts)
        assert np.array_equal(a.pos, b.pos) and np.array_equal(a.n_alleles, b.n_alleles)
        # A chunk spanning two files may be wider, with -2 padding.
        width = max(a.gt.shape[2], b.gt.shape[2])
        assert np.array_equal(padded(a.gt, width, -2), padded(b.gt, width, -2))
        assert np.array_equal(a.gq, b.gq) and np.array_equal(a.dp, b.dp)
        width = max(a.ad.shape[2], b.ad.shape[2])
        assert np.array_equal(padded(a.ad, width, -1), padded(b.ad, width, -1))
        contig_file = {c: p for c, p in zip(PARTS, paths)}
        for v in (0, a.n_variants - 1):
            assert reader.path_of(a, v) == contig_file[a.chrom[v]]
    reader.close()
    single.close()


def test_one_file_is_read_as_it_is(split):
    paths, _ = split
    reader = open_chain(paths[:1], lambda p, first: open_reader(p))
    single = open_reader(paths[0])
    for a, b in zip(reader.chunks(50), single.chunks(50), strict=True):
        assert a.pos is not None and np.array_equal(a.gt, b.gt) and a.index == b.index
    assert reader.path == paths[0]


def test_other_samples_are_refused_and_readers_closed(split, tmp_path):
    paths, _ = split
    header = Path(tmp_path / "other.vcf")
    names = header_samples(open_reader(paths[0]).header)
    header.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
                      "\tFORMAT\t" + "\t".join(reversed(names)) + "\n")
    closed = []

    def open_one(path, first):
        reader = open_reader(path, engine="cyvcf2")
        close = reader.close
        reader.close = lambda: (closed.append(path), close())
        return reader

    with pytest.raises(InputError) as e:
        open_chain([paths[0], str(header)], open_one)
    assert e.value.file == str(header) and "another order" in e.value.what
    assert closed == [paths[0], str(header)]


@pytest.mark.parametrize("first,other,text", [
    (["a", "b", "c"], ["a", "b", "c"], None),
    (["a", "b", "c"], ["a", "c", "b"], "the samples of F in another order: sample 2 is 'c' "
                                       "here and 'b' there"),
    (["a", "b", "c"], ["a", "b"], "2 samples, and F has 3: its sample 3 'c' is missing here"),
    (["a", "b"], ["a", "b", "d"], "3 samples, and F has 2: sample 3 'd' is not there"),
    (["a", "b", "c"], ["a", "x", "c"], "other samples than F: sample 2 is 'x' here and 'b' "
                                       "there"),
])
def test_sample_difference(first, other, text):
    assert sample_difference(first, other, "F") == text
