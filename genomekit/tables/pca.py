"""The PCA tables: sample scores, eigenvalues, variant loadings, projected samples.

The number of PCs varies, so each table has a constant for its fixed columns and
a function that appends ``PC1 .. PCk`` (Float64).
"""

from __future__ import annotations

import numpy as np
import polars as pl

# Sample scores: plink2 .eigenvec (unit-length eigenvectors of the GRM).
SCORES_KEY: dict[str, pl.DataType] = {"sample": pl.String}
# Eigenvalues of the GRM (plink2 .eigenval) and their share of its trace.
EIGENVAL_SCHEMA: dict[str, pl.DataType] = {
    "PC": pl.Int32,
    "EIGENVAL": pl.Float64,
    "VAR_SHARE": pl.Float64,
}
# Variant loadings: the ALT-allele weights that place a sample on the PCs, and the
# ALT frequency that standardizes its dosage.
LOADINGS_KEY: dict[str, pl.DataType] = {
    "CHROM": pl.String,
    "POS": pl.Int64,
    "ID": pl.String,
    "REF": pl.String,
    "ALT": pl.String,
    "ALT_FREQ": pl.Float64,
}
# Samples placed on saved loadings; n_called counts the matched variants they carry
# a complete diploid call at (the others add nothing: mean-imputed).
PROJECTED_KEY: dict[str, pl.DataType] = {"sample": pl.String, "n_called": pl.Int64}


def pc_names(k: int) -> list[str]:
    return [f"PC{i + 1}" for i in range(k)]


def _with_pcs(key: dict, k: int) -> dict[str, pl.DataType]:
    return {**key, **dict.fromkeys(pc_names(k), pl.Float64)}


def scores_schema(k: int) -> dict[str, pl.DataType]:
    return _with_pcs(SCORES_KEY, k)


def loadings_schema(k: int) -> dict[str, pl.DataType]:
    return _with_pcs(LOADINGS_KEY, k)


def projected_schema(k: int) -> dict[str, pl.DataType]:
    return _with_pcs(PROJECTED_KEY, k)


def _pc_frame(values: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[:, i] for i, name in enumerate(pc_names(values.shape[1]))}


def build_scores(samples: list[str], scores: np.ndarray) -> pl.DataFrame:
    """One row per sample; ``scores`` is float64 (n_samples, k)."""
    k = scores.shape[1]
    return pl.DataFrame({"sample": samples, **_pc_frame(scores)}, schema=scores_schema(k))


def build_eigenval(eigenvalues: np.ndarray, trace: float) -> pl.DataFrame:
    """One row per PC: the GRM eigenvalue and its share of the GRM's trace."""
    k = len(eigenvalues)
    share = eigenvalues / trace if trace > 0 else np.full(k, np.nan)
    return pl.DataFrame({"PC": np.arange(1, k + 1), "EIGENVAL": eigenvalues,
                         "VAR_SHARE": share}, schema=EIGENVAL_SCHEMA)


def build_loadings(sites: pl.DataFrame, weights: np.ndarray) -> pl.DataFrame:
    """``sites`` holds the LOADINGS_KEY columns of the variants, ``weights`` (m, k) theirs."""
    k = weights.shape[1]
    df = sites.select(list(LOADINGS_KEY)).with_columns(
        pl.Series(name, weights[:, i]) for i, name in enumerate(pc_names(k)))
    return df.cast(loadings_schema(k))


def build_projected(samples: list[str], n_called: np.ndarray,
                    scores: np.ndarray) -> pl.DataFrame:
    """One row per projected sample: matched calls and the scores (n_samples, k)."""
    k = scores.shape[1]
    return pl.DataFrame({"sample": samples, "n_called": n_called, **_pc_frame(scores)},
                        schema=projected_schema(k))
