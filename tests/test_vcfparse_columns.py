"""The fast paths of the VCF decoder for GT-only lines of one-character calls: the
fixed-width one (diploid, four bytes a column) and the mixed one (haploid and diploid
columns, as on chrX and chrY), against cyvcf2, on lines that almost fit them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from genomekit.errors import InputError
from genomekit.io.fastvcf import FastVcfReader
from genomekit.io.vcf import VcfReader
from genomekit.kernels import vcfparse
from tests.test_fast_decoder import assert_same, read_both, rows, write_vcf

# Columns that fit four bytes (with their tab) and columns that do not.
FITTING = ["0/0", "0/1", "1|0", "./.", ".|1", "1/.", "2/1"]
MISFITS = ["0", "10/1", "0/1/1", "1/10", ".", "0-1", "a/1", "0/1:", "+/1", "0/ ", "01/1"]


def _lines(n_cols: int, seed: int) -> list[str]:
    """Lines of GT columns whose total length is that of n_cols fitting columns."""
    rng = np.random.default_rng(seed)
    out = []
    width = 4 * n_cols - 1
    while len(out) < 60:
        cols = [str(rng.choice(FITTING)) for _ in range(n_cols)]
        # Replace one or two columns by misfits, then pad or trim to keep the width.
        for _ in range(int(rng.integers(1, 3))):
            cols[int(rng.integers(n_cols))] = str(rng.choice(MISFITS))
        text = "\t".join(cols)
        if len(text) == width:
            out.append(text)
    return out


def _gt_header(n_cols: int, contig: str) -> str:
    """A VCF header declaring GT only, one contig and n_cols samples."""
    samples = "\t".join(f"S{i + 1}" for i in range(n_cols))
    return (
        f"##fileformat=VCFv4.2\n##contig=<ID={contig},length=100000>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{samples}\n"
    )


def _same_or_both_reject(path) -> bool:
    """Both readers reject the file, or give the same chunks (then True)."""
    try:
        list(VcfReader(path).chunks())
    except InputError:
        with pytest.raises(InputError):
            list(FastVcfReader(path).chunks())
        return False
    got, want = read_both(path)
    assert_same(got, want)
    return True


@pytest.mark.parametrize("n_cols", [3, 4, 5])
def test_lines_of_the_same_width_as_fitting_ones(tmp_path, n_cols):
    header = _gt_header(n_cols, "1")
    fitting = ["\t".join(c) for c in itertools.islice(
        itertools.product(FITTING, repeat=n_cols), 0, None, 97)]
    checked = 0
    for i, text in enumerate(_lines(n_cols, n_cols)):
        # One odd line between fitting ones, alone in its file so that a record
        # htslib rejects does not hide the others.
        body = rows(f"1 100 . A C,G . . . GT {fitting[0].replace(chr(9), ' ')}",
                    f"1 101 . A C,G . . . GT {text.replace(chr(9), ' ')}",
                    f"1 102 . A C,G . . . GT {fitting[-1].replace(chr(9), ' ')}")
        checked += _same_or_both_reject(write_vcf(tmp_path, body, header=header,
                                                  name=f"l{i}.vcf"))
    assert checked >= 10


def test_fitting_lines_take_the_fixed_path(tmp_path):
    # Every combination of fitting columns, decoded by _diploid_columns directly.
    for cols in itertools.product(FITTING, repeat=3):
        text = ("\t".join(cols) + "\n").encode()
        buf = np.frombuffer(text, np.uint8).copy()
        gt = np.zeros(6, np.int8)
        assert vcfparse._diploid_columns(buf, 0, 3, gt, 0)
        want = [-1 if a == "." else int(a) for c in cols for a in (c[0], c[2])]
        assert gt.tolist() == want
    for bad in ("0/1\t0-1\t1/1\n", "0/1\t0/1 1/1\n", "0/1\t0/1\t1/a\n", "0/1\t0/1\t1:1\n"):
        buf = np.frombuffer(bad.encode(), np.uint8).copy()
        assert not vcfparse._diploid_columns(buf, 0, 3, np.zeros(6, np.int8), 0)


# One-character haploid calls, as males have on chrX and chrY.
HAPLOID = ["0", "1", ".", "3"]


def test_mixed_ploidy_lines_take_the_mixed_path():
    # Every combination of one-character haploid and diploid columns, decoded by
    # _mixed_columns directly: pairs with -2 after a haploid allele, and the ploidy.
    for cols in itertools.product(FITTING + HAPLOID, repeat=3):
        for tail in ("\n", "\tEXTRA\n"):
            text = ("\t".join(cols) + tail).encode()
            buf = np.frombuffer(text, np.uint8).copy()
            gt = np.zeros(6, np.int8)
            end = len("\t".join(cols)) if tail == "\n" else len(text) - 1
            got = vcfparse._mixed_columns(buf, 0, end, 3, gt, 0)
            assert got == (2 if any(len(c) == 3 for c in cols) else 1), cols
            want = [v for c in cols for v in
                    ((-1 if c[0] == "." else int(c[0])),
                     (-2 if len(c) == 1 else -1 if c[2] == "." else int(c[2])))]
            assert gt.tolist() == want, cols


@pytest.mark.parametrize("text", [
    "0\t10\t1", "0\t1/1\t0/1/1", "0\t1\t", "0\t\t1", "0 1\t1", "0\t1/a\t1", "0/1\t1-1\t1",
    "0\t1", "0\t1/\t1", "0/\t1\t1", "a\t1\t1", "0\t1\t1/", "0\t1\t12",
])
def test_mixed_path_leaves_other_lines_to_the_general_loop(text):
    # Three columns expected; anything else returns 0 (the general loop decides).
    buf = np.frombuffer((text + "\n").encode(), np.uint8).copy()
    assert vcfparse._mixed_columns(buf, 0, len(text), 3, np.zeros(6, np.int8), 0) == 0


@pytest.mark.parametrize("seed", range(3))
def test_mixed_ploidy_lines_match_cyvcf2(tmp_path, seed):
    # Haploid and diploid columns mixed, with the odd misfit, through both readers.
    rng = np.random.default_rng(seed)
    n_cols = 6
    header = _gt_header(n_cols, "X")
    checked = 0
    for i in range(30):
        lines = []
        for j in range(4):
            cols = [str(rng.choice(FITTING + HAPLOID)) for _ in range(n_cols)]
            if j == 2 and i % 2:
                cols[int(rng.integers(n_cols))] = str(rng.choice(MISFITS))
            lines.append(f"X {100 + j} . A C,G,T . . . GT {' '.join(cols)}")
        checked += _same_or_both_reject(write_vcf(tmp_path, rows(*lines), header=header,
                                                  name=f"m{i}.vcf"))
    assert checked >= 15


def _layout(text: str, n_cols: int):
    """The layout (_mixed_layout) of a line _mixed_columns decodes."""
    buf = np.frombuffer((text + "\n").encode(), np.uint8).copy()
    assert vcfparse._mixed_columns(buf, 0, len(text), n_cols, np.zeros(2 * n_cols, np.int8), 0)
    classes = np.empty(4 * n_cols, np.uint8)
    first = np.empty(n_cols, np.int64)
    second = np.empty(n_cols, np.int64)
    n = vcfparse._mixed_layout(buf, 0, len(text), n_cols, classes, first, second)
    return n, classes, first, second


def _by_layout(text: str, layout, n_cols: int):
    """(whether _layout_columns decodes ``text`` in ``layout``, the pairs written)."""
    n, classes, first, second = layout
    buf = np.frombuffer((text + "\n").encode(), np.uint8).copy()
    gt = np.full(2 * n_cols, 99, np.int8)
    ok = vcfparse._layout_columns(buf, 0, n, classes, first, second, n_cols,
                                  np.empty(4 * n_cols + 1, np.int8), gt, 0)
    return ok, gt.tolist()


def test_layout_of_a_mixed_line_decodes_lines_that_share_it():
    rng = np.random.default_rng(3)
    kinds = ["1", "2", "2", "1", "1", "2", "1"]  # haploid or diploid, column by column
    n_cols = len(kinds)

    def line():
        return "\t".join(str(rng.choice(HAPLOID)) if k == "1" else str(rng.choice(FITTING))
                         for k in kinds)

    layout = _layout(line(), n_cols)
    assert layout[0] == 3 * 4 + 4 * 2 - 1
    for _ in range(200):
        text = line()
        buf = np.frombuffer((text + "\n").encode(), np.uint8).copy()
        want = np.zeros(2 * n_cols, np.int8)
        assert vcfparse._mixed_columns(buf, 0, len(text), n_cols, want, 0) == 2
        assert _by_layout(text, layout, n_cols) == (True, want.tolist())
    # Lines of the same length in another layout, or with a byte of another class,
    # are left to _mixed_columns, with nothing written.
    base = "0\t0/1\t1|1\t.\t1\t./.\t0"
    assert _by_layout(base, layout, n_cols)[0]
    for other in ("0/1\t0\t1|1\t.\t1\t./.\t0", "0\t0/1\t1|1\t.\t1\t.\t0/0",
                  "a\t0/1\t1|1\t.\t1\t./.\t0", "0\t0-1\t1|1\t.\t1\t./.\t0",
                  "0\t0/1\t1|1 .\t1\t./.\t0", "0\t0/1\t1|1\t.\t1\t./.\t:",
                  "0\t0/1\t1|1\t.\t1\t.//\t0"):
        assert len(other) == len(base)
        assert _by_layout(other, layout, n_cols) == (False, [99] * 2 * n_cols), other


def test_no_layout_for_a_line_with_more_after_its_last_column():
    text = "0\t0/1\t1"
    buf = np.frombuffer((text + "\tEXTRA\n").encode(), np.uint8).copy()
    assert vcfparse._mixed_columns(buf, 0, len(text) + 6, 3, np.zeros(6, np.int8), 0) == 2
    args = (np.empty(12, np.uint8), np.empty(3, np.int64), np.empty(3, np.int64))
    assert vcfparse._mixed_layout(buf, 0, len(text) + 6, 3, *args) == -1
    assert vcfparse._mixed_layout(buf, 0, len(text), 3, *args) == len(text)


@pytest.mark.parametrize("seed", range(3))
def test_lines_sharing_a_layout_match_cyvcf2(tmp_path, seed):
    # chrX as a cohort has it: the males' columns haploid, the females' diploid, line
    # after line; now and then two columns trade kinds (same length, other layout)
    # or a misfit breaks the layout.
    rng = np.random.default_rng(seed)
    n_cols = 9
    male = rng.random(n_cols) < 0.5
    header = _gt_header(n_cols, "X")
    checked = 0
    for i in range(12):
        lines = []
        for j in range(12):
            kinds = male.copy()
            if j % 5 == 4:
                a, b = int(np.flatnonzero(kinds)[0]), int(np.flatnonzero(~kinds)[0])
                kinds[a], kinds[b] = False, True
            cols = [str(rng.choice(HAPLOID)) if m else str(rng.choice(FITTING)) for m in kinds]
            if j == 7 and i % 3 == 0:
                cols[int(rng.integers(n_cols))] = str(rng.choice(MISFITS))
            lines.append(f"X {100 + j} . A C,G,T . . . GT {' '.join(cols)}")
        checked += _same_or_both_reject(write_vcf(tmp_path, rows(*lines), header=header,
                                                  name=f"x{i}.vcf"))
    assert checked >= 6
