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
    """Base counts at the sites (1-based ``pos``, sorted within each contig).

    Sites on contigs the file does not have count nothing. The file needs an index.
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
        known = set(bam.references)
        i = 0
        while i < n:
            j = i + 1
            while j < n and chrom[j] == chrom[i] and pos[j] - pos[j - 1] <= _CLUSTER_BP:
                j += 1
            if chrom[i] in known:
                _count_cluster(bam, chrom[i], pos, ref, alt, i, j, counts, min_mapq, min_baseq)
            i = j
    return SiteCounts(counts[0], counts[1], counts[2])


def _count_cluster(bam, contig, pos, ref, alt, i, j, counts, min_mapq, min_baseq) -> None:
    wanted = {int(pos[k]) - 1: k for k in range(i, j)}
    try:
        columns = bam.pileup(contig, int(pos[i]) - 1, int(pos[j - 1]), truncate=True,
                             stepper="samtools", flag_filter=_FLAG_FILTER,
                             ignore_orphans=False, ignore_overlaps=True, compute_baq=False,
                             min_base_quality=min_baseq, min_mapping_quality=min_mapq,
                             max_depth=_MAX_DEPTH)
        for column in columns:
            k = wanted.get(column.reference_pos)
            if k is None:
                continue
            r, a = ref[k].upper(), alt[k].upper()
            for base in column.get_query_sequences():
                b = base.upper()
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
                         chrom=contig, pos=int(pos[i]), hint="check the file and its index"
                         ) from None
