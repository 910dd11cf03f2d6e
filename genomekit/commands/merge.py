"""`genomekit merge`: combine the tables of shard runs into the table of the whole."""

from __future__ import annotations

import json
import os
import time

import polars as pl

from genomekit.commands._common import input_summary, write_summary
from genomekit.errors import InputError, UsageError
from genomekit.io.outputs import OutputSet

# Table kinds merge knows, by the suffix their commands write.
KINDS = {"freq": (".freq.parquet", ".freq.tsv")}


def kind_of(path: str) -> str:
    for kind, suffixes in KINDS.items():
        if path.endswith(suffixes):
            return kind
    known = ", ".join(s for suffixes in KINDS.values() for s in suffixes)
    raise UsageError(f"cannot tell what table {path} is", hint=f"give files ending in {known}")


def read_table(path: str) -> pl.DataFrame:
    try:
        if path.endswith(".parquet"):
            return pl.read_parquet(path)
        return pl.read_csv(path, separator="\t", null_values="NA", infer_schema_length=None,
                           quote_char=None)
    except FileNotFoundError:
        raise InputError("no such file", file=path, hint="check the path") from None
    except Exception as e:
        raise InputError(f"cannot read the table ({str(e).splitlines()[0]})", file=path,
                         hint="give a table written by genomekit") from None


def run(inputs: list[str], out: str, *, fmt: str = "parquet", force: bool = False,
        command_line: str = "") -> dict:
    """Concatenate site tables of region shards, checking they are sorted and disjoint."""
    from genomekit.io.tables import TableWriter
    from genomekit.tables.freq import BASE_SCHEMA

    started = time.time()
    if not inputs:
        raise UsageError("no tables to merge")
    kinds = {kind_of(p) for p in inputs}
    if len(kinds) > 1:
        raise UsageError(f"cannot merge different tables together ({', '.join(sorted(kinds))})")
    kind = kinds.pop()
    table_path = f"{out}.{kind}.{fmt}"
    summary_path = f"{out}.{kind}.json"
    with OutputSet([table_path, summary_path], force) as files:
        writer = None
        schema = None
        contigs: list[str] = []
        last: tuple[str, int] | None = None
        rows = 0
        n_sites = 0
        for path in inputs:
            df = read_table(path)
            if schema is None:
                schema = df.schema
                missing = [c for c in BASE_SCHEMA if c not in schema]
                if missing:
                    raise InputError(f"not a freq table: no column {missing[0]}", file=path,
                                     hint="give tables written by 'genomekit freq'")
                writer = TableWriter(files.tmp(table_path), fmt, dict(schema))
            elif list(df.columns) != list(schema):
                raise InputError(f"columns differ from {inputs[0]}", file=path,
                                 hint="merge shards of one run, made with the same --pops "
                                      "and filters")
            else:
                df = df.cast(dict(schema))
            last = _check_order(df, path, contigs, last)
            writer.write(df)
            rows += df.height
            n_sites += _shard_sites(path, df)
        writer.close()
        summary = {
            "command": "merge", "command_line": command_line, "kind": kind,
            "inputs": input_summary(inputs), "n_alleles": rows,
            "n_sites": n_sites,
            "outputs": [os.path.abspath(table_path), os.path.abspath(summary_path)],
            "elapsed_seconds": round(time.time() - started, 3),
        }
        write_summary(files.tmp(summary_path), summary)
        files.commit()
    return summary


def _shard_sites(path: str, df: pl.DataFrame) -> int:
    """Sites of a shard: from its run summary when beside it, else distinct sites in the table.

    The summary also counts sites without an ALT allele, which have no row.
    """
    for suffix in (".parquet", ".tsv"):
        if path.endswith(suffix):
            summary = path[: -len(suffix)] + ".json"
            if os.path.exists(summary):
                try:
                    with open(summary) as fh:
                        return int(json.load(fh)["n_sites"])
                except (ValueError, KeyError, OSError):
                    break
    return df.select(pl.struct("CHROM", "POS", "REF").n_unique()).item() if df.height else 0


def _check_order(df: pl.DataFrame, path: str, contigs: list[str], last):
    """Raise unless the rows continue the merged table in genome order; return the last key.

    Within a shard, contigs form one block each and positions never decrease; a
    shard starts after the previous shard's last position.
    """
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
