"""Cohorts with planted relatives, for testing and benchmarking `genomekit relate`.

Founders come from genomekit.simulate (population structure, multi-allelic sites,
indels) on autosomes only. Relatives are built from them: a duplicate copies a
founder's genotypes; a child takes one allele of each parent at every site, drawn
independently per site (no linkage, so relatives' kinships scatter a little more
around their expectations than in real genomes); a grandchild is a child of a
child and another founder. Missing calls are applied to everyone afterwards, at a
per-sample rate, so relatives differ by their missing calls too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genomekit.simulate import _gt_strings, cohort_config, genotypes, simulate

AUTOSOMES = ("chr1", "chr2", "chr3")


@dataclass(frozen=True)
class PlantedPair:
    sample1: str
    sample2: str
    relation: str  # duplicate, parent-child, full-siblings, grandparent, avuncular
    degree: str  # the degree label relate should give: duplicate, first, second


@dataclass
class Pedigree:
    samples: list[str]
    chrom: list[str]
    pos: np.ndarray
    ref: list[str]
    alts: list[list[str]]
    gt: np.ndarray  # int8 (n_sites, n_samples, 2), -1 missing
    pairs: list[PlantedPair]


def simulate_pedigree(n_founders: int = 100, n_sites: int = 2000, seed: int = 1, *,
                      n_duplicates: int = 3, n_families: int = 6, n_children: int = 2,
                      n_grandchildren: int = 2, missing_rate: tuple = (0.005, 0.03),
                      contigs: tuple = AUTOSOMES) -> Pedigree:
    """Founders, their duplicates, families of parents and children, and grandchildren.

    Each family uses two founders as parents and one more founder as the
    partner of a child for a grandchild (the first ``n_grandchildren`` families).
    """
    cfg = cohort_config(n_samples=n_founders, n_sites=n_sites, seed=seed, contigs=contigs,
                        contig_share=tuple(1.0 for _ in contigs), missing_rate=(0.0, 0.0))
    cohort, rng = simulate(cfg)
    founders = np.stack([g for _, g, _ in genotypes(cfg, cohort, rng)])
    names = list(cohort.samples)
    if 3 * n_families + n_duplicates > n_founders:
        raise ValueError("not enough founders for the families and duplicates asked for")
    columns = [founders[:, s] for s in range(n_founders)]
    pairs: list[PlantedPair] = []
    order = rng.permutation(n_founders)
    taken = iter(order.tolist())

    def add(name: str, gt: np.ndarray) -> int:
        names.append(name)
        columns.append(gt)
        return len(names) - 1

    def child_of(a: int, b: int) -> np.ndarray:
        site = np.arange(n_sites)
        from_a = columns[a][site, rng.integers(0, 2, n_sites)]
        from_b = columns[b][site, rng.integers(0, 2, n_sites)]
        return np.stack([from_a, from_b], axis=1).astype(np.int8)

    for d in range(n_duplicates):
        s = next(taken)
        dup = add(f"DUP{d + 1}_{names[s]}", columns[s].copy())
        pairs.append(PlantedPair(names[s], names[dup], "duplicate", "duplicate"))
    for f in range(n_families):
        mother, father, partner = next(taken), next(taken), next(taken)
        kids = [add(f"FAM{f + 1}_C{c + 1}", child_of(mother, father)) for c in range(n_children)]
        for k in kids:
            for p in (mother, father):
                pairs.append(PlantedPair(names[p], names[k], "parent-child", "first"))
        for a in range(len(kids)):
            for b in range(a + 1, len(kids)):
                pairs.append(PlantedPair(names[kids[a]], names[kids[b]], "full-siblings",
                                         "first"))
        if f < n_grandchildren and kids:
            g = add(f"FAM{f + 1}_G1", child_of(kids[0], partner))
            pairs.append(PlantedPair(names[kids[0]], names[g], "parent-child", "first"))
            pairs.append(PlantedPair(names[partner], names[g], "parent-child", "first"))
            for p in (mother, father):
                pairs.append(PlantedPair(names[p], names[g], "grandparent", "second"))
            for k in kids[1:]:
                pairs.append(PlantedPair(names[k], names[g], "avuncular", "second"))
    gt = np.stack(columns, axis=1)
    miss = rng.uniform(*missing_rate, size=gt.shape[1])
    gt[rng.random(gt.shape[:2]) < miss[None, :]] = -1
    return Pedigree(names, cohort.chrom, cohort.pos, cohort.ref, cohort.alts, gt, pairs)


def write_pedigree(ped: Pedigree, prefix: str) -> dict:
    """Write PREFIX.vcf.gz (+ .tbi) and PREFIX.pairs.tsv (the planted pairs)."""
    import pysam

    header = ["##fileformat=VCFv4.2", "##source=genomekit simulate_pedigree"]
    header += [f"##contig=<ID={c},length=250000000>" for c in dict.fromkeys(ped.chrom)]
    header.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    header.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                             "FORMAT", *ped.samples]))
    with open(prefix + ".vcf", "wb") as fh:
        fh.write(("\n".join(header) + "\n").encode())
        for i in range(len(ped.pos)):
            gts = _gt_strings(ped.gt[i], False)
            gts[:, 5] = ord("\t")
            body = gts.tobytes().replace(b"\0", b"")[:-1]
            site = (f"{ped.chrom[i]}\t{ped.pos[i]}\tsite{i + 1}\t{ped.ref[i]}\t"
                    f"{','.join(ped.alts[i])}\t.\tPASS\t.\tGT\t")
            fh.write(site.encode() + body + b"\n")
    vcf = pysam.tabix_index(prefix + ".vcf", preset="vcf", force=True, keep_original=False)
    with open(prefix + ".pairs.tsv", "w") as fh:
        fh.write("sample1\tsample2\trelation\tdegree\n")
        for p in ped.pairs:
            fh.write(f"{p.sample1}\t{p.sample2}\t{p.relation}\t{p.degree}\n")
    return {"vcf": vcf, "pairs": prefix + ".pairs.tsv"}
