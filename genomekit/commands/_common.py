"""Pieces every command shares: warnings, thread pools, run summaries."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable

import numpy as np

from genomekit import __version__
from genomekit.errors import InputError, UsageError
from genomekit.genome import is_autosome
from genomekit.io.readers import open_reader
from genomekit.io.vcf import default_chunk_variants, parse_region, read_bed, read_sample_list
from genomekit.parallel import ordered_map  # noqa: F401 (the commands' import)
from genomekit.process import page_in_heap


def warn(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"genomekit: warning: {message}", file=sys.stderr)


def check_threads(threads: int) -> None:
    if threads < 1:
        raise UsageError(f"--threads must be at least 1, not {threads}")


def input_summary(paths: Iterable[str]) -> list[dict]:
    return [{"path": os.path.abspath(p), "bytes": os.path.getsize(p)} for p in paths]


def write_summary(path: str, summary: dict) -> None:
    summary = {"tool": "genomekit", "version": __version__, **summary}
    with open(path, "w") as fh:
        json.dump(summary, fh, indent=2, default=str)
        fh.write("\n")


def check_selection(region: str | None, regions_file: str | None) -> None:
    if region and regions_file:
        raise UsageError("-r/--region and -R/--regions-file cannot be combined",
                         hint="put every region in the BED file")


def parse_regions(region: str | None, regions_file: str | None):
    """-r CHR:START-END or -R BED as a list of Regions; None for the whole file."""
    check_selection(region, regions_file)
    if region:
        return [parse_region(region)]
    return read_bed(regions_file) if regions_file else None


def open_input(input: str, *, region: str | None = None, regions_file: str | None = None,
               samples_file: str | None = None, exclude_samples_file: str | None = None,
               engine: str = "auto", threads: int = 1, format_fields=(), quiet: bool = False):
    """The chunk reader a command's selection options ask for, and its regions.

    -r/-R restrict the records (by POS), -S/--exclude-samples the samples,
    --engine picks the decoder (see genomekit.io.readers).
    """
    regions = parse_regions(region, regions_file)
    samples = read_sample_list(samples_file) if samples_file else None
    exclude = read_sample_list(exclude_samples_file) if exclude_samples_file else []
    reader = open_reader(input, engine=engine, samples=samples, exclude=exclude,
                         regions=regions, threads=threads, format_fields=format_fields)
    if not regions:
        # The memory the chunks in flight will touch, paged in while numba loads its
        # kernels: two chunks a thread, each its genotypes and about three times as
        # many bytes of text and decoding arrays; no more than the file could fill.
        chunk = 2 * len(reader.samples) * default_chunk_variants(len(reader.samples))
        page_in_heap(min(threads * 2 * 4 * chunk, 2 * os.path.getsize(input)))
    missing = reader.excluded_not_found
    if missing:
        warn(f"{exclude_samples_file}: {len(missing)} sample(s) to exclude are not in {input}, "
             f"e.g. '{missing[0]}'", quiet)
    return reader, regions


def check_sheet_samples(samples, sheet, input: str, quiet: bool, unlisted_means: str) -> None:
    """Fail when none of the samples of ``input`` is in the --pops sheet; warn how many
    are not, and what that means for them (``unlisted_means``)."""
    n = len(samples)
    unlisted = sum(1 for s in samples if s not in sheet.population)
    if unlisted == n and n:
        raise InputError(f"none of the {n} samples of {input} is in the population file",
                         hint="check that --pops lists the VCF's sample names")
    if unlisted:
        warn(f"{input}: {unlisted} sample(s) not in --pops: {unlisted_means}", quiet)


def allele_index_error(chunk, v: int) -> InputError:
    """The error for a call of record ``v`` naming an allele the record does not have."""
    return InputError(f"genotype allele index beyond the {chunk.n_alleles[v]} alleles of the "
                      "record", chrom=chunk.chrom[v], pos=int(chunk.pos[v]),
                      hint="fix the GT field or the ALT column")


def autosome_mask(chunk) -> np.ndarray:
    """Whether each record of the chunk lies on an autosome (1-22), as a bool array."""
    auto = np.zeros(chunk.n_variants, dtype=bool)
    chrom = np.asarray(chunk.chrom, dtype=object)
    for name in dict.fromkeys(chunk.chrom):
        if is_autosome(name):
            auto[chrom == name] = True
    return auto


def autosomal_biallelic(chunk) -> tuple[np.ndarray, dict[str, int]]:
    """The records of the chunk on an autosome with one ALT allele (int64 indices), and
    how many others there were: {'non_autosomal': n, 'not_biallelic': n}."""
    auto = autosome_mask(chunk)
    biallelic = chunk.n_alleles == 2
    skipped = {"non_autosomal": int((~auto).sum()),
               "not_biallelic": int((auto & ~biallelic).sum())}
    return np.flatnonzero(auto & biallelic).astype(np.int64), skipped
