"""The few numbers the report derives from the tables rather than copying them: bin and
group counts, cumulative coverage. Each is tested against a loop or a peer tool in
tests/test_report.py."""

from __future__ import annotations

from dataclasses import dataclass

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


# The genome-wide rows of a bam-qc coverage distribution: 'total', or with --by the
# regions' 'total_region'.
TOTAL_CHROMS = ("total", "total_region")


@dataclass(frozen=True)
class CoverageCurve:
    """The cumulative depth distribution of one BAM, as mosdepth's ``.dist.txt`` holds it:
    ``frac[d]`` is the share of the ``n_bases`` positions with depth at least d (float64,
    d = 0 .. the largest depth)."""

    sample: str
    frac: np.ndarray
    n_bases: int


def coverage_curves(dist: pl.DataFrame) -> list[CoverageCurve]:
    """One curve per BAM from the genome-wide rows of a coverage distribution.

    bam-qc writes each BAM's rows together, depths increasing, so a BAM's run of rows ends
    where the sample changes or the depth stops increasing (two BAMs of one sample stay
    apart). Raises ValueError on a negative depth or base count.
    """
    total = dist.filter(pl.col("chrom").is_in(TOTAL_CHROMS))
    samples = total["sample"]
    depth = total["depth"].to_numpy().astype(np.int64)
    n_bases = total["n_bases"].to_numpy().astype(np.int64)
    if (depth < 0).any() or (n_bases < 0).any():
        raise ValueError("a negative depth or base count")
    new_run = np.ones(len(depth), dtype=bool)
    new_run[1:] = ((samples[1:] != samples[:-1]).fill_null(True).to_numpy()
                   | (depth[1:] <= depth[:-1]))
    starts = np.flatnonzero(new_run).tolist()
    curves = []
    for a, b in zip(starts, starts[1:] + [len(depth)]):
        hist = np.zeros(int(depth[b - 1]) + 1, dtype=np.int64)
        np.add.at(hist, depth[a:b], n_bases[a:b])
        bases = int(hist.sum())
        if bases == 0:
            continue
        frac = np.cumsum(hist[::-1])[::-1] / bases
        curves.append(CoverageCurve(samples[a], frac, bases))
    return curves


def frac_at(curve: CoverageCurve, depth: int) -> float:
    """Share of the curve's bases with depth at least ``depth``."""
    return float(curve.frac[depth]) if depth < curve.frac.size else 0.0


def withheld_rows(groups: pl.Series) -> dict[str, int]:
    """{group: rows whose allele counts the release withholds} from its ``suppressed_groups``
    column (comma-separated names; 'g:hom' names a group whose genotype counts alone are
    withheld, which is not counted here)."""
    out: dict[str, int] = {}
    for value, n in groups.drop_nulls().value_counts().iter_rows():
        for name in value.split(","):
            if name and not name.endswith(":hom"):
                out[name] = out.get(name, 0) + n
    return out


def release_sfs(release: pl.DataFrame, edges: list[int]) -> dict:
    """The spectrum of a release table over ``edges``: rows whose AC is published and
    AN > 0 are binned; rows whose AC is withheld and rows with AN = 0 are counted apart."""
    ac = release["AC"]
    an = release["AN"].fill_null(0).to_numpy()
    published = ac.is_not_null().to_numpy()
    called = an > 0
    values = ac.fill_null(0).to_numpy()
    return {
        "counts": sfs_counts(values[published & called], edges),
        "withheld": int((~published & called).sum()),
        "no_calls": int((~called).sum()),
    }
