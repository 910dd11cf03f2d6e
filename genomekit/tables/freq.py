"""The allele frequency table: one row per ALT allele."""

from __future__ import annotations

import numpy as np
import polars as pl

# Columns present in every freq table, in order.
BASE_SCHEMA: dict[str, pl.DataType] = {
    "CHROM": pl.String,
    "POS": pl.Int64,
    "ID": pl.String,
    "REF": pl.String,
    "ALT": pl.String,
    "allele_index": pl.Int32,
    "AC": pl.Int32,
    "AN": pl.Int32,
    "AF": pl.Float64,
    "n_called": pl.Int32,
    "n_missing": pl.Int32,
    "F_MISSING": pl.Float64,
    "n_het": pl.Int32,
    "nhomalt": pl.Int32,
    "AC_Hom": pl.Int32,
    "n_hemi_alt": pl.Int32,
    "n_male_het": pl.Int32,
    "HWE": pl.Float64,
    "ExcHet": pl.Float64,
    "InbreedingCoeff": pl.Float64,
    "AC_XX": pl.Int32,
    "AN_XX": pl.Int32,
    "AF_XX": pl.Float64,
    "AC_XY": pl.Int32,
    "AN_XY": pl.Int32,
    "AF_XY": pl.Float64,
}
ADJ_SCHEMA: dict[str, pl.DataType] = {"AC_adj": pl.Int32, "AN_adj": pl.Int32, "AF_adj": pl.Float64}


def pop_schema(pop: str) -> dict[str, pl.DataType]:
    return {f"AC_{pop}": pl.Int32, f"AN_{pop}": pl.Int32, f"AF_{pop}": pl.Float64,
            f"nhomalt_{pop}": pl.Int32}


def freq_schema(populations: tuple[str, ...], adj: bool) -> dict[str, pl.DataType]:
    """Column names and dtypes of a freq table with these populations."""
    schema = dict(BASE_SCHEMA)
    for pop in populations:
        schema.update(pop_schema(pop))
    if populations:
        schema["grpmax"] = pl.String
        schema["AF_grpmax"] = pl.Float64
    if adj:
        schema.update(ADJ_SCHEMA)
    return schema


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def allele_rows(n_alleles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(variant index, allele index) of every ALT allele, in file order."""
    n_alt = np.maximum(n_alleles.astype(np.int64) - 1, 0)
    var = np.repeat(np.arange(len(n_alleles)), n_alt)
    starts = np.cumsum(n_alt) - n_alt
    allele = np.arange(len(var)) - np.repeat(starts, n_alt) + 1
    return var, allele


def build_freq_table(chunk, counts, hwe, populations: tuple[str, ...], adj: bool) -> pl.DataFrame:
    """Rows for one chunk.

    ``counts`` is a kernels.freq.FreqCounts for the chunk; ``hwe`` the tuple
    (HWE p, ExcHet p, inbreeding coefficient) per ALT allele row.
    """
    var, al = allele_rows(chunk.n_alleles)
    c = counts
    chrom = np.asarray(chunk.chrom, dtype=object)[var]
    ids = np.asarray(chunk.ids, dtype=object)[var]
    ref = np.asarray(chunk.ref, dtype=object)[var]
    alt = [chunk.alts[v][j - 1] for v, j in zip(var.tolist(), al.tolist())]
    ac = c.ac[var, al]
    an = c.an[var]
    n_called = c.n_called[var]
    n_missing = c.n_missing[var]
    cols = {
        "CHROM": chrom, "POS": chunk.pos[var], "ID": ids, "REF": ref, "ALT": alt,
        "allele_index": al.astype(np.int32),
        "AC": ac, "AN": an, "AF": _ratio(ac, an),
        "n_called": n_called, "n_missing": n_missing,
        "F_MISSING": _ratio(n_missing, c.n_eligible[var]),
        "n_het": c.ac_het[var, al], "nhomalt": c.nhom[var, al], "AC_Hom": c.ac_hom[var, al],
        "n_hemi_alt": c.ac_hemi[var, al], "n_male_het": c.n_male_het[var],
        "HWE": hwe[0], "ExcHet": hwe[1], "InbreedingCoeff": hwe[2],
    }
    for label, k in (("XY", 0), ("XX", 1)):
        ac_s = c.ac_sex[var, k, al]
        an_s = c.an_sex[var, k]
        cols[f"AC_{label}"], cols[f"AN_{label}"], cols[f"AF_{label}"] = ac_s, an_s, _ratio(ac_s, an_s)
    if populations:
        afs = []
        for g, pop in enumerate(populations):
            ac_g = c.ac_grp[var, g, al]
            an_g = c.an_grp[var, g]
            af_g = _ratio(ac_g, an_g)
            afs.append(af_g)
            cols[f"AC_{pop}"], cols[f"AN_{pop}"] = ac_g, an_g
            cols[f"AF_{pop}"], cols[f"nhomalt_{pop}"] = af_g, c.nhom_grp[var, g, al]
        stacked = np.vstack(afs)
        has = ~np.all(np.isnan(stacked), axis=0)
        best = np.zeros(len(var), dtype=np.int64)
        if has.any():
            best[has] = np.nanargmax(stacked[:, has], axis=0)
        names = np.asarray(populations, dtype=object)[best]
        cols["grpmax"] = np.where(has, names, None)
        cols["AF_grpmax"] = np.where(has, stacked[best, np.arange(len(var))], np.nan)
    if adj:
        ac_a = c.ac_adj[var, al]
        an_a = c.an_adj[var]
        cols["AC_adj"], cols["AN_adj"], cols["AF_adj"] = ac_a, an_a, _ratio(ac_a, an_a)
    # NaN marks "undefined" (AN = 0): stored as null, as bcftools writes '.'.
    return pl.DataFrame([
        pl.Series(name, cols[name], dtype=dtype, nan_to_null=True) if dtype == pl.Float64
        else pl.Series(name, cols[name], dtype=dtype, strict=False)
        for name, dtype in freq_schema(populations, adj).items()])
