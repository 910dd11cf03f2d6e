"""Base counts of a BAM/CRAM at given SNP sites, through htslib's pileup (pysam).

The reads and bases counted are those ``samtools mpileup -B -A -Q MIN_BQ -q MIN_MQ
--ff UNMAP,SECONDARY,QCFAIL,DUP,SUPPLEMENTARY`` shows: alignments flagged unmapped,
secondary, QC-failed, duplicate or supplementary are skipped (a supplementary record shares
its read name with the primary, and htslib's mate-overlap pairing, which goes by name, would
then depend on which records were read first); anomalous pairs count; no BAQ; where the two
mates of a pair overlap a site,
htslib keeps one base (the qualities of agreeing bases add up, of disagreeing ones the
higher is kept at 80 %), so a fragment counts once; deletions, reference skips and N show no
base. Bases are counted case-blind; "other" is an A, C, G or T that is neither allele.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genomekit.errors import InputError

# Sites closer than this are read in one pileup pass.
_CLUSTER_BP = 500
_FLAG_FILTER = 0x4 | 0x100 | 0x200 | 0x400 | 0x800  # UNMAP SECONDARY QCFAIL DUP SUPPLEMENTARY
_MAX_DEPTH = 1_000_000
_BASES = frozenset("ACGT")


@dataclass(frozen=True)
class SiteCounts:
    """Reads showing the REF base, the ALT base and any other base, per site (int32)."""

    ref: np.ndarray
    alt: np.ndarray
    other: np.ndarray


def read_groups(path: str, reference: str | None = None) -> tuple[list[str], list[str]]:
    """(distinct SM values of the @RG lines in order, contig names) of a BAM/CRAM header."""
    import pysam

    try:
        with pysam.AlignmentFile(path, reference_filename=reference) as bam:
            header = bam.header.to_dict()
            contigs = list(bam.references)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read the alignment file ({e})", file=path,
                         hint="give a BAM or CRAM (with --reference) file") from None
    samples = [rg.get("SM") for rg in header.get("RG", []) if rg.get("SM")]
    return list(dict.fromkeys(samples)), contigs


def count_bases(path: str, chrom: list[str], pos: np.ndarray, ref: list[str], alt: list[str], *,
                min_mapq: int, min_baseq: int, reference: str | None = None) -> SiteCounts:
    """Base counts at the sites (1-based ``pos``, in any order; several sites may share a
    position).

    Sites on contigs the file does not have, or outside the contig's length, count nothing.
    The file needs an index.
    """
    import pysam

    n = len(pos)
    counts = np.zeros((3, n), dtype=np.int32)
    try:
        bam = pysam.AlignmentFile(path, reference_filename=reference)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read the alignment file ({e})", file=path,
                         hint="give a BAM or CRAM (with --reference) file") from None
    with bam:
        if not bam.has_index():
            raise InputError("no index (.bai/.csi/.crai)", file=path,
                             hint="index it: samtools index")
        length = dict(zip(bam.references, bam.lengths))
        # Sites the file can have reads at, grouped by contig and sorted by position.
        order = sorted((k for k in range(n) if 1 <= pos[k] <= length.get(chrom[k], 0)),
                       key=lambda k: (chrom[k], int(pos[k])))
        i = 0
        while i < len(order):
            j = i + 1
            while j < len(order) and chrom[order[j]] == chrom[order[i]] \
                    and pos[order[j]] - pos[order[j - 1]] <= _CLUSTER_BP:
                j += 1
            _count_cluster(bam, chrom[order[i]], pos, ref, alt, order[i:j], counts, min_mapq,
                           min_baseq)
            i = j
    return SiteCounts(counts[0], counts[1], counts[2])


def _count_cluster(bam, contig, pos, ref, alt, sites, counts, min_mapq, min_baseq) -> None:
    """Count the bases at ``sites`` (indices into pos, sorted by position) of one contig."""
    wanted: dict[int, list[int]] = {}
    for k in sites:
        wanted.setdefault(int(pos[k]) - 1, []).append(k)
    first, last = int(pos[sites[0]]), int(pos[sites[-1]])
    try:
        columns = bam.pileup(contig, first - 1, last, truncate=True,
                             stepper="samtools", flag_filter=_FLAG_FILTER,
                             ignore_orphans=False, ignore_overlaps=True, compute_baq=False,
                             min_base_quality=min_baseq, min_mapping_quality=min_mapq,
                             max_depth=_MAX_DEPTH)
        for column in columns:
            here = wanted.get(column.reference_pos)
            if here is None:
                continue
            bases = [b.upper() for b in column.get_query_sequences()]
            for k in here:
                r, a = ref[k].upper(), alt[k].upper()
                for b in bases:
                    if b not in _BASES:
                        continue  # a deletion or a skip ('*', '>', '<', ''), or N
                    if b == r:
                        counts[0, k] += 1
                    elif b == a:
                        counts[1, k] += 1
                    else:
                        counts[2, k] += 1
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read the alignments ({e})", file=bam.filename.decode(),
                         chrom=contig, pos=first, hint="check the file and its index"
                         ) from None
