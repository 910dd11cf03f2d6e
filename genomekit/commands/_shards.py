"""Tables of shard runs, as merge and release read them: the run summary beside each table,
the genome order of their rows, and the samples each population and sex counts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from genomekit.errors import InputError
from genomekit.genome import SEX_FEMALE, SEX_MALE, SEX_UNKNOWN

if TYPE_CHECKING:
    import polars as pl

# The key of a freq run summary that counts the samples of each group.
SAMPLE_COUNTS = "sample_counts"


def summary_path(path: str) -> str | None:
    """The run summary written beside a table (``X.freq.parquet`` -> ``X.freq.json``)."""
    for suffix in (".parquet", ".tsv"):
        if path.endswith(suffix):
            return path[: -len(suffix)] + ".json"
    return None


def shard_summary(path: str) -> dict:
    """The JSON summary written beside a table, or {} when there is none."""
    json_path = summary_path(path)
    if json_path is None:
        return {}
    try:
        with open(json_path) as fh:
            summary = json.load(fh)
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def check_order(df: pl.DataFrame, path: str, contigs: list[str], last):
    """Raise unless the rows continue the merged table in genome order; return the last key.

    Within a shard, contigs form one block each and positions never decrease; a
    shard starts after the previous shard's last position.
    """
    import polars as pl

    if df.height == 0:
        return last
    runs = df.select(
        pl.col("CHROM"), pl.col("POS"),
        (pl.col("CHROM") != pl.col("CHROM").shift(1)).fill_null(True).alias("new_run"),
    ).with_row_index("row")
    starts = runs.filter(pl.col("new_run"))
    blocks = starts["CHROM"].to_list()
    for i, c in enumerate(blocks):
        continues = i == 0 and bool(contigs) and c == contigs[-1]
        if c in blocks[:i] or (c in contigs and not continues):
            row = starts.row(i, named=True)
            raise InputError(f"{c} appears again after another contig", file=path,
                             chrom=c, pos=row["POS"],
                             hint="give the shards in genome order, each once")
    back = runs.filter(~pl.col("new_run") & (pl.col("POS") < pl.col("POS").shift(1)))
    if back.height:
        row = back.row(0, named=True)
        raise InputError("positions are not sorted", file=path, chrom=row["CHROM"],
                         pos=row["POS"], hint="sort the input (bcftools sort) and rerun")
    first = runs.row(0, named=True)
    if last is not None and first["CHROM"] == last[0] and first["POS"] <= last[1]:
        raise InputError(f"starts at or before {last[0]}:{last[1]}, where the previous shard "
                         "ended: shards overlap or are out of order", file=path,
                         chrom=first["CHROM"], pos=first["POS"],
                         hint="give the shards in genome order, each once")
    contigs.extend(c for c in blocks if c not in contigs)
    return (runs["CHROM"][-1], runs["POS"][-1])


# Sample counts ---------------------------------------------------------------------------

def sample_counts(sex: np.ndarray, group: np.ndarray, populations) -> dict:
    """The samples of a freq run per declared sex and per population, and in all.

    ``sex``: int8 code per sample (genome.SEX_*); ``group``: index into ``populations`` per
    sample, -1 for a sample without a population. These are the groups of the table's
    ``AN_XX``, ``AN_XY`` and ``AN_<pop>`` columns.
    """
    sex, group = np.asarray(sex), np.asarray(group)
    return {
        "total": int(len(sex)),
        "sex": {"XX": int((sex == SEX_FEMALE).sum()), "XY": int((sex == SEX_MALE).sum()),
                "unknown": int((sex == SEX_UNKNOWN).sum())},
        "population": {p: int((group == i).sum()) for i, p in enumerate(populations)},
        "no_population": int((group < 0).sum()),
    }


def read_sample_counts(summary: dict, path: str) -> dict | None:
    """The sample counts of the run summary of table ``path``; None when it has none (a table
    written by a genomekit that did not count them). InputError when they do not add up."""
    counts = summary.get(SAMPLE_COUNTS)
    if counts is None:
        return None

    def is_count(x) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and x >= 0

    ok = isinstance(counts, dict) and is_count(counts.get("total")) \
        and is_count(counts.get("no_population"))
    sexes = counts.get("sex") if ok else None
    pops = counts.get("population") if ok else None
    ok = ok and isinstance(sexes, dict) and set(sexes) == {"XX", "XY", "unknown"} \
        and isinstance(pops, dict) and all(is_count(v) for v in (*sexes.values(), *pops.values()))
    ok = ok and sum(sexes.values()) == counts["total"] \
        and sum(pops.values()) + counts["no_population"] == counts["total"]
    if not ok:
        raise InputError(f"{SAMPLE_COUNTS} of the run summary do not add up to the total",
                         file=summary_path(path) or path,
                         hint="give the run summary genomekit wrote beside the table")
    return {"total": counts["total"], "sex": dict(sexes), "population": dict(pops),
            "no_population": counts["no_population"]}


class SharedSampleCounts:
    """The sample counts that tables of one run share, checked table by table: ``add``
    raises InputError naming both tables when two count different samples per group;
    ``counts`` is None while one of them has none."""

    def __init__(self):
        self._first: dict | None = None
        self._first_path = ""
        self._missing = False

    def add(self, path: str, summary: dict) -> None:
        here = read_sample_counts(summary, path)
        if here is None:
            self._missing = True
        elif self._first is None:
            self._first, self._first_path = here, path
        elif here != self._first:
            raise InputError(f"counts other samples per population or sex than "
                             f"{self._first_path} ({describe_difference(self._first, here)})",
                             file=path,
                             hint="give shards of one run: the same samples, --pops and -S")

    @property
    def counts(self) -> dict | None:
        return None if self._missing else self._first


def common_sample_counts(paths: list[str], summaries: list[dict]) -> dict | None:
    """The sample counts that the summaries of the tables ``paths`` share (see
    SharedSampleCounts)."""
    shared = SharedSampleCounts()
    for path, summary in zip(paths, summaries):
        shared.add(path, summary)
    return shared.counts


def describe_difference(a: dict, b: dict) -> str:
    """The first group whose count differs between two unequal sample counts, as
    'XX: 40 vs 38'."""
    pairs = [("samples", a["total"], b["total"])]
    pairs += [(s, a["sex"].get(s), b["sex"].get(s)) for s in ("XX", "XY", "unknown")]
    for p in dict.fromkeys([*a["population"], *b["population"]]):
        pairs.append((p, a["population"].get(p, "none"), b["population"].get(p, "none")))
    pairs.append(("without a population", a["no_population"], b["no_population"]))
    return next(f"{name}: {x} vs {y}" for name, x, y in pairs if x != y)
