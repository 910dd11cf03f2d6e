"""Readers' map_chunks: func of every chunk in file order, whatever the reader and the thread
count, with the reader's state and errors as a loop over chunks() gives them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genomekit.errors import InputError
from genomekit.io import bgzf
from genomekit.io.chain import open_chain
from genomekit.io.fastbcf import FastBcfReader
from genomekit.io.fastvcf import FastVcfReader
from genomekit.io.vcf import VcfReader
from tests.fast_readers import assert_same
from tests.test_fast_decoder import write_vcf

READERS = {"cyvcf2": VcfReader, "fast-vcf": FastVcfReader, "fast-bcf": FastBcfReader}


def _summary(chunk):
    """What the tests compare of a chunk, computed in the worker."""
    return (chunk.index, tuple(chunk.chrom), chunk.pos.copy(), int(chunk.gt.sum()),
            np.bincount(chunk.gt.ravel().astype(np.int64) + 128, minlength=256))


def _state(reader):
    return reader.records_read, reader.last_chrom, reader.last_pos, reader.contigs()


def _assert_same_summaries(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a[:2] == b[:2] and a[3] == b[3]
        assert np.array_equal(a[2], b[2]) and np.array_equal(a[4], b[4])


@pytest.fixture(scope="module")
def files(make_cohort):
    return make_cohort("map_chunks", n_samples=40, n_sites=700, seed=5, bcf=True)


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_same_as_a_loop_over_chunks(files, kind, threads, monkeypatch):
    monkeypatch.setattr(bgzf, "BATCH_BYTES", 20_000)  # lines across many buffers
    path = files["bcf"] if kind == "fast-bcf" else files["vcf"]
    loop = READERS[kind](path, threads=1)
    want = [_summary(c) for c in loop.chunks(23)]
    reader = READERS[kind](path, threads=threads)
    got = list(reader.map_chunks(_summary, 23))
    _assert_same_summaries(got, want)
    assert len(got) == -(-700 // 23)
    if kind != "cyvcf2":
        assert _state(reader) == _state(loop)
    reader.close()
    loop.close()


@pytest.mark.parametrize("threads", [1, 2])
def test_chain_of_one_and_of_two_files(files, threads):
    want = list(VcfReader(files["vcf"]).chunks(50))

    def open_one(path, first):
        return FastVcfReader(path, threads=threads)

    one = open_chain([files["vcf"]], open_one)
    assert_same(one.map_chunks(lambda c: c, 50), want)
    assert one.path_of(want[-1], 0) == files["vcf"]
    two = open_chain([files["vcf"], files["vcf"]], open_one)
    got = list(two.map_chunks(lambda c: c, 50))
    assert len(got) == 2 * len(want)
    assert [c.index for c in got] == list(range(len(got)))
    assert two.path_of(got[-1], 0) == files["vcf"]
    assert np.array_equal(np.concatenate([c.gt for c in got[len(want):]]),
                          np.concatenate([c.gt for c in want]))


@pytest.mark.parametrize("threads", [1, 2])
def test_damage_after_the_results_before_it(tmp_path, threads):
    body = "".join(f"1\t{100 + i}\t.\tA\tC\t.\t.\t.\tGT\t0/1\t1/1\t0/0\n" for i in range(30000))
    path = write_vcf(tmp_path, body, name="big.vcf", compress="bgzf")
    cut = tmp_path / "cut.vcf.gz"
    data = Path(path).read_bytes()
    cut.write_bytes(data[:len(data) // 2])

    def first_pos(chunk):
        return int(chunk.pos[0])

    loop = FastVcfReader(str(cut))
    want = []
    with pytest.raises(InputError) as loop_err:
        for chunk in loop.chunks(100):
            want.append(first_pos(chunk))
    reader = FastVcfReader(str(cut), threads=threads)
    got = []
    with pytest.raises(InputError) as err:
        for value in reader.map_chunks(first_pos, 100):
            got.append(value)
    assert got == want and len(got) > 10
    assert err.value.message() == loop_err.value.message()
    assert reader.records_read == loop.records_read


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_error_of_func_in_its_chunk_s_turn(files, threads):
    def fails_at_chunk_5(chunk):
        if chunk.index == 5:
            raise KeyError(chunk.index)
        return chunk.index

    reader = FastVcfReader(files["vcf"], threads=threads)
    got = []
    with pytest.raises(KeyError):
        for value in reader.map_chunks(fails_at_chunk_5, 23):
            got.append(value)
    assert got == [0, 1, 2, 3, 4]
    assert reader.records_read == 5 * 23
