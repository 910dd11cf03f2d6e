"""The few numbers the report derives from the tables rather than copying them: bin and
group counts. Each is a plain count, tested against a loop in tests/test_report.py."""

from __future__ import annotations

import numpy as np
import polars as pl

from genomekit.genome import contig_kind

CHROM_CLASSES = ("autosomes/other", "chrX", "chrY")


def ac_upper_edges(max_ac: int) -> list[int]:
    """Upper bounds of the allele-count bins: 0, 1, 2, then the 1-2-5 series past ``max_ac``.

    Bin i holds AC in (edges[i-1], edges[i]], bin 0 only AC = 0, so singletons and
    doubletons keep bins of their own and common alleles share wider ones.
    """
    edges = [0, 1, 2, 5]
    power = 10
    while edges[-1] < max_ac:
        edges.extend(m * power for m in (1, 2, 5))
        power *= 10
    # Drop the bins past the one that holds max_ac.
    while len(edges) > 4 and edges[-2] >= max_ac:
        edges.pop()
    return edges


def ac_bin_labels(edges: list[int]) -> list[str]:
    labels = []
    for i, hi in enumerate(edges):
        lo = 0 if i == 0 else edges[i - 1] + 1
        labels.append(str(hi) if lo == hi else f"{lo}–{hi}")
    return labels


def sfs_counts(ac: np.ndarray, edges: list[int]) -> np.ndarray:
    """Number of ALT alleles whose AC falls in each bin of ``edges`` (int64, len(edges))."""
    ac = np.asarray(ac, dtype=np.int64)
    index = np.searchsorted(np.asarray(edges, dtype=np.int64), ac, side="left")
    return np.bincount(index, minlength=len(edges))[: len(edges)].astype(np.int64)


def chrom_class(chrom: pl.Series) -> np.ndarray:
    """CHROM_CLASSES index of each row: 1 chrX, 2 chrY, 0 any other contig."""
    kinds = {name: contig_kind(name) for name in chrom.unique().to_list()}
    code = {name: 1 if k == "X" else 2 if k == "Y" else 0 for name, k in kinds.items()}
    return chrom.replace_strict(code, return_dtype=pl.Int8).to_numpy()


def sfs_table(freq: pl.DataFrame) -> dict:
    """The site frequency spectrum of a freq table, by chromosome class.

    ALT alleles with AN = 0 (no called genotype) have no frequency: they are counted
    apart, in ``no_calls``, and left out of the bins.
    """
    an = freq["AN"].to_numpy()
    ac = freq["AC"].to_numpy()
    called = an > 0
    max_ac = int(ac[called].max()) if called.any() else 0
    edges = ac_upper_edges(max_ac)
    classes = chrom_class(freq["CHROM"])
    by_class = {}
    for k, name in enumerate(CHROM_CLASSES):
        sel = called & (classes == k)
        if (classes == k).any():
            by_class[name] = sfs_counts(ac[sel], edges)
    return {
        "edges": edges,
        "labels": ac_bin_labels(edges),
        "all": sfs_counts(ac[called], edges),
        "by_class": by_class,
        "no_calls": int((~called).sum()),
        "exact": exact_spectrum(ac[called]),
    }


def exact_spectrum(ac: np.ndarray) -> dict[int, int]:
    """{AC: number of ALT alleles} for every AC ≥ 1 that occurs."""
    values, counts = np.unique(np.asarray(ac, dtype=np.int64), return_counts=True)
    return {int(v): int(n) for v, n in zip(values, counts) if v >= 1}


def sample_flags(qc: pl.DataFrame) -> list[list[str]]:
    """Names of the true ``fail_*`` columns of each sample, in table column order."""
    fail_cols = [c for c in qc.columns if c.startswith("fail_")]
    if not fail_cols:
        return [[] for _ in range(qc.height)]
    matrix = qc.select([pl.col(c).cast(pl.Boolean).fill_null(False) for c in fail_cols])
    return [[c[len("fail_"):] for c, on in zip(fail_cols, row) if on]
            for row in matrix.iter_rows()]


def group_order(values: list) -> list:
    """Distinct values in order of first appearance (None last)."""
    seen = list(dict.fromkeys(values))
    return [v for v in seen if v is not None] + ([None] if None in seen else [])


def crosstab(rows: list, cols: list) -> dict[tuple, int]:
    """Count of each (row value, column value) pair."""
    out: dict[tuple, int] = {}
    for key in zip(rows, cols):
        out[key] = out.get(key, 0) + 1
    return out
