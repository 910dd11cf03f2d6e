"""The fingerprint tables: one row per BAM, and optionally one row per BAM and VCF sample."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

FINGERPRINT_SCHEMA: dict[str, pl.DataType] = {
    "bam": pl.String,
    "declared_sample": pl.String,
    "sm": pl.String,
    "declared_in_vcf": pl.Boolean,
    "n_sites": pl.Int32,
    "n_sites_with_reads": pl.Int32,
    "mean_depth": pl.Float64,
    "n_called": pl.Int32,
    "lod_declared": pl.Float64,
    "n_compared_declared": pl.Int32,
    "n_discordant_declared": pl.Int32,
    "discordance_declared": pl.Float64,
    "best_sample": pl.String,
    "lod_best": pl.Float64,
    "n_compared_best": pl.Int32,
    "n_discordant_best": pl.Int32,
    "discordance_best": pl.Float64,
    "second_sample": pl.String,
    "lod_second": pl.Float64,
    "result": pl.String,
    "swap": pl.Boolean,
    "contamination": pl.Float64,
    "contamination_sample": pl.String,
    "n_contamination_sites": pl.Int32,
    "contaminated": pl.Boolean,
}

PAIRS_SCHEMA: dict[str, pl.DataType] = {
    "bam": pl.String,
    "declared_sample": pl.String,
    "sample": pl.String,
    "lod": pl.Float64,
    "n_sites": pl.Int32,
    "n_compared": pl.Int32,
    "n_discordant": pl.Int32,
    "discordance": pl.Float64,
}

RESULTS = ("match", "swap", "mismatch", "inconclusive", "not_in_vcf")


@dataclass(frozen=True)
class Comparison:
    """One BAM against every VCF sample (the kernel's arrays, over ``samples``)."""

    lod: np.ndarray
    n_lod: np.ndarray
    n_compared: np.ndarray
    n_discordant: np.ndarray


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def result_of(lod_declared: float | None, lod_best: float | None, threshold: float) -> str:
    """match: the reads are the declared sample's (LOD ≥ threshold); swap: they are not
    (LOD ≤ −threshold, or the sample is not in the VCF) and they are another sample's;
    mismatch: not the declared sample's and no sample's; not_in_vcf: the declared sample has
    no genotypes and no sample matches; inconclusive: too little evidence either way."""
    best_matches = lod_best is not None and lod_best >= threshold
    if lod_declared is None:
        return "swap" if best_matches else "not_in_vcf"
    if lod_declared >= threshold:
        return "match"
    if lod_declared <= -threshold:
        return "swap" if best_matches else "mismatch"
    return "inconclusive"


@dataclass(frozen=True)
class Ranking:
    """Indices into the samples: the declared one (None when the VCF lacks it), the best and
    second best by LOD (ties by sample order) among the samples with a LOD term at some site
    (None when fewer have one), and the verdict."""

    declared: int | None
    best: int | None
    second: int | None
    result: str


def rank(samples: list[str], cmp: Comparison, declared: str, threshold: float) -> Ranking:
    d = samples.index(declared) if declared in samples else None
    scored = [i for i in range(len(samples)) if cmp.n_lod[i] > 0]
    order = sorted(scored, key=lambda i: (-cmp.lod[i], i))
    best = order[0] if order else None
    second = order[1] if len(order) > 1 else None
    lod_d = None if d is None else float(cmp.lod[d])
    lod_b = None if best is None else float(cmp.lod[best])
    return Ranking(d, best, second, result_of(lod_d, lod_b, threshold))


def fingerprint_row(bam: str, declared: str, sm: list[str], samples: list[str],
                    cmp: Comparison, ranking: Ranking, depth: np.ndarray, n_called: int,
                    contamination: tuple[float, int, int | None],
                    max_contamination: float, min_contamination_sites: int) -> dict:
    """The row of one BAM; ``contamination`` is (estimate, sites, index of the sample whose
    genotypes it used). ``contaminated`` is left empty (undetermined) when the estimate
    rests on fewer than ``min_contamination_sites`` sites."""
    d, best, second = ranking.declared, ranking.best, ranking.second

    def at(arr, i):
        return None if i is None else arr[i].item()

    def discordance(i):
        return None if i is None else _ratio(int(cmp.n_discordant[i]), int(cmp.n_compared[i]))

    estimate, n_sites, used = contamination
    estimate = None if math.isnan(estimate) else float(estimate)
    return {
        "bam": bam,
        "declared_sample": declared,
        "sm": ",".join(sm) if sm else None,
        "declared_in_vcf": d is not None,
        "n_sites": len(depth),
        "n_sites_with_reads": int((depth > 0).sum()),
        "mean_depth": float(depth.mean()) if len(depth) else None,
        "n_called": n_called,
        "lod_declared": at(cmp.lod, d),
        "n_compared_declared": at(cmp.n_compared, d),
        "n_discordant_declared": at(cmp.n_discordant, d),
        "discordance_declared": discordance(d),
        "best_sample": None if best is None else samples[best],
        "lod_best": at(cmp.lod, best),
        "n_compared_best": at(cmp.n_compared, best),
        "n_discordant_best": at(cmp.n_discordant, best),
        "discordance_best": discordance(best),
        "second_sample": None if second is None else samples[second],
        "lod_second": at(cmp.lod, second),
        "result": ranking.result,
        "swap": ranking.result == "swap",
        "contamination": estimate,
        "contamination_sample": None if used is None else samples[used],
        "n_contamination_sites": n_sites,
        "contaminated": None if estimate is None or n_sites < min_contamination_sites
        else estimate >= max_contamination,
    }


def contamination_reference(ranking: Ranking) -> int | None:
    """Whose genotypes the contamination estimate uses: the genome the reads are from —
    the best-matching sample after a swap or when the VCF lacks the declared sample, else the
    declared one."""
    if ranking.result == "swap" or ranking.declared is None:
        return ranking.best
    return ranking.declared


def fingerprint_table(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=FINGERPRINT_SCHEMA, orient="row") if rows else \
        pl.DataFrame(schema=FINGERPRINT_SCHEMA)


def pairs_table(bam: str, declared: str, samples: list[str], cmp: Comparison) -> pl.DataFrame:
    n_cmp = cmp.n_compared.astype(np.int64)
    disc = np.where(n_cmp > 0, cmp.n_discordant / np.maximum(n_cmp, 1), np.nan)
    df = pl.DataFrame({
        "bam": [bam] * len(samples), "declared_sample": [declared] * len(samples),
        "sample": samples, "lod": cmp.lod, "n_sites": cmp.n_lod,
        "n_compared": cmp.n_compared, "n_discordant": cmp.n_discordant, "discordance": disc,
    })
    return df.with_columns(pl.col("discordance").fill_nan(None)).cast(PAIRS_SCHEMA)
