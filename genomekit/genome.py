"""Reference-build facts: sex chromosomes and pseudo-autosomal regions (PARs)."""

from __future__ import annotations

import numpy as np

# 1-based inclusive PAR intervals, per build and chromosome (Ensembl/UCSC coordinates).
PARS: dict[str, dict[str, tuple[tuple[int, int], ...]]] = {
    "GRCh38": {
        "X": ((10_001, 2_781_479), (155_701_383, 156_030_895)),
        "Y": ((10_001, 2_781_479), (56_887_903, 57_217_415)),
    },
    "GRCh37": {
        "X": ((60_001, 2_699_520), (154_931_044, 155_260_560)),
        "Y": ((10_001, 2_649_520), (59_034_050, 59_363_566)),
    },
}
BUILDS = tuple(PARS)

# plink2 keeps a variant whose MAF is within this relative distance below --maf
# (kSmallEpsilon, 2^-44), so a MAF equal to the threshold on paper is kept.
MAF_EPSILON = 2.0 ** -44

# Site classes understood by the counting kernels.
AUTOSOMAL = 0  # every sample counted with the ploidy written in the VCF
X_NONPAR = 1   # males haploid: a hom call counts one allele, a het call counts as missing
CHR_Y = 2      # as X_NONPAR, and females contribute nothing (PARs included: a male's
               # Y copy is one copy; the X copy of a PAR is called on chrX)

# Sample sex codes.
SEX_UNKNOWN = 0
SEX_MALE = 1
SEX_FEMALE = 2


def bare_name(contig: str) -> str:
    """Contig name without a leading 'chr' ('chrX' -> 'X')."""
    return contig[3:] if contig.lower().startswith("chr") else contig


def is_autosome(contig: str) -> bool:
    """Contigs 1 to 22, with or without 'chr' ('23' and up are X, Y, XY, MT in plink)."""
    name = bare_name(contig)
    return name.isdigit() and 1 <= int(name) <= 22


def contig_kind(contig: str) -> str | None:
    """'X', 'Y' or None for any other contig."""
    name = bare_name(contig).upper()
    if name in ("X", "23"):
        return "X"
    if name in ("Y", "24"):
        return "Y"
    return None


def site_classes(contig: str, positions: np.ndarray, build: str) -> np.ndarray:
    """Site class (int8) for each 1-based position on one contig."""
    kind = contig_kind(contig)
    out = np.zeros(len(positions), dtype=np.int8)
    if kind is None:
        return out
    if kind == "Y":
        out[:] = CHR_Y
        return out
    in_par = np.zeros(len(positions), dtype=bool)
    for start, end in PARS[build]["X"]:
        in_par |= (positions >= start) & (positions <= end)
    out[~in_par] = X_NONPAR
    return out
