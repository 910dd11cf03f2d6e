"""The sample QC table: one row per sample.

The table is built in two steps so that shards merge exactly: ``count_table``
holds only sums (the kernel's counts and the chrX expected heterozygosity),
which add up over region shards of the same samples; ``finish`` derives the
ratios, the inferred karyotype and the outlier flags from those sums.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

# Sample identity columns.
ID_SCHEMA: dict[str, pl.DataType] = {
    "sample": pl.String,
    "population": pl.String,
    "declared_sex": pl.String,
}

# Sums over sites, in output order: the kernel counts (kernels.sampleqc.COUNT_NAMES),
# n_snv and the float x_exp_het.
# DP and GQ columns are present only when the FORMAT field is in the header.
COUNT_COLUMNS = (
    "n_called", "n_missing", "n_hom_ref", "n_het", "n_hom_alt", "n_hap_ref", "n_hap_alt",
    "n_male_het", "n_het_snv", "n_hom_alt_snv", "n_snv", "n_transitions", "n_transversions",
    "n_indel", "n_insertion", "n_deletion", "n_singleton", "n_private",
    "sum_dp", "n_dp", "sum_gq", "n_gq", "n_x_sites", "n_x_het", "x_exp_het",
    "n_y_sites", "n_y_called",
)
DP_COLUMNS = ("sum_dp", "n_dp", "mean_dp")
GQ_COLUMNS = ("sum_gq", "n_gq", "mean_gq")

# Thresholds of the karyotype inference: plink's --check-sex F thresholds, and the
# share of chrY sites with a valid (complete, non-heterozygous) call.
FEMALE_MAX_F = 0.2
MALE_MIN_F = 0.8
FEMALE_MAX_Y_RATE = 0.2
MALE_MIN_Y_RATE = 0.5

# Outlier flags: median +- k * MAD within each population (gnomAD's sample QC);
# MAD scaled by 1.4826 so that it estimates the standard deviation of a normal.
MAD_SCALE = 1.4826
# Fewer samples with a value than this in a population: no median/MAD, no flag.
MIN_GROUP_SIZE = 10
OUTLIER_METRICS = (
    "call_rate", "n_snv", "n_het", "n_hom_alt", "het_hom_ratio", "n_transitions",
    "n_transversions", "ti_tv", "n_indel", "n_insertion", "n_deletion", "ins_del_ratio",
    "n_singleton", "n_private", "mean_dp", "mean_gq",
)


def sample_qc_schema(has_dp: bool, has_gq: bool) -> dict[str, pl.DataType]:
    """Column names and dtypes of the sample QC table, in order."""
    schema: dict[str, pl.DataType] = dict(ID_SCHEMA)
    for name in COUNT_COLUMNS:
        if (name in DP_COLUMNS and not has_dp) or (name in GQ_COLUMNS and not has_gq):
            continue
        schema[name] = pl.Float64 if name == "x_exp_het" else pl.Int64
        if name == "n_missing":
            schema["call_rate"] = pl.Float64
        elif name == "n_hom_alt":
            schema["het_hom_ratio"] = pl.Float64
        elif name == "n_transversions":
            schema["ti_tv"] = pl.Float64
        elif name == "n_deletion":
            schema["ins_del_ratio"] = pl.Float64
        elif name == "n_dp":
            schema["mean_dp"] = pl.Float64
        elif name == "n_gq":
            schema["mean_gq"] = pl.Float64
        elif name == "x_exp_het":
            schema["x_f"] = pl.Float64
        elif name == "n_y_called":
            schema["y_call_rate"] = pl.Float64
    schema.update({"karyotype": pl.String, "karyotype_reason": pl.String,
                   "sex_mismatch": pl.Boolean})
    for metric in outlier_metrics(has_dp, has_gq):
        schema[f"fail_{metric}"] = pl.Boolean
    schema["fail_sex"] = pl.Boolean
    schema["qc_pass"] = pl.Boolean
    return schema


def outlier_metrics(has_dp: bool, has_gq: bool) -> tuple[str, ...]:
    return tuple(m for m in OUTLIER_METRICS
                 if (m != "mean_dp" or has_dp) and (m != "mean_gq" or has_gq))


def count_table(samples, populations, declared_sex, counts: np.ndarray, x_exp: np.ndarray,
                count_names, has_dp: bool, has_gq: bool) -> pl.DataFrame:
    """The sums for every sample: identity columns and the additive count columns.

    ``counts`` is the kernel's int64 (n_samples, len(count_names)) matrix summed over
    the file; ``x_exp`` the summed chrX expected heterozygosity; ``declared_sex``
    'M', 'F' or None per sample.
    """
    index = {name: i for i, name in enumerate(count_names)}
    cols: dict[str, object] = {"sample": list(samples), "population": list(populations),
                               "declared_sex": list(declared_sex)}
    for name in COUNT_COLUMNS:
        if (name in DP_COLUMNS and not has_dp) or (name in GQ_COLUMNS and not has_gq):
            continue
        if name == "x_exp_het":
            cols[name] = np.asarray(x_exp, dtype=np.float64)
        elif name == "n_snv":
            # A call of two or more alleles carrying an SNV allele is het or hom-alt.
            cols[name] = counts[:, index["n_het_snv"]] + counts[:, index["n_hom_alt_snv"]]
        else:
            cols[name] = counts[:, index[name]]
    schema = {k: v for k, v in sample_qc_schema(has_dp, has_gq).items() if k in cols}
    return pl.DataFrame(cols, schema=schema)


def _ratio(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None)


def finish(sums: pl.DataFrame, mad_k: float) -> tuple[pl.DataFrame, dict]:
    """Derived columns, karyotype and outlier flags from a table of sums.

    Returns the full table (columns as ``sample_qc_schema``) and the outlier bounds
    per population and metric, for the run summary.
    """
    has_dp = "sum_dp" in sums.columns
    has_gq = "sum_gq" in sums.columns
    df = _derive(sums, has_dp, has_gq)
    karyotype, reason = infer_karyotype(df["x_f"].to_numpy(), df["n_y_called"].to_numpy(),
                                        df["n_y_sites"].to_numpy())
    df = df.with_columns(karyotype=pl.Series(karyotype, dtype=pl.String),
                         karyotype_reason=pl.Series(reason, dtype=pl.String))
    df = df.with_columns(
        sex_mismatch=pl.when(pl.col("declared_sex").is_null()
                             | ~pl.col("karyotype").is_in(["XX", "XY"]))
        .then(None)
        .otherwise((pl.col("declared_sex") == "M") != (pl.col("karyotype") == "XY"))
    )
    metrics = outlier_metrics(has_dp, has_gq)
    flags, bounds = outlier_flags(df, metrics, mad_k)
    df = df.with_columns(flags)
    df = df.with_columns(
        fail_sex=pl.col("sex_mismatch").fill_null(False) | (pl.col("karyotype") == "ambiguous")
        .fill_null(False))
    fail_cols = [f"fail_{m}" for m in metrics] + ["fail_sex"]
    df = df.with_columns(qc_pass=~pl.any_horizontal([pl.col(c).fill_null(False)
                                                     for c in fail_cols]))
    schema = sample_qc_schema(has_dp, has_gq)
    return df.select(list(schema)).cast(schema), bounds


def _derive(sums: pl.DataFrame, has_dp: bool, has_gq: bool) -> pl.DataFrame:
    records = pl.col("n_called") + pl.col("n_missing")
    exprs = [
        pl.when(records > 0).then(pl.col("n_called") / records).otherwise(None)
        .alias("call_rate"),
        _ratio("n_het", "n_hom_alt").alias("het_hom_ratio"),
        _ratio("n_transitions", "n_transversions").alias("ti_tv"),
        _ratio("n_insertion", "n_deletion").alias("ins_del_ratio"),
        pl.when(pl.col("x_exp_het") > 0)
        .then(1.0 - pl.col("n_x_het") / pl.col("x_exp_het")).otherwise(None).alias("x_f"),
        _ratio("n_y_called", "n_y_sites").alias("y_call_rate"),
    ]
    if has_dp:
        exprs.append(_ratio("sum_dp", "n_dp").alias("mean_dp"))
    if has_gq:
        exprs.append(_ratio("sum_gq", "n_gq").alias("mean_gq"))
    return sums.with_columns(exprs)


def infer_karyotype(x_f: np.ndarray, n_y_called: np.ndarray, n_y_sites: np.ndarray
                    ) -> tuple[list, list]:
    """Karyotype ('XX', 'XY', 'ambiguous' or None) and, when ambiguous, the reason.

    chrX says XX when F < FEMALE_MAX_F and XY when F > MALE_MIN_F; chrY says Y
    present when the valid call rate is >= MALE_MIN_Y_RATE and absent when it is
    <= FEMALE_MAX_Y_RATE. With both chromosomes informative they must agree;
    with chrX alone, F decides; with chrY alone, only a present Y decides (XY),
    since an absent Y without chrX calls may be missing data; otherwise None.
    """
    karyotype: list = []
    reasons: list = []
    for f, called, sites in zip(x_f, n_y_called, n_y_sites):
        x_call = None
        if f is not None and not (isinstance(f, float) and math.isnan(f)):
            x_call = "XX" if f < FEMALE_MAX_F else "XY" if f > MALE_MIN_F else "mid"
        y_call = y_rate = None
        if sites > 0:
            y_rate = called / sites
            y_call = ("XY" if y_rate >= MALE_MIN_Y_RATE else
                      "XX" if y_rate <= FEMALE_MAX_Y_RATE else "mid")
        x_text = f"chrX F {f:.3f}" if x_call else ""
        y_text = f"chrY call rate {y_rate:.3f}" if y_call else ""
        if x_call is None and y_call is None:
            karyotype.append(None)
            reasons.append("no informative chrX or chrY sites")
        elif x_call is None and y_call == "XX":
            # Without chrX calls, an absent Y is as likely to be missing data.
            karyotype.append(None)
            reasons.append(f"no informative chrX sites, and {y_text} may be missing data")
        elif x_call == "mid":
            karyotype.append("ambiguous")
            reasons.append(f"{x_text} between {FEMALE_MAX_F} and {MALE_MIN_F}")
        elif y_call == "mid":
            karyotype.append("ambiguous")
            reasons.append(f"{y_text} between {FEMALE_MAX_Y_RATE} and {MALE_MIN_Y_RATE}")
        elif x_call is None or y_call is None or x_call == y_call:
            karyotype.append(x_call or y_call)
            reasons.append(None)
        elif x_call == "XY":
            karyotype.append("ambiguous")
            reasons.append(f"{x_text} says XY but {y_text} says no Y (X0?)")
        else:
            karyotype.append("ambiguous")
            reasons.append(f"{x_text} says XX but {y_text} says Y (XXY?)")
    return karyotype, reasons


def outlier_flags(df: pl.DataFrame, metrics, k: float) -> tuple[list[pl.Series], dict]:
    """``fail_<metric>`` columns: outside median +- k * MAD of the sample's population.

    Samples without a population form one group. A flag is null where the metric is
    undefined, where its population has fewer than MIN_GROUP_SIZE defined values, or
    where their MAD is 0.
    """
    groups = df["population"].to_list()
    keys = list(dict.fromkeys(groups))
    code = {g: i for i, g in enumerate(keys)}
    codes = np.array([code[x] for x in groups], dtype=np.int64)
    members = {g: np.flatnonzero(codes == i) for i, g in enumerate(keys)}
    flags = []
    bounds: dict = {g: {} for g in keys}
    for metric in metrics:
        values = df[metric].cast(pl.Float64).fill_null(np.nan).to_numpy()
        fail = np.full(len(values), -1, dtype=np.int8)  # -1: no flag (null)
        for g in keys:
            idx = members[g]
            vals = values[idx]
            ok = ~np.isnan(vals)
            n = int(ok.sum())
            entry: dict = {"n": n}
            if n >= MIN_GROUP_SIZE:
                median = float(np.median(vals[ok]))
                mad = MAD_SCALE * float(np.median(np.abs(vals[ok] - median)))
                entry.update(median=median, mad=mad)
                if mad == 0:
                    # Half the group or more share one value (typically 0 singletons in a
                    # small cohort): every other value would be an outlier.
                    bounds[g][metric] = entry
                    continue
                lower, upper = median - k * mad, median + k * mad
                entry.update(lower=lower, upper=upper)
                out = (vals < lower) | (vals > upper)
                fail[idx[ok]] = out[ok]
                entry["n_fail"] = int(out[ok].sum())
            bounds[g][metric] = entry
        flags.append(pl.Series(f"fail_{metric}", fail == 1)
                     .scatter(np.flatnonzero(fail < 0), None))
    return flags, bounds
