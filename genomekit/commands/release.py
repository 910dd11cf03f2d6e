"""`genomekit release`: a frequency table safe to publish outside the cohort.

Reads one or more `genomekit freq` tables (region shards in genome order, or a merged
table), applies the disclosure policy of genomekit.tables.release, and writes the release
table, optionally a sites BCF, and a JSON record of the policy and what it did.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from genomekit.commands._common import warn, write_summary
from genomekit.commands._shards import (
    SAMPLE_COUNTS,
    check_order,
    common_sample_counts,
    shard_summary,
    summary_path,
)
from genomekit.errors import InputError, UsageError
from genomekit.io.outputs import OutputSet
from genomekit.progress import Progress
from genomekit.tables.release import (
    ALL,
    NOT_RELEASED,
    SEXES,
    BatchStats,
    FreqLayout,
    Policy,
    ReleasePlan,
    apply_policy,
    layout_of,
    nested_releases,
    plan_release,
    size_columns,
)

FORMATS = ("parquet", "tsv")
TABLE_SUFFIXES = (".parquet", ".tsv")
BATCH_ROWS = 200_000
_ARROW_TYPES = {pl.Int32: "int32", pl.Int64: "int64", pl.Float64: "float64", pl.String: "string"}


@dataclass(frozen=True)
class ReleaseOutputs:
    table: str
    summary: str
    sites: str | None
    sites_index: str | None

    @classmethod
    def for_prefix(cls, prefix: str, fmt: str, sites_vcf: bool) -> ReleaseOutputs:
        return cls(
            table=f"{prefix}.release.{fmt}",
            summary=f"{prefix}.release.json",
            sites=f"{prefix}.release.bcf" if sites_vcf else None,
            sites_index=f"{prefix}.release.bcf.csi" if sites_vcf else None,
        )

    def paths(self) -> list[str]:
        return [p for p in (self.table, self.summary, self.sites, self.sites_index) if p]


def _check_args(inputs, fmt, policy: Policy):
    if not inputs:
        raise UsageError("no freq tables given")
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    for name, value in (("--min-group-size", policy.min_group_size),
                        ("--min-cell", policy.min_cell), ("--min-ac", policy.min_ac)):
        if value < 0:
            raise UsageError(f"{name} must be >= 0, not {value}")
    if policy.af_digits is not None and not 1 <= policy.af_digits <= 17:
        raise UsageError(f"--af-digits must be between 1 and 17, not {policy.af_digits}")
    for path in inputs:
        if not path.endswith(TABLE_SUFFIXES):
            raise UsageError(f"cannot tell the format of {path}",
                             hint="give freq tables ending in .parquet or .tsv")
    if len(set(map(os.path.abspath, inputs))) != len(inputs):
        raise UsageError("a table is given twice", hint="give each shard once")


def run(inputs: list[str], out: str, *, fmt: str = "parquet", min_group_size: int = 20,
        min_cell: int = 5, min_ac: int = 0, af_digits: int | None = None,
        sites_vcf: bool = False, force: bool = False, quiet: bool = False,
        command_line: str = "", batch_rows: int = BATCH_ROWS) -> dict:
    """Apply the release policy to the freq tables ``inputs`` and write the outputs of ``out``.

    Returns the run summary (also written to ``OUT.release.json``).
    """
    started = time.time()
    inputs = list(inputs)
    policy = Policy(min_group_size, min_cell, min_ac, af_digits)
    _check_args(inputs, fmt, policy)
    outputs = ReleaseOutputs.for_prefix(out, fmt, sites_vcf)
    with OutputSet(outputs.paths(), force) as files:
        layout = _common_layout(inputs)
        summaries = [shard_summary(p) for p in inputs]
        sources = [_source(p, s) for p, s in zip(inputs, summaries)]
        build = _common_build(inputs, sources)
        counts, uncounted = _sample_counts(inputs, summaries, layout)
        plan = _plan(inputs, layout, policy, batch_rows, counts)
        stats, tally = _write(inputs, plan, outputs, files, fmt, quiet, command_line,
                              batch_rows)
        summary = {
            "command": "release",
            "command_line": command_line,
            "inputs": [_input_entry(p, s, n) for p, s, n in zip(inputs, sources,
                                                                tally["rows_per_input"])],
            "build": build,
            "policy": _policy_entry(policy, counts is not None),
            "group_sizes": _sizes_entry(counts is not None),
            "columns": {"released": list(plan.schema()),
                        "not_released": _not_released(layout, plan)},
            "groups": _group_entries(plan, stats),
            "remainders": [{"partition": p.kind, "n_samples": p.n_remainder}
                           for p in plan.partitions if p.kind != "adj"],
            "rows": {
                "in": stats.rows_in,
                "removed_min_ac": stats.rows_removed_min_ac,
                "released": tally["rows_out"],
                "with_suppression": tally["rows_suppressed"],
            },
            "sites": {"in": tally["sites_in"], "released": tally["sites_out"],
                      "removed": tally["sites_in"] - tally["sites_out"]},
            "outputs": [_output_entry(p, files.tmp(p)) for p in outputs.paths()
                        if p != outputs.summary],
            "elapsed_seconds": round(time.time() - started, 3),
        }
        write_summary(files.tmp(outputs.summary), summary)
        files.commit()
    if uncounted:
        # After the run, so that a run stopped by bad input says only what is wrong.
        warn(f"{uncounted}: the run summary beside the table does not count the samples of "
             "each population and sex (no .json, or written by an older genomekit); group "
             "sizes were estimated as max AN/2 over the rows, which is smaller for groups whose "
             "samples are never all called at one site", quiet)
    return summary


# Reading --------------------------------------------------------------------------------

def _columns(path: str) -> list[str]:
    try:
        if path.endswith(".parquet"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        with open(path) as fh:
            return fh.readline().rstrip("\r\n").split("\t")
    except FileNotFoundError:
        raise InputError("no such file", file=path, hint="check the path") from None
    except Exception as e:
        raise InputError(f"cannot read the table ({str(e).splitlines()[0]})", file=path,
                         hint="give a table written by 'genomekit freq' or 'genomekit merge'"
                         ) from None


def _common_layout(inputs: list[str]) -> FreqLayout:
    layout = None
    first = None
    for path in inputs:
        columns = _columns(path)
        try:
            this = layout_of(columns)
        except ValueError as e:
            raise InputError(f"not a genomekit freq table: {e}", file=path,
                             hint="give tables written by 'genomekit freq' or 'genomekit merge'"
                             ) from None
        if layout is None:
            layout, first = this, path
        elif this != layout:
            raise InputError(f"columns differ from {first}", file=path,
                             hint="release shards of one run, made with the same --pops and "
                                  "filters")
    return layout


def _batches(path: str, schema: dict, batch_rows: int,
             columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
    """The table in batches of about ``batch_rows`` rows, cast to ``schema``."""
    import pyarrow as pa

    names = columns or list(schema)
    want = {c: schema[c] for c in names}
    try:
        if path.endswith(".parquet"):
            import pyarrow.parquet as pq

            source = pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=names)
        else:
            import pyarrow.csv as pacsv

            types = {c: _ARROW_TYPES[t] for c, t in want.items()}
            source = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=max(1 << 16, 200 * batch_rows)),
                parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, null_values=["NA"], strings_can_be_null=True,
                    include_columns=names))
        for batch in source:
            yield pl.from_arrow(pa.Table.from_batches([batch])).cast(want)
    except (pa.ArrowInvalid, pl.exceptions.PolarsError, OSError) as e:
        raise InputError(f"cannot read the table ({str(e).splitlines()[0]})", file=path,
                         hint="give a table written by 'genomekit freq' or 'genomekit merge'"
                         ) from None


def _aligned(batches: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """Re-cut batches so that the rows of one position (one or more records) stay together."""
    carry = None
    for df in batches:
        if carry is not None:
            df = pl.concat([carry, df])
        if df.height == 0:
            carry = df
            continue
        chrom, pos = df["CHROM"].to_numpy(), df["POS"].to_numpy()
        other = np.flatnonzero((chrom != chrom[-1]) | (pos != pos[-1]))
        cut = int(other[-1]) + 1 if len(other) else 0
        if cut:
            yield df[:cut]
        carry = df[cut:]
    if carry is not None and carry.height:
        yield carry


def _count_columns(layout: FreqLayout) -> list[str]:
    return [c for c, t in layout.schema.items()
            if t == pl.Int32 and c not in ("allele_index", "n_male_het")]


def _check_batch(df: pl.DataFrame, path: str, layout: FreqLayout) -> None:
    """Raise unless the rows are whole records with consistent counts."""
    def fail(i: int, what: str, hint: str):
        raise InputError(what, file=path, chrom=df["CHROM"][i], pos=int(df["POS"][i]),
                         hint=hint)

    ai = df["allele_index"].to_numpy()
    same = np.zeros(len(ai), dtype=bool)
    same[1:] = ((df["CHROM"].to_numpy()[1:] == df["CHROM"].to_numpy()[:-1])
                & (df["POS"].to_numpy()[1:] == df["POS"].to_numpy()[:-1])
                & (df["REF"].to_numpy()[1:] == df["REF"].to_numpy()[:-1]))
    ok = (ai == 1) | (same & (ai == np.concatenate([[0], ai[:-1]]) + 1))
    if not ok.all():
        fail(int(np.argmin(ok)), "the ALT alleles of a record are not consecutive rows "
             "numbered from 1", "give tables written by 'genomekit freq', unfiltered")
    counts = _count_columns(layout)
    nulls = df.select(pl.any_horizontal(pl.col(counts).is_null()).arg_true().first()).item()
    if nulls is not None:
        fail(nulls, "a count is missing (NA)", "give tables written by 'genomekit freq'")
    an = df["AN"].to_numpy()
    pairs = [("AC", "AN")] + [(f"AC_{g}", f"AN_{g}") for g in (*SEXES, *layout.populations)]
    if layout.adj:
        pairs.append(("AC_adj", "AN_adj"))
    for ac_col, an_col in pairs:
        bad = (df[ac_col].to_numpy() > df[an_col].to_numpy()) | (df[ac_col].to_numpy() < 0)
        if bad.any():
            fail(int(np.argmax(bad)), f"{ac_col} is larger than {an_col} or negative",
                 "give an unmodified freq table")
    for what, cols in (("sexes", [f"AN_{s}" for s in SEXES]),
                       ("populations", [f"AN_{p}" for p in layout.populations]),
                       ("adj", ["AN_adj"] if layout.adj else [])):
        if cols:
            bad = sum(df[c].to_numpy().astype(np.int64) for c in cols) > an
            if bad.any():
                fail(int(np.argmax(bad)), f"the AN of the {what} add up to more than AN",
                     "give an unmodified freq table")


# Group sizes and the plan ---------------------------------------------------------------

def _column_maxima(inputs, layout: FreqLayout, sums: dict[str, list[tuple[int, str]]],
                   batch_rows: int) -> dict[str, int]:
    """max over every row of every input of Σ sign·column, for each named signed sum."""
    columns = sorted({c for terms in sums.values() for _, c in terms})
    best = dict.fromkeys(sums, 0)
    for path in inputs:
        for df in _batches(path, layout.schema, batch_rows, columns):
            if df.height == 0:
                continue
            arrays = {c: df[c].fill_null(0).to_numpy().astype(np.int64) for c in columns}
            for name, terms in sums.items():
                value = sum(sign * arrays[c] for sign, c in terms)
                best[name] = max(best[name], int(value.max()))
    return best


def _sample_counts(inputs, summaries, layout: FreqLayout) -> tuple[dict | None, str | None]:
    """The samples per population and sex that the inputs' run summaries count (all the
    same), or (None, the first input whose summary does not count them)."""
    counts = common_sample_counts(inputs, summaries)
    if counts is None:
        return None, next(p for p, s in zip(inputs, summaries) if s.get(SAMPLE_COUNTS) is None)
    if set(counts["population"]) != set(layout.populations):
        raise InputError(f"the run summary counts the populations "
                         f"{', '.join(counts['population']) or '(none)'}, the table has "
                         f"{', '.join(layout.populations) or 'none'}",
                         file=summary_path(inputs[0]),
                         hint="keep each table with the .json genomekit wrote beside it")
    return counts, None


def _plan(inputs, layout: FreqLayout, policy: Policy, batch_rows: int,
          counts: dict | None) -> ReleasePlan:
    """The release plan, with group sizes from ``counts`` (see _sample_counts), or else
    estimated from the tables as max AN/2."""
    if counts is not None:
        sizes = {ALL: counts["total"], **counts["sex"], **counts["population"]}
        return _plan_with(inputs, layout, policy, sizes,
                          lambda kind, released: sizes[ALL] - sum(sizes[g] for g in released))
    an_of = size_columns(layout)
    maxima = _column_maxima(inputs, layout, {g: [(1, c)] for g, c in an_of.items()}, batch_rows)
    sizes = {g: m // 2 for g, m in maxima.items()}
    remainder_sums = {}
    for kind, names in (("sex", list(SEXES)), ("population", list(layout.populations))):
        for released in nested_releases(names, sizes, policy):
            remainder_sums[(kind, tuple(released))] = (
                [(1, "AN")] + [(-1, an_of[g]) for g in released])
    keyed = dict(enumerate(remainder_sums))
    rem_max = _column_maxima(inputs, layout,
                             {str(i): remainder_sums[key] for i, key in keyed.items()},
                             batch_rows)
    rem = {key: rem_max[str(i)] // 2 for i, key in keyed.items()}
    return _plan_with(inputs, layout, policy, sizes,
                      lambda kind, released: rem[(kind, tuple(released))])


def _plan_with(inputs, layout, policy, sizes, remainder_sizes) -> ReleasePlan:
    try:
        return plan_release(layout, policy, sizes, remainder_sizes)
    except ValueError as e:
        raise InputError(str(e), file=inputs[0] if len(inputs) == 1 else None,
                         hint="nothing can be released under this policy") from None


# Writing --------------------------------------------------------------------------------

def _record_ids(df: pl.DataFrame) -> np.ndarray:
    """0-based record number of each row within the batch (rows of a record are adjacent)."""
    if df.height == 0:
        return np.zeros(0, dtype=np.int64)
    ai = df["allele_index"].to_numpy()
    same = np.ones(df.height - 1, dtype=bool)
    for c in ("CHROM", "POS", "REF"):
        v = df[c].to_numpy()
        same &= v[1:] == v[:-1]
    new = np.ones(df.height, dtype=bool)
    new[1:] = ~same | (ai[1:] <= ai[:-1])
    return np.cumsum(new) - 1


def _sites_writer(path, index_path, plan: ReleasePlan, command_line, workdir):
    from genomekit.io.sites import SitesWriter

    pops = plan.released_populations()
    writer = SitesWriter(path, index_path, [], pops, command_line, workdir)
    released = {g.name for g in plan.released}
    writer.tags = [t for t in writer.tags
                   if not any(t[0] in (f"AC_{s}", f"AN_{s}") for s in SEXES if s not in released)]
    extra = [("nhomalt", "A", "Integer", "Number of homozygous ALT genotypes"),
             ("InbreedingCoeff", "A", "Float", "Inbreeding coefficient, 1 - Hobs/Hexp")]
    for s in SEXES:
        if s in released:
            extra.append((f"AF_{s}", "A", "Float", f"Allele frequency in {s} samples"))
    for p in pops:
        extra.append((f"nhomalt_{p}", "A", "Integer", f"Number of homozygous ALT genotypes in {p}"))
    if pops:
        extra += [("grpmax", "A", "String", "Population with the highest published AF"),
                  ("AF_grpmax", "A", "Float", "Highest published population AF")]
    if plan.layout.adj and "adj" in released:
        extra += [("AC_adj", "A", "Integer", "Allele count in calls passing the genotype filter"),
                  ("AN_adj", "1", "Integer", "Alleles in calls passing the genotype filter"),
                  ("AF_adj", "A", "Float", "Allele frequency in calls passing the filter")]
    writer.tags += extra
    return writer


def _write(inputs, plan: ReleasePlan, outputs: ReleaseOutputs, files, fmt, quiet,
           command_line, batch_rows):
    from genomekit.io.tables import TableWriter

    table = TableWriter(files.tmp(outputs.table), fmt, plan.schema())
    sites = None
    if outputs.sites:
        sites = _sites_writer(files.tmp(outputs.sites), files.tmp(outputs.sites_index), plan,
                              command_line, os.path.dirname(outputs.sites) or ".")
    stats = BatchStats()
    progress = Progress("release", unit="rows", quiet=quiet)
    counts = {"rows_out": 0, "rows_suppressed": 0, "sites_in": 0, "sites_out": 0,
              "rows_per_input": []}
    contigs: list[str] = []
    last = None
    record_offset = 0
    ok = False
    try:
        for path in inputs:
            rows_here = 0
            for df in _aligned(_batches(path, plan.layout.schema, batch_rows)):
                _check_batch(df, path, plan.layout)
                last = check_order(df, path, contigs, last)
                released, batch = apply_policy(df, plan)
                stats.add(batch)
                rows_here += df.height
                counts["sites_in"] += int(_record_ids(df)[-1]) + 1
                counts["rows_out"] += released.height
                counts["rows_suppressed"] += int(released["suppressed"].sum())
                table.write(released)
                if released.height:
                    records = _record_ids(released)
                    counts["sites_out"] += int(records[-1]) + 1
                    if sites is not None:
                        sites.write(released, records + record_offset)
                    record_offset += int(records[-1]) + 1
                progress.update(df.height, f"{df['CHROM'][-1]}:{df['POS'][-1]}")
            counts["rows_per_input"].append(rows_here)
        ok = True
    finally:
        progress.close()
        table.close()
        if sites is not None:
            if ok:
                try:
                    sites.close()
                except Exception as e:
                    raise InputError(f"cannot write the sites BCF ({e})",
                                     hint="drop --sites-vcf, or check the contig names"
                                     ) from None
            else:
                sites.abort()
    return stats, counts


# The summary ----------------------------------------------------------------------------

def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _source(path: str, summary: dict) -> dict:
    """What the run summary beside a freq table says of it: the command and the build.

    Only these fields (and the sample counts, by _sample_counts) are read; a summary is never
    copied (it may name samples or files).
    """
    command = summary.get("command")
    build = summary.get("build")
    if command == "merge" and build is None:
        shard_builds = set()
        for entry in summary.get("inputs") or []:
            shard = shard_summary(str(entry.get("path", "")))
            if shard.get("build"):
                shard_builds.add(shard["build"])
        if len(shard_builds) > 1:
            raise InputError(f"merged from shards of different builds "
                             f"({', '.join(sorted(shard_builds))})", file=path,
                             hint="rerun freq with one --build")
        build = shard_builds.pop() if shard_builds else None
    if command is not None and command not in ("freq", "merge"):
        raise InputError(f"written by 'genomekit {command}', not by freq", file=path,
                         hint="give tables written by 'genomekit freq' or 'genomekit merge'")
    return {"command": command, "build": build}


def _common_build(inputs, sources) -> str | None:
    """The build the inputs' summaries name; an error when two inputs name different ones."""
    first: tuple[str, str] | None = None
    for path, source in zip(inputs, sources):
        build = source["build"]
        if build is None:
            continue
        if first is None:
            first = (build, path)
        elif build != first[0]:
            raise InputError(f"build {build} differs from {first[0]} of {first[1]}", file=path,
                             hint="release tables computed with one --build")
    return first[0] if first else None


def _input_entry(path, source, rows) -> dict:
    return {"path": os.path.abspath(path), "bytes": os.path.getsize(path),
            "sha256": _sha256(path), "rows": rows,
            "written_by": f"genomekit {source['command']}" if source["command"] else None,
            "build": source["build"]}


def _output_entry(path, tmp) -> dict:
    return {"path": os.path.abspath(path), "bytes": os.path.getsize(tmp), "sha256": _sha256(tmp)}


def _sizes_entry(counted: bool) -> dict:
    if counted:
        return {"method": "sample_counts",
                "description": "the samples of each population and sex, as freq counted them "
                               "(its samples and --pops) in the run summary of the input"}
    return {"method": "max_AN",
            "description": "estimated as max AN/2 over the rows, since the input's run summary "
                           "does not count the samples of each group: smaller than the group "
                           "where its samples are never all called at one site"}


def _policy_entry(policy: Policy, counted: bool) -> dict:
    size = ("samples (as freq counted them)" if counted
            else "samples (estimated as max AN/2 over the rows)")
    return {
        **policy.as_dict(),
        "rules": {
            "group_size": f"a population or sex with fewer than min_group_size {size} has its "
                          "columns dropped; the remainder of a partition (total minus its "
                          "released groups) has 0 or at least min_group_size samples, else the "
                          "smallest released group is dropped too",
            "small_cell": "a group's counts at a row are withheld (null) when AC, AN-AC, the "
                          "site's REF count AN-sum(AC) or nhomalt (all samples also: n_het, "
                          "AC_Hom, n_hemi_alt) is between 0 and min_cell, exclusive; AF, and "
                          "for all samples HWE, ExcHet and InbreedingCoeff, go with them",
            "complementary": "per partition (populations, sexes, adj vs failed calls) and row, "
                             "the unpublished sum (total minus published groups) has no small "
                             "cell: the smallest released group that changes a small cell of "
                             "it is withheld too; a withheld total always has another unknown "
                             "term",
            "min_ac": "rows whose AC is below min_ac are removed",
            "af_digits": "frequencies rounded to af_digits significant digits (null: full "
                         "precision)",
        },
    }


def _not_released(layout: FreqLayout, plan: ReleasePlan) -> dict:
    released = set(plan.schema())
    out = {}
    for c in layout.schema:
        if c in released:
            continue
        out[c] = NOT_RELEASED.get(c) or next(
            (f"group {d.group.name} not released" for d in plan.decisions
             if not d.released and c in (d.group.ac, d.group.an, d.group.af, d.group.hom)),
            "recomputed over the released populations")
    return out


def _group_entries(plan: ReleasePlan, stats: BatchStats) -> list[dict]:
    out = []
    for d in plan.decisions:
        g = d.group
        entry = {"group": g.name, "kind": g.kind, "n_samples": d.n_samples,
                 "released": d.released}
        if not d.released:
            entry["reason"] = d.reason
            out.append(entry)
            continue
        entry["columns"] = [g.ac, g.an, g.af, *g.genotype_columns()]
        families = (("allele_counts", "allele", g.allele_columns()),
                    ("genotype_counts", "genotype", g.genotype_columns()))
        for key, family, columns in families:
            if columns:
                entry[key] = {
                    "columns": list(columns),
                    "rows_withheld_small_cell": stats.primary.get((g.name, family), 0),
                    "rows_withheld_complementary": stats.complementary.get((g.name, family), 0),
                }
        entry["values_suppressed"] = stats.values.get(g.name, 0)
        out.append(entry)
    return out
