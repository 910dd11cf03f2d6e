"""`genomekit merge`: combine the tables of shard runs into the table of the whole."""

from __future__ import annotations

import os
import time

import polars as pl

from genomekit.commands._common import input_summary, write_summary
from genomekit.commands._shards import (
    SAMPLE_COUNTS,
    SharedSampleCounts,
    check_order,
    shard_summary,
)
from genomekit.errors import InputError, UsageError
from genomekit.io.outputs import OutputSet

# Table kinds merge knows, by the suffix their commands write.
KINDS = {
    "freq": (".freq.parquet", ".freq.tsv"),
    "sample_qc": (".sample_qc.parquet", ".sample_qc.tsv"),
    "relate": (".relate.parquet", ".relate.tsv"),
}


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
        unrelated: bool = False, mad_k: float | None = None, command_line: str = "") -> dict:
    """Merge the tables of shard runs of one command into the table of the whole run.

    freq: region shards, concatenated in genome order (checked sorted and disjoint).
    sample_qc: region shards of the same samples; counts summed, then ratios,
    karyotype and flags derived again (``mad_k`` defaults to the shards' own).
    relate: the N tiles of ``relate --tile I/N``, in any order.
    """
    if not inputs:
        raise UsageError("no tables to merge")
    kinds = {kind_of(p) for p in inputs}
    if len(kinds) > 1:
        raise UsageError(f"cannot merge different tables together ({', '.join(sorted(kinds))})")
    kind = kinds.pop()
    if kind == "relate":
        from genomekit.commands import relate

        prefixes = [p[: -len(s)] for p in inputs for s in KINDS["relate"] if p.endswith(s)]
        return relate.merge(prefixes, out, fmt=fmt, unrelated=unrelated, force=force,
                            command_line=command_line)
    if kind == "sample_qc":
        return _merge_sample_qc(inputs, out, fmt, force, mad_k, command_line)
    return _merge_freq(inputs, out, fmt, force, command_line)


def _merge_freq(inputs, out, fmt, force, command_line) -> dict:
    from genomekit.io.tables import TableWriter
    from genomekit.tables.freq import BASE_SCHEMA

    started = time.time()
    kind = "freq"
    table_path = f"{out}.{kind}.{fmt}"
    summary_path = f"{out}.{kind}.json"
    with OutputSet([table_path, summary_path], force) as files:
        writer = None
        schema = None
        contigs: list[str] = []
        last: tuple[str, int] | None = None
        rows = 0
        n_sites = 0
        # Shards of one cohort count the same samples per group; the merged summary keeps the
        # counts when every shard's summary has them.
        shared = SharedSampleCounts()
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
            shared.add(path, shard_summary(path))
            last = check_order(df, path, contigs, last)
            writer.write(df)
            rows += df.height
            n_sites += _shard_sites(path, df)
        writer.close()
        summary = {
            "command": "merge", "command_line": command_line, "kind": kind,
            "inputs": input_summary(inputs), "n_alleles": rows,
            "n_sites": n_sites,
            **({SAMPLE_COUNTS: shared.counts} if shared.counts is not None else {}),
            "outputs": [os.path.abspath(table_path), os.path.abspath(summary_path)],
            "elapsed_seconds": round(time.time() - started, 3),
        }
        write_summary(files.tmp(summary_path), summary)
        files.commit()
    return summary


def _merge_sample_qc(inputs, out, fmt, force, mad_k, command_line) -> dict:
    from genomekit.io.tables import TableWriter
    from genomekit.tables.sample_qc import COUNT_COLUMNS, ID_SCHEMA, finish

    started = time.time()
    table_path, summary_path = f"{out}.sample_qc.{fmt}", f"{out}.sample_qc.json"
    with OutputSet([table_path, summary_path], force) as files:
        shards = [read_table(p) for p in inputs]
        first = shards[0]
        ids = list(ID_SCHEMA)
        if any(c not in first.columns for c in ids):
            raise InputError("not a sample-qc table", file=inputs[0],
                             hint="give tables written by 'genomekit sample-qc'")
        counts = [c for c in COUNT_COLUMNS if c in first.columns]
        for path, df in zip(inputs[1:], shards[1:]):
            if [c for c in COUNT_COLUMNS if c in df.columns] != counts \
                    or not df.select(ids).equals(first.select(ids)):
                raise InputError(f"samples or columns differ from {inputs[0]}", file=path,
                                 hint="merge region shards of one sample set, run alike")
        sums = first.select(ids).with_columns(
            [pl.sum_horizontal([df[c] for df in shards]).alias(c) for c in counts])
        sums = sums.cast({c: first.schema[c] for c in counts})
        if mad_k is None:
            mad_k = shard_summary(inputs[0]).get("outliers", {}).get("mad_k", 4.0)
        table, bounds = finish(sums, mad_k)
        writer = TableWriter(files.tmp(table_path), fmt, dict(table.schema))
        writer.write(table)
        writer.close()
        summary = {
            "command": "merge", "command_line": command_line, "kind": "sample_qc",
            "inputs": input_summary(inputs), "n_samples": table.height,
            "n_qc_pass": int(table["qc_pass"].sum()), "mad_k": mad_k,
            "n_sites": sum(shard_summary(p).get("n_sites", 0) for p in inputs),
            "outlier_bounds": bounds,
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
    n_sites = shard_summary(path).get("n_sites")
    if isinstance(n_sites, int):
        return n_sites
    return df.select(pl.struct("CHROM", "POS", "REF").n_unique()).item() if df.height else 0
