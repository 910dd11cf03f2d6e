"""The relatedness table: one row per sample pair at or above --min-kinship (plink2 .kin0)."""

from __future__ import annotations

import numpy as np
import polars as pl

# plink2 --make-king-table counts column names, and the inferred degree.
RELATE_SCHEMA: dict[str, pl.DataType] = {
    "IID1": pl.String,
    "IID2": pl.String,
    "NSNP": pl.Int32,
    "HETHET": pl.Int32,
    "IBS0": pl.Int32,
    "KINSHIP": pl.Float64,
    "degree": pl.String,
}

# Lower kinship bound of each degree: the geometric means of the expected kinships
# 1/2, 1/4, 1/8, 1/16, 1/32, as KING's documentation (and plink2's) rounds them.
DEGREES: tuple[tuple[str, float], ...] = (
    ("duplicate", 0.354),
    ("first", 0.177),
    ("second", 0.0884),
    ("third", 0.0442),
)
UNRELATED = "unrelated"
DEGREE_LABELS = tuple(name for name, _ in DEGREES) + (UNRELATED,)


def degree_labels(kinship: np.ndarray) -> np.ndarray:
    """Degree label (object array) for each kinship value: the first bound it reaches."""
    bounds = np.array([b for _, b in DEGREES])
    names = np.array(DEGREE_LABELS, dtype=object)
    # Bounds are decreasing: count how many the value misses.
    index = (np.asarray(kinship)[:, None] < bounds[None, :]).sum(axis=1)
    return names[index]


def build_relate_table(samples: np.ndarray, idx1: np.ndarray, idx2: np.ndarray,
                       nsnp: np.ndarray, hethet: np.ndarray, ibs0: np.ndarray,
                       kinship: np.ndarray) -> pl.DataFrame:
    """Rows for the pairs (samples[idx1], samples[idx2]) with their counts and kinship.

    ``samples`` is an object array of names; the count arrays are integers and
    ``kinship`` float64, all of one length.
    """
    cols = {
        "IID1": samples[idx1], "IID2": samples[idx2],
        "NSNP": nsnp, "HETHET": hethet, "IBS0": ibs0, "KINSHIP": kinship,
        "degree": degree_labels(kinship),
    }
    return pl.DataFrame({k: cols[k] for k in RELATE_SCHEMA}, schema=RELATE_SCHEMA, strict=False)
