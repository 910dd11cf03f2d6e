"""`genomekit relate`: KING-robust kinship of every sample pair, related pairs and their degree.

Input: a VCF/BCF, or several (one per chromosome, say) with the same samples
in the same order, read in the order given as if concatenated (io/chain.py).

The run has two steps. The VCF is streamed once: each record on an autosome
(contigs 1 to 22, with or without 'chr') with exactly one ALT allele and a
minor allele frequency of at least --maf over the selected samples' complete
diploid calls is packed, two bits per sample (kernels/king.py). Then
the lower triangle of the pair matrix (IID1 after IID2 in sample order, plink2's
row order) is computed in stripes of ROW_BLOCK rows, each stripe in tiles of
ROW_BLOCK x COL_BLOCK pairs; stripes run on --threads threads and only the pairs
at or above --min-kinship leave a tile, so no n x n matrix is ever built.

Memory: the packed matrix takes 16 bytes per sample per 64 variants kept,
n_samples x ceil(n_variants / 64) x 16 bytes (2 bits per genotype: 10,000
samples x 1,000,000 variants = 2.5 GB), plus up to 25% while it grows. Each
thread adds under 1 MB for its tile (counts, kinship and the kernel's scratch),
and up to 2 x --threads stripes' reported pairs wait to be written; reading
holds the decoded VCF chunks as `freq` does.

`--tile I/N` splits the rows of the lower triangle into N runs of consecutive
rows holding as equal numbers of pairs as whole rows allow; the N tables,
concatenated in order, are the untiled table, and ``merge`` combines them.
"""

from __future__ import annotations

import bisect
import heapq
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genomekit.commands._common import (
    autosomal_biallelic,
    check_selection,
    check_threads,
    input_summary,
    ordered_map,
    warn,
    write_summary,
)
from genomekit.commands._inputs import BadRecord, input_paths, open_inputs
from genomekit.errors import InputError, UsageError
from genomekit.genome import MAF_EPSILON
from genomekit.io.outputs import OutputSet
from genomekit.progress import Progress

FORMATS = ("parquet", "tsv")
ROW_BLOCK = 64
COL_BLOCK = 256
# Spare packed words added at each growth, as a share of those already used.
GROWTH = 0.25


@dataclass(frozen=True)
class RelateOutputs:
    table: str
    summary: str
    unrelated: str | None

    @classmethod
    def for_prefix(cls, prefix: str, fmt: str, unrelated: bool) -> RelateOutputs:
        return cls(
            table=f"{prefix}.relate.{fmt}",
            summary=f"{prefix}.relate.json",
            unrelated=f"{prefix}.unrelated.txt" if unrelated else None,
        )

    def paths(self) -> list[str]:
        return [p for p in (self.table, self.summary, self.unrelated) if p]


def parse_tile(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N), 1-based, 1 <= I <= N."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not sep or not 1 <= i <= n:
        raise UsageError(f"bad --tile '{text}'", hint="write it as I/N with 1 <= I <= N, e.g. 3/10")
    return i, n


def tile_rows(n_samples: int, index: int, count: int) -> tuple[int, int]:
    """Rows [lo, hi) of the lower triangle in tile ``index`` (1-based) of ``count``.

    Row r holds the r pairs (r, 0) .. (r, r - 1); a tile starts at the first row
    that has at least (index - 1) / count of all pairs before it.
    """
    total = n_samples * (n_samples - 1) // 2

    def start(k: int) -> int:
        # Exact integers: pairs before row r, times count, against k * total.
        return bisect.bisect_left(range(n_samples + 1), k * total,
                                  key=lambda r: r * (r - 1) // 2 * count)

    lo = 0 if index == 1 else start(index - 1)
    hi = n_samples if index == count else start(index)
    return lo, max(lo, hi)


def _check_args(fmt, maf, min_kinship, threads, region, regions_file, tile, unrelated):
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    if not 0.0 <= maf <= 0.5:
        raise UsageError(f"--maf must be between 0 and 0.5, not {maf}")
    if min_kinship != min_kinship:
        raise UsageError("--min-kinship must be a number", hint="e.g. 0.0442 for third degree")
    check_threads(threads)
    check_selection(region, regions_file)
    parsed = parse_tile(tile) if tile else None
    if parsed and unrelated:
        raise UsageError("--unrelated needs every pair, and --tile computes a part of them",
                         hint="run --unrelated without --tile, or on the merged tiles")
    return parsed


def run(inputs: str | Sequence[str], out: str, *, maf: float = 0.01, min_kinship: float = 0.0442,
        unrelated: bool = False, tile: str | None = None, region: str | None = None,
        regions_file: str | None = None, samples_file: str | None = None,
        exclude_samples_file: str | None = None, fmt: str = "parquet", threads: int = 1,
        force: bool = False, engine: str = "auto", quiet: bool = False,
        command_line: str = "", chunk_variants: int | None = None) -> dict:
    """Compute the relatedness table of ``inputs`` and write the outputs named by ``out``.

    ``inputs`` is a VCF/BCF path, or several read in order as one file (the
    same samples in the same order in each, e.g. one file per chromosome).
    Returns the run summary (also written to ``OUT.relate.json``).
    """
    started = time.time()
    paths = input_paths(inputs)
    parsed_tile = _check_args(fmt, maf, min_kinship, threads, region, regions_file, tile,
                              unrelated)
    outputs = RelateOutputs.for_prefix(out, fmt, unrelated)
    with OutputSet(outputs.paths(), force) as files:
        reader, regions = open_inputs(
            paths, region=region, regions_file=regions_file, samples_file=samples_file,
            exclude_samples_file=exclude_samples_file, engine=engine, threads=threads,
            quiet=quiet)
        names = list(reader.samples)
        packed, n_called, stats = _pack(reader, maf, quiet, chunk_variants)
        if stats["n_variants"] == 0:
            warn(f"{reader.path}: no autosomal biallelic variant with MAF >= {maf}; every kinship "
                 "is undefined and no pair is reported", quiet)
        n = len(names)
        rows = tile_rows(n, *parsed_tile) if parsed_tile else (0, n)
        pairs = _pairs(packed, np.array(names, dtype=object), rows, min_kinship, fmt,
                       files.tmp(outputs.table), threads, quiet, keep_pairs=unrelated)
        summary = {
            "command": "relate",
            "command_line": command_line,
            "inputs": input_summary(paths),
            "n_samples": n,
            **stats,
            "maf": maf,
            "min_kinship": min_kinship,
            "tile": ({"index": parsed_tile[0], "count": parsed_tile[1], "rows": list(rows)}
                     if parsed_tile else None),
            "n_pairs": pairs["n_pairs"],
            "n_pairs_reported": pairs["n_pairs_reported"],
            "n_pairs_undefined": pairs["n_pairs_undefined"],
            "degrees": pairs["degrees"],
            "packed_bytes": int(packed.nbytes),
            "regions": [str(r) for r in regions] if regions else None,
            "format": fmt,
        }
        if unrelated:
            keep = select_unrelated(n, pairs["idx1"], pairs["idx2"], n_called)
            _write_names(files.tmp(outputs.unrelated), [names[i] for i in keep])
            summary["n_unrelated"] = len(keep)
        summary["outputs"] = [os.path.abspath(p) for p in outputs.paths()]
        summary["elapsed_seconds"] = round(time.time() - started, 3)
        # Last, as it grows with the cohort: what merge() needs to check and rank samples.
        summary["sample_n_called"] = dict(zip(names, n_called.tolist()))
        write_summary(files.tmp(outputs.summary), summary)
        files.commit()
    return summary


@dataclass(frozen=True)
class _SelectJob:
    """Picks the records of a chunk to pack: autosomal, biallelic, MAF >= maf."""

    maf: float

    def __call__(self, chunk):
        from genomekit.kernels import king as kk

        candidates, skipped = autosomal_biallelic(chunk)
        n_called, n_alt, bad = kk.diploid_counts(chunk.gt, candidates)
        if bad[0] >= 0:
            return BadRecord(chunk, int(bad[0]))
        if self.maf > 0:
            minor = np.minimum(n_alt, 2 * n_called - n_alt)
            with np.errstate(invalid="ignore", divide="ignore"):
                freq = minor / (2.0 * n_called)
            passed = (n_called > 0) & (freq >= self.maf * (1.0 - MAF_EPSILON))
        else:
            passed = np.ones(len(candidates), dtype=bool)
        return chunk, candidates[passed], {**skipped, "below_maf": int((~passed).sum())}


class _PackedMatrix:
    """The packed genotypes (kernels/king.py encoding), grown as records arrive.

    Word-major, so growing appends rows: ndarray.resize reallocates in place where
    the allocator can (mremap for large blocks) and zero-fills the new words.
    """

    def __init__(self, n_samples: int):
        self.words = np.zeros((0, n_samples, 2), dtype=np.uint64)
        self.n_variants = 0
        self.n_called = np.zeros(n_samples, dtype=np.int64)

    def append(self, gt: np.ndarray, variants: np.ndarray) -> None:
        from genomekit.kernels import king as kk

        if len(variants) == 0:
            return
        need = -(-(self.n_variants + len(variants)) // kk.WORD_BITS)
        have = self.words.shape[0]
        if need > have:
            grown = max(need, have + int(have * GROWTH) + 16)
            self.words.resize((grown, *self.words.shape[1:]), refcheck=False)
        kk.pack_calls(gt, variants, self.words, self.n_variants, self.n_called)
        self.n_variants += len(variants)

    def finish(self) -> np.ndarray:
        from genomekit.kernels import king as kk

        n_words = -(-self.n_variants // kk.WORD_BITS)
        self.words.resize((n_words, *self.words.shape[1:]), refcheck=False)
        return self.words


def _pack(reader, maf, quiet, chunk_variants):
    matrix = _PackedMatrix(len(reader.samples))
    stats = {"n_records": 0, "n_variants": 0,
             "variants_skipped": {"non_autosomal": 0, "not_biallelic": 0, "below_maf": 0}}
    progress = Progress("relate", quiet=quiet)
    try:
        for result in reader.map_chunks(_SelectJob(maf), chunk_variants):
            if isinstance(result, BadRecord):
                raise result.error(reader)
            chunk, kept, counts = result
            matrix.append(chunk.gt, kept)
            stats["n_records"] += chunk.n_variants
            for key, value in counts.items():
                stats["variants_skipped"][key] += value
            progress.update(chunk.n_variants, f"{chunk.chrom[-1]}:{chunk.pos[-1]}")
    finally:
        progress.close()
        reader.close()
    stats["n_variants"] = matrix.n_variants
    return matrix.finish(), matrix.n_called, stats


@dataclass(frozen=True)
class _PairJob:
    """The pairs of one stripe of rows [r0, r1) at or above min_kinship, in row order."""

    packed: np.ndarray
    names: np.ndarray
    min_kinship: float

    def __call__(self, rows):
        from genomekit.kernels import king as kk
        from genomekit.tables.relate import build_relate_table

        r0, r1 = rows
        parts = []
        n_undefined = 0
        for c0 in range(0, r1 - 1, COL_BLOCK):
            c1 = min(c0 + COL_BLOCK, r1 - 1)
            counts = kk.king_tile(self.packed, r0, r1, c0, c1)
            kin = kk.kinship(counts)
            lower = (np.arange(c0, c1)[None, :] < np.arange(r0, r1)[:, None])
            n_undefined += int((lower & np.isnan(kin)).sum())
            i, j = np.nonzero(lower & (kin >= self.min_kinship))
            parts.append((i + r0, j + c0, counts[kk.NSNP, i, j], counts[kk.HETHET, i, j],
                          counts[kk.IBS0, i, j], kin[i, j]))
        if parts:
            idx1, idx2, nsnp, hethet, ibs0, kin = (np.concatenate(a) for a in zip(*parts))
        else:
            idx1 = idx2 = nsnp = hethet = ibs0 = np.zeros(0, np.int64)
            kin = np.zeros(0)
        order = np.lexsort((idx2, idx1))
        idx1, idx2, kin = idx1[order], idx2[order], kin[order]
        df = build_relate_table(self.names, idx1, idx2, nsnp[order], hethet[order],
                                ibs0[order], kin)
        n_pairs = (r1 * (r1 - 1) - r0 * (r0 - 1)) // 2
        return df, idx1, idx2, n_pairs, n_undefined


def _pairs(packed, names, rows, min_kinship, fmt, table_path, threads, quiet, keep_pairs):
    from genomekit.io.tables import TableWriter
    from genomekit.tables.relate import DEGREE_LABELS, RELATE_SCHEMA

    lo, hi = rows
    stripes = [(r0, min(r0 + ROW_BLOCK, hi)) for r0 in range(lo, hi, ROW_BLOCK)]
    total = (hi * (hi - 1) - lo * (lo - 1)) // 2
    table = TableWriter(table_path, fmt, RELATE_SCHEMA)
    progress = Progress("relate", total=total, unit="pairs", quiet=quiet)
    result = {"n_pairs": 0, "n_pairs_reported": 0, "n_pairs_undefined": 0,
              "degrees": dict.fromkeys(DEGREE_LABELS, 0)}
    kept1, kept2 = [], []
    try:
        job = _PairJob(packed, names, min_kinship)
        for df, idx1, idx2, n_pairs, n_undefined in ordered_map(job, stripes, threads):
            table.write(df)
            result["n_pairs"] += n_pairs
            result["n_pairs_reported"] += df.height
            result["n_pairs_undefined"] += n_undefined
            for label, count in df["degree"].value_counts().iter_rows():
                result["degrees"][label] += count
            if keep_pairs:
                kept1.append(idx1)
                kept2.append(idx2)
            progress.update(n_pairs)
    finally:
        progress.close()
        table.close()
    result["idx1"] = np.concatenate(kept1) if kept1 else np.zeros(0, np.int64)
    result["idx2"] = np.concatenate(kept2) if kept2 else np.zeros(0, np.int64)
    return result


def select_unrelated(n_samples: int, idx1: np.ndarray, idx2: np.ndarray,
                     n_called: np.ndarray) -> list[int]:
    """A maximal set of samples with no related pair among them, as sorted indices.

    Related pairs are (idx1[k], idx2[k]). Greedy: drop the sample with the most
    relatives still in the set; on ties drop the one with fewer calls, then the
    later one. Dropping can leave an earlier dropped sample with no relative in
    the set, so the dropped samples are then offered back, last dropped first,
    which makes the set maximal: every sample left out has a relative in it.
    """
    relatives: list[set[int]] = [set() for _ in range(n_samples)]
    for a, b in zip(np.asarray(idx1).tolist(), np.asarray(idx2).tolist()):
        if a != b:
            relatives[a].add(b)
            relatives[b].add(a)
    degree = [len(r) for r in relatives]
    heap = [(-degree[s], int(n_called[s]), -s) for s in range(n_samples) if degree[s]]
    heapq.heapify(heap)
    kept = [True] * n_samples
    dropped = []
    while heap:
        neg_deg, _, neg_s = heapq.heappop(heap)
        s = -neg_s
        if not kept[s] or -neg_deg != degree[s]:
            continue  # stale entry: the sample was dropped or lost relatives since
        kept[s] = False
        dropped.append(s)
        for r in relatives[s]:
            if kept[r]:
                degree[r] -= 1
                if degree[r]:
                    heapq.heappush(heap, (-degree[r], int(n_called[r]), -r))
    for s in reversed(dropped):
        if not any(kept[r] for r in relatives[s]):
            kept[s] = True
    return [s for s in range(n_samples) if kept[s]]


def _write_names(path: str, names: list[str]) -> None:
    with open(path, "w") as fh:
        fh.writelines(f"{name}\n" for name in names)


def _read_tile_summary(prefix: str) -> dict:
    path = f"{prefix}.relate.json"
    try:
        with open(path) as fh:
            summary = json.load(fh)
    except OSError as e:
        raise InputError(f"cannot read the relate summary ({e.strerror})", file=path,
                         hint="give the --out prefix of each 'relate --tile' run") from None
    except json.JSONDecodeError:
        raise InputError("not a relate summary (invalid JSON)", file=path,
                         hint="give the --out prefix of each 'relate --tile' run") from None
    if summary.get("command") != "relate" or not summary.get("tile"):
        raise InputError("not the summary of a 'relate --tile' run", file=path,
                         hint="merge only the outputs of 'relate --tile I/N'")
    return summary


def merge(prefixes: list[str], out: str, *, fmt: str | None = None, unrelated: bool = False,
          force: bool = False, command_line: str = "") -> dict:
    """Combine the outputs of the N runs of ``relate --tile I/N`` into the untiled outputs.

    ``prefixes`` are the --out prefixes of the N runs, in any order. The runs must
    agree on the samples, their call counts, the variants used, --maf and
    --min-kinship. Writes OUT.relate.{fmt} (the tiles' format unless ``fmt``),
    OUT.relate.json and, with ``unrelated``, OUT.unrelated.txt; returns the summary.
    """
    import polars as pl

    from genomekit.io.tables import TableWriter
    from genomekit.tables.relate import DEGREE_LABELS, RELATE_SCHEMA

    started = time.time()
    if not prefixes:
        raise UsageError("no tiles to merge", hint="give the --out prefix of every tile")
    summaries = [_read_tile_summary(p) for p in prefixes]
    first = summaries[0]
    count = first["tile"]["count"]
    keys = ("n_samples", "n_variants", "maf", "min_kinship", "sample_n_called")
    for prefix, s in zip(prefixes, summaries):
        if s["tile"]["count"] != count or any(s.get(k) != first.get(k) for k in keys):
            raise InputError("this tile is not from the same run as the others (samples, "
                             "variants, --maf, --min-kinship or --tile N differ)",
                             file=f"{prefix}.relate.json",
                             hint="merge the tiles of one cohort and one set of options")
    found = sorted(s["tile"]["index"] for s in summaries)
    if found != list(range(1, count + 1)):
        missing = sorted(set(range(1, count + 1)) - set(found))
        what = (f"tile(s) {', '.join(map(str, missing))} of {count} missing" if missing
                else f"a tile of {count} given twice")
        raise UsageError(what, hint=f"give each of the {count} tiles once")
    fmt = fmt or first["format"]
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    order = sorted(range(len(prefixes)), key=lambda k: summaries[k]["tile"]["index"])
    names = list(first["sample_n_called"])
    n_called = np.array(list(first["sample_n_called"].values()), dtype=np.int64)
    outputs = RelateOutputs.for_prefix(out, fmt, unrelated)
    with OutputSet(outputs.paths(), force) as files:
        table = TableWriter(files.tmp(outputs.table), fmt, RELATE_SCHEMA)
        pairs1, pairs2 = [], []
        degrees = dict.fromkeys(DEGREE_LABELS, 0)
        try:
            for k in order:
                path = f"{prefixes[k]}.relate.{summaries[k]['format']}"
                try:
                    if summaries[k]["format"] == "tsv":
                        df = pl.read_csv(path, separator="\t", null_values="NA",
                                         schema=RELATE_SCHEMA)
                    else:
                        df = pl.read_parquet(path).cast(RELATE_SCHEMA)
                except (OSError, pl.exceptions.PolarsError) as e:
                    raise InputError(f"cannot read the tile table ({type(e).__name__})",
                                     file=path, hint="rerun this tile") from None
                table.write(df)
                for label, n in df["degree"].value_counts().iter_rows():
                    degrees[label] += n
                if unrelated:
                    pairs1.append(df["IID1"])
                    pairs2.append(df["IID2"])
        finally:
            table.close()
        summary = {
            "command": "relate merge",
            "command_line": command_line,
            "tiles": [os.path.abspath(f"{prefixes[k]}.relate.json") for k in order],
            "n_samples": first["n_samples"],
            "n_records": first["n_records"],
            "n_variants": first["n_variants"],
            "variants_skipped": first["variants_skipped"],
            "maf": first["maf"],
            "min_kinship": first["min_kinship"],
            "tile": None,
            "n_pairs": sum(s["n_pairs"] for s in summaries),
            "n_pairs_reported": sum(s["n_pairs_reported"] for s in summaries),
            "n_pairs_undefined": sum(s["n_pairs_undefined"] for s in summaries),
            "degrees": degrees,
            "format": fmt,
        }
        if unrelated:
            index = {name: i for i, name in enumerate(names)}
            idx1 = np.array([index[x] for s in pairs1 for x in s.to_list()], dtype=np.int64)
            idx2 = np.array([index[x] for s in pairs2 for x in s.to_list()], dtype=np.int64)
            keep = select_unrelated(len(names), idx1, idx2, n_called)
            _write_names(files.tmp(outputs.unrelated), [names[i] for i in keep])
            summary["n_unrelated"] = len(keep)
        summary["outputs"] = [os.path.abspath(p) for p in outputs.paths()]
        summary["elapsed_seconds"] = round(time.time() - started, 3)
        summary["sample_n_called"] = first["sample_n_called"]
        write_summary(files.tmp(outputs.summary), summary)
        files.commit()
    return summary
