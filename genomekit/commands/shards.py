"""`genomekit shards`: split an indexed VCF/BCF into region shards of a fixed size (BED)."""

from __future__ import annotations

from genomekit.errors import UsageError
from genomekit.io.outputs import OutputSet
from genomekit.io.vcf import Region, contigs_with_records


def plan(path: str, size: int) -> list[Region]:
    """Consecutive regions of ``size`` bp covering every contig that holds records.

    A contig without a length in the header is one shard. Records are assigned
    to shards by POS, so the shards' results concatenate to the whole file's.
    """
    if size < 1:
        raise UsageError(f"--size must be at least 1 bp, not {size}")
    regions = []
    for name, length in contigs_with_records(path):
        if length is None:
            regions.append(Region(name, 1, None))
            continue
        for start in range(1, length + 1, size):
            end = min(start + size - 1, length)
            # The last shard is open-ended: records past a wrong header length still count.
            regions.append(Region(name, start, end if end < length else None))
    return regions


def run(input: str, out: str, *, size: int, force: bool = False) -> list[Region]:
    """Write the shard plan as a BED file (0-based starts) to ``out``."""
    if size < 1:
        raise UsageError(f"--size must be at least 1 bp, not {size}")
    regions = plan(input, size)
    with OutputSet([out], force) as files:
        with open(files.tmp(out), "w") as fh:
            for r in regions:
                end = r.end if r.end is not None else 2**31 - 1
                fh.write(f"{r.chrom}\t{r.start - 1}\t{end}\n")
        files.commit()
    return regions
